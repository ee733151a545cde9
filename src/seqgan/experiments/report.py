"""The comparison report: the papers' result tables and learning curves from finished runs.

Input: run folders grouped by label (an algorithm or a training strategy) and seed.
Output, in the comparison folder:

* ``table.csv``: per label, the mean over seeds of every final metric the runs logged
  (± standard deviation over seeds when there are several) — NLL-oracle, NLL-test,
  BLEU-n, Self-BLEU-n, music metrics, GAN diagnostics, plug-in metrics
  (``registry``) — the number of samples behind
  each, and for every metric with per-sequence values (NLL-oracle, BLEU, MSE, SPB, QN)
  the p-value of Welch's two-sided t-test of the label's per-sequence values against
  the reference's (all seeds pooled), and ``p_seeds_<metric>``: Welch's test of the
  per-seed final values (with at least two seeds per label).  The reference (column
  ``versus``) is SeqGAN, or MLE in a comparison without SeqGAN (e.g. RelGAN's sweep).
  ``p_value_vs_seqgan`` is the pooled p of the task's main metric against SeqGAN:
  NLL-oracle on the oracle, else the first BLEU order, else MSE;
* ``table.md``, compact: one row per metric with the way it is better (``better``), one
  column per label: mean ± std over seeds and the p-value against the reference (over
  seeds; with one seed over sequences), and the data's own values where known;
* ``figures/<metric>.png``: every label's learning curve of the main curve metric
  (NLL-oracle, else NLL-test), mean over seeds per epoch;
* ``figures/evaluations.png``: one panel per evaluated metric (NLL, BLEU, music metrics,
  feature OA, diagnostics), every label's mean curve;
* ``figures/strategies.png``: one panel per SeqGAN training strategy (if any).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

import seqgan.registry as registry
from seqgan.errors import UserError
from seqgan.metrics.bleu import SUFFIXES
from seqgan.metrics.stats import welch_t_test
from seqgan.storage.atomic import write_bytes
from seqgan.storage.folder import RunFolder
from seqgan.training.figures import (
    drawn_metrics,
    metric_label,
    plot_curves,
    plot_metric_panels,
    plot_panels,
)
from seqgan.training.loop import DIAGNOSTICS

# the first of these in a comparison is what its p-values test against, and its name
REFERENCES = {"seqgan": "SeqGAN", "mle": "MLE"}


def reference_label(labels) -> str | None:
    """The label every other is tested against: SeqGAN, else MLE, else none."""
    return next((label for label in REFERENCES if label in labels), None)


HEADERS = {
    "nll_oracle": "NLL-oracle",
    "nll_test": "NLL-test",
    "mse": "MSE",
    "spb": "SPB",
    "qn4": "QN-4",
    "qn6": "QN-6",
    "qn8": "QN-8",
    "entropy": "H(p_gen)",
    "eval_reward_mean": "R̄_T",
    "eval_reward_std": "S_T",
    "d_precision": "p_d",
    "d_recall": "r_d",
}
_ORDER = (
    "nll_oracle",
    "nll_test",
    "bleu",
    "self_bleu",
    "mse",
    "spb",
    "qn4",
    "qn6",
    "qn8",
    *DIAGNOSTICS,
)


_BLEU = re.compile(r"(self_bleu|bleu)(\d+)(" + "|".join(s for s in SUFFIXES.values() if s) + ")?")


def _rank(metric: str) -> tuple:
    bleu = _BLEU.fullmatch(metric)
    if bleu:  # by convention, then order: bleu2, bleu3, bleu2_nltk32, ...
        return _ORDER.index(bleu.group(1)), bleu.group(3) or "", int(bleu.group(2))
    if metric.startswith("feat_oa_"):  # music feature metrics, in music.features order
        from seqgan.music.features import FEATURES

        name = metric[len("feat_oa_") :]
        return len(_ORDER), "", FEATURES.index(name) if name in FEATURES else len(FEATURES)
    return (_ORDER.index(metric) if metric in _ORDER else len(_ORDER)), "", 0


def table_metrics(summaries: list[dict]) -> list[str]:
    """The metrics any summary holds, in table order."""
    keys = {
        k
        for s in summaries
        for k, v in s.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and _is_metric(k)
    }
    return sorted(keys, key=_rank)


def _is_metric(key: str) -> bool:
    """A column of the table: a built-in metric, or an installed plug-in metric's
    (``registry``; its name, after the built-ins)."""
    return (
        key in HEADERS
        or bool(_BLEU.fullmatch(key))
        or key.startswith("feat_oa_")
        or key in registry.metric_names(plugins_only=True)
    )


def main_metric(metrics: list[str]) -> str | None:
    """The metric of ``p_value_vs_seqgan``: NLL-oracle, else the first BLEU, else MSE."""
    bleu = [m for m in metrics if _BLEU.fullmatch(m) and m.startswith("bleu")]
    for candidate in ("nll_oracle", *bleu, "mse"):
        if candidate in metrics:
            return candidate
    return None


def curve_metric(runs: list[RunFolder]) -> str:
    rows = [row for run in runs for row in run.read_metrics()]
    return "nll_oracle" if any(row.get("nll_oracle") for row in rows) else "nll_test"


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _mean_curve(runs: list[RunFolder], metric: str = "nll_oracle") -> list[dict]:
    """Mean of ``metric`` per epoch over runs (epochs evaluated in every run); with
    several runs (seeds) also their lowest and highest value, ``<metric>_min`` /
    ``<metric>_max``, which the figure draws as a band."""
    by_epoch: dict[float, list[float]] = defaultdict(list)
    for run in runs:
        for row in run.read_metrics():
            if row.get(metric):
                by_epoch[float(row["epoch"])].append(float(row[metric]))
    spread = len(runs) > 1
    return [
        {
            "epoch": e,
            metric: float(np.mean(v)),
            **({f"{metric}_min": min(v), f"{metric}_max": max(v)} if spread else {}),
        }
        for e, v in sorted(by_epoch.items())
        if len(v) == len(runs)
    ]


def _mean_curves(runs: list[RunFolder], metrics: list[str]) -> list[dict]:
    """``_mean_curve`` of each of ``metrics``, as one row per epoch."""
    by_epoch: dict[float, dict] = {}
    for metric in metrics:
        for row in _mean_curve(runs, metric):
            by_epoch.setdefault(row["epoch"], {}).update(row)
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _per_sequence(run: RunFolder, metric: str) -> np.ndarray | None:
    """Per-sequence values of ``metric`` (NLL-oracle per token), or None if not kept."""
    path = run.samples / f"{metric}_per_sequence.npy"
    if not path.is_file():
        return None
    try:  # object arrays (pickles) refused: reading one could run code
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path} is not a numeric .npy array ({exc})") from None
    if values.dtype.kind not in "biuf" or values.ndim != 1:
        raise UserError(
            f"{path} is not a 1-D numeric array (dtype {values.dtype}, shape {values.shape})"
        )
    if metric == "nll_oracle":  # kept as per-sequence sums
        summary = run.read_summary()
        values = values / summary.get("seq_len", summary.get("nll_oracle_seq_len", 1))
    return values


def _pooled(runs: list[RunFolder], metric: str) -> np.ndarray | None:
    parts = [_per_sequence(r, metric) for r in runs]
    return None if any(p is None for p in parts) else np.concatenate(parts)


def build_table(groups: dict[str, list[RunFolder]]) -> tuple[list[dict], list[str]]:
    """One row per label (see the module docstring), in the order of ``groups``, and the
    metrics shown."""
    summaries = {label: [r.read_summary() for r in runs] for label, runs in groups.items()}
    metrics = table_metrics([s for group in summaries.values() for s in group])
    signatures = _one_signature_each(groups, summaries, metrics)
    main = main_metric(metrics)
    versus = reference_label(groups)
    reference = groups.get(versus) if versus else None
    rows = []
    for label, runs in groups.items():
        row = {
            "label": label,
            "seeds": len(runs),
            "samples_per_seed": summaries[label][0].get(
                "samples", summaries[label][0].get("nll_oracle_samples")
            ),
        }
        for metric in metrics:
            row[metric], row[f"{metric}_seed_std"] = _mean_std(
                [s.get(metric) for s in summaries[label]]
            )
            p_value = math.nan
            if reference and label != versus:
                ours, theirs = _pooled(runs, metric), _pooled(reference, metric)
                if ours is not None and theirs is not None and len(ours) > 1 and len(theirs) > 1:
                    p_value = welch_t_test(ours, theirs)[1]
            row[f"p_{metric}"] = p_value
            row[f"p_seeds_{metric}"] = (
                _seed_level_p(summaries[label], summaries[versus], metric)
                if reference and label != versus
                else math.nan
            )
        row["versus"] = versus or ""
        row["p_value_vs_seqgan"] = (
            row.get(f"p_{main}", math.nan) if main and versus == "seqgan" else math.nan
        )
        row["signatures"] = "; ".join(signatures[m] for m in metrics if m in signatures)
        row["data_ceiling"] = {
            m: summaries[label][0]["data_oa_" + m[len("feat_oa_") :]]
            for m in metrics
            if m.startswith("feat_oa_")
            and isinstance(summaries[label][0].get("data_oa_" + m[len("feat_oa_") :]), float)
        }
        rows.append(row)
    return rows, metrics


def _seed_level_p(ours: list[dict], theirs: list[dict], metric: str) -> float:
    """Welch's two-sided t-test of the runs' final ``metric`` values, one per seed (NaN
    with fewer than two seeds on a side): the spread over training seeds, which the
    per-sequence test of the pooled samples does not see."""
    a = [s[metric] for s in ours if isinstance(s.get(metric), (int, float))]
    b = [s[metric] for s in theirs if isinstance(s.get(metric), (int, float))]
    return welch_t_test(np.asarray(a), np.asarray(b))[1]


def _one_signature_each(
    groups: dict[str, list[RunFolder]], summaries: dict[str, list[dict]], metrics: list[str]
) -> dict[str, str]:
    """metric -> the signature every run that has one gives it (``metrics.evaluation``);
    a one-line ``UserError`` naming two runs whose signatures differ for one column."""
    found: dict[str, tuple[str, Path]] = {}
    for label, runs in groups.items():
        for run, summary in zip(runs, summaries[label]):
            signatures = summary.get("signatures")
            for metric in metrics:
                signature = signatures.get(metric) if isinstance(signatures, dict) else None
                if not signature:
                    continue  # a run of an older release: not signed
                first = found.setdefault(metric, (signature, run.root))
                if first[0] != signature:
                    raise UserError(
                        f"{metric} was computed differently by {first[1]} "
                        f"({first[0]}) and {run.root} ({signature}); one table "
                        "holds one convention per column"
                    )
    return {metric: signature for metric, (signature, _) in found.items()}


def _cell(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _p(value: float) -> str:
    if math.isnan(value):
        return "—"
    if value == 0.0:
        return "< 1e-300"  # below the smallest double
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def _header(metric: str) -> str:
    if metric.startswith("feat_oa_"):  # music feature metrics (music.features)
        return f"OA {metric[len('feat_oa_') :]}"
    return HEADERS.get(metric) or metric_label(metric)


def better(metric: str) -> str:
    """Which way a metric is better, as the table shows it: ``↓`` lower, ``↑`` higher,
    ``≈ data`` closer to the data's own value, ``—`` a diagnostic (no better way)."""
    bleu = _BLEU.fullmatch(metric)
    if bleu:
        return "↑" if bleu.group(1) == "bleu" else "↓ (diversity)"
    if metric in ("nll_oracle", "nll_test", "mse"):
        return "↓"
    if metric in ("spb", "qn4", "qn6", "qn8"):
        return "≈ data"
    if metric.startswith("feat_oa_"):
        return "↑ (data's at most)"
    return "—"


def write_table(rows: list[dict], metrics: list[str], folder: Path) -> str:
    """Write ``table.csv`` (every number: means, standard deviations over seeds, both
    p-values of every metric against ``versus``) and the compact ``table.md`` (one row per
    metric, one column per label: mean ± std over seeds and the p-value against the
    reference; which way is better); return the markdown."""
    columns = ["label", "seeds", "samples_per_seed", "versus", "p_value_vs_seqgan"]
    for metric in metrics:
        columns += [metric, f"{metric}_seed_std", f"p_{metric}", f"p_seeds_{metric}"]
    columns.append("signatures")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: _cell(row[k], 6) if isinstance(row[k], float) else row[k] for k in columns}
        )
    write_bytes(folder / "table.csv", buffer.getvalue().encode())
    text = _markdown(rows, metrics)
    write_bytes(folder / "table.md", text.encode())
    return text


def _markdown(rows: list[dict], metrics: list[str]) -> str:
    """``table.md``: metrics down, labels across (the reference, SeqGAN or MLE, marked), a
    ``data`` column when the data's own values (the feature OA ceiling) are known."""
    versus = rows[0]["versus"] if rows else ""
    several = any(row["seeds"] > 1 for row in rows)
    p_key = "p_seeds_{}" if several else "p_{}"
    tested = any(not math.isnan(row[p_key.format(m)]) for row in rows for m in metrics)
    ceiling = rows[0].get("data_ceiling") if rows else None
    header = [
        "metric",
        "better",
        *(
            f"{r['label']} (reference)" if r["label"] == versus and tested else r["label"]
            for r in rows
        ),
    ]
    if ceiling:
        header.append("data (test vs train)")
    lines = ["| " + " | ".join(header) + " |", "| --- | --- |" + " ---: |" * (len(header) - 2)]
    for metric in metrics:
        cells = [_header(metric), better(metric)]
        for row in rows:
            cell = _cell(row[metric])
            if cell and several and not math.isnan(row[f"{metric}_seed_std"]):
                cell += f" ± {_cell(row[f'{metric}_seed_std'])}"
            p_value = row[p_key.format(metric)]
            if cell and not math.isnan(p_value):
                shown = _p(p_value)
                cell += f", p {shown}" if shown.startswith("<") else f", p = {shown}"
            cells.append(cell)
        if ceiling:
            cells.append(_cell(ceiling.get(metric)))
        lines.append("| " + " | ".join(cells) + " |")
    seeds = rows[0]["seeds"] if rows else 0
    samples = rows[0]["samples_per_seed"] if rows else 0
    note = (
        f"Final evaluation on {samples} samples per run, {seeds} seed(s)"
        + (": mean ± std over seeds" if several else "")
        + "; NLL in nats per token. "
        "better: ↓ lower, ↑ higher, ≈ data closer to the data's value, — a diagnostic."
    )
    if tested:
        note += (
            f" p: Welch's two-sided t-test against {REFERENCES[versus]} of "
            + (
                "the per-seed final values (one per training seed: the test of a claim "
                "about the algorithm)"
                if several
                else "the per-sequence values (one seed: a test of these two trained "
                "generators; --seeds 2 or more gives the test over seeds)"
            )
            + "; empty where a metric has no such values."
        )
    if ceiling:
        note += (
            " data: the data's own OA (test set vs training set), what a perfect "
            "generator would reach."
        )
    note += " Every number, per-sequence and per-seed p-values: table.csv."
    lines += ["", note]
    if rows and rows[0]["signatures"]:
        lines += [
            "",
            "Signatures: " + ", ".join(f"`{sig}`" for sig in rows[0]["signatures"].split("; ")),
        ]
    return "\n".join(lines) + "\n"


def write_figures(
    groups: dict[str, list[RunFolder]],
    strategies: dict[str, list[RunFolder]],
    pretrain_end: float | None,
    folder: Path,
    title: str,
) -> list[Path]:
    """``figures/nll_oracle.png`` (all labels) and, with strategies,
    ``figures/strategies.png`` (one panel each, with the MLE curve for reference); each
    curve is the mean over seeds, with the range of the seeds as a band when there are
    several."""
    metric = curve_metric([r for runs in groups.values() for r in runs])
    paths = [folder / "figures" / f"{metric}.png"]
    plot_curves(
        {label: _mean_curve(runs, metric) for label, runs in groups.items()},
        pretrain_end,
        paths[0],
        title=f"{metric_label(metric)}, {title}",
        metric=metric,
    )
    evaluated = drawn_metrics(
        [row for runs in groups.values() for run in runs for row in run.read_metrics()],
        evaluated=True,
    )
    if evaluated:
        paths.append(folder / "figures" / "evaluations.png")
        plot_metric_panels(
            {label: _mean_curves(runs, evaluated) for label, runs in groups.items()},
            evaluated,
            pretrain_end,
            paths[-1],
            title,
        )
    if strategies:
        panels = {}
        for label, runs in strategies.items():
            curves = {"seqgan": _mean_curve(runs, metric)}
            if "mle" in groups:
                curves["mle"] = _mean_curve(groups["mle"], metric)
            panels[label] = curves
        paths.append(folder / "figures" / "strategies.png")
        plot_panels(
            panels,
            pretrain_end,
            paths[-1],
            title=f"SeqGAN training strategies, {title}",
            metric=metric,
        )
    return paths
