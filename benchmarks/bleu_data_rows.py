"""The data rows of the real-data tables: BLEU (and Self-BLEU) of *real* held-out
sequences, computed by the project's own ``Evaluator`` under each of the preset's
``eval.bleu_conventions`` — what a perfect generator would score against the same
references.  No training: the task is built as a run builds it
(``seqgan.data.build.build_task``) and real token-id rows are fed to
``Evaluator.sequence_metrics`` in place of generated samples.

Rows (the preset's references are those its evaluation uses):

* ``quatrains``  — the first 2,000 training poems against the 1,639 held-out poems (BLEU-2);
* ``nottingham-seqgan`` — the 796 test windows against the training windows (BLEU-4);
* ``coco``       — the first 2,000 training captions against the 10,000 test captions
  (BLEU-2..5) and Self-BLEU-2..5 among those 2,000.  (Test captions cannot be the
  hypotheses: each would be among its own references.)

Run: python benchmarks/bleu_data_rows.py --data-root DATA
                                         [--presets quatrains,coco] [--hyps 2000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from _common import machine
from seqgan.config import build_config, load_preset
from seqgan.data.build import build_task
from seqgan.data.paths import data_root
from seqgan.metrics.evaluation import Evaluator

# preset -> where the real hypotheses come from ("train": the first --hyps training rows,
# "test": every held-out row; the preset's BLEU references must be the other set)
ROWS = {"quatrains": "train", "nottingham-seqgan": "test", "coco": "train"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data-root",
        type=Path,
        default=data_root(),
        help="folder holding the data sets (default: $SEQGAN_DATA, else ./data)",
    )
    parser.add_argument("--presets", default=",".join(ROWS))
    parser.add_argument(
        "--hyps",
        type=int,
        default=2000,
        help="hypotheses taken from the training set (default 2000)",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    for preset in args.presets.split(","):
        source = ROWS[preset]
        cfg = build_config(load_preset(preset))
        start = time.perf_counter()
        task = build_task(cfg, args.data_root)
        if cfg.eval.bleu_references == source:
            raise SystemExit(
                f"{preset}: BLEU references are the {source} set, which the hypotheses come from"
            )
        rows = task.train[: args.hyps] if source == "train" else task.test
        evaluator = Evaluator(cfg, task)
        metrics = evaluator.sequence_metrics(rows)
        signatures = evaluator.signatures(len(rows))
        elapsed = time.perf_counter() - start
        print(
            f"\n[{preset}] {len(rows)} real {source} rows as hypotheses; "
            f"{len(task.train)} train / {len(task.test)} test; "
            f"conventions {cfg.eval.bleu_conventions}  ({elapsed:.1f} s)"
        )
        for name, values in metrics.items():
            if "bleu" not in name:  # MSE etc. of real vs real rows say nothing here
                continue
            print(f"  {name:<22} {float(np.mean(values)):8.4f}   {signatures.get(name, '')}")


if __name__ == "__main__":
    main()
