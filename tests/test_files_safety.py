"""A user's files are never destroyed and every run stays continuable (issue 13).

Each case is tried as a careless or unlucky user would: ``--overwrite`` pointed at a
project folder, two writers on one run folder, an interruption at the end of a shareable
phase, a full disk or a read-only folder while the final outputs are written, edited
files inside a run folder, repeated Ctrl-C.  Every case asserts what is left on disk.
"""

from __future__ import annotations

import builtins
import copy
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
import torch

from seqgan.cli import main
from seqgan.storage.checkpoint import load_checkpoint
from seqgan.storage.lock import FolderLock
from tests.conftest import REPO, TINY
from tests.helpers import (
    FullDisk,
    equal_trees,
    error_line,
    keeping_every_checkpoint,
    run_here,
    temporaries_of,
)

FAST = copy.deepcopy(TINY)
FAST["pretrain"].update(generator_epochs=2, discriminator_rounds=1)
FAST["adversarial"].update(epochs=1)
FAST["run"].update(tensorboard=False, keep_checkpoints=10, checkpoint_every=1)


def _toml(path: Path, data: dict) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


def _one_line(capsys, *words: str) -> str:
    return error_line(capsys.readouterr().err, *words)


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its content (None for folders)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    return _toml(tmp_path_factory.mktemp("cfg") / "fast.toml", FAST)


@pytest.fixture(scope="module")
def finished(config, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    return run


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    copy_ = tmp_path / "run"
    shutil.copytree(finished, copy_)
    return copy_


# -- 1. --overwrite deletes only what seqgan wrote ----------------------------------


def test_overwrite_refuses_a_project_folder_with_a_config(config, tmp_path, capsys):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "notes.md").write_text("my notes")
    (project / "data" / "corpus.txt").write_text("a b c\n")
    shutil.copy(config, project / "config.toml")
    before = _snapshot(project)
    code = main(
        ["train", "--config", str(project / "config.toml"), "--out", str(project), "--overwrite"]
    )
    assert code == 2
    _one_line(capsys, "refusing to overwrite", "not a seqgan run folder")
    assert _snapshot(project) == before


def test_overwrite_refuses_a_folder_that_is_not_a_run(config, tmp_path, capsys):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("secret")
    before = _snapshot(home)
    assert main(["train", "--config", str(config), "--out", str(home), "--overwrite"]) == 2
    _one_line(capsys, "refusing to overwrite", "not a seqgan run folder")
    assert _snapshot(home) == before


@pytest.mark.parametrize(
    "where",
    [
        "notes.md",
        "samples/my_best.mid",
        "checkpoints/keep.txt",
        "samples/cherry_picked.txt",
        "figures/paper_fig1.png",
        "samples/favourite_per_sequence.npy",
    ],
)
def test_overwrite_refuses_a_run_folder_holding_a_users_file(run_copy, config, capsys, where):
    (run_copy / where).write_text("mine")
    before = _snapshot(run_copy)
    assert main(["train", "--config", str(config), "--out", str(run_copy), "--overwrite"]) == 2
    _one_line(capsys, "refusing to overwrite", where.split("/")[-1], "did not write")
    assert _snapshot(run_copy) == before


def test_overwrite_replaces_a_run_folder_and_keeps_a_symlink(run_copy, config, tmp_path, capsys):
    link = tmp_path / "latest"
    link.symlink_to(run_copy, target_is_directory=True)
    old_metrics = (run_copy / "metrics.csv").read_bytes()
    (run_copy / "checkpoints" / "ckpt-00000099.pt").write_bytes(b"stale")
    assert main(["train", "--config", str(config), "--out", str(link), "--overwrite"]) == 0
    assert link.is_symlink() and link.resolve() == run_copy.resolve()
    assert not (run_copy / "checkpoints" / "ckpt-00000099.pt").exists()  # ours: deleted
    assert (run_copy / "summary.json").is_file() and (run_copy / ".seqgan-run").is_file()
    assert (run_copy / "metrics.csv").read_bytes() == old_metrics  # same config, same run


def test_another_tools_folder_with_the_same_file_names_is_refused(config, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.toml", "metrics.csv", "summary.json", "model.pt"):
        (other / name).write_text("theirs\n")
    before = _snapshot(other)
    assert main(["train", "--config", str(config), "--out", str(other), "--overwrite"]) == 2
    _one_line(capsys, "not a seqgan run folder")
    assert _snapshot(other) == before


def test_a_run_folder_of_an_older_release_is_recognised_by_its_layout(run_copy, config):
    (run_copy / ".seqgan-run").unlink()
    assert main(["train", "--config", str(config), "--out", str(run_copy), "--overwrite"]) == 0
    assert (run_copy / ".seqgan-run").is_file()


# -- 3. the end of a shareable phase is part of the resumable step --------------------


def _fail_writes(monkeypatch, name: str) -> None:
    """A full disk while the atomic writer writes ``name``."""
    temporaries_of(name, monkeypatch, wrap=FullDisk)


def test_a_failed_end_of_pretraining_write_is_redone_on_resume(
    config, tmp_path, capsys, monkeypatch
):
    run = tmp_path / "run"
    _fail_writes(monkeypatch, "end-pretrain_generator")
    assert main(["train", "--config", str(config), "--out", str(run)]) == 2
    _one_line(capsys, "cannot write", "end-pretrain_generator.pt", "No space left")
    monkeypatch.undo()
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["ckpt-00000001.pt"]  # the phase-end checkpoint waits for the end file
    assert main(["train", "--resume", str(run)]) == 0
    end = load_checkpoint(run / "checkpoints" / "end-pretrain_generator.pt")
    with keeping_every_checkpoint():  # the state it was made from, at the same position
        reference = tmp_path / "reference"
        assert main(["train", "--config", str(config), "--out", str(reference)]) == 0
    whole = load_checkpoint(reference / "checkpoints" / "ckpt-00000002.pt")
    assert set(end["models"]) == {"generator"} and end["position"] == whole["position"]
    for key, tensor in whole["models"]["generator"].items():
        assert torch.equal(end["models"]["generator"][key], tensor), key


def test_a_resume_rewrites_a_missing_end_of_phase_file(config, tmp_path, capsys):
    """A run stopped right after its phase-end checkpoint, by an older release or a user
    who deleted the file: the resume re-makes ``end-<phase>.pt`` from that checkpoint, as
    the run had written it."""
    run = tmp_path / "run"
    with keeping_every_checkpoint():
        assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    ckpts = run / "checkpoints"
    end = ckpts / "end-pretrain_generator.pt"
    expected = load_checkpoint(end)
    for path in [end, run / "summary.json", *sorted(ckpts.glob("ckpt-*.pt"))[2:]]:
        path.unlink()
    assert main(["train", "--resume", str(run)]) == 0
    assert "re-wrote" in capsys.readouterr().err
    assert equal_trees(load_checkpoint(end), expected)  # the same state (not bytes: views)


@pytest.fixture(scope="module")
def comparison(config, tmp_path_factory) -> tuple[Path, list[str]]:
    """A finished comparison of mle and random (its argv); tests change copies of it
    (``compared_copy``: the same command continues the copy)."""
    out = tmp_path_factory.mktemp("comparison") / "cmp"
    argv = ["compare", "--config", str(config), "--algorithms", "mle,random", "--out", str(out)]
    assert main(argv) == 0
    return out, argv


def compared_copy(comparison, tmp_path) -> tuple[Path, list[str]]:
    """A copy of the finished comparison and the argv that continues it there."""
    out, argv = comparison
    copy_ = tmp_path / "cmp"
    shutil.copytree(out, copy_)
    return copy_, [*argv[:-1], str(copy_)]


def test_a_comparison_continues_after_its_pretraining_lost_the_end_file(
    comparison, tmp_path, capsys
):
    out, argv = compared_copy(comparison, tmp_path)
    pretrain = out / "seed-3" / "pretrain"
    # the state of a pre-training stopped after its last checkpoint, before the end file
    (pretrain / "checkpoints" / "end-pretrain_generator.pt").unlink()
    (pretrain / "summary.json").unlink()
    shutil.rmtree(out / "seed-3" / "mle")
    table = (out / "table.md").read_text()
    assert main(argv) == 0, capsys.readouterr().err
    assert (out / "table.md").read_text() == table


def test_a_damaged_summary_in_a_comparison_is_remade(comparison, tmp_path, capsys):
    out, argv = compared_copy(comparison, tmp_path)
    summary = out / "seed-3" / "random" / "summary.json"
    good = json.loads(summary.read_text())
    summary.write_text('{"nll_oracle": 8.1')  # cut off
    assert main(argv) == 0
    assert "summary.json is damaged" in capsys.readouterr().err
    assert json.loads(summary.read_text())["nll_oracle"] == good["nll_oracle"]


# -- 4. final outputs: atomic, summary.json last --------------------------------------


@pytest.mark.parametrize(
    "name",
    ["model.pt", "summary.json", "final.txt", "nll_oracle.png", "nll_oracle_per_sequence.npy"],
)
def test_a_full_disk_while_finishing_keeps_the_previous_outputs(
    run_copy, capsys, monkeypatch, name
):
    """``--resume`` of a finished run re-writes its final outputs; a full disk at any
    of them is one line, and every file is still whole (the old version)."""
    before = _snapshot(run_copy)
    _fail_writes(monkeypatch, name)
    assert main(["train", "--resume", str(run_copy)]) == 2
    _one_line(capsys, "cannot write", name, "No space left on device")
    monkeypatch.undo()
    after = _snapshot(run_copy)
    for path, content in before.items():
        if path != "metrics.csv" and not path.startswith(".seqgan-lock"):
            assert after[path] == content, path
    assert not [p for p in after if Path(p).name.endswith(".tmp")]
    assert main(["train", "--resume", str(run_copy)]) == 0


def test_summary_is_written_last(config, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    _fail_writes(monkeypatch, "model.pt")
    assert main(["train", "--config", str(config), "--out", str(run)]) == 2
    monkeypatch.undo()
    assert not (run / "summary.json").exists() and not (run / "model.pt").exists()
    assert main(["train", "--resume", str(run)]) == 0
    assert (run / "summary.json").is_file() and (run / "model.pt").is_file()


# -- 5. one writer per run folder ------------------------------------------------------


def _hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding the run folder's lock (until it is killed)."""
    code = (
        "import sys, time; from seqgan.storage.lock import FolderLock; "
        "lock = FolderLock(sys.argv[1]); print('locked', flush=True); time.sleep(120)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.parametrize("command", ["resume", "overwrite"])
def test_a_second_writer_is_refused_and_the_lock_is_free_after_sigkill(
    run_copy, config, capsys, command
):
    argv = (
        ["train", "--resume", str(run_copy)]
        if command == "resume"
        else ["train", "--config", str(config), "--out", str(run_copy), "--overwrite"]
    )
    holder = _hold_lock(run_copy)
    try:
        before = _snapshot(run_copy)
        assert main(argv) == 2
        _one_line(capsys, "in use by another seqgan process", f"PID {holder.pid}")
        assert _snapshot(run_copy) == before
    finally:
        holder.kill()
        holder.wait()
    assert main(argv) == 0  # SIGKILL left no stale lock


def test_the_lock_is_released_when_a_run_ends(run_copy):
    assert main(["train", "--resume", str(run_copy)]) == 0
    with FolderLock(run_copy):  # would raise if the trainer still held it
        pass


def test_a_second_comparison_on_one_folder_is_refused(comparison, tmp_path, capsys):
    out, argv = compared_copy(comparison, tmp_path)
    holder = _hold_lock(out)
    try:
        assert main(argv) == 2
        _one_line(capsys, "comparison folder", "in use", f"PID {holder.pid}")
    finally:
        holder.kill()
        holder.wait()


# -- 8. environment faults --------------------------------------------------------------


def _read_only(monkeypatch, folder: Path) -> None:
    """Fault injection for a read-only file system under ``folder`` (as root, permission
    bits do not stop writes): creating, replacing or removing a file there fails EROFS."""
    folder = str(Path(folder).resolve())

    def inside(path) -> bool:
        return str(Path(os.fsdecode(path)).resolve()).startswith(folder)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    real_open, real_os_open = builtins.open, os.open
    real = {name: getattr(os, name) for name in ("replace", "unlink", "mkdir", "rmdir")}

    def fake_open(path, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and inside(path):
            refuse(path)
        return real_open(path, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guarded(name):
        def call(path, *args, **kwargs):
            if inside(path):
                refuse(path)
            return real[name](path, *args, **kwargs)

        return call

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    for name in real:
        monkeypatch.setattr(os, name, guarded(name))


@pytest.mark.parametrize("command", ["resume", "overwrite", "evaluate", "compare"])
def test_a_read_only_run_folder_is_one_line(run_copy, config, capsys, monkeypatch, command):
    argv = {
        "resume": ["train", "--resume", str(run_copy)],
        "overwrite": ["train", "--config", str(config), "--out", str(run_copy), "--overwrite"],
        "evaluate": [
            "evaluate",
            "--run",
            str(run_copy),
            "--out",
            str(run_copy / "evaluation.json"),
        ],
        "compare": [
            "compare",
            "--config",
            str(config),
            "--algorithms",
            "random",
            "--out",
            str(run_copy / "cmp"),
        ],
    }[command]
    before = _snapshot(run_copy)
    _read_only(monkeypatch, run_copy)
    code = main(argv)
    err = capsys.readouterr().err
    monkeypatch.undo()
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("seqgan: error: ") and "Read-only file system" in last, err
    assert "Traceback" not in err
    assert _snapshot(run_copy) == before


def test_an_overlong_out_is_one_line(config, tmp_path, capsys):
    out = tmp_path / ("x" * 300)
    assert main(["train", "--config", str(config), "--out", str(out)]) == 2
    _one_line(capsys, "File name too long")
    assert list(tmp_path.iterdir()) == []


def test_a_non_utf8_out_trains_and_its_messages_print(config, tmp_path, capsys):
    out = Path(os.fsdecode(bytes(tmp_path) + b"/run\xff"))
    assert main(["train", "--config", str(config), "--out", str(out)]) == 0
    assert (out / "summary.json").is_file()
    capsys.readouterr()
    assert main(["train", "--config", str(config), "--out", str(out)]) == 2
    _one_line(capsys, "exists", "run\\udcff")  # printable: the byte shown escaped


def test_a_vocabulary_with_renamed_specials_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\na dog sat on a log\n" * 20)
    data = copy.deepcopy(FAST)
    data["data"] = {"kind": "text", "train_file": str(corpus), "test_ratio": 0.25}
    data["eval"].pop("bleu", None)
    run = tmp_path / "run"
    assert (
        main(["train", "--config", str(_toml(tmp_path / "t.toml", data)), "--out", str(run)]) == 0
    )
    vocab = json.loads((run / "vocab.json").read_text())
    original = list(vocab["tokens"])
    vocab["tokens"][1] = "<BOS>"
    (run / "vocab.json").write_text(json.dumps(vocab))
    capsys.readouterr()
    assert main(["generate", "--run", str(run), "-n", "2"]) == 2
    _one_line(capsys, "vocab.json", "<pad> <bos> <eos> <unk>", "<BOS>")
    # 9: a resume re-makes a deleted vocabulary from the data
    (run / "vocab.json").unlink()
    assert main(["train", "--resume", str(run)]) == 0
    assert json.loads((run / "vocab.json").read_text())["tokens"] == original


# -- 8 / 9. signals ------------------------------------------------------------------


def _default_hangup() -> None:
    """In the child: SIGHUP's default action, even when the tests run under ``nohup``
    (whose ignored SIGHUP a child inherits, and seqgan keeps ignored by design)."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _start(args: list[str], cwd: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "seqgan", *args],
        env=env,
        cwd=cwd,
        preexec_fn=_default_hangup,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _long_config(tmp_path: Path) -> Path:
    data = copy.deepcopy(FAST)
    data["data"].update(num_train=1024)
    data["pretrain"].update(generator_epochs=12)
    return _toml(tmp_path / "long.toml", data)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


@pytest.mark.parametrize("signum,code,count", [(signal.SIGINT, 130, 5), (signal.SIGHUP, 129, 1)])
def test_signals_are_one_line_and_the_run_resumes(tmp_path, capsys, signum, code, count):
    run = tmp_path / "run"
    proc = _start(["train", "--config", str(_long_config(tmp_path)), "--out", str(run)])
    _wait_for(run / "checkpoints" / "ckpt-00000002.pt", proc)
    for _ in range(count):  # five Ctrl-C in a row
        proc.send_signal(signum)
        time.sleep(0.03)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"seqgan: interrupted by {signal.Signals(signum).name}"), err
    assert f"resume with: seqgan train --resume {run}" in last
    code, err = run_here(["train", "--resume", str(run)], capsys)  # no signal reaches it
    assert code == 0, err
    assert "resuming from" in err


# -- 9. minor -------------------------------------------------------------------------


def test_a_name_cannot_place_the_run_outside_runs(tmp_path, capsys, monkeypatch):
    data = copy.deepcopy(FAST)
    data["name"] = "../../escaped"
    config = _toml(tmp_path / "c.toml", data)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["train", "--config", str(config)]) == 0
    made = [p for p in (work / "runs").iterdir()]
    assert len(made) == 1 and made[0].name.startswith("_.._escaped-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "work"]


@pytest.mark.parametrize("extra", [["--out", "elsewhere"], ["--overwrite"]])
def test_resume_refuses_out_and_overwrite(run_copy, capsys, extra):
    before = _snapshot(run_copy)
    assert main(["train", "--resume", str(run_copy), *extra]) == 2
    _one_line(capsys, "--resume continues the run in its own folder")
    assert _snapshot(run_copy) == before


def test_a_hangup_ignored_from_the_start_stays_ignored(tmp_path):
    """``nohup seqgan train …``: the run survives the terminal's SIGHUP."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqgan",
            "train",
            "--config",
            str(_long_config(tmp_path)),
            "--out",
            str(run),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    _wait_for(run / "checkpoints" / "ckpt-00000002.pt", proc)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert (run / "summary.json").is_file()


def test_a_failed_start_releases_the_lock(config, tmp_path, monkeypatch):
    """A new run whose config.toml cannot be written leaves the folder free for a retry
    in the same process (the Python API, a notebook)."""
    run = tmp_path / "run"
    _fail_writes(monkeypatch, "config.toml")
    assert main(["train", "--config", str(config), "--out", str(run)]) == 2
    monkeypatch.undo()
    with FolderLock(run):
        pass


def test_pruning_after_a_fall_back_keeps_the_good_checkpoints(tmp_path):
    """After a resume fell back past a damaged newest checkpoint, writing the next one
    keeps the good ones before it (the damaged one is not counted as "newest")."""
    from seqgan.storage.checkpoint import list_checkpoints, save_checkpoint

    folder = tmp_path / "checkpoints"
    for index in (6, 7):
        save_checkpoint(folder, index, b"good", keep=2)
    (folder / "ckpt-00000009.pt").write_bytes(b"damaged")
    save_checkpoint(folder, 8, b"good", keep=2)
    assert [p.name for p in list_checkpoints(folder)] == [
        "ckpt-00000007.pt",
        "ckpt-00000008.pt",
        "ckpt-00000009.pt",
    ]
