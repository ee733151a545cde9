"""Learning-curve figures in the style of the SeqGAN paper's Figure 2 (NLL-oracle, or any
other logged metric: NLL-test, BLEU-n, ...)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from seqgan.metrics.bleu import LABELS, SUFFIXES
from seqgan.storage.atomic import write_figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

METRIC_LABELS = {"nll_oracle": "NLL-oracle (nats / token)", "nll_test": "NLL-test (nats / token)",
                 "mse": "MSE (semitones²)", "spb": "SPB (octaves)", "qn4": "QN-4", "qn6": "QN-6",
                 "qn8": "QN-8"}


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
    convention = ""
    for name, suffix in sorted(SUFFIXES.items(), key=lambda item: -len(item[1])):
        if suffix and metric.endswith(suffix):  # the longest first: _texygen_full
            metric, convention = metric[:-len(suffix)], f" ({LABELS[name]})"
            break
    for prefix, name in (("self_bleu", "Self-BLEU-"), ("bleu", "BLEU-")):
        if metric.startswith(prefix) and metric[len(prefix):].isdigit():
            return name + metric[len(prefix):] + convention
    return metric + convention


def _draw_curves(ax, curves: dict[str, list[dict]], pretrain_end: float | None,
                 metric: str = "nll_oracle") -> None:
    xs_all = [x for rows in curves.values() for x in _series(rows, metric)[0]]
    for label, rows in curves.items():
        xs, ys = _series(rows, metric)
        if len(xs) == 1 and xs_all:  # one evaluation (the Random baseline): a level line
            ax.hlines(ys[0], min(xs_all), max(xs_all), linestyles=":", colors="black",
                      label=label)
        else:
            line, = ax.plot(xs, ys, marker=".", markersize=3, label=label)
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


def save_figure(fig, path: Path) -> None:
    """Lay out, write ``path`` (creating its folder; rendered in memory, then written
    atomically: an interruption never leaves half a picture) and close ``fig``."""
    try:
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)


def plot_curves(curves: dict[str, list[dict]], pretrain_end: float | None, path: Path,
                title: str = "NLL-oracle during training", metric: str = "nll_oracle") -> None:
    """``metric`` vs epoch, one line per run, dashed vertical line at the end of
    pre-training (the SeqGAN paper's Figure 2 for NLL-oracle).  ``curves`` maps a label to
    metrics rows (dicts with ``epoch`` and ``metric``); a curve with a single evaluation
    is drawn as a horizontal line."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _draw_curves(ax, curves, pretrain_end, metric)
    ax.set_title(title)
    save_figure(fig, path)


def plot_panels(panels: dict[str, dict[str, list[dict]]], pretrain_end: float | None,
                path: Path, title: str, metric: str = "nll_oracle") -> None:
    """One ``metric`` panel per entry of ``panels`` (title -> curves), sharing the y axis
    (the SeqGAN paper's Figure 3, one panel per training strategy)."""
    count = max(1, len(panels))
    cols = min(count, 2)
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), sharey=True,
                             squeeze=False)
    for ax, (name, curves) in zip(axes.flat, panels.items()):
        _draw_curves(ax, curves, pretrain_end, metric)
        ax.set_title(name)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_posterior(kl_per_dimension: list[float], rows: list[dict], path: Path,
                   title: str) -> None:
    """Posterior-collapse figure of a VAE run: left, the final mean KL of each unit of z
    (sorted, nats); right, reconstruction NLL per token and KL per sequence (nats) at each
    evaluation, on two axes."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.4, 3.8))
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
