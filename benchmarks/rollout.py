"""One MC search at the paper's sizes: batched vs the per-timestep reference.

Sizes: batch 64, 16 roll-outs, T = 20 (19 prefixes), V = 5,000, paper discriminator.
Three paths, measured in this run:
  batched     seqgan.rl.rollout.mc_search_q (cached prefix states, 1,024-row batches,
              inverse-CDF sampling, scoring one chunk per prefix length)
  reference   mc_search_q_reference with torch.multinomial sampling: the original code's
              method (re-read every prefix for every roll-out, sample with a multinomial
              draw, score 64 sequences at a time)
  ref+icdf    the same reference loop with the inverse-CDF sampler (isolates batching)
The last line is the speedup of batched over reference.

Run: python benchmarks/rollout.py [--repeats R]
"""

from __future__ import annotations

import argparse

import torch

from _common import BATCH, ROLLOUTS, machine, paper_models, timed
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.rl.rollout import mc_search_q, mc_search_q_reference


def multinomial_sampler(logits, uniforms=None, generator=None):
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    generator, discriminator, _ = paper_models()
    reward = DiscriminatorReward(discriminator, 1024)
    tokens = generator.sample(BATCH)
    mc_search_q(generator, tokens[:8], reward, 2)  # warm-up

    t_batched, _ = timed(lambda: mc_search_q(generator, tokens, reward, ROLLOUTS), args.repeats)
    t_ref, _ = timed(
        lambda: mc_search_q_reference(
            generator, tokens, reward, ROLLOUTS, sampler=multinomial_sampler
        ),
        1,
    )
    t_ref_icdf, _ = timed(lambda: mc_search_q_reference(generator, tokens, reward, ROLLOUTS), 1)
    print(f"machine: {machine()}")
    print(f"MC search, batch {BATCH} x {ROLLOUTS} roll-outs x {tokens.shape[1] - 1} prefixes")
    print(f"batched               {t_batched:8.2f} s  (median of {args.repeats})")
    print(f"reference (multinom.) {t_ref:8.2f} s")
    print(
        f"reference (inv. CDF)  {t_ref_icdf:8.2f} s  -> batching alone: "
        f"{t_ref_icdf / t_batched:.2f}x"
    )
    print(f"speedup: {t_ref / t_batched:.2f}")


if __name__ == "__main__":
    main()
