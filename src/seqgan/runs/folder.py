"""The run folder: everything one training run leaves behind.

    config.toml          resolved configuration (re-loadable with --config)
    metrics.csv          one row per evaluation/phase epoch (columns: ``COLUMNS``)
    tensorboard/         TensorBoard events of the same numbers
    checkpoints/         ckpt-*.pt (atomic, weights_only-loadable)
    vocab.json           text and music runs: the vocabulary (id -> token)
    samples/             generated token ids, one sequence per line (<phase>.txt); text runs
                         also decoded (<phase>.text.txt); per-sequence metric values (.npy)
    figures/             learning curves (figures/nll_oracle.png)
    summary.json         final metrics, counts and wall-clock seconds per phase
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import torch

from seqgan.errors import UserError
from seqgan.runs.atomic import write_bytes

COLUMNS = ("phase", "phase_epoch", "epoch", "nll_oracle", "nll_test", "g_loss", "d_loss",
           "d_accuracy", "reward_mean", "ss_omega", "ss_replaced", "entropy", "eval_reward_mean",
           "eval_reward_std", "d_precision", "d_recall")  # then any other metric, in order seen


class RunFolder:
    """Paths of one run and the writers that fill them."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.config = self.root / "config.toml"
        self.metrics = self.root / "metrics.csv"
        self.tensorboard = self.root / "tensorboard"
        self.checkpoints = self.root / "checkpoints"
        self.samples = self.root / "samples"
        self.figures = self.root / "figures"
        self.summary = self.root / "summary.json"
        self.vocab = self.root / "vocab.json"

    @classmethod
    def create(cls, root: Path, overwrite: bool = False) -> "RunFolder":
        """Make a fresh run folder; an existing non-empty one needs ``overwrite``."""
        root = Path(root)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            if not overwrite:
                raise UserError(f"output folder {root} exists; pass --overwrite to replace it "
                                f"or --resume {root} to continue it")
            if not (root / "config.toml").is_file():
                raise UserError(f"refusing to overwrite {root}: it is not a seqgan run folder")
            shutil.rmtree(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create output folder {root}: {exc.strerror}") from None
        run = cls(root)
        for sub in (run.checkpoints, run.samples, run.figures):
            sub.mkdir(exist_ok=True)
        return run

    @classmethod
    def open(cls, root: Path) -> "RunFolder":
        """An existing run folder (for resume, generate, evaluate)."""
        run = cls(root)
        if not run.config.is_file():
            raise UserError(f"{root} is not a seqgan run folder (no config.toml)")
        return run

    def write_text(self, path: Path, text: str) -> None:
        write_bytes(path, text.encode("utf-8"))

    def write_metrics(self, rows: list[dict]) -> None:
        """Rewrite metrics.csv from all rows so far (atomic; cheap at these sizes)."""
        columns = list(COLUMNS)
        for row in rows:
            columns += [k for k in row if k not in columns and not k.startswith("_")]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k)) for k in columns})
        self.write_text(self.metrics, buffer.getvalue())

    def read_metrics(self) -> list[dict]:
        if not self.metrics.is_file():
            return []
        with open(self.metrics, encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def write_samples(self, name: str, tokens: torch.Tensor, task=None) -> Path:
        """``samples/<name>.txt`` (ids); for a text task also ``<name>.text.txt``."""
        path = self.samples / f"{name}.txt"
        self.write_text(path, tokens_to_text(tokens))
        if task is not None and task.kind == "text":
            self.write_text(self.samples / f"{name}.text.txt",
                            "".join(line + "\n" for line in task.texts(tokens)))
        return path

    def write_array(self, name: str, values: np.ndarray) -> Path:
        path = self.samples / f"{name}.npy"
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        write_bytes(path, buffer.getvalue())
        return path

    def write_summary(self, summary: dict) -> None:
        """``summary.json``; NaN (an undefined metric) is written as null."""
        clean = {k: None if isinstance(v, float) and math.isnan(v) else v
                 for k, v in summary.items()}
        self.write_text(self.summary, json.dumps(clean, indent=2, sort_keys=True) + "\n")

    def read_summary(self) -> dict:
        return json.loads(self.summary.read_text(encoding="utf-8")) if self.summary.is_file() else {}


def tokens_to_text(tokens: torch.Tensor) -> str:
    """One line of space-separated ids per row."""
    return "".join(" ".join(map(str, row)) + "\n" for row in tokens.tolist())


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)
