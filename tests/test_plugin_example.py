"""The worked plug-in of examples/plugin/ (docs/extending.md), installed without network
into a folder of its own: its algorithm trains, is compared with MLE (sharing its
pre-training), survives SIGTERM and resumes bit-identically, and its metric reaches
metrics.csv, summary.json and table.md."""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from tests.conftest import REPO, TINY
from tests.test_resume import RESUME_CONFIG, _assert_identical, _finish, _wait_for_row

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.slow

NAME, METRIC = "shaped-seqgan", "distinct2"
SETTINGS = [
    "--set",
    f"algorithm={NAME}",
    "--set",
    "shaped_seqgan.exponent=3",
    "--set",
    f'eval.metrics=["{METRIC}"]',
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """examples/plugin installed into its own folder (no network, no dependencies), built
    from a copy (the build leaves files beside the sources)."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("source") / "plugin"
    shutil.copytree(
        REPO / "examples" / "plugin",
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(target.glob("seqgan_shaped-*.dist-info"))
    return target


def _start(site: Path, args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO / "src")])}
    return subprocess.Popen(
        [sys.executable, "-m", "seqgan", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_reward_is_shaped(site, monkeypatch):
    import torch

    monkeypatch.syspath_prepend(str(site))
    from seqgan_shaped.algorithm import PowerReward

    reward = PowerReward(lambda tokens: torch.tensor([0.5, 1.0, 0.0]), 3.0)
    assert torch.equal(reward(torch.zeros(3, 2)), torch.tensor([0.125, 1.0, 0.0]))


def test_compare_with_mle_shares_pretraining_and_tables_the_metric(site, tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps({**TINY, "run": {**TINY["run"], "tensorboard": False}}))
    out = tmp_path / "cmp"
    code, _, err = _finish(
        _start(
            site,
            [
                "compare",
                "--config",
                str(config),
                "--algorithms",
                f"mle,{NAME}",
                "--out",
                str(out),
                "--set",
                "shaped_seqgan.exponent=3",
                "--set",
                f'eval.metrics=["{METRIC}"]',
            ],
        )
    )
    assert code == 0, err
    run = out / "seed-3" / NAME
    assert tomllib.loads((run / "config.toml").read_text())["shaped_seqgan"] == {"exponent": 3.0}
    assert tomllib.loads((run / "config.toml").read_text())["pretrain"]["generator_from"] == str(
        out / "seed-3" / "pretrain"
    )  # MLE's pre-training, shared
    summary = json.loads((run / "summary.json").read_text())
    assert 0 < summary[METRIC] <= 1
    table = (out / "table.md").read_text()  # one row per metric, one column per algorithm
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    row = next(line for line in table.splitlines() if line.startswith(f"| {METRIC} |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    column = next(i for i, name in enumerate(header) if name.split(" ")[0] == NAME)
    assert "mle (reference)" in header  # no SeqGAN here: the p-values test against MLE
    assert float(cells[column].split()[0]) == pytest.approx(summary[METRIC], abs=1e-3)
    rows = {row["label"]: row for row in csv.DictReader((out / "table.csv").open())}
    assert float(rows[NAME][METRIC]) == pytest.approx(summary[METRIC], abs=1e-6)


def test_train_sigterm_and_resume_is_bit_identical(site, tmp_path):
    config = tmp_path / "resume.toml"
    config.write_text(tomli_w.dumps(copy.deepcopy(RESUME_CONFIG)))
    reference, run = tmp_path / "ref", tmp_path / "run"
    code, _, err = _finish(
        _start(site, ["train", "--config", str(config), *SETTINGS, "--out", str(reference)])
    )
    assert code == 0, err
    proc = _start(site, ["train", "--config", str(config), *SETTINGS, "--out", str(run)])
    _wait_for_row(proc, run, "adversarial", 1)
    proc.send_signal(signal.SIGTERM)
    code, _, err = _finish(proc)
    assert code == 143, err
    assert not (run / "summary.json").exists()
    code, _, err = _finish(_start(site, ["train", "--resume", str(run)]))
    assert code == 0, err
    assert "resuming from" in err
    _assert_identical(run, reference)
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert rows[-1][METRIC] and 0 < float(rows[-1][METRIC]) <= 1
    assert json.loads((run / "summary.json").read_text())[METRIC] == pytest.approx(
        float(rows[-1][METRIC]), abs=1e-6
    )
