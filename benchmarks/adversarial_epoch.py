"""Seconds per part of one paper-config SeqGAN adversarial epoch, and the discriminator's
achieved GFLOP/s, with reference paths measured in the same run.

Paper config (reference code): 1 g-step = sample 64 sequences, MC search with 16
roll-outs, one policy-gradient update; then 5 d-steps = sample 10,000 negatives and
train the discriminator 3 epochs over 20,000 sequences (batch 64).

By default one d-step is measured and the epoch total counts it 5 times (stated in the
output); --full runs all five.  Reference paths (same run): sampling with
torch.multinomial; a discriminator with one Conv2d per width and bias + ReLU applied
before max-over-time (the TF reference formulation), one epoch.

FLOP convention: a multiply-add is 2 FLOPs; training = 3 x forward FLOPs (forward, and
backward to inputs and to weights); embedding look-ups, softmax and the optimizer are
not counted.

Run: python benchmarks/adversarial_epoch.py [--full]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.nn import functional as F

from _common import BATCH, ROLLOUTS, T, V, machine, paper_models, timed
from seqgan.config import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS
from seqgan.models.discriminator import Highway
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.training.steps import discriminator_epochs, policy_gradient_step

NUM_POSITIVES = 10_000


def discriminator_forward_flops(emb: int = 64) -> float:
    conv = sum(2 * emb * w * f * (T - w + 1) for w, f in zip(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS))
    size = sum(PAPER_NUM_FILTERS)
    return conv + 2 * 2 * size * size + 2 * size * 2


class Conv2dReferenceDiscriminator(nn.Module):
    """TF-reference formulation: Conv2d per width over [T, k], ReLU(conv + b), max-pool."""

    def __init__(self, emb: int = 64):
        super().__init__()
        self.embedding = nn.Embedding(V, emb)
        self.convs = nn.ModuleList(nn.Conv2d(1, f, (w, emb))
                                   for w, f in zip(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS))
        size = sum(PAPER_NUM_FILTERS)
        self.highway = Highway(size)
        self.dropout = nn.Dropout(0.25)
        self.output = nn.Linear(size, 2)

    def forward(self, tokens):
        x = self.embedding(tokens).unsqueeze(1)
        pooled = [F.relu(conv(x)).squeeze(3).amax(2) for conv in self.convs]
        return self.output(self.dropout(self.highway(torch.cat(pooled, 1))))

    def output_l2(self):
        return 0.5 * (self.output.weight.square().sum() + self.output.bias.square().sum())


def multinomial_sample(generator, n: int, batch: int = 1024) -> torch.Tensor:
    def sampler(logits, uniforms=None, gen=None):
        return torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)
    out = []
    for start in range(0, n, batch):
        rows = min(batch, n - start)
        empty = torch.empty(rows, 0, dtype=torch.long)
        out.append(generator.continue_from(empty, generator.initial_state(rows), sampler=sampler))
    return torch.cat(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="run all 5 d-steps")
    args = parser.parse_args()
    generator, discriminator, oracle = paper_models()
    rollout = generator.__class__(V, 32, 32, T)
    rollout.load_state_dict(generator.state_dict())
    positives = oracle.sample(NUM_POSITIVES)
    reward = DiscriminatorReward(discriminator)
    g_opt = torch.optim.Adam(generator.parameters(), 0.01, fused=True)
    d_opt = torch.optim.Adam(discriminator.parameters(), 1e-4, fused=True)

    t_g, _ = timed(lambda: policy_gradient_step(generator, rollout, reward, g_opt, BATCH,
                                                ROLLOUTS, 5.0, 0.8))
    d_steps = 5 if args.full else 1
    t_gen = t_d = 0.0
    for _ in range(d_steps):
        dt, negatives = timed(lambda: generator.sample(NUM_POSITIVES))
        t_gen += dt
        dt, _ = timed(lambda: discriminator_epochs(discriminator, d_opt, positives, negatives,
                                                   3, BATCH, 0.2))
        t_d += dt
    scale = 5 / d_steps
    t_gen_all, t_d_all = t_gen * scale, t_d * scale
    per_epoch_d = t_d / (3 * d_steps)
    sequences = 2 * NUM_POSITIVES // BATCH * BATCH
    gflops = 3 * discriminator_forward_flops() * sequences / per_epoch_d / 1e9

    # reference paths, same run
    t_gen_ref, _ = timed(lambda: multinomial_sample(generator, NUM_POSITIVES))
    ref = Conv2dReferenceDiscriminator()
    ref_opt = torch.optim.Adam(ref.parameters(), 1e-4)
    negatives = generator.sample(NUM_POSITIVES)
    t_d_ref, _ = timed(lambda: discriminator_epochs(ref, ref_opt, positives, negatives, 1,
                                                    BATCH, 0.2))
    total = t_g + t_gen_all + t_d_all
    total_ref = t_g + 5 * t_gen_ref + 15 * t_d_ref
    print(f"machine: {machine()}")
    print(f"measured d-steps: {d_steps} of 5" + ("" if args.full else " (epoch totals count it 5x)"))
    print(f"g-step (sample 64 + MC search 64x16x19 + update)  {t_g:8.2f} s")
    print(f"generation, 5 x 10,000 negatives                  {t_gen_all:8.2f} s"
          f"   (torch.multinomial: {5 * t_gen_ref:.2f} s, {t_gen_ref / (t_gen / d_steps):.1f}x)")
    print(f"discriminator, 15 epochs over {sequences:,} sequences  {t_d_all:8.2f} s"
          f"   ({per_epoch_d:.2f} s/epoch; Conv2d reference {t_d_ref:.2f} s/epoch, "
          f"{t_d_ref / per_epoch_d:.2f}x)")
    print(f"discriminator training throughput: {gflops:.1f} GFLOP/s "
          f"({discriminator_forward_flops() / 1e6:.1f} MFLOP forward per sequence)")
    print(f"adversarial epoch total                           {total:8.2f} s"
          f"   (with reference sampling and discriminator: {total_ref:.2f} s)")
    print(f"speedup: {total_ref / total:.2f}")


if __name__ == "__main__":
    main()
