"""The PG-BLEU reward on real oracle data: how BLEU-3 of real oracle sequences against the
other training sequences is distributed under each BLEU convention.

Data: the ``synthetic-paper`` task (the reference oracle ``seqgan_oracle/
target_params_py3.pkl`` and its 10,000 training sequences, sampled with seed 88), built
with ``seqgan.data.build.build_task`` exactly as a run builds it.  The first ``--hyps``
(984) training sequences are the hypotheses; the remaining 9,016 are the references, so
no hypothesis is scored against itself.  Conventions (``seqgan.metrics.bleu``):

* ``current``      — today's nltk, all 9,016 others (a zero 3-gram precision makes BLEU ~1e-103);
* ``nltk-3.2``     — nltk 3.2.x (2016-17): stop at the first order without a match, all others;
* ``method1``      — method1 smoothing, epsilon 0.1, all others (Texygen's smoothing);
* ``preset``       — the ``synthetic-paper`` reward: ``pg_bleu.rule``/``smoothing``, and
  ``pg_bleu.references`` (4,000) drawn by ``pg_bleu.subset`` / ``subset_seed`` (random, 88)
  from the others;
* ``preset/current`` — the same 4,000 references under the current rule.

Per convention: mean, median, share of sequences with BLEU < 1e-50 (the floor of the
current rule: "no 3-gram match") and share with BLEU >= 0.5.

``--samples FILE`` (token-id file, one sequence of 20 ids per line, e.g. a run's
``samples/pretrain_generator.txt``): also score those sequences (the first ``--hyps``)
against the same references — the reward a generator actually receives.

Run: python benchmarks/pg_bleu_reward.py --data-root DATA [--hyps 984]
                                         [--samples runs/x/samples/pretrain_generator.txt]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from _common import machine
from seqgan.config import build_config, load_preset
from seqgan.data.build import build_task
from seqgan.data.paths import data_root
from seqgan.data.tokens import read_token_file
from seqgan.metrics.bleu import CURRENT, NLTK_32, BleuConvention, ReferenceTables, bleu
from seqgan.training.pg_bleu import convention as reward_convention


def conventions(preset: BleuConvention) -> dict[str, BleuConvention]:
    return {
        "current": CURRENT,
        "nltk-3.2": NLTK_32,
        "method1": BleuConvention(smoothing="method1", epsilon=0.1),
        "preset": preset,
        "preset/current": dataclasses.replace(preset, rule="current", smoothing="none"),
    }


def summary(values: np.ndarray) -> str:
    return (
        f"{values.mean():9.4f} {np.median(values):9.4f} "
        f"{(values < 1e-50).mean():9.1%} {(values >= 0.5).mean():9.1%}"
    )


def describe(convention: BleuConvention, pool: int) -> str:
    pick = convention.pick_label(pool, convention.references) or "all"
    return f"rule={convention.rule} smooth={convention.smooth_label} refs={pool}:{pick}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data-root",
        type=Path,
        default=data_root(),
        help="folder holding the data sets (default: $SEQGAN_DATA, else ./data)",
    )
    parser.add_argument("--preset", default="synthetic-paper")
    parser.add_argument("--hyps", type=int, default=984)
    parser.add_argument(
        "--samples",
        type=Path,
        action="append",
        default=[],
        help="token-id file of generated sequences to score as well",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cfg = build_config(load_preset(args.preset))
    task = build_task(cfg, args.data_root)
    n = cfg.pg_bleu.n
    rows = task.content(task.train)
    hypotheses, references = rows[: args.hyps], rows[args.hyps :]
    sets = {f"real (train[:{args.hyps}])": hypotheses}
    for path in args.samples:
        sets[str(path)] = task.content(read_token_file(path, task.seq_len, task.vocab_size))[
            : args.hyps
        ]

    print(f"machine: {machine()}")
    print(
        f"preset {args.preset}: {len(rows)} training sequences (T = {task.seq_len}, "
        f"V = {task.vocab_size}); BLEU-{n} of the first {len(hypotheses)} against the "
        f"other {len(references)}"
    )
    print(
        f"preset reward: {describe(reward_convention(cfg), len(references))}, "
        f"{cfg.pg_bleu.num_rollouts} roll-out(s)"
    )
    for name, convention in conventions(reward_convention(cfg)).items():
        start = time.perf_counter()
        tables = ReferenceTables(references, n, convention)
        t_tables = time.perf_counter() - start
        print(f"\n[{name}] {describe(convention, len(references))}  (tables {t_tables:.1f} s)")
        print(f"  {'hypotheses':<48} {'mean':>9} {'median':>9} {'< 1e-50':>9} {'>= 0.5':>9}")
        for label, hyps in sets.items():
            start = time.perf_counter()
            values = bleu(hyps, None, n, convention, tables)
            elapsed = time.perf_counter() - start
            print(f"  {label[-48:]:<48} {summary(values)}   ({len(values)} in {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
