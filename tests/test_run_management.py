"""Runs you can manage: ``seqgan runs`` lists the runs under a folder; a resume removes the
temporary files a killed writer left; a folder whose marker write was killed can be
overwritten."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import tomli_w

from seqgan.cli import main
from seqgan.storage.lock import FolderLock
from tests.conftest import TINY
from tests.helpers import error_line


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("manage")
    config = copy.deepcopy(TINY)
    config["run"].update(tensorboard=False)
    (root / "tiny.toml").write_text(tomli_w.dumps(config))
    assert main(["train", "--config", str(root / "tiny.toml"), "--out", str(root / "run")]) == 0
    return root / "run"


def test_runs_lists_finished_stopped_and_running_runs(finished, tmp_path, capsys):
    folder = tmp_path / "runs"
    shutil.copytree(finished, folder / "done")
    shutil.copytree(finished, folder / "cmp" / "seed-3" / "stopped")
    (folder / "cmp" / "seed-3" / "stopped" / "summary.json").unlink()
    shutil.copytree(finished, folder / "busy")
    (folder / "busy" / "summary.json").unlink()
    (folder / "notes").mkdir()  # not a run
    capsys.readouterr()
    with FolderLock(folder / "busy"):
        assert main(["runs", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "algorithm", "data", "status", "metric", "age"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert sorted(rows) == ["busy", "cmp/seed-3/stopped", "done"]
    assert "seqgan" in rows["done"] and "oracle V=40 T=8" in rows["done"]
    assert " finished " in rows["done"] and "nll_oracle 3." in rows["done"]
    assert "stopped (adversarial epoch 3/3)" in rows["cmp/seed-3/stopped"]
    assert "running (adversarial epoch 3/3)" in rows["busy"]
    assert rows["done"].rstrip().endswith(" s")  # written seconds ago


def test_runs_of_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["runs", str(tmp_path / "nope")]) == 2
    error_line(capsys.readouterr().err, "nope is not a folder")


def test_a_resume_removes_the_temporary_files_a_killed_writer_left(finished, tmp_path, capsys):
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    left = [
        run / ".metrics.csv.0a1b2c.tmp",
        run / "checkpoints" / ".ckpt-00000009.pt.ffee00.tmp",
        run / "samples" / ".final.txt.123abc.tmp",
    ]
    for path in left:
        path.write_bytes(b"half a file")
    (run / "summary.json").unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    err = capsys.readouterr().err
    assert not any(path.exists() for path in left)
    assert f"note: removed 3 temporary file(s) a killed process left in {run}" in err, err


def test_a_folder_whose_marker_write_was_killed_can_be_overwritten(tmp_path, capsys):
    """``--out X`` killed while writing X's marker leaves X with the lock and the
    marker's temporary file: ``--overwrite`` recovers it (anything else there: refused)."""
    config = copy.deepcopy(TINY)
    config["run"].update(tensorboard=False)
    config["adversarial"]["epochs"] = 1
    (tmp_path / "tiny.toml").write_text(tomli_w.dumps(config))
    out = tmp_path / "run"
    out.mkdir()
    (out / ".seqgan-lock").write_text("12345\n")
    (out / "..seqgan-run.a1b2c3.tmp").write_bytes(b'{"seqgan_ru')
    capsys.readouterr()
    argv = ["train", "--config", str(tmp_path / "tiny.toml"), "--out", str(out)]
    assert main(argv) == 2
    error_line(capsys.readouterr().err, "exists; pass --overwrite")
    (out / "mine.txt").write_text("not seqgan's")
    assert main([*argv, "--overwrite"]) == 2
    error_line(capsys.readouterr().err, "refusing to overwrite")
    (out / "mine.txt").unlink()
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "summary.json").is_file() and (out / ".seqgan-run").is_file()
    assert not (out / "..seqgan-run.a1b2c3.tmp").exists()
    only_lock = tmp_path / "locked"  # killed before the marker's temporary file was made
    only_lock.mkdir()
    (only_lock / ".seqgan-lock").write_text("")
    assert (
        main(
            [
                "train",
                "--config",
                str(tmp_path / "tiny.toml"),
                "--out",
                str(only_lock),
                "--overwrite",
            ]
        )
        == 0
    )
