"""Interruption and exact resumption, with real subprocesses and real signals.

A run killed (SIGKILL) in each phase, or stopped by SIGINT / SIGTERM, and then resumed
with ``seqgan train --resume`` must end with bit-identical parameters, metrics.csv rows
and samples to an uninterrupted run of the same config (same machine, same torch,
``run.threads = 1``). The run that is interrupted is a real subprocess; the reference run
and the resume, which no signal reaches, run in the test's own process
(``helpers.run_here``): the same code, without another interpreter's ~5 s of imports.
"""

from __future__ import annotations

import copy
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
import torch

from seqgan.cli import main
from tests.conftest import REPO, TINY
from tests.helpers import run_here

# Big enough that each phase lasts a few tenths of a second, so a watcher polling
# metrics.csv can kill the process inside a chosen phase.
RESUME_CONFIG = copy.deepcopy(TINY)
RESUME_CONFIG["data"].update(num_train=2048, num_test=64)
RESUME_CONFIG["pretrain"].update(generator_epochs=6, discriminator_rounds=6)
RESUME_CONFIG["adversarial"].update(epochs=6, num_rollouts=8)
RESUME_CONFIG["discriminator"].update(num_positives=512)
RESUME_CONFIG["run"].update(checkpoint_every=2, keep_checkpoints=2, tensorboard=False)

OUTPUTS = (
    "metrics.csv",
    "samples/final.txt",
    "samples/pretrain_generator.txt",
    "samples/adversarial.txt",
    "samples/nll_oracle_per_sequence.npy",
)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "resume.toml"
    path.write_text(tomli_w.dumps(RESUME_CONFIG))
    return path


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "seqgan", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _train(config: Path, out: Path) -> subprocess.Popen:
    return _start(["train", "--config", str(config), "--out", str(out)])


def _finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _wait_for_row(
    proc: subprocess.Popen, run: Path, phase: str, epoch: int, timeout: float = 120
) -> None:
    """Poll metrics.csv until it has row ``(phase, epoch)``; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    metrics = run / "metrics.csv"
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended before {phase} epoch {epoch}: {proc.stderr.read()}"
        try:
            rows = list(csv.DictReader(metrics.open()))
        except OSError:
            rows = []
        if any(r["phase"] == phase and int(r["phase_epoch"]) >= epoch for r in rows):
            return
        time.sleep(0.005)
    raise AssertionError(f"no {phase} epoch {epoch} row within {timeout} s")


def _assert_identical(run: Path, reference: Path) -> None:
    for name in OUTPUTS:
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    ours = torch.load(run / "model.pt", weights_only=True)
    theirs = torch.load(reference / "model.pt", weights_only=True)
    assert ours.keys() == theirs.keys()
    for model in ours:
        for key, tensor in ours[model].items():
            assert torch.equal(tensor, theirs[model][key]), f"{model}.{key}"


@pytest.fixture(scope="module")
def reference_run(config_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    assert main(["train", "--config", str(config_file), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    "phase,epoch", [("pretrain_generator", 3), ("pretrain_discriminator", 1), ("adversarial", 3)]
)
def test_sigkill_then_resume_is_bit_identical(
    config_file, reference_run, tmp_path, capsys, phase, epoch
):
    run = tmp_path / "run"
    proc = _train(config_file, run)
    _wait_for_row(proc, run, phase, epoch)
    proc.send_signal(signal.SIGKILL)
    code, _, _ = _finish(proc)
    assert code == -signal.SIGKILL
    assert not (run / "summary.json").exists()  # it really died before the end
    code, err = run_here(["train", "--resume", str(run)], capsys)
    assert code == 0, err
    assert "resuming from" in err or "starting the run from the beginning" in err
    _assert_identical(run, reference_run)


@pytest.mark.parametrize("signum,exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_a_checkpoint_and_prints_the_resume_command(
    config_file, reference_run, tmp_path, capsys, signum, exit_code
):
    run = tmp_path / "run"
    proc = _train(config_file, run)
    _wait_for_row(proc, run, "adversarial", 1)
    proc.send_signal(signum)
    code, _, err = _finish(proc)
    assert code == exit_code, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"seqgan: interrupted by {signal.Signals(signum).name}")
    assert f"resume with: seqgan train --resume {run}" in last
    saved = last.split("state saved in ")[1].split(";")[0]
    assert Path(saved).is_file()
    assert "Traceback" not in err
    code, err = run_here(["train", "--resume", str(run)], capsys)
    assert code == 0, err
    assert f"resuming from {saved}" in err
    _assert_identical(run, reference_run)


def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(
    config_file, reference_run, tmp_path, capsys
):
    run = tmp_path / "run"
    proc = _train(config_file, run)
    _wait_for_row(proc, run, "adversarial", 1)
    proc.send_signal(signal.SIGKILL)
    _finish(proc)
    checkpoints = sorted((run / "checkpoints").glob("ckpt-*.pt"))
    assert len(checkpoints) == 2
    newest = checkpoints[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated
    code, err = run_here(["train", "--resume", str(run)], capsys)
    assert code == 0, err
    assert f"warning: {newest} is unreadable" in err
    assert f"resuming from {checkpoints[0]}" in err
    _assert_identical(run, reference_run)


def test_a_signal_inside_a_deferred_block_waits_for_its_end():
    from seqgan.errors import Interrupted
    from seqgan.runtime.interrupt import deferred, handle_signals

    reached_end = False
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when pytest runs in the background
    with handle_signals():
        with pytest.raises(Interrupted) as info, deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run by now, and held the signal
            reached_end = True
        assert info.value.exit_code == 143
        os.kill(os.getpid(), signal.SIGINT)  # the command is ending: a second one is ignored
        time.sleep(0.05)
    with handle_signals(), pytest.raises(Interrupted):  # outside a deferred block: immediate
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is before  # restored
