"""Quality–diversity curves (Caccia et al., ICLR 2020): every generator of a run or a
comparison evaluated at several sampling temperatures, and the comparison at matched
diversity (``seqgan evaluate --run DIR --temperatures 0.6,0.8,1,1.2``).

A lower temperature buys quality with diversity, as a GAN usually does; so an algorithm
beats MLE only if its curve lies above MLE's *at the same diversity*. Axes:

* oracle tasks: quality = NLL-oracle of the samples (lower is better), diversity =
  NLL-test of the tempered model (the data's coverage; lower is better);
* text and music: quality = BLEU-n of the samples against the held-out set (higher is
  better), diversity = Self-BLEU-n among them (lower = more diverse); also forward and
  backward BLEU-n (Shi et al. 2018) and their harmonic mean, per temperature;
* optionally the reverse-LM score (``--reverse-lm``: ``metrics.quality_diversity``).

A comparison made with ``seqgan compare --sweep KNOB=V1,V2,...`` of numeric values (e.g.
RelGAN's ``relgan.beta_max``, whose claim is that it trades quality for diversity
better than temperature does): its runs are joined into one curve over the knob, ``relgan
over beta_max``, each run evaluated at temperature 1 only (``sweep_curve``), and compared
with MLE's temperature curve like any other; their shared pre-training (``pretrain-relgan``:
the same generator after MLE alone) is a curve over temperature too, ``relgan MLE
pre-trained``.

Printed: the report; written only to the folder ``--out`` names: ``quality_diversity.csv``
(one row per algorithm, seed and temperature, with the metric signatures),
``quality_diversity.md`` (the matched-diversity comparison of every algorithm against
MLE, with a bootstrap interval over samples) and
``figures/quality_diversity.png``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqgan.config import Config, build_config, read_toml
from seqgan.errors import UserError
from seqgan.metrics import quality_diversity as qd
from seqgan.metrics.bleu import CONVENTIONS
from seqgan.metrics.evaluation import Evaluator, token_label
from seqgan.models.sampling import Sampling
from seqgan.storage.atomic import write_bytes, write_figure
from seqgan.storage.lock import FolderLock
from seqgan.training.reverse_lm import reverse_lm_score, task_language_model

REFERENCE = "mle"  # the curve every other algorithm is compared with
GRID = 9  # common diversity values of the matched comparison (inside the overlap)


@dataclass
class Axes:
    """What a task's curve plots: metric names and the direction of each."""

    quality: str
    diversity: str
    quality_higher_is_better: bool

    @classmethod
    def of(cls, cfg: Config, bleu_n: int | None = None) -> Axes:
        if cfg.data.kind == "oracle":
            return cls("nll_oracle", "nll_test", False)
        order = bleu_order(cfg, bleu_n)
        return cls(f"bleu{order}", f"self_bleu{order}", True)


def bleu_order(cfg: Config, bleu_n: int | None = None) -> int:
    """The n of the curves' BLEU-n / Self-BLEU-n: ``bleu_n`` (``--bleu-order``), else the
    run's largest, else 4."""
    if bleu_n is not None:
        return bleu_n
    return max(cfg.eval.bleu) if cfg.eval.bleu else 4


def find_runs(folder: Path) -> dict[str, list[Path]]:
    """``algorithm label -> finished run folders`` (one per seed) of a run folder or a
    comparison folder (``seed-*/<label>``; the shared pre-training runs left out, but for
    a sweep's own, ``pretrain-<algorithm>``: its generator after MLE alone, a curve over
    temperature)."""
    folder = Path(folder)
    if (folder / "config.toml").is_file():
        return {_run_config(folder).algorithm: [folder]}
    found: dict[str, list[Path]] = {}
    curve = sweep_curve(folder)
    own = curve.pretraining if curve is not None else None  # a sweep's own pre-training
    for run in sorted(folder.glob("seed-*/*")):
        if (run / "model.pt").is_file() and (
            not run.name.startswith("pretrain") or run.name == own
        ):
            found.setdefault(run.name, []).append(run)
    if not found:
        raise UserError(
            f"{folder} holds no finished run (a run folder, or a comparison "
            f"folder with seed-*/<algorithm>/model.pt)"
        )
    return found


def _run_config(run: Path) -> Config:
    return build_config(read_toml(run / "config.toml"))


@dataclass
class SweepCurve:
    """The runs of a comparison's numeric ``--sweep`` joined into one curve: label
    ``<algorithm> over <knob>``, a point per value (``compare.toml``'s ``sweep``)."""

    label: str
    knob: str
    points: dict[str, float]  # run folder name -> the knob's value
    # the runs' own shared pre-training, "pretrain-relgan" (a folder that exists only
    # for an algorithm with pretraining="own"), and the label of its temperature curve
    pretraining: str
    pretrained_label: str

    def point(self, run: Path) -> float | None:
        return self.points.get(run.name)


def sweep_curve(folder: Path) -> SweepCurve | None:
    """The ``SweepCurve`` of a comparison folder made with a sweep of numeric values;
    None for a run folder, a comparison without a sweep, or a sweep of named values
    (such as ``relgan.loss``: each of those runs is a curve over temperature)."""
    marker = Path(folder) / "compare.toml"
    if not marker.is_file():
        return None
    from seqgan.experiments.compare import Sweep

    settings = read_toml(marker)
    algorithms = [a for a in settings.get("algorithms", []) if isinstance(a, str)]
    sweep = Sweep.from_list(settings.get("sweep"), algorithms)
    if sweep is None:
        return None
    try:
        points = {sweep.run_name(v): float(v) for v in sweep.values}
    except ValueError:
        return None
    return SweepCurve(
        f"{sweep.algorithm} over {sweep.knob}",
        sweep.knob,
        points,
        f"pretrain-{sweep.algorithm}",
        f"{sweep.algorithm} MLE pre-trained",
    )


def curve_of(row: dict) -> str:
    """The curve a row belongs to: its algorithm, or a sweep's label."""
    return row.get("curve", row["algorithm"])


def point_of(row: dict) -> float:
    """Where a row sits on its curve: its temperature, or a sweep's knob value."""
    return row.get("_point", row["temperature"])


def parse_temperatures(text: str) -> list[float]:
    """``"0.6,0.8,1"`` -> ``[0.6, 0.8, 1.0]`` (each a valid temperature, at least two)."""
    if not text.strip():
        raise UserError("--temperatures is empty; give at least two values, e.g. 0.7,1,1.3")
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--temperatures: not a list of numbers: {text!r}") from None
    for value in values:
        Sampling(temperature=value)  # a one-line error for 0, negative, inf
    if len(values) < 2:
        raise UserError("--temperatures needs at least two values, e.g. 0.7,1,1.3")
    return sorted(set(values))


def _evaluation_config(cfg: Config, order: int, num_samples: int | None) -> Config:
    """The run's config, evaluating only what the curves need: BLEU-n and Self-BLEU-n
    under the run's first BLEU convention."""
    out = build_config(cfg.to_dict())
    orders = [order] if cfg.data.kind != "oracle" else []
    out.eval.bleu, out.eval.self_bleu = list(orders), list(orders)
    out.eval.bleu_conventions = out.eval.bleu_conventions[:1]
    out.eval.diagnostics = False
    if num_samples is not None:
        out.eval.num_samples = num_samples
    return out


def sweep_run(
    run_dir: Path,
    temperatures: list[float],
    root: Path,
    seed: int = 0,
    num_samples: int | None = None,
    reverse_lm: bool = False,
    device: str | None = None,
    bleu_n: int | None = None,
    step=lambda temperature: None,
) -> list[dict]:
    """One row per temperature of a finished run: its metrics on fresh samples drawn at
    that temperature (seeded by ``seed``), the per-sample values the comparison needs
    (``_quality`` / ``_diversity``, arrays, not written) and the signatures; BLEU of
    order ``bleu_n`` (``bleu_order``).  ``step(temperature)`` is called before each."""
    from seqgan.models.size import check_sample_memory
    from seqgan.training.session import data_task, load_trained

    cfg, shape, models = load_trained(run_dir, root, device)  # --device, else the saved one
    if num_samples is not None:
        check_sample_memory("--samples", num_samples, shape.seq_len)
    order = bleu_order(cfg, bleu_n)
    cfg = _evaluation_config(cfg, order, num_samples)
    task = data_task(run_dir, cfg, root)
    if not len(task.test):
        raise UserError(
            f"{run_dir} has no held-out data: the curves need NLL-test / BLEU against a test set"
        )
    if task.kind != "oracle" and order > task.seq_len:
        raise UserError(
            f"--bleu-order {order} exceeds the sequence length T = {task.seq_len} of {run_dir}"
        )
    axes = Axes.of(cfg, order)
    evaluator, generator = Evaluator(cfg, task), models["generator"]
    convention = CONVENTIONS[cfg.eval.bleu_conventions[0]]
    rows = []
    for temperature in temperatures:
        step(temperature)
        sampling = Sampling(temperature=temperature)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            means, per_sequence, samples = evaluator(generator, sampling=sampling)
        row = {
            "algorithm": cfg.algorithm,
            "seed": cfg.seed,
            "run": str(run_dir),
            "temperature": temperature,
            "samples": len(samples),
            **means,
        }
        signatures = evaluator.signatures(len(samples), sampling)
        if task.kind != "oracle":
            fb = qd.forward_backward_bleu(
                task.content(samples),
                task.content(task.test),
                order,
                convention,
                tok=token_label(cfg, task),
            )
            row.update(fb.means())
            controls = f"|{sampling.signature()}" if not sampling.is_default else ""
            signatures.update(
                {name: signature + controls for name, signature in fb.signatures.items()}
            )
        if reverse_lm:
            score = reverse_lm_score(samples, task.test, task_language_model(task, cfg), seed=seed)
            row["reverse_lm_nll"] = score.nll
            signatures["reverse_lm_nll"] = score.signature
        quality = per_sequence[axes.quality]
        row["_quality"] = quality / task.seq_len if axes.quality == "nll_oracle" else quality
        # per sample; a set-level diversity (NLL-test) repeated, so it stays fixed when the
        # bootstrap resamples the samples
        row["_diversity"] = (
            per_sequence[axes.diversity]
            if axes.diversity in per_sequence
            else np.full(len(row["_quality"]), row[axes.diversity])
        )
        row["signatures"] = "; ".join(f"{k}={v}" for k, v in sorted(signatures.items()))
        rows.append(row)
    return rows


def matched_comparison(rows: list[dict], axes: Axes, seed: int = 0) -> list[dict]:
    """Every curve (an algorithm over temperature, or a sweep over its knob) against
    ``REFERENCE`` (MLE over temperature) at matched diversity: at ``GRID`` common
    diversity values, A's quality advantage (positive = A better) with a 95 % bootstrap
    interval over samples (seeds pooled). Empty without an MLE curve."""
    by_label: dict[str, dict[float, list[dict]]] = {}
    for row in rows:
        by_label.setdefault(curve_of(row), {}).setdefault(point_of(row), []).append(row)
    if REFERENCE not in by_label:
        return []
    if axes.diversity == "nll_test":  # temperature curves only: a sweep's points all count
        swept = {curve_of(r) for r in rows if "knob" in r}
        by_label = {
            label: groups if label in swept else _trade_off_branch(groups)
            for label, groups in by_label.items()
        }

    def points(label: str) -> tuple[list, list]:
        """Per point (temperature or knob value), the per-sample diversity and quality of
        every seed, pooled."""
        groups = [group for _, group in sorted(by_label[label].items())]
        return (
            [np.concatenate([r["_diversity"] for r in group]) for group in groups],
            [np.concatenate([r["_quality"] for r in group]) for group in groups],
        )

    ref_div, ref_q = points(REFERENCE)
    out = []
    for label in by_label:
        if label == REFERENCE:
            continue
        div, q = points(label)
        result = qd.bootstrap_matched_difference(
            div,
            q,
            ref_div,
            ref_q,
            GRID,
            higher_is_better=axes.quality_higher_is_better,
            resamples=500,
            seed=seed,
        )
        for j, x in enumerate(result.x):
            out.append(
                {
                    "algorithm": label,
                    "versus": REFERENCE,
                    axes.diversity: float(x),
                    "advantage": float(result.estimate[j]),
                    "low": float(result.low[j]),
                    "high": float(result.high[j]),
                }
            )
    return out


def _trade_off_branch(groups: dict[float, list[dict]]) -> dict[float, list[dict]]:
    """The temperatures up to the one of lowest mean NLL-test: NLL-test is U-shaped in
    the temperature (lowest near the trained model's), and above that temperature both
    NLL-oracle and NLL-test get worse — a dominated branch that would make the curve
    two-valued in NLL-test. Below it, colder trades coverage for quality."""
    best = min(groups, key=lambda t: np.mean([r["nll_test"] for r in groups[t]]))
    return {t: rows for t, rows in groups.items() if t <= best}


def _write_csv(rows: list[dict], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if not k.startswith("_") and k not in columns]
    columns.remove("signatures")
    columns.append("signatures")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in columns}
        )
    write_bytes(path, buffer.getvalue().encode())


def _report(matched: list[dict], axes: Axes, rows: list[dict]) -> str:
    """``quality_diversity.md``: the matched table and one sentence per algorithm."""
    lines = [
        "# Quality–diversity at matched diversity",
        "",
        f"Quality {axes.quality} ({'higher' if axes.quality_higher_is_better else 'lower'}"
        f" is better) of each algorithm against {REFERENCE}'s curve, both interpolated "
        f"linearly in {axes.diversity} over the range both curves cover. "
        "Advantage > 0: the algorithm is better at that diversity; 95 % percentile "
        "bootstrap interval over samples (500 resamples, seeds pooled)."
        + (
            " Oracle curves over temperature: only temperatures up to each model's "
            "lowest NLL-test (the trade-off branch; above it both axes get worse); a "
            "curve over a swept knob keeps all its points."
            if axes.diversity == "nll_test"
            else ""
        ),
        "",
    ]
    if not matched:
        lines.append(
            f"No comparison: the folder has no {REFERENCE} run, or the curves do "
            "not overlap in diversity."
        )
        lines += ["", f"Signatures: {sweep_signature(rows)}"]
        return "\n".join(lines) + "\n"
    lines += [f"| algorithm | {axes.diversity} | advantage | 95 % interval |", "|---|---|---|---|"]
    for m in matched:
        lines.append(
            f"| {m['algorithm']} | {m[axes.diversity]:.4f} | {m['advantage']:+.4f} | "
            f"[{m['low']:+.4f}, {m['high']:+.4f}] |"
        )
    lines.append("")
    for label in dict.fromkeys(m["algorithm"] for m in matched):
        mine = [m for m in matched if m["algorithm"] == label]
        better = [m for m in mine if m["low"] > 0]
        worse = [m for m in mine if m["high"] < 0]
        lines.append(
            f"- **{label}** vs {REFERENCE}: better at {len(better)} of {len(mine)} "
            f"matched diversities, worse at {len(worse)}, indistinguishable at "
            f"{len(mine) - len(better) - len(worse)} (intervals excluding 0)."
        )
    lines += ["", f"Signatures: {sweep_signature(rows)}"]
    return "\n".join(lines) + "\n"


def sweep_signature(rows: list[dict]) -> str:
    """The signatures of a sweep: the first row's, each metric's naming every temperature
    of the sweep (``|temperatures=0.8,1,1.2`` in place of one ``|temperature=``)."""
    if not rows:
        return ""
    temperatures = ",".join(f"{t:g}" for t in sorted({r["temperature"] for r in rows}))
    parts = []
    for part in rows[0]["signatures"].split("; "):
        part = re.sub(r"\|temperature=[^|;]*", "", part)
        parts.append(f"{part}|temperatures={temperatures}")
    return "; ".join(parts)


def _figure(rows: list[dict], axes: Axes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqgan.training.figures import metric_label

    text = any("fwd_bleu" in k for k in rows[0])
    fig, panels = plt.subplots(1, 2 if text else 1, figsize=(11 if text else 6, 4.5), squeeze=False)
    pairs = [(axes.diversity, axes.quality)]
    if text:
        order = axes.quality[len("bleu") :]
        pairs.append((f"bwd_bleu{order}", f"fwd_bleu{order}"))
    for ax, (x_key, y_key) in zip(panels[0], pairs):
        for label in dict.fromkeys(curve_of(r) for r in rows):
            by_t: dict[float, list[dict]] = {}
            for r in rows:
                if curve_of(r) == label:
                    by_t.setdefault(point_of(r), []).append(r)
            ts = sorted(by_t)
            xs = [np.mean([r[x_key] for r in by_t[t]]) for t in ts]
            ys = [np.mean([r[y_key] for r in by_t[t]]) for t in ts]
            knob = next((r["knob"] for r in rows if curve_of(r) == label and "knob" in r), None)
            ax.plot(xs, ys, marker="s" if knob else "o", label=label)
            for t, x, y in zip(ts, xs, ys):
                text = f"{knob}={t:g}" if knob else f"{t:g}"
                ax.annotate(text, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(metric_label(x_key).replace("bwd_bleu", "backward BLEU-"))
        ax.set_ylabel(metric_label(y_key).replace("fwd_bleu", "forward BLEU-"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    panels[0][0].set_title("quality vs diversity (labels: temperature, or a swept knob)")
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {path.parent}: {exc.strerror}") from None
    write_figure(fig, path, dpi=120)
    plt.close(fig)


def quality_diversity(
    folder: Path,
    temperatures: list[float],
    root: Path,
    seed: int = 0,
    num_samples: int | None = None,
    reverse_lm: bool = False,
    device: str | None = None,
    out: Path | None = None,
    bleu_n: int | None = None,
) -> str:
    """Sweep every run of ``folder`` over ``temperatures`` (on ``device``: ``sweep_run``,
    BLEU of order ``bleu_n``), a progress line per run and temperature; returns the
    report, and writes the CSV, the report and the figure into the folder ``out`` if
    given (nothing is written otherwise)."""
    folder = Path(folder)
    runs = [run for group in find_runs(folder).values() for run in group]
    configs = [_run_config(run) for run in runs]
    kinds = {cfg.data.kind for cfg in configs}
    if len(kinds) > 1:  # before any sampling
        raise UserError(f"{folder} mixes task kinds {sorted(kinds)}")
    rows: list[dict] = []
    curve = sweep_curve(folder)
    swept = [run for run in runs if curve is not None and curve.point(run) is not None]
    progress = _SweepProgress((len(runs) - len(swept)) * len(temperatures) + len(swept))
    for run in runs:
        point = curve.point(run) if curve is not None else None
        found = sweep_run(
            run,
            temperatures if point is None else [1.0],
            root,
            seed,
            num_samples,
            reverse_lm,
            device,
            bleu_n,
            lambda t, run=run: progress.step(
                run.name if run == folder else run.relative_to(folder), t
            ),
        )
        if point is not None and curve is not None:
            for row in found:
                row.update(curve=curve.label, knob=curve.knob, _point=point)
                row[curve.knob] = point
        elif curve is not None and run.name == curve.pretraining:
            for row in found:
                row["curve"] = curve.pretrained_label
        rows += found
    progress.done()
    axes = Axes.of(configs[0], bleu_n)
    matched = matched_comparison(rows, axes, seed)
    report = _report(matched, axes, rows)
    if out is not None:
        _write_outputs(Path(out), folder, rows, report, axes)
    return report


def _write_outputs(out: Path, folder: Path, rows: list[dict], report: str, axes: Axes) -> None:
    """``quality_diversity.csv/.md`` and ``figures/quality_diversity.png`` in ``out``;
    under the folder's lock when ``out`` is the run or comparison folder itself (not
    while a training or comparison writes there)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out}: {exc.strerror}") from None
    what = "run folder" if (folder / "config.toml").is_file() else "comparison folder"
    own = out.resolve() == folder.resolve()
    with FolderLock(folder, what) if own else contextlib.nullcontext():
        _write_csv(rows, out / "quality_diversity.csv")
        write_bytes(out / "quality_diversity.md", report.encode())
        _figure(rows, axes, out / "figures" / "quality_diversity.png")


class _SweepProgress:
    """``quality-diversity: mle (seed-3) at T = 0.8, 2 of 6, ETA 40 s`` on stderr before
    each evaluation (the ETA from the mean time of those done)."""

    def __init__(self, total: int):
        self.total, self.done_count, self.start = total, 0, time.monotonic()

    def step(self, run, temperature: float) -> None:
        from seqgan.runtime.console import stderr_line
        from seqgan.runtime.progress import format_duration

        elapsed = time.monotonic() - self.start
        left = self.total - self.done_count
        eta = (
            f", ETA {format_duration(elapsed / self.done_count * left)}" if self.done_count else ""
        )
        self.done_count += 1
        stderr_line(
            f"quality-diversity: {run} at T = {temperature:g}, "
            f"{self.done_count} of {self.total}{eta}"
        )

    def done(self) -> None:
        from seqgan.runtime.console import stderr_line
        from seqgan.runtime.progress import format_duration

        stderr_line(
            f"quality-diversity: {self.total} evaluations in "
            f"{format_duration(time.monotonic() - self.start)}"
        )
