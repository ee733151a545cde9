"""Assertions and fault injection shared by the tests of errors and files."""

from __future__ import annotations

import builtins
import csv
import errno
from pathlib import Path

from seqgan.storage import atomic


def read_csv(path) -> list[dict[str, str]]:
    """The rows of a CSV file written by seqgan (``metrics.csv``, ``table.csv``, ...)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def train_tiny(tmp_path: Path, algorithm: str, **changes) -> tuple[Path, dict, list[dict]]:
    """``seqgan train`` of ``tests.conftest.TINY`` as ``algorithm`` (TensorBoard off), with
    ``changes`` as whole sections (``maligan={...}``) or keys of ``eval``
    (``eval={"diagnostics": True}`` merges): the run folder, its summary and metric rows."""
    import copy
    import json

    import tomli_w

    from seqgan.cli import main
    from tests.conftest import TINY

    config = copy.deepcopy(TINY)
    config["algorithm"] = algorithm
    config["run"]["tensorboard"] = False
    for section, values in changes.items():
        config[section] = {**config.get(section, {}), **values}
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(config))
    out = tmp_path / "run"
    assert main(["train", "--config", str(path), "--out", str(out)]) == 0
    return out, json.loads((out / "summary.json").read_text()), read_csv(out / "metrics.csv")


def error_line(err: str, *words: str) -> str:
    """The one ``seqgan: error:`` line a command printed on stderr ``err`` — the last line,
    after any progress lines of phases that had finished — holding ``words``; no traceback."""
    lines = [line for line in err.strip().splitlines() if line.startswith("seqgan:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("seqgan: error: ") and err.strip().endswith(lines[0]), err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def refused_and_unchanged(build, words, tmp_path: Path, monkeypatch, capsys) -> Path:
    """Run ``seqgan.cli.main(build(inputs))`` in a fresh working folder: exit 2, exactly one
    ``seqgan: error:`` line holding ``words``, and ``inputs`` and the working folder
    unchanged.  Returns ``inputs``."""
    from seqgan.cli import main

    inputs, cwd = tmp_path / "inputs", tmp_path / "cwd"
    inputs.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    argv = build(inputs)
    before = tree(inputs, cwd)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    error_line(err, *words)
    assert tree(inputs, cwd) == before
    return inputs


def tree(*roots: Path) -> dict:
    """Every file and folder under ``roots`` with its size and modification time (the lock
    file excepted: by design it names the last writer's PID)."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            if path.name == ".seqgan-lock":
                continue
            stat = path.stat()
            found[str(path)] = (path.is_dir(), stat.st_size, stat.st_mtime_ns)
    return found


class FullDisk:
    """A file whose writes fail with ENOSPC after ``good`` of them (half of the failing
    write reaching the disk)."""

    def __init__(self, handle, good: int = 0):
        self.handle, self.good = handle, good

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, data):
        if self.good == 0:
            self.handle.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        self.good -= 1
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)


def temporaries_of(name: str, monkeypatch, wrap=None, fail_open=None, after: int = 0) -> list[str]:
    """Patch ``atomic.open`` for the temporary files of target ``name`` (the atomic writer's
    ``.<name>.<random>.tmp``): from the ``after``-th on, wrap their handles or fail their
    opening with ``fail_open``; returns the temporary names seen."""
    real_open, seen = builtins.open, []

    def fake_open(path, mode="r", *args, **kwargs):
        if Path(path).name.startswith(f".{name}."):
            seen.append(Path(path).name)
            if len(seen) > after:
                if fail_open is not None:
                    raise fail_open
                handle = real_open(path, mode, *args, **kwargs)
                return wrap(handle) if wrap else handle
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", fake_open, raising=False)
    return seen


def keeping_every_checkpoint():
    """A context in which finished runs keep their earlier checkpoints too, as a run killed
    after its last checkpoint but before it finished has them."""
    from unittest import mock

    from seqgan.training.loop import Trainer

    return mock.patch.object(Trainer, "_keep_final_checkpoint", lambda self: None)


def equal_trees(ours, theirs) -> bool:
    """Whether nested dicts / lists / tuples of tensors and plain values are equal (dict
    keys in the same order; tensors by value)."""
    import torch

    if isinstance(ours, torch.Tensor):
        return isinstance(theirs, torch.Tensor) and torch.equal(ours, theirs)
    if isinstance(ours, dict):
        return (
            isinstance(theirs, dict)
            and list(ours) == list(theirs)
            and all(equal_trees(ours[k], theirs[k]) for k in ours)
        )
    if isinstance(ours, (list, tuple)):
        return (
            isinstance(theirs, (list, tuple))
            and len(ours) == len(theirs)
            and all(equal_trees(a, b) for a, b in zip(ours, theirs))
        )
    return ours == theirs


def run_here(args: list[str], capsys) -> tuple[int, str]:
    """``seqgan ARGS`` in the test's own process (no fresh interpreter's ~5 s of imports;
    for a run no signal reaches): (exit code, what it printed on stderr)."""
    from seqgan.cli import main

    capsys.readouterr()
    code = main(args)
    return code, capsys.readouterr().err
