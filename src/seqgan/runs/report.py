"""The comparison report: the SeqGAN paper's Table 1 and Figures 2-3 from finished runs.

Input: run folders grouped by label (an algorithm or a training strategy) and seed.
Output, in the comparison folder:

* ``table.csv`` / ``table.md``: per label, mean final NLL-oracle and NLL-test over seeds
  (± standard deviation over seeds when there are several), the number of samples behind
  each NLL-oracle, and the p-value of Welch's two-sided t-test of the label's per-sequence
  NLL-oracle values against SeqGAN's (values of all seeds pooled);
* ``figures/nll_oracle.png``: every label's learning curve (mean over seeds per epoch);
* ``figures/strategies.png``: one panel per SeqGAN training strategy (if any).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from seqgan.metrics.stats import welch_t_test
from seqgan.train.loop import DIAGNOSTICS
from seqgan.runs.checkpoint import atomic_write_bytes
from seqgan.runs.figures import plot_nll_oracle, plot_panels
from seqgan.runs.folder import RunFolder

REFERENCE = "seqgan"
TABLE_COLUMNS = ("label", "nll_oracle", "nll_oracle_seed_std", "nll_test", "nll_test_seed_std",
                 "seeds", "samples_per_seed", "p_value_vs_seqgan", *DIAGNOSTICS)
DIAGNOSTIC_HEADERS = {"entropy": "H(p_gen)", "eval_reward_mean": "R̄_T", "eval_reward_std": "S_T",
                      "d_precision": "p_d", "d_recall": "r_d", "bleu": "BLEU"}


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _mean_curve(runs: list[RunFolder]) -> list[dict]:
    """Mean NLL-oracle per epoch over runs (epochs evaluated in every run)."""
    by_epoch: dict[float, list[float]] = defaultdict(list)
    for run in runs:
        for row in run.read_metrics():
            if row.get("nll_oracle"):
                by_epoch[float(row["epoch"])].append(float(row["nll_oracle"]))
    return [{"epoch": e, "nll_oracle": float(np.mean(v))}
            for e, v in sorted(by_epoch.items()) if len(v) == len(runs)]


def _per_sequence(run: RunFolder, seq_len: int) -> np.ndarray:
    return np.load(run.samples / "nll_oracle_per_sequence.npy") / seq_len


def build_table(groups: dict[str, list[RunFolder]], seq_len: int) -> list[dict]:
    """One row per label (see the module docstring), in the order of ``groups``."""
    reference = groups.get(REFERENCE)
    reference_values = (np.concatenate([_per_sequence(r, seq_len) for r in reference])
                        if reference else None)
    rows = []
    for label, runs in groups.items():
        summaries = [r.read_summary() for r in runs]
        nll, nll_std = _mean_std([s.get("nll_oracle") for s in summaries])
        test, test_std = _mean_std([s.get("nll_test") for s in summaries])
        p_value = math.nan
        if reference_values is not None and label != REFERENCE:
            values = np.concatenate([_per_sequence(r, seq_len) for r in runs])
            p_value = welch_t_test(values, reference_values)[1]
        row = {"label": label, "nll_oracle": nll, "nll_oracle_seed_std": nll_std,
               "nll_test": test, "nll_test_seed_std": test_std, "seeds": len(runs),
               "samples_per_seed": summaries[0].get("nll_oracle_samples"),
               "p_value_vs_seqgan": p_value}
        for key in DIAGNOSTICS:
            row[key] = _mean_std([s.get(key) for s in summaries])[0]
        rows.append(row)
    return rows


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


def write_table(rows: list[dict], folder: Path) -> str:
    """Write ``table.csv`` and ``table.md``; return the markdown."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row[k], 6) if isinstance(row[k], float) else row[k]
                         for k in TABLE_COLUMNS})
    atomic_write_bytes(folder / "table.csv", buffer.getvalue().encode())
    several = any(row["seeds"] > 1 for row in rows)
    shown = [k for k in DIAGNOSTICS if any(not math.isnan(row[k]) for row in rows)]
    header = ["algorithm", "NLL-oracle", "NLL-test", "p-value vs SeqGAN",
              *(DIAGNOSTIC_HEADERS[k] for k in shown)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        nll, test = _cell(row["nll_oracle"]), _cell(row["nll_test"])
        if several and not math.isnan(row["nll_oracle_seed_std"]):
            nll += f" ± {_cell(row['nll_oracle_seed_std'])}"
        if several and not math.isnan(row["nll_test_seed_std"]):
            test += f" ± {_cell(row['nll_test_seed_std'])}"
        cells = [row["label"], nll, test, _p(row["p_value_vs_seqgan"]),
                 *(_cell(row[k]) for k in shown)]
        lines.append("| " + " | ".join(cells) + " |")
    seeds = rows[0]["seeds"] if rows else 0
    samples = rows[0]["samples_per_seed"] if rows else 0
    lines += ["", f"NLL in nats per token, final evaluation on {samples} samples per run, "
              f"{seeds} seed(s)" + (" (mean ± std over seeds)" if several else "") + ". "
              "p-value: Welch's two-sided t-test of per-sequence NLL-oracle against SeqGAN's "
              "(all seeds pooled)."
              + (" Diagnostics (docs/metrics.md): means over seeds at the final evaluation."
                 if shown else "")]
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(folder / "table.md", text.encode())
    return text


def write_figures(groups: dict[str, list[RunFolder]], strategies: dict[str, list[RunFolder]],
                  pretrain_end: float | None, folder: Path, title: str) -> list[Path]:
    """``figures/nll_oracle.png`` (all labels) and, with strategies,
    ``figures/strategies.png`` (one panel each, with the MLE curve for reference)."""
    paths = [folder / "figures" / "nll_oracle.png"]
    plot_nll_oracle({label: _mean_curve(runs) for label, runs in groups.items()},
                    pretrain_end, paths[0], title=f"NLL-oracle, {title}")
    if strategies:
        panels = {}
        for label, runs in strategies.items():
            curves = {"seqgan": _mean_curve(runs)}
            if "mle" in groups:
                curves["mle"] = _mean_curve(groups["mle"])
            panels[label] = curves
        paths.append(folder / "figures" / "strategies.png")
        plot_panels(panels, pretrain_end, paths[1], title=f"SeqGAN training strategies, {title}")
    return paths
