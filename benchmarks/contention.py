"""A run's time alone and beside a competing workload, under today's OpenMP wait settings
and seqgan's, in one run (docs/performance.md, "Shared machines").

Workloads (paper-size models: generator emb 32 / hidden 32, V = 5,000, T = 20; the paper's
discriminator), each an epoch of one ``seqgan train`` subprocess, read from its
``timing.csv``:

* MLE epoch: teacher-forced MLE over ``--sequences`` sequences (batch 64);
* D epoch: one discriminator round: sample as many negatives, train 1 epoch over both;
* adversarial epoch: one g-step (64 samples, MC search with 16 roll-outs, Eq. 8 update)
  and one d-step of 1 epoch over the same counts (the paper's epoch has 5 d-steps of 3
  epochs over 20,000 sequences: the d-step part is cut, the g-step is the paper's).

Competitors, started before the measured run and killed after it:

* ``none`` — alone;
* ``seqgan`` — another ``seqgan train`` of the same workload, with the same settings;
* ``busy`` — one plain Python busy loop per available CPU (a process that wants every core).

Settings: ``today`` = ``GOMP_SPINCOUNT=300000``, libgomp's value when nothing is set (what
every run did before); ``seqgan`` = nothing set: each ``seqgan train`` (the measured
run and a ``seqgan`` competitor alike) chooses when it starts, from the CPUs other
processes use at that moment (``runtime.threads.machine_is_busy``):
``runtime.threads.SPIN_COUNT`` on a busy machine, libgomp's default otherwise.  What the
measured run chose is printed per cell (its ``summary.json``).  ``--spin-counts
0,1000,...`` adds settings with other values (a scan).  Threads: the default (the CPUs
available).

Printed: seconds per workload, the ratio to the same workload alone under ``today``, and
the goals: alone within 5 % of today's; beside a competitor at most 2.5x today's alone.

Run: python benchmarks/contention.py [--sequences 2048] [--repeats 1] [--spin-counts ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import cpu_flags
from seqgan.runtime.device import device_name
from seqgan.runtime.threads import CHOSEN_BY_SEQGAN, SPIN_COUNT, available_cpus

WORKLOADS = {
    "MLE epoch": ("pretrain_generator", 2),
    "D epoch": ("pretrain_discriminator", 2),
    "adversarial epoch": ("adversarial", 1),
}
COMPETITORS = ("none", "seqgan", "busy")
LIBGOMP_DEFAULT = 300_000


def settings_of(spin: int | None) -> dict[str, str | None]:
    """Environment changes of a setting: GOMP_SPINCOUNT = ``spin``, or unset (seqgan's)."""
    return {
        "GOMP_SPINCOUNT": None if spin is None else str(spin),
        CHOSEN_BY_SEQGAN: None,
        "OMP_WAIT_POLICY": None,
        "OMP_NUM_THREADS": None,
    }


def environment(changes: dict[str, str | None], cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if changes.get(k, "") is not None}
    env.update({k: v for k, v in changes.items() if v is not None})
    env["SEQGAN_CACHE"] = str(cache)  # the kernel choice measured once, by the warm-up
    return env


def train_command(out: Path, sequences: int, epochs: int) -> list[str]:
    sets = {
        "data.num_train": sequences,
        "data.num_test": 256,
        "discriminator.num_positives": sequences,
        "pretrain.generator_epochs": 3,
        "pretrain.discriminator_rounds": 3,
        "pretrain.discriminator_epochs": 1,
        "adversarial.epochs": epochs,
        "adversarial.g_steps": 1,
        "adversarial.d_steps": 1,
        "adversarial.k_epochs": 1,
        "eval.every": 1000,
        "eval.num_samples": 256,
        "run.tensorboard": "false",
        "run.checkpoint_every": 1000,
    }
    command = [sys.executable, "-m", "seqgan", "train", "--out", str(out), "--overwrite"]
    for key, value in sets.items():
        command += ["--set", f"{key}={value}"]
    return command


def openmp_wait(out: Path) -> str:
    """What the run at ``out`` recorded as its OpenMP wait behaviour (``summary.json``)."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return f"{summary['openmp_wait']}, others {summary.get('others_cpus_at_start')} CPUs"


def epoch_seconds(out: Path) -> dict[str, float]:
    """Each workload's epoch seconds from ``timing.csv`` (an epoch without evaluation)."""
    with open(out / "timing.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = {}
    for name, (phase, epoch) in WORKLOADS.items():
        row = next(r for r in rows if r["phase"] == phase and int(r["phase_epoch"]) == epoch)
        found[name] = float(row["seconds"])
    return found


def start_competitor(kind: str, env: dict, folder: Path, sequences: int) -> list:
    if kind == "none":
        return []
    if kind == "busy":
        return [
            subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(available_cpus())
        ]
    process = subprocess.Popen(
        train_command(folder / "competitor", sequences, 10_000),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 600  # until it trains (past its start-up)
    while time.time() < deadline and not (folder / "competitor" / "timing.csv").exists():
        time.sleep(0.5)
    return [process]


def measure(env: dict, competitor: str, folder: Path, sequences: int) -> tuple[dict, str]:
    """Epoch seconds of a run beside ``competitor``, and the wait behaviour it chose."""
    others = start_competitor(competitor, env, folder, sequences)
    try:
        time.sleep(1.0)
        out = folder / "measured"
        subprocess.run(
            train_command(out, sequences, 2),
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return epoch_seconds(out), openmp_wait(out)
    finally:
        for process in others:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=1, help="measurements per cell (median)")
    parser.add_argument("--spin-counts", default="", help="extra GOMP_SPINCOUNT values to scan")
    parser.add_argument("--competitors", default=",".join(COMPETITORS))
    args = parser.parse_args()
    settings = {"today": LIBGOMP_DEFAULT, "seqgan": None}
    settings.update({f"spin {v}": int(v) for v in args.spin_counts.split(",") if v})
    competitors = [c for c in args.competitors.split(",") if c]
    print(
        f"CPU: {device_name(__import__('torch').device('cpu'))}; flags: {cpu_flags()}; "
        f"{os.cpu_count()} CPUs, {available_cpus()} available; load average "
        f"{os.getloadavg()[0]:.1f} at the start"
    )
    print(
        f"seqgan's setting: GOMP_SPINCOUNT={SPIN_COUNT}; today's: {LIBGOMP_DEFAULT} "
        f"(libgomp's default); {args.sequences} sequences per epoch\n"
    )
    work = Path(tempfile.mkdtemp(prefix="seqgan-contention-"))
    try:
        cache = work / "cache"
        subprocess.run(
            train_command(work / "warm-up", args.sequences, 1),  # kernel choice
            env=environment(settings_of(None), cache),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        results: dict[tuple[str, str], dict[str, float]] = {}
        for competitor in competitors:
            for name, spin in settings.items():
                cells = [
                    measure(
                        environment(settings_of(spin), cache),
                        competitor,
                        work / f"{competitor}-{name}-{i}",
                        args.sequences,
                    )
                    for i in range(args.repeats)
                ]
                results[(competitor, name)] = {
                    w: sorted(c[w] for c, _ in cells)[len(cells) // 2] for w in WORKLOADS
                }
                chose = "; ".join(sorted({wait for _, wait in cells}))
                print(f"  measured {competitor:>6} / {name}: {chose}", flush=True)
        report(results, competitors, list(settings))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict, competitors: list[str], settings: list[str]) -> None:
    base = results.get(("none", "today"))
    print("\n| workload | competitor | " + " | ".join(settings) + " |")
    print("| --- | --- |" + " --- |" * len(settings))
    for workload in WORKLOADS:
        for competitor in competitors:
            cells = []
            for name in settings:
                seconds = results[(competitor, name)][workload]
                ratio = f" ({seconds / base[workload]:.2f}x)" if base else ""
                cells.append(f"{seconds:.2f} s{ratio}")
            print(f"| {workload} | {competitor} | " + " | ".join(cells) + " |")
    if base and ("none", "seqgan") in results:
        alone = max(results[("none", "seqgan")][w] / base[w] for w in WORKLOADS)
        print(f"\nalone, seqgan's setting / today's: worst {alone:.3f} (goal <= 1.05)")
        for competitor in competitors[1:] if competitors[0] == "none" else competitors:
            for name in ("today", "seqgan"):
                worst = max(results[(competitor, name)][w] / base[w] for w in WORKLOADS)
                print(
                    f"beside {competitor}, {name}: worst {worst:.2f}x today's alone (goal <= 2.5)"
                )


if __name__ == "__main__":
    main()
