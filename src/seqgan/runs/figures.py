"""Learning-curve figures in the style of the SeqGAN paper's Figure 2."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for row in rows:
        if row.get(key) not in (None, "") and row.get("epoch") not in (None, ""):
            xs.append(float(row["epoch"]))
            ys.append(float(row[key]))
    return xs, ys


def plot_nll_oracle(curves: dict[str, list[dict]], pretrain_end: float | None, path: Path,
                    title: str = "NLL-oracle during training") -> None:
    """NLL-oracle vs epoch, one line per run, dashed vertical line at the end of pre-training.

    ``curves`` maps a label to metrics rows (dicts with ``epoch`` and ``nll_oracle``).
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, rows in curves.items():
        xs, ys = _series(rows, "nll_oracle")
        ax.plot(xs, ys, marker=".", label=label)
    if pretrain_end is not None:
        ax.axvline(pretrain_end, linestyle="--", color="grey", label="end of pre-training")
    ax.set_xlabel("epoch")
    ax.set_ylabel("NLL-oracle (nats / token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
