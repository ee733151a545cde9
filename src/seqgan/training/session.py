"""Wiring: config -> task -> algorithm (``registry.algorithm``) -> trainer, and re-opening
finished runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

import seqgan.registry as registry
from seqgan.config import (
    Config,
    build_config,
    changed_keys,
    read_toml,
    validate,
    with_recorded_output_kernel,
)
from seqgan.data.build import build_task, task_without_data
from seqgan.data.task import Task
from seqgan.data.vocab import Vocabulary
from seqgan.errors import UserError
from seqgan.metrics.evaluation import Evaluator
from seqgan.models import size
from seqgan.models.discriminator import fit_widths
from seqgan.models.sampling import Sampling
from seqgan.runtime import threads
from seqgan.runtime.console import is_terminal, stderr_line
from seqgan.runtime.device import configure_determinism, resolve_device, saved_device
from seqgan.storage.atomic import write_bytes, write_text
from seqgan.storage.checkpoint import load_checkpoint, load_state_checked
from seqgan.storage.folder import RunFolder
from seqgan.training import parts
from seqgan.training.loop import Trainer, shared_phase_state


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _prepare(cfg: Config, root: Path, device: torch.device | None = None) -> Task:
    """``cfg`` validated (``config.validate``), the thread count (``runtime.threads``:
    ``run.threads``, the user's ``OMP_NUM_THREADS``, else the CPUs this process may use;
    a busy machine said in one line), the device (``device``,
    else ``run.device`` resolved: ``runtime.device``; an unavailable one is refused first),
    then the task (sizes learnt from the data go into ``cfg``), built on the CPU and moved
    to the device once; a text
    T derived from an overly long line and sizes that cannot fit in memory
    (``models.size``) are refused before the data are encoded or a model is built."""
    validate(cfg)  # also a Config built or changed in Python
    device = resolve_device(cfg.run.device) if device is None else device
    threads.apply(cfg.run.threads)
    if is_terminal() and (note := threads.busy_note()):  # the load is in summary.json
        stderr_line(note)
    size.check_before_data(cfg)  # a random oracle would be built and sampled first
    task = build_task(cfg, root)
    _fit_discriminator(cfg, task.seq_len)
    size.check_fits(cfg, task.vocab_size, task.seq_len, len(task.train) + len(task.test))
    return task.to(device)


def _fit_discriminator(cfg: Config, seq_len: int) -> None:
    """Convolution widths longer than T become T (``models.discriminator.fit_widths``),
    said in one line; the fitted widths go into ``cfg`` (so ``config.toml`` holds them)."""
    d = cfg.discriminator
    if max(d.filter_sizes) <= seq_len:
        return
    too_wide = [w for w in d.filter_sizes if w > seq_len]
    d.filter_sizes, d.num_filters = fit_widths(d.filter_sizes, d.num_filters, seq_len)
    stderr_line(
        f"note: discriminator widths {', '.join(map(str, too_wide))} exceed the sequence "
        f"length T = {seq_len}; their filters use width {seq_len}: filter_sizes "
        f"{d.filter_sizes}, num_filters {d.num_filters}"
    )


# keys ``--resume RUN --set`` may change: phase lengths and how the run is kept, nothing
# that changes what was already trained (``check_extension``)
EXTENDABLE = (
    "pretrain.generator_epochs",
    "pretrain.discriminator_rounds",
    "adversarial.epochs",
    "run.checkpoint_every",
    "run.keep_checkpoints",
    "run.tensorboard",
    "run.threads",
    "run.device",
)


def resumed_config(run: RunFolder, overrides: list[str]) -> tuple[Config, list[str]]:
    """The run's ``config.toml`` with ``overrides`` applied, and the keys they change
    (only ``EXTENDABLE`` ones; any other is a one-line ``UserError`` saying why)."""
    saved = _with_recorded_kernels(read_toml(run.config))
    cfg = build_config(saved, overrides)
    changed = changed_keys(build_config(saved).to_dict(), cfg.to_dict())
    refused = [key for key in changed if key not in EXTENDABLE]
    if refused:
        raise UserError(
            f"--resume --set can change only {', '.join(EXTENDABLE)}; "
            f"{', '.join(refused)} would change what {run.root} already trained "
            f"(start a new run with --config {run.config} --set ...)"
        )
    return cfg, changed


def _with_recorded_kernels(saved: dict) -> dict:
    """A run started before ``discriminator.kernel`` existed computed with ``conv1d``, one
    started before ``generator.output_kernel`` existed with ``plain``: resume it so (an
    ``"auto"`` choice could change its numbers)."""
    section = saved.get("discriminator")
    if isinstance(section, dict):
        for key in ("kernel", "score_kernel"):
            section.setdefault(key, "conv1d")
    return with_recorded_output_kernel(saved)


def check_extension(run: RunFolder, phases: list, changed: list[str]) -> None:
    """New phase lengths must leave the epochs already run (``metrics.csv``) in place: a
    finished phase keeps its length, the one in progress is not cut below its epochs."""
    done: dict[str, int] = {}
    for row in run.read_metrics():
        if row.get("phase") not in (None, "init"):
            done[row["phase"]] = max(done.get(row["phase"], 0), int(row["phase_epoch"]))
    started = [p for p in phases if p.name in done]
    for phase in started[:-1]:
        if phase.epochs != done[phase.name]:
            raise UserError(
                f"{phase.name} has ended after {done[phase.name]} epochs; "
                f"{', '.join(changed)} cannot change its length now"
            )
    if started and started[-1].epochs < done[started[-1].name]:
        phase = started[-1]
        raise UserError(
            f"{phase.name} has run {done[phase.name]} epochs; it cannot be cut to {phase.epochs}"
        )


def open_session(
    cfg: Config | None,
    out: Path,
    root: Path,
    overwrite: bool = False,
    resume: bool = False,
    overrides: list[str] = (),
) -> Trainer:
    """A trainer for a new run in ``out`` (or the run in ``out`` when ``resume``, with
    ``overrides`` that extend it: ``resumed_config``).  Every check comes before the
    first write; the run folder is then locked against other writers (``storage.lock``)
    until the trainer ends."""
    changed: list[str] = []
    if resume:
        run = RunFolder.open(out)
        cfg, changed = resumed_config(run, list(overrides))
    else:
        RunFolder(out).check_can_create(overwrite)
    device = _session_device(cfg, resume)
    configure_determinism(device, cfg.run.deterministic)  # before CUDA computes anything
    task = _prepare(cfg, root, device)  # data errors surface before anything is written
    _seed_everything(cfg.seed)
    models, optimizers, phases = registry.algorithm(cfg.algorithm).build(cfg, task)
    if cfg.pretrain.generator_from and not resume:
        shared_phase_state(cfg, phases)  # so are errors in the shared pre-training
    if resume and task.vocab is not None and run.vocab.is_file():
        _check_same_vocab(task, run.vocab)
    if changed:
        check_extension(run, phases, changed)
    if cfg.run.tensorboard:
        from seqgan.storage.tensorboard_path import check

        check(Path(out))  # a name that is not UTF-8: TensorBoard needs a link to it
    run = RunFolder.create(out, overwrite=overwrite) if not resume else run
    try:
        run.take_lock()
        if resume:
            _remove_temporaries(run)
        # the device is not a setting of what is trained (the restore says whether the
        # device type changed)
        lengths = [key for key in changed if key != "run.device"]
        if lengths:  # the run is not finished any more: its summary would be stale
            run.summary.unlink(missing_ok=True)
            threads = (
                "; with another thread count the continued run is not "
                "bit-identical to one started with these settings"
                if "run.threads" in lengths
                else ""
            )
            stderr_line(f"note: {', '.join(lengths)} changed in {run.config}{threads}")
        if not resume or changed:
            write_text(run.config, cfg.to_toml())
        run.mark()
        if task.vocab is not None and not run.vocab.is_file():  # new, or deleted since
            write_bytes(run.vocab, task.vocab.to_bytes())
            if resume:
                stderr_line(f"note: {run.vocab} was missing; re-made it from the data")
        return Trainer(cfg, run, task, models, optimizers, phases)
    except BaseException:
        run.unlock()
        raise


def _remove_temporaries(run: RunFolder) -> None:
    """The temporary files a killed writer left in ``run`` removed, said in one line."""
    removed = run.remove_temporaries()
    if removed:
        names = ", ".join(str(p.relative_to(run.root)) for p in removed[:3])
        more = f" and {len(removed) - 3} more" if len(removed) > 3 else ""
        stderr_line(
            f"note: removed {len(removed)} temporary file(s) a killed process left "
            f"in {run.root}: {names}{more}"
        )


def _session_device(cfg: Config, resume: bool) -> torch.device:
    """``run.device`` resolved (``runtime.device.resolve_device``); when resuming, a saved
    device that is not available here says to choose one with ``--device``."""
    try:
        return resolve_device(cfg.run.device)
    except UserError as exc:
        if not resume:
            raise
        raise UserError(
            f"{exc}; resume it on another device with --device cpu (or --device auto)"
        ) from None


def _check_same_vocab(task: Task, path: Path) -> None:
    """The data, read again, must give the run's vocabulary (else ids would mean other tokens)."""
    if Vocabulary.load(path).tokens != task.vocab.tokens:
        raise UserError(
            f"the data now give another vocabulary than {path} (the data files "
            f"changed since the run started?)"
        )


def load_trained(run_dir: Path, root: Path, device: str | None = None) -> tuple[Config, Task, dict]:
    """Config, task shape (vocabulary, no data) and trained models of a finished run, on
    ``device`` (``--device``), else on the run's saved ``run.device`` if it is available
    here, else on the CPU (``runtime.device.saved_device``, one note); the returned config's
    ``run.device`` names the device used (so ``data_task`` puts the data there too)."""
    run = RunFolder.open(run_dir)
    cfg = build_config(with_recorded_output_kernel(read_toml(run.config)))
    where = saved_device(cfg.run.device, str(run_dir), device)
    cfg.run.device = str(where)
    weights = run.root / "model.pt"
    if not weights.is_file():
        raise UserError(
            f"{run_dir} has no model.pt: the run has not finished "
            f"(continue it with seqgan train --resume {run_dir})"
        )
    state = load_checkpoint(weights)
    task = task_without_data(cfg, run.vocab)
    task.device = where
    build_generator = registry.algorithm(cfg.algorithm).generator or parts.build_generator
    generator = build_generator(cfg, task)
    if not isinstance(state, dict) or "generator" not in state:
        raise UserError(f"{weights} holds no generator weights")
    load_state_checked(generator, state["generator"], weights)
    return cfg, task, {"generator": generator.eval()}


def data_task(run_dir: Path, cfg: Config, root: Path) -> Task:
    """A finished run's task with its data read again (same vocabulary, else an error)."""
    task = _prepare(cfg, root)
    if task.vocab is not None:
        _check_same_vocab(task, RunFolder(run_dir).vocab)
    return task


def evaluate_run(
    run_dir: Path,
    root: Path,
    num_samples: int | None,
    seed: int,
    conventions: list[str] | None = None,
    sampling: Sampling | None = None,
    device: str | None = None,
    out: Path | str | None = None,
    samples_file: Path | None = None,
) -> dict:
    """Recompute a finished run's metrics (``metrics.evaluation``) on fresh samples drawn
    with ``seed`` and the sampling controls ``sampling`` (default: plain sampling;
    NLL-test at its temperature), BLEU under ``conventions`` (default the run's
    ``eval.bleu_conventions``) — or, with ``samples_file``, the metrics of those
    sequences (``data.samples_file``; no NLL-test or diagnostics, which are the model's).
    Print them; write them as JSON (with the controls under ``"sampling"``) only to
    ``out`` (a path, or ``"-"`` for standard output): nothing in the run folder is
    rewritten unless ``out`` names it."""
    sampling = sampling or Sampling()
    if num_samples is not None:
        check_sample_count("--samples", num_samples)
    if samples_file is not None and (num_samples is not None or not sampling.is_default):
        raise UserError(
            "--samples-file scores the file's sequences; drop --samples and "
            "the sampling controls (--temperature/--top-k/--top-p/--greedy)"
        )
    run = RunFolder.open(run_dir)
    cfg, shape, models = load_trained(run_dir, root, device)
    if num_samples is not None:
        size.check_sample_memory("--samples", num_samples, shape.seq_len)
    if conventions:
        cfg = build_config(cfg.to_dict(), [f"eval.bleu_conventions={conventions!r}"])
    task = data_task(run_dir, cfg, root)
    if num_samples is not None:
        cfg.eval.num_samples = num_samples
    evaluator = Evaluator(cfg, task)
    if samples_file is not None:
        result, per_sequence, samples = _score_samples_file(evaluator, samples_file)
    else:
        torch.manual_seed(seed)
        means, per_sequence, samples = evaluator(models["generator"], sampling=sampling)
        result = {
            **means,
            "samples": len(samples),
            "seed": seed,
            "sampling": sampling.to_dict(),
            "signatures": evaluator.signatures(len(samples), sampling),
        }
    if "nll_oracle" in per_sequence:
        result["nll_oracle_std"] = float(per_sequence["nll_oracle"].std()) / task.seq_len
        result["nll_oracle_samples"] = len(samples)
    if out is not None:
        _write_evaluation(run, out, json.dumps(result, indent=2) + "\n")
    print_result_table(result, Path(run_dir))
    return result


def _score_samples_file(
    evaluator: Evaluator, samples_file: Path
) -> tuple[dict, dict, torch.Tensor]:
    """``(result, per_sequence, samples)`` of the sequences of ``samples_file`` read as
    ``evaluator``'s task's data (``data.samples_file``; a line on what was read)."""
    from seqgan.data.samples_file import read_samples_file

    cfg, task = evaluator.cfg, evaluator.task
    read = read_samples_file(samples_file, cfg, task)
    stderr_line(read.note(samples_file))
    samples = read.ids.to(task.device)
    means, per_sequence = evaluator.of_samples(samples)
    signatures = {k: v for k, v in evaluator.signatures(len(samples)).items() if k in means}
    result = {
        **means,
        "samples": len(samples),
        "samples_file": str(samples_file),
        "tokens": read.tokens,
        "unknown_tokens": read.unknown,
        "lines_cut": read.cut,
        "signatures": signatures,
    }
    return result, per_sequence, samples


def evaluate_samples(
    cfg: Config, root: Path, samples_file: Path, out: Path | str | None = None
) -> dict:
    """``seqgan evaluate --samples-file FILE --preset P|--config C``: the sequences of
    ``samples_file`` scored against the data set of ``cfg`` (no run: its vocabulary and
    held-out set made from the data as a training run would make them), printed, and
    written as JSON to ``out`` if given."""
    task = _prepare(cfg, root)
    result, per_sequence, samples = _score_samples_file(Evaluator(cfg, task), samples_file)
    if "nll_oracle" in per_sequence:
        result["nll_oracle_std"] = float(per_sequence["nll_oracle"].std()) / task.seq_len
        result["nll_oracle_samples"] = len(samples)
    if out is not None:
        write_text(out, json.dumps(result, indent=2) + "\n")
    print_result_table(result, Path(cfg.name))
    return result


def check_sample_count(flag: str, count: int) -> None:
    """A number of sequences to draw must be positive (one line otherwise)."""
    if count < 1:
        raise UserError(f"{flag} must be positive, got {count}")


def _write_evaluation(run: RunFolder, out: Path | str, text: str) -> None:
    """``evaluate --out``: the JSON to ``out``; inside the run folder under its lock (not
    while a training writes there)."""
    from seqgan.storage.atomic import is_stdout

    inside = not is_stdout(out) and Path(out).resolve().parent == run.root.resolve()
    if inside:
        run.take_lock()
    try:
        write_text(out, text)
    finally:
        if inside:
            run.unlock()


def print_result_table(summary: dict, root: Path) -> None:
    """The headline numbers of a summary (or evaluation) as an aligned table; a tempered
    NLL-test (``evaluate --temperature``) is labelled with its temperature."""
    from seqgan.training.figures import metric_label

    temperature = (summary.get("sampling") or {}).get("temperature", 1.0)
    final = " (final)"
    tempered = f" at T = {temperature:g}" if temperature != 1.0 else ""
    rows = [
        ("NLL-oracle at initialisation", summary.get("nll_oracle_initial")),
        ("NLL-oracle after pre-training", summary.get("nll_oracle_after_pretraining")),
        (f"NLL-oracle{final}", summary.get("nll_oracle")),
        ("  std over sequences", summary.get("nll_oracle_std")),
        ("  samples", summary.get("nll_oracle_samples")),
        ("NLL-test after pre-training", summary.get("nll_test_after_pretraining")),
        (f"NLL-test{final}{tempered}", summary.get("nll_test")),
    ]
    rows += [
        (metric_label(k), v)
        for k, v in summary.items()
        if k.startswith(("bleu", "self_bleu")) or k in ("mse", "spb", "qn4", "qn6", "qn8")
    ]
    rows += [
        (name, summary[name])
        for name in registry.metric_names(plugins_only=True)
        if name in summary
    ]  # plug-in metrics (eval.metrics)
    rows.append(("seconds", summary.get("total_seconds")))
    sampling = summary.get("sampling")
    if sampling and not Sampling(**sampling).is_default:
        rows.append(("sampling", Sampling(**sampling).signature().replace("|", " ")))
    what = f"samples file {summary['samples_file']}" if "samples_file" in summary else root
    print(f"\nresults ({what}) — NLL in nats per token")
    for label, value in rows:
        if value is None:
            continue
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {label:32s} {text:>10s}")
    for line in feature_lines(summary):
        print(line)


def feature_lines(summary: dict) -> list[str]:
    """A music run's feature metrics (``music.features``) beside the data's own: the
    samples' mean of each feature and the test set's, the OA of the samples with the test
    set and that of the training set with the test set (what a perfect generator
    reaches)."""
    names = [k[len("feat_oa_") :] for k in summary if k.startswith("feat_oa_")]
    if not names:
        return []

    def cell(key: str) -> str:
        value = summary.get(key)
        return f"{value:.3f}" if isinstance(value, (int, float)) else "—"

    lines = [
        (
            "music features — the samples beside the data (mean of each; OA: overlap "
            "with the test set, 1 = same distribution; data OA: training vs test set)"
        ),
        f"  {'feature':24s} {'mean':>9s} {'data mean':>9s} {'OA':>9s} {'data OA':>9s}",
    ]
    for name in names:
        lines.append(
            f"  {name:24s} {cell('feat_' + name):>9s} {cell('data_feat_' + name):>9s}"
            f" {cell('feat_oa_' + name):>9s} {cell('data_oa_' + name):>9s}"
        )
    return lines


def compare_run_policies(
    runs: list[Path], step: int, out: Path, root: Path, device: str | None = None
) -> dict[str, float]:
    """Figure 2 of Bjare & Meredith for finished ``runs`` (same vocabulary and length):
    their policies at ``step`` of the first held-out sequence of the first run's task."""
    from seqgan.training.policies import compare_policies

    loaded = {}
    names = [Path(r).name for r in runs]
    for run_dir, name in zip(runs, names):
        cfg, _, models = load_trained(
            run_dir, root, device or (loaded and next(iter(loaded.values()))[0].run.device) or None
        )  # one device
        label = name if names.count(name) == 1 else f"{Path(run_dir).parent.name}/{name}"
        loaded[label] = (cfg, models["generator"])
    first_cfg = next(iter(loaded.values()))[0]
    shapes = {(g.vocab_size, g.max_len) for _, g in loaded.values()}
    if len(shapes) > 1:
        raise UserError("--compare-policies needs runs of one vocabulary and length")
    task = _prepare(first_cfg, root)
    if not len(task.test):
        raise UserError(f"{runs[0]} has no held-out sequences (data.num_test = 0)")
    return compare_policies({name: g for name, (_, g) in loaded.items()}, task.test[0], step, out)
