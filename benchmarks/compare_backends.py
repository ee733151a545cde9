"""Wall clock of the same tiny comparison on the local and on the Ray backend, and Ray's
overhead per run.

The comparison: random, mle and seqgan over 2 seeds (6 runs, plus the 2 shared
pre-trainings: 8 ``seqgan train`` processes) on the tests' tiny config, 2 at a time
(``--jobs 2``: one thread each; the Ray instance has ``num_cpus`` = the cores).  Each
backend runs as one ``seqgan compare`` process in a fresh folder; the Ray figure includes
starting and stopping the local instance.  The two tables must be identical (checked).

Ray starts only inside a loopback-only network namespace (docs/scale-out.md); elsewhere
this script refuses.  Run (root):

    unshare -n sh -c 'ip link set lo up; exec nice -n 19 python benchmarks/compare_backends.py'
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from seqgan.runtime.loopback import HOW, non_loopback  # noqa: E402

ALGORITHMS, SEEDS = "random,mle,seqgan", 2
RUNS = len(ALGORITHMS.split(",")) * SEEDS


def _compare(config: Path, out: Path, *extra: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("RAY_ADDRESS", None)
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqgan",
            "compare",
            "--config",
            str(config),
            "--out",
            str(out),
            "--algorithms",
            ALGORITHMS,
            "--seeds",
            str(SEEDS),
            "--jobs",
            "2",
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"compare {' '.join(extra)} failed:\n{done.stderr}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, help="folder for the two comparisons (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    others = non_loopback()
    if others:
        print(
            f"refusing to start Ray: this network namespace has {', '.join(others)}; run "
            f"inside a loopback-only network namespace: {HOW} (docs/scale-out.md)",
            file=sys.stderr,
        )
        return 2
    import tomli_w
    from benchmarks._common import cpu_flags, machine

    from tests.conftest import TINY

    config = copy.deepcopy(TINY)
    config["run"].update(tensorboard=False)
    with tempfile.TemporaryDirectory(prefix="compare-backends-") as tmp:
        root = args.out or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        path = root / "tiny.toml"
        path.write_text(tomli_w.dumps(config))
        local = _compare(path, root / "local")
        ray = _compare(path, root / "ray", "--backend", "ray")
        same = all(
            (root / "local" / n).read_bytes() == (root / "ray" / n).read_bytes()
            for n in ("table.csv", "table.md")
        )
    import ray as ray_module

    print(f"CPU: {machine()}; flags {cpu_flags()}; ray {ray_module.__version__}")
    print(
        f"comparison: {ALGORITHMS} x {SEEDS} seeds = {RUNS} runs (+{SEEDS} pre-trainings), "
        "tiny config, 2 at a time, 1 thread each"
    )
    print(f"local backend: {local:.1f} s wall clock")
    print(f"ray backend:   {ray:.1f} s wall clock (local instance started and stopped)")
    print(
        f"ray / local: {ray / local:.2f}x; overhead per run: {(ray - local) / RUNS:+.2f} s "
        f"= {(ray - local) / local:+.0%} of a run's local share ({local / RUNS:.2f} s)"
    )
    print(f"tables identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
