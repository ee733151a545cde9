"""RankGAN's paper-settings adversarial epoch on the batched MC search against the
per-timestep reference path, in one process on one CPU.

The epoch of the ``rankgan-synthetic`` preset (V = 5,000, T = 20, batch 64, the paper's
CNN as ranker, |U| = 16, |C| = 64, 16 roll-outs; 1 g-step, 5 d-steps of 3 ranker epochs
over 10,000 real + 10,000 generated sequences) is

    epoch = g * (one g-step) + d * (sampling 10,000 negatives + k * one ranker epoch)

The two paths differ only in the g-step's MC search (``rl.rollout``; both score with the
expected log-rank reward ``rl.ranking.LogRankReward``, and draw the same tokens from the
same uniform numbers: ``tests/test_rankgan.py``):

  batched     ``mc_search_q``: the roll-out policy reads each sample once, the 16
              roll-outs of all 64 rows continue from the cached state as one batch, one
              reward call per prefix length (as ``seqgan train`` runs it)
  reference   ``mc_search_q_reference``: for every roll-out and prefix length, re-read
              the prefix from the start token, complete it, score those 64 rows

The d-step is the same code on both paths: it is measured once, on ``--rows`` sequences
(scaled linearly to 10,000 / 20,000 as in ``benchmarks/vs_textgan.py``), and counted in
both epochs.  Printed: the machine, the load average, each part, the g-step's and the
epoch's ratio.

Run: python benchmarks/rankgan_reference.py [--rows N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
from unittest import mock

import torch

from _common import machine, timed
from seqgan.config import build_config, load_preset
from seqgan.data.build import build_task
from seqgan.rl import estimators
from seqgan.rl.ranking import LogRankReward
from seqgan.rl.rollout import mc_search_q_reference
from seqgan.training import rankgan, steps
from vs_textgan import PAPER, composed, load_average


def parts(rows: int) -> tuple[dict, dict]:
    """The g-step on each path and the d-step's parts, on the preset's models."""
    cfg = build_config(load_preset("rankgan-synthetic"), ['oracle.source="random"'])
    task = build_task(cfg, None)
    models, optimizers, _ = rankgan.build(cfg, task)
    generator, rollout, ranker = models["generator"], models["rollout"], models["ranker"]
    r = cfg.section("rankgan")

    def g_step() -> None:
        reward = LogRankReward(
            ranker,
            task.train[torch.randperm(len(task.train))[: r.reference_size]],
            task.train[torch.randperm(len(task.train))[: r.comparison_size]],
            r.gamma,
            cfg.discriminator.score_chunk,
        )
        steps.policy_gradient_step(generator, rollout, reward, optimizers["policy"], cfg)

    def reference_g_step() -> None:
        with mock.patch.object(estimators, "mc_search_q", mc_search_q_reference):
            g_step()

    negatives = generator.sample(rows, cfg.generator.sample_batch)
    real = task.train[:rows]
    d_opt = optimizers["discriminator"]
    d_parts = {
        "negatives": lambda: generator.sample(rows, cfg.generator.sample_batch),
        "D epoch": lambda: rankgan.ranker_step(cfg, task, ranker, d_opt, real, negatives, 1),
    }
    return {"batched": g_step, "reference": reference_g_step}, d_parts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1024, help="sequences sampled / per class")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average at start: {load_average()}")
    torch.manual_seed(0)
    g_steps, d_parts = parts(args.rows)
    g_steps["batched"]()  # warm-up (kernel choice is cached by then)
    seconds: dict = {}
    for _ in range(args.repeats):  # interleaved, so that a change in load hits both
        for name, fn in g_steps.items():
            seconds.setdefault(name, []).append(timed(fn)[0])
    g = {name: statistics.median(times) for name, times in seconds.items()}
    d = {name: timed(fn, args.repeats)[0] for name, fn in d_parts.items()}
    epochs = {name: composed({"g-step": g[name], **d}, args.rows) for name in g}
    print(
        f"parts on {args.rows} sequences, composed to the epoch (g {PAPER['g']}, "
        f"d {PAPER['d']}, k {PAPER['k']}, 10,000 + 10,000 sequences); median of {args.repeats}"
    )
    print(
        f"d-step parts (both paths): negatives {d['negatives']:.2f} s, ranker epoch "
        f"{d['D epoch']:.2f} s on {args.rows} + {args.rows}"
    )
    for name in g:
        print(f"{name:10s} g-step {g[name]:8.2f} s   epoch {epochs[name]:8.1f} s")
    print(f"g-step: batched {g['reference'] / g['batched']:.2f}x the reference")
    print(f"epoch:  batched {epochs['reference'] / epochs['batched']:.2f}x the reference")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
