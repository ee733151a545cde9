"""Wiring: config -> task -> algorithm -> trainer, and re-opening finished runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

from seqgan.config import Config, build_config, read_toml
from seqgan.data.synthetic import SyntheticTask, build_synthetic_task
from seqgan.errors import UserError
from seqgan.metrics.nll import sequence_nll
from seqgan.runs.checkpoint import load_checkpoint, load_state_checked
from seqgan.runs.folder import RunFolder
from seqgan.train import mle, parts, pg_bleu, scheduled_sampling, seqgan, uniform
from seqgan.train.loop import Trainer, shared_phase_state

ALGORITHMS = {"seqgan": seqgan.build, "mle": mle.build, "ss": scheduled_sampling.build,
              "pg-bleu": pg_bleu.build, "random": uniform.build}


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _prepare(cfg: Config, root: Path) -> SyntheticTask:
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    task = build_synthetic_task(cfg, root)
    # a parameter file fixes the oracle's sizes: record them so the run is self-describing
    cfg.oracle.vocab_size = task.oracle.vocab_size
    cfg.oracle.emb_dim = task.oracle.emb_dim
    cfg.oracle.hidden_dim = task.oracle.hidden_dim
    return task


def open_session(cfg: Config | None, out: Path, root: Path, overwrite: bool = False,
                 resume: bool = False) -> Trainer:
    """A trainer for a new run in ``out`` (or the run in ``out`` when ``resume``)."""
    if resume:
        run = RunFolder.open(out)
        cfg = build_config(read_toml(run.config))
    elif out.exists() and any(out.iterdir()) and not overwrite:
        RunFolder.create(out, overwrite=False)  # raises the "folder exists" error
    task = _prepare(cfg, root)  # data errors surface before anything is written
    _seed_everything(cfg.seed)
    models, optimizers, phases = ALGORITHMS[cfg.algorithm](cfg, task)
    if cfg.pretrain.generator_from and not resume:
        shared_phase_state(cfg, phases)  # so are errors in the shared pre-training
    if not resume:
        run = RunFolder.create(out, overwrite=overwrite)
        run.write_text(run.config, cfg.to_toml())
    return Trainer(cfg, run, task, models, optimizers, phases)


def load_trained(run_dir: Path, root: Path) -> tuple[Config, SyntheticTask | None, dict]:
    """Config and trained models of a finished run (``model.pt``); the task is not built."""
    run = RunFolder.open(run_dir)
    cfg = build_config(read_toml(run.config))
    weights = run.root / "model.pt"
    if not weights.is_file():
        raise UserError(f"{run_dir} has no model.pt: the run has not finished "
                        f"(continue it with seqgan train --resume {run_dir})")
    state = load_checkpoint(weights)
    generator = parts.build_generator(cfg)
    if not isinstance(state, dict) or "generator" not in state:
        raise UserError(f"{weights} holds no generator weights")
    load_state_checked(generator, state["generator"], weights)
    return cfg, None, {"generator": generator.eval()}


def evaluate_run(run_dir: Path, root: Path, num_samples: int | None, seed: int) -> dict:
    """Recompute NLL-oracle and NLL-test of a finished run; print and save evaluation.json."""
    if num_samples is not None and num_samples < 1:
        raise UserError(f"--samples must be positive, got {num_samples}")
    cfg, _, models = load_trained(run_dir, root)
    task = _prepare(cfg, root)
    generator = models["generator"]
    n = cfg.eval.num_samples if num_samples is None else num_samples
    torch.manual_seed(seed)
    samples = generator.sample(n, cfg.generator.sample_batch)
    per_sequence = sequence_nll(task.oracle, samples) / task.oracle.max_len
    result = {"nll_oracle": float(per_sequence.mean()), "nll_oracle_std": float(per_sequence.std()),
              "nll_oracle_samples": n, "seed": seed}
    if len(task.test):
        result["nll_test"] = float(sequence_nll(generator, task.test).mean()) / task.oracle.max_len
    (Path(run_dir) / "evaluation.json").write_text(json.dumps(result, indent=2) + "\n")
    print_result_table(result, Path(run_dir))
    return result


def print_result_table(summary: dict, root: Path) -> None:
    rows = [("NLL-oracle at initialisation", summary.get("nll_oracle_initial")),
            ("NLL-oracle after pre-training", summary.get("nll_oracle_after_pretraining")),
            ("NLL-oracle (final)", summary.get("nll_oracle")),
            ("  std over sequences", summary.get("nll_oracle_std")),
            ("  samples", summary.get("nll_oracle_samples")),
            ("NLL-test (final)", summary.get("nll_test")),
            ("seconds", summary.get("total_seconds"))]
    print(f"\nresults ({root}) — NLL in nats per token")
    for label, value in rows:
        if value is None:
            continue
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {label:32s} {text:>10s}")


def compare_run_policies(runs: list[Path], step: int, out: Path, root: Path) -> dict[str, float]:
    """Figure 2 of Bjare & Meredith for finished ``runs`` (same vocabulary and length):
    their policies at ``step`` of the first held-out sequence of the first run's task."""
    from seqgan.runs.policies import compare_policies
    loaded = {}
    names = [Path(r).name for r in runs]
    for run_dir, name in zip(runs, names):
        cfg, _, models = load_trained(run_dir, root)
        label = name if names.count(name) == 1 else f"{Path(run_dir).parent.name}/{name}"
        loaded[label] = (cfg, models["generator"])
    first_cfg = next(iter(loaded.values()))[0]
    shapes = {(c.oracle.vocab_size, c.oracle.seq_len) for c, _ in loaded.values()}
    if len(shapes) > 1:
        raise UserError("--compare-policies needs runs of one vocabulary and length")
    task = _prepare(first_cfg, root)
    if not len(task.test):
        raise UserError(f"{runs[0]} has no held-out sequences (data.num_test = 0)")
    return compare_policies({name: g for name, (_, g) in loaded.items()}, task.test[0], step,
                            out)
