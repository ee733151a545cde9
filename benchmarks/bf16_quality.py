"""Does a bf16 discriminator change what SeqGAN learns?  fp32 vs bf16
(``discriminator.precision``) on ``synthetic-quick`` over training seeds.

Trains ``<out>/<precision>-s<seed>`` for each precision and seed (missing runs only; the
pair of one seed side by side, ``run.threads = 1`` each), then prints the final NLL-oracle
per seed, the paired difference bf16 - fp32 with its paired t-test, the fp32
seed-to-seed spread, and draws the discriminator's accuracy curves
(``<out>/d_accuracy.png``).

Run: python benchmarks/bf16_quality.py --out runs/bf16 [--seeds 1,2,3] [--analyze-only]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

from scipy import stats

from _common import cpu_flags, machine

PRECISIONS = ("fp32", "bf16")


def train_pair(out: Path, seed: int) -> None:
    procs = []
    for precision in PRECISIONS:
        run = out / f"{precision}-s{seed}"
        if (run / "summary.json").is_file():
            continue
        command = [
            sys.executable,
            "-m",
            "seqgan",
            "train",
            "--preset",
            "synthetic-quick",
            "--seed",
            str(seed),
            "--out",
            str(run),
            "--set",
            f"discriminator.precision={precision}",
            "--set",
            "run.threads=1",
        ]
        if run.exists():
            command = [sys.executable, "-m", "seqgan", "train", "--resume", str(run)]
        with open(out / f"{precision}-s{seed}.log", "w") as log:  # the child keeps its copy
            procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a training failed: {proc.args}")


def accuracy_curve(run: Path) -> tuple[list[int], list[float]]:
    with open(run / "metrics.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("d_accuracy")]
    return [int(r["epoch"]) for r in rows], [float(r["d_accuracy"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--analyze-only", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.analyze_only:
        for seed in seeds:
            train_pair(args.out, seed)
    final = {p: [] for p in PRECISIONS}
    kernels = {}
    for precision in PRECISIONS:
        for seed in seeds:
            run = args.out / f"{precision}-s{seed}"
            final[precision].append(json.loads((run / "summary.json").read_text())["nll_oracle"])
            config = (run / "config.toml").read_text().splitlines()
            kernels[precision] = [line for line in config if "kernel =" in line]
    print(f"machine: {machine()}\ncpu flags: {cpu_flags()}")
    print(f"kernels: {kernels}")
    print("seed  fp32 NLL-oracle  bf16 NLL-oracle  bf16 - fp32")
    diffs = []
    for i, seed in enumerate(seeds):
        diffs.append(final["bf16"][i] - final["fp32"][i])
        print(f"{seed:4d}  {final['fp32'][i]:15.4f}  {final['bf16'][i]:15.4f}  {diffs[-1]:+11.4f}")
    spread = statistics.stdev(final["fp32"]) if len(seeds) > 1 else float("nan")
    print(
        f"mean  {statistics.mean(final['fp32']):15.4f}  {statistics.mean(final['bf16']):15.4f}"
        f"  {statistics.mean(diffs):+11.4f}"
    )
    print(
        f"fp32 seed-to-seed std: {spread:.4f}; bf16: "
        f"{statistics.stdev(final['bf16']) if len(seeds) > 1 else float('nan'):.4f}"
    )
    if len(seeds) > 1:
        test = stats.ttest_rel(final["bf16"], final["fp32"])
        print(
            f"paired t-test bf16 vs fp32 over {len(seeds)} seeds: t = {test.statistic:.3f}, "
            f"p = {test.pvalue:.3f}"
        )
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for precision, style in zip(PRECISIONS, ("-", "--")):
        for i, seed in enumerate(seeds):
            x, y = accuracy_curve(args.out / f"{precision}-s{seed}")
            ax.plot(x, y, style, color=f"C{i}", label=f"{precision} seed {seed}")
    ax.set_xlabel("epoch of the run (D pre-training rounds, then adversarial epochs)")
    ax.set_ylabel("D accuracy on its training batches")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(args.out / "d_accuracy.png", dpi=120)
    print(f"figure: {args.out / 'd_accuracy.png'}")


if __name__ == "__main__":
    main()
