"""Learning-curve figures in the style of the SeqGAN paper's Figure 2 (NLL-oracle, or any
other logged metric: NLL-test, BLEU-n, ...), and one panel per logged metric of a run
(``plot_metric_panels``: every evaluated metric; ``plot_training``: losses, D accuracy,
rewards of every epoch)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from seqgan.metrics.bleu import LABELS, SUFFIXES
from seqgan.storage.atomic import write_figure


def pyplot():
    """``matplotlib.pyplot``, imported when a figure is first drawn (a command that draws
    none, such as ``seqgan generate`` or a run killed before its end, does not pay the
    half second).  Files only, no windows: the Agg backend; but a notebook's backend
    (inline), or the one a program chose before, stays its own: figures written here are
    closed, so none of them shows there."""
    import matplotlib

    if "ipykernel" not in sys.modules and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


METRIC_LABELS = {
    "nll_oracle": "NLL-oracle (nats / token)",
    "nll_test": "NLL-test (nats / token)",
    "mse": "MSE (semitones²)",
    "spb": "SPB (octaves)",
    "qn4": "QN-4",
    "qn6": "QN-6",
    "qn8": "QN-8",
    "entropy": "H(p_gen) (nats)",
    "eval_reward_mean": "R̄_T",
    "eval_reward_std": "S_T",
    "d_precision": "p_d",
    "d_recall": "r_d",
    "g_loss": "generator loss",
    "d_loss": "discriminator loss (BCE)",
    "d_accuracy": "discriminator accuracy",
    "reward_mean": "mean reward",
    "ss_omega": "scheduled-sampling ω",
}
# logged in training epochs (every phase, also the discriminator's): ``plot_training``
TRAINING = ("g_loss", "d_loss", "d_accuracy", "reward_mean", "ss_omega")
# logged but not drawn: bookkeeping, and the music features' raw means and intra/inter-set
# numbers (their OA is drawn, with the data's own OA)
_NOT_DRAWN = ("phase", "phase_epoch", "epoch", "ss_replaced")
_NOT_DRAWN_PREFIXES = ("_", "feat_ii_", "data_")


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for row in rows:
        if row.get(key) not in (None, "") and row.get("epoch") not in (None, ""):
            xs.append(float(row["epoch"]))
            ys.append(float(row[key]))
    return xs, ys


def metric_label(metric: str) -> str:
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    if metric.startswith("feat_oa_"):
        return f"OA {metric[len('feat_oa_') :]} (1 = data)"
    convention = ""
    for name, suffix in sorted(SUFFIXES.items(), key=lambda item: -len(item[1])):
        if suffix and metric.endswith(suffix):  # the longest first: _texygen_full
            metric, convention = metric[: -len(suffix)], f" ({LABELS[name]})"
            break
    for prefix, name in (("self_bleu", "Self-BLEU-"), ("bleu", "BLEU-")):
        if metric.startswith(prefix) and metric[len(prefix) :].isdigit():
            return name + metric[len(prefix) :] + convention
    return metric + convention


def _draw_curves(
    ax,
    curves: dict[str, list[dict]],
    pretrain_end: float | None,
    metric: str = "nll_oracle",
    colors: dict[str, str] | None = None,
) -> None:
    xs_all = [x for rows in curves.values() for x in _series(rows, metric)[0]]
    for label, rows in curves.items():
        xs, ys = _series(rows, metric)
        if len(xs) == 1 and xs_all:  # one evaluation (the Random baseline): a level line
            ax.hlines(ys[0], min(xs_all), max(xs_all), linestyles=":", colors="black", label=label)
        elif xs or colors is None:
            (line,) = ax.plot(
                xs, ys, marker=".", markersize=3, label=label, color=(colors or {}).get(label)
            )
            _draw_band(ax, rows, metric, line.get_color())
    if pretrain_end is not None:
        ax.axvline(pretrain_end, linestyle="--", color="grey", label="end of pre-training")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric_label(metric))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def _draw_band(ax, rows: list[dict], metric: str, color: str) -> None:
    """Shade between ``<metric>_min`` and ``<metric>_max`` (the range over seeds of a
    comparison, ``experiments.report``) where the rows carry them."""
    low, high = _series(rows, f"{metric}_min"), _series(rows, f"{metric}_max")
    if low[0] and low[0] == high[0]:
        ax.fill_between(low[0], low[1], high[1], color=color, alpha=0.2, linewidth=0)


def save_figure(fig, path: Path, tight: bool = True, dpi: int = 120) -> None:
    """Lay out (``tight``; else the figure's own margins stand), write ``path`` (creating
    its folder; rendered in memory, then written atomically: an interruption never
    leaves half a picture) and close ``fig``."""
    try:
        if tight:
            fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_figure(fig, path, dpi=dpi)
    finally:
        pyplot().close(fig)


def plot_curves(
    curves: dict[str, list[dict]],
    pretrain_end: float | None,
    path: Path,
    title: str = "NLL-oracle during training",
    metric: str = "nll_oracle",
) -> None:
    """``metric`` vs epoch, one line per run, dashed vertical line at the end of
    pre-training (the SeqGAN paper's Figure 2 for NLL-oracle).  ``curves`` maps a label to
    metrics rows (dicts with ``epoch`` and ``metric``); a curve with a single evaluation
    is drawn as a horizontal line."""
    fig, ax = pyplot().subplots(figsize=(6.4, 4.2))
    _draw_curves(ax, curves, pretrain_end, metric)
    ax.set_title(title)
    save_figure(fig, path)


def plot_panels(
    panels: dict[str, dict[str, list[dict]]],
    pretrain_end: float | None,
    path: Path,
    title: str,
    metric: str = "nll_oracle",
) -> None:
    """One ``metric`` panel per entry of ``panels`` (title -> curves), sharing the y axis
    (the SeqGAN paper's Figure 3, one panel per training strategy)."""
    count = max(1, len(panels))
    cols = min(count, 2)
    rows = (count + cols - 1) // cols
    fig, axes = pyplot().subplots(
        rows, cols, figsize=(5.2 * cols, 3.6 * rows), sharey=True, squeeze=False
    )
    for ax, (name, curves) in zip(axes.flat, panels.items()):
        _draw_curves(ax, curves, pretrain_end, metric)
        ax.set_title(name)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_posterior(kl_per_dimension: list[float], rows: list[dict], path: Path, title: str) -> None:
    """Posterior-collapse figure of a VAE run: left, the final mean KL of each unit of z
    (sorted, nats); right, reconstruction NLL per token and KL per sequence (nats) at each
    evaluation, on two axes."""
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(10.4, 3.8))
    values = sorted(kl_per_dimension, reverse=True)
    left.bar(range(len(values)), values, color="tab:blue")
    left.set_xlabel("unit of z (sorted)")
    left.set_ylabel("mean KL (nats)")
    left.set_title("KL per dimension, end of run")
    xs, recon = _series(rows, "recon_nll")
    right.plot(xs, recon, marker=".", color="tab:red", label="reconstruction NLL / token")
    right.set_xlabel("epoch")
    right.set_ylabel("reconstruction NLL (nats / token)", color="tab:red")
    other = right.twinx()
    xs, kl = _series(rows, "kl")
    other.plot(xs, kl, marker=".", color="tab:blue", label="KL / sequence")
    other.set_ylabel("KL (nats / sequence)", color="tab:blue")
    right.set_title("reconstruction vs KL")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path)


def drawn_metrics(rows: list[dict], evaluated: bool) -> list[str]:
    """The metrics of ``rows`` (metrics rows: dicts) that have a value somewhere, in the
    order first seen: the evaluated ones (``evaluated``: NLL, BLEU, music metrics, feature
    OA, diagnostics) or the training ones (``TRAINING``)."""
    found: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if value in (None, "") or key in found or key in _NOT_DRAWN:
                continue
            if key.startswith(_NOT_DRAWN_PREFIXES) or (
                key.startswith("feat_") and not key.startswith("feat_oa_")
            ):
                continue
            if (key in TRAINING) != evaluated:
                found[key] = None
    return list(found)


def _finite(values: list[float]) -> bool:
    return any(math.isfinite(v) for v in values)


def _grid(count: int, cols: int = 3):
    """A figure of ``count`` panels, ``cols`` a row, with fixed margins (laid out here:
    ``tight_layout`` would render every panel once more, which costs a run seconds)."""
    cols = max(1, min(count, cols))
    rows = (count + cols - 1) // cols
    width, height = 4.3 * cols, 3.1 * rows + 0.5
    fig, axes = pyplot().subplots(rows, cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=0.7 / width * 1.0,
        right=1 - 0.15 / width,
        wspace=0.3,
        top=1 - 0.85 / height,
        bottom=0.55 / height,
        hspace=0.5,
    )
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat)[:count]


def plot_metric_panels(
    curves: dict[str, list[dict]],
    metrics: list[str],
    pretrain_end: float | None,
    path: Path,
    title: str,
    references: dict[str, float] | None = None,
) -> None:
    """One panel per metric of ``metrics`` (vs epoch; one line per label of ``curves``,
    as ``plot_curves``, one colour per label throughout); ``references[metric]``, where
    given, is drawn as a dashed horizontal line (the data's own value, e.g. the feature OA
    of test vs train).  Metrics without a finite value get no panel (nothing is written
    if none has one)."""
    metrics = [m for m in metrics if any(_finite(_series(rows, m)[1]) for rows in curves.values())]
    if not metrics:
        return
    colors = {label: f"C{number}" for number, label in enumerate(curves)}
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics):
        _draw_curves(ax, curves, pretrain_end, metric, colors)
        reference = (references or {}).get(metric)
        if reference is not None:
            ax.axhline(
                reference, linestyle="--", color="black", linewidth=1, label="data (test vs train)"
            )
        ax.set_ylabel("")
        if metric.startswith("feat_oa_"):  # an overlap area: on its whole scale
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(metric_label(metric), fontsize="medium")
        if ax is not axes[0]:
            legend = ax.get_legend()
            if legend is not None and reference is None:
                legend.remove()
            elif reference is not None:
                ax.legend(fontsize="x-small")
    fig.suptitle(title)
    save_figure(fig, path, tight=False, dpi=90)


def _short(phase: str) -> str:
    """A phase name short enough to stand above its span: ``pre-G``, ``pre-D``, ..."""
    return (
        phase.replace("pretrain_", "pre-")
        .replace("generator", "G")
        .replace("discriminator", "D")
        .replace("_", " ")
    )


def plot_training(rows: list[dict], metrics: list[str], path: Path, title: str) -> None:
    """One panel per training metric (losses, D accuracy, rewards) over every training
    epoch of the run in order — discriminator epochs included, which do not advance the
    generator's epoch count — with the phases shaded and named."""
    rows = [row for row in rows if row.get("phase") not in (None, "", "init")]
    fig, axes = _grid(len(metrics))
    spans: list[list] = []  # [phase, first x, last x]
    for x, row in enumerate(rows, 1):
        if spans and spans[-1][0] == row["phase"]:
            spans[-1][2] = x
        else:
            spans.append([row["phase"], x, x])
    for ax, metric in zip(axes, metrics):
        for number, (phase, first, last) in enumerate(spans):
            points = [
                (x, float(rows[x - 1][metric]))
                for x in range(first, last + 1)
                if rows[x - 1].get(metric) not in (None, "")
            ]
            if points:  # one line per phase: a loss need not continue into the next one
                ax.plot(*zip(*points), marker=".", markersize=3, color="tab:blue")
            if number % 2:
                ax.axvspan(first - 0.5, last + 0.5, color="grey", alpha=0.12, linewidth=0)
            ax.text(
                (first + last) / 2,
                1.01,
                _short(phase),
                fontsize="x-small",
                ha="center",
                va="bottom",
                transform=ax.get_xaxis_transform(),
            )
        ax.set_xlim(0.5, len(rows) + 0.5)
        ax.set_title(metric_label(metric), fontsize="medium", pad=14)
        ax.set_xlabel("training epoch (all phases, in order)")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path, tight=False, dpi=90)
