"""End to end through the command line (in-process ``main`` and one real subprocess)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import tomli_w

from seqgan.cli import main
from tests.conftest import REPO, TINY
from tests.helpers import read_csv


def _run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def tiny_toml(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(TINY))
    return path


def test_tiny_run_writes_a_complete_run_folder(tmp_path, tiny_toml, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", "--config", str(tiny_toml), "--out", str(out)], capsys)
    assert code == 0
    assert "NLL-oracle (final)" in stdout
    for name in (
        "config.toml",
        "metrics.csv",
        "summary.json",
        "model.pt",
        "figures/nll_oracle.png",
        "samples/final.txt",
        "samples/nll_oracle_per_sequence.npy",
        "samples/pretrain_generator.txt",
    ):
        assert (out / name).is_file(), name
    assert list((out / "checkpoints").glob("ckpt-*.pt"))
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "nll_oracle",
        "nll_oracle_after_pretraining",
        "nll_oracle_samples",
        "phase_seconds",
        "nll_test",
    ):
        assert key in summary
    assert summary["nll_oracle_samples"] == 128
    assert set(summary["phase_seconds"]) == {
        "pretrain_generator",
        "pretrain_discriminator",
        "adversarial",
    }
    rows = read_csv(out / "metrics.csv")
    phases = [r["phase"] for r in rows]
    assert (
        phases
        == ["init"]
        + ["pretrain_generator"] * 3
        + ["pretrain_discriminator"] * 2
        + ["adversarial"] * 3
    )
    evaluated = [r for r in rows if r["nll_oracle"]]
    assert [int(r["epoch"]) for r in evaluated] == [0, 2, 3, 5, 6]  # every 2 + each phase end
    assert all(r["d_loss"] for r in rows if r["phase"] == "pretrain_discriminator")
    assert all(r["g_loss"] and r["reward_mean"] for r in rows if r["phase"] == "adversarial")
    lines = (out / "samples" / "final.txt").read_text().splitlines()
    assert len(lines) == 128 and all(len(line.split()) == 8 for line in lines)

    code, stdout, _ = _run(["generate", "--run", str(out), "-n", "5"], capsys)
    assert code == 0 and len(stdout.splitlines()) == 5
    target = tmp_path / "gen.txt"
    assert _run(["generate", "--run", str(out), "-n", "3", "--out", str(target)], capsys)[0] == 0
    assert len(target.read_text().splitlines()) == 3

    code, stdout, _ = _run(
        ["evaluate", "--run", str(out), "--samples", "64", "--out", str(out / "evaluation.json")],
        capsys,
    )
    assert code == 0 and "NLL-oracle (final)" in stdout
    assert json.loads((out / "evaluation.json").read_text())["nll_oracle_samples"] == 64


def test_output_folder_is_not_overwritten_without_flag(tmp_path, tiny_toml, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code, _, err = _run(["train", "--config", str(tiny_toml), "--out", str(out)], capsys)
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    assert (out / "keep.txt").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--set", "adversarial.epoch=2"], "did you mean 'adversarial.epochs'"),
        (
            ["train", "--preset", "synthetic-paper", "--data-root", "/nonexistent"],
            "data file not found: seqgan_oracle/target_params_py3.pkl",
        ),
        (["generate", "--run", "/nonexistent", "-n", "0"], "-n must be a positive"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_cli_errors_are_one_line(args, message, tmp_path, capsys):
    code, _, err = _run(
        args + (["--out", str(tmp_path / "o")] if args[0] == "train" else []), capsys
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert not (tmp_path / "o").exists()


def test_console_entry_point_runs_as_module():
    result = subprocess.run(
        [sys.executable, "-m", "seqgan", "presets"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert "synthetic-quick" in result.stdout and "synthetic-paper" in result.stdout


@pytest.mark.parametrize("require,outcome", [("", "1 skipped"), ("1", "1 error")])
def test_data_tests_skip_without_the_data_sets_unless_required(tmp_path, require, outcome):
    """On a machine without the shared data sets a ``data`` test is skipped, with the
    reason in the summary; with SEQGAN_REQUIRE_DATA=1 (CI) it errors (a failed run)."""
    tests = tmp_path / "project" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_needs_data.py").write_text(
        "import pytest\n\n@pytest.mark.data\ndef test_it():\n    pass\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SEQGAN_DATA", "SEQGAN_REQUIRE_DATA")}
    if require:
        env["SEQGAN_REQUIRE_DATA"] = require
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tests)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in done.stdout, done.stdout
    assert "shared data sets not found" in done.stdout
