"""``seqgan compare --gpus / --runs-per-gpu``: placement of runs on (fake) GPUs, the
environment and command of each planned subprocess, the threads split, the one-line
error without GPUs, plain compare unchanged, and the devices benchmark's --quick mode.
No real GPU and no training run is needed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from seqgan.cli import main
from seqgan.config import build_config
from seqgan.experiments import compare
from seqgan.experiments.compare import (
    Placement,
    Runner,
    parse_gpus,
    place,
    plan,
    plan_lines,
    threads_per_run,
    visible_gpus,
)
from seqgan.runtime import threads
from tests.conftest import TINY
from tests.helpers import error_line

ROOT = Path(__file__).resolve().parents[1]


def _config(threads: int = 0):
    return build_config({**TINY, "run": {**TINY["run"], "threads": threads}})


def _planned(tmp_path, jobs: int, threads: int = 0, seeds: int = 2):
    return plan(_config(threads), ["mle", "seqgan", "pg-bleu"], [], seeds, tmp_path / "cmp", jobs)


def test_visible_gpus_from_device_count_and_cuda_visible_devices(monkeypatch):
    assert visible_gpus(3, environ={}) == ["0", "1", "2"]
    assert visible_gpus(0, environ={}) == []
    # CUDA_VISIBLE_DEVICES here: cuda:i of this process is its i-th entry
    assert visible_gpus(2, environ={"CUDA_VISIBLE_DEVICES": "4, 6"}) == ["4", "6"]
    assert visible_gpus(1, environ={"CUDA_VISIBLE_DEVICES": "GPU-ab,GPU-cd"}) == ["GPU-ab"]
    # --gpus all with a faked torch.cuda.device_count()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert parse_gpus("all", visible_gpus()) == ["0", "1", "2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7,9")
    assert parse_gpus("all", visible_gpus()) == ["5", "7", "9"]
    assert parse_gpus("2,0", visible_gpus()) == ["9", "5"]


@pytest.mark.parametrize(
    "text, words",
    [
        ("0,0", ["twice", "--runs-per-gpu"]),
        ("2", ["GPU 2 is not visible", "2 visible"]),
        ("x", ["'all'", "'x'"]),
        (",", ["'all'"]),
    ],
)
def test_parse_gpus_refuses(text, words):
    with pytest.raises(compare.UserError) as info:
        parse_gpus(text, ["0", "1"])
    for word in words:
        assert word in str(info.value)


def test_threads_split_between_parallel_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads_per_run(4, cpus=8) == 2
    assert threads_per_run(3, cpus=8) == 2
    assert threads_per_run(16, cpus=8) == 1
    assert threads_per_run(4, threads=3, cpus=8) == 3  # the user's run.threads
    # the CPUs this process may use (affinity mask, cgroup quota), not os.cpu_count()
    monkeypatch.setattr(threads, "available_cpus", lambda: 8)
    # 2 GPUs x 2 runs each: 4 at a time, 8 cores -> 2 threads per run (also --jobs 4)
    assert {j.config.run.threads for j in _planned(tmp_path, 2 * 2)} == {2}
    assert {j.config.run.threads for j in _planned(tmp_path, 1)} == {8}
    assert {j.config.run.threads for j in _planned(tmp_path, 4, threads=3)} == {3}


def test_placement_is_round_robin_with_cuda_visible_devices_and_device(tmp_path):
    jobs = _planned(tmp_path, 4)  # 2 seeds: 2 pre-trainings + 6 runs, in launch order
    placed = place(jobs, ["0", "1"], runs_per_gpu=2)
    assert [p.gpu for p in placed] == ["0", "1"] * 4
    for job, p in zip(jobs, placed):
        assert p.env == {"CUDA_VISIBLE_DEVICES": p.gpu}
        assert p.args == ["--set", "run.device=cuda"]
        assert p.threads == job.config.run.threads
    assert [p.gpu for p in place(jobs[:5], ["3", "1", "2"])] == ["3", "1", "2", "3", "1"]
    # no GPUs: the CPU, nothing added
    assert all(p == Placement(threads=j.config.run.threads) for j, p in zip(jobs, place(jobs, [])))
    with pytest.raises(compare.UserError, match="--runs-per-gpu must be positive"):
        place(jobs, ["0"], 0)


def _commands(runner: Runner, jobs) -> list[tuple[list[str], dict | None]]:
    runner.placements = {
        id(j): p for j, p in zip(jobs, place(jobs, runner.gpus, runner.runs_per_gpu))
    }
    return [(runner._command(j), runner.environment(j)) for j in jobs]


def test_subprocess_command_and_environment_per_gpu(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    jobs = _planned(tmp_path, 4)
    for job in jobs:
        job.log.parent.mkdir(parents=True, exist_ok=True)
    runner = Runner(jobs, 99, None, gpus=["0", "1"], runs_per_gpu=2)
    assert runner.parallel == 4  # len(gpus) x K, whatever was asked for
    for i, (job, (command, env)) in enumerate(zip(jobs, _commands(runner, jobs))):
        assert command[1:4] == ["-m", "seqgan", "train"]
        assert command[-4:-2] == ["--out", str(job.run)]
        assert command[-2:] == ["--set", "run.device=cuda"]
        assert env["CUDA_VISIBLE_DEVICES"] == str(i % 2)
        assert env["PATH"] == os.environ["PATH"]  # the rest inherited
    # a run to continue: --resume, and the device as well when --resume --set allows it
    from seqgan.training.session import EXTENDABLE

    jobs[1].run.mkdir(parents=True)
    jobs[1].run.joinpath("config.toml").write_text("")
    command = runner._command(jobs[1])
    assert command[4:6] == ["--resume", str(jobs[1].run)]
    assert command[6:] == (["--set", "run.device=cuda"] if "run.device" in EXTENDABLE else [])
    lines = plan_lines(jobs, runner.parallel, runner.placements, 2)
    assert lines[0].startswith(
        "plan: 8 run(s), 4 at a time (2 GPU(s) x 2 run(s) each, "
        "CUDA_VISIBLE_DEVICES 0,1; each run sees its GPU as cuda:0"
    )
    assert lines[1].endswith(f"{jobs[0].run} on GPU 0")
    assert lines[2].endswith(f"{jobs[1].run} on GPU 1")
    assert any(line.endswith("(after seed 3 pretrain)") and " on GPU " in line for line in lines)


def test_compare_without_gpus_keeps_todays_commands(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    jobs = _planned(tmp_path, 2)
    for job in jobs:
        job.log.parent.mkdir(parents=True, exist_ok=True)
    runner = Runner(jobs, 2, None)
    for job, (command, env) in zip(jobs, _commands(runner, jobs)):
        config = job.log.with_suffix(".toml")
        assert command == [
            sys.executable,
            "-m",
            "seqgan",
            "train",
            "--config",
            str(config),
            "--out",
            str(job.run),
        ]
        assert env is None  # inherited as is: no CUDA_VISIBLE_DEVICES, no device
        assert 'device = "cuda"' not in config.read_text()
    lines = plan_lines(jobs, 2, runner.placements)
    assert (
        lines[0] == f"plan: {len(jobs)} run(s), 2 at a time; each run's output in "
        f"{jobs[0].log.parent}/"
    )
    assert lines[1] == f"  seed 3 pretrain: {jobs[0].run}"
    assert not any("GPU" in line for line in lines)


def test_runner_keeps_at_most_k_runs_per_gpu(tmp_path):
    jobs = _planned(tmp_path, 4, seeds=3)
    busy: dict[str, int] = {}
    peak: dict[str, int] = {}
    lock = threading.Lock()

    def fake_run(self, job):
        gpu = self.placement(job).gpu
        with lock:
            busy[gpu] = busy.get(gpu, 0) + 1
            peak[gpu] = max(peak.get(gpu, 0), busy[gpu])
        time.sleep(0.05)
        with lock:
            busy[gpu] -= 1
        job.status = "done"
        return job

    runner = Runner(jobs, 1, None, log=lambda msg: None, gpus=["0", "1"], runs_per_gpu=2)
    runner._run = fake_run.__get__(runner)
    runner.run()
    assert all(j.status == "done" for j in jobs)
    assert set(peak) == {"0", "1"} and max(peak.values()) <= 2


def test_gpus_without_a_gpu_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    for gpus in ("0,1", "all"):
        assert main(["compare", "--out", str(tmp_path / "cmp"), "--gpus", gpus]) == 2
        error_line(capsys.readouterr().err, "--gpus: no GPU is visible")
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--gpus", "0", "--jobs", "2"], ["drop --jobs"]),
        (["--runs-per-gpu", "2"], ["--runs-per-gpu needs --gpus"]),
        (["--gpus", "0", "--runs-per-gpu", "0"], ["--runs-per-gpu must be positive"]),
    ],
)
def test_gpu_option_mistakes(args, words, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert main(["compare", "--out", str(tmp_path / "cmp"), *args]) == 2
    error_line(capsys.readouterr().err, *words)


def test_cli_passes_gpus_and_runs_per_gpu(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake_run_compare(cfg, algorithms, strategies, seeds, jobs, out, root, **kw):
        seen.update(jobs=jobs, **kw)
        return "| table |"

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(compare, "run_compare", fake_run_compare)
    out = str(tmp_path / "cmp")
    assert main(["compare", "--out", out, "--gpus", "all", "--runs-per-gpu", "2"]) == 0
    assert seen == {"jobs": 1, "gpus": ["0", "1"], "runs_per_gpu": 2, "sweep": None}
    assert main(["compare", "--out", out, "--jobs", "3"]) == 0
    assert seen == {"jobs": 3, "gpus": None, "runs_per_gpu": 1, "sweep": None}


def test_devices_benchmark_quick_prints_cpu_line():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "devices.py"), "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CPU: ") and "avx2" in lines[0]
    assert lines[1].startswith("torch ")
    assert any(line.startswith("MC search") for line in lines)
    cpu = [line for line in lines if line.startswith("CPU: MC search")]
    assert len(cpu) == 1 and "adversarial epoch estimate" in cpu[0]
    if not (torch.cuda.is_available() or torch.backends.mps.is_available()):
        assert "accelerators: none" in done.stdout
