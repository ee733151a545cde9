"""The run folder: everything one training run leaves behind.

    config.toml          resolved configuration (re-loadable with --config)
    metrics.csv          one row per evaluation/phase epoch (columns: ``COLUMNS``), appended
    timing.csv           the same rows' wall-clock times (columns: ``TIMING_COLUMNS``)
    tensorboard/         TensorBoard events of the same numbers
    checkpoints/         ckpt-*.pt (atomic, weights_only-loadable)
    vocab.json           text and music runs: the vocabulary (id -> token)
    samples/             generated token ids, one sequence per line (<phase>.txt); text runs
                         also decoded (<phase>.text.txt), music runs as symbols
                         (<phase>.symbols.txt) and a few final samples as MIDI
                         (final_000.mid, ...); per-sequence metric values (.npy)
    figures/             learning curves (figures/nll_oracle.png), every evaluated metric
                         (evaluations.png), losses / D accuracy / rewards (training.png),
                         music runs: a piano roll of the final samples (pianoroll.png)
    summary.json         final metrics, counts and wall-clock seconds per phase (written
                         last: its presence marks a finished run)
    model.pt             the final weights; evaluation.json: ``seqgan evaluate``'s numbers
    .seqgan-run          the marker: this folder was made by seqgan (format ``FORMAT``)
    .seqgan-lock         the writer's lock (``storage.lock``)

``--overwrite`` deletes only these entries (``RunFolder.foreign_entry`` says what else
there is) and refuses a folder holding anything else.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
from pathlib import Path

import numpy as np
import torch

from seqgan.errors import UserError
from seqgan.runtime.interrupt import deferred
from seqgan.storage.atomic import (
    TEMPORARY,
    cannot_write,
    remove_temporaries,
    write_bytes,
    write_target,
    write_text,
)
from seqgan.storage.lock import LOCK_NAME, FolderLock

MARKER = ".seqgan-run"
FORMAT = 1
_TMP = re.compile(r"\..+\.tmp")  # the atomic writer's temporary files
# the names seqgan writes in a run folder: fixed top-level files, and per folder a pattern
# (a name inside it is also checked against the run's own phases and metrics, ``_written``)
_FILES = {
    "config.toml",
    "metrics.csv",
    "timing.csv",
    "vocab.json",
    "summary.json",
    "model.pt",
    "evaluation.json",
    ".seqgan-run",
    ".seqgan-lock",
}
_FOLDERS = {
    "checkpoints": re.compile(r"ckpt-\d+\.pt|end-(?P<phase>\w+)\.pt"),
    "samples": re.compile(
        r"(?P<phase>\w+?)(\.text|\.symbols)?\.txt|final_\d+\.mid|"
        r"(?P<metric>\w+)_per_sequence\.npy|kl_per_dimension\.npy"
    ),
    "figures": re.compile(
        r"(evaluations|training|posterior|pianoroll)\.png|"
        r"(?P<metric>\w+)\.png"
    ),
    "tensorboard": re.compile(r"events\.out\.tfevents\.[\w.-]+"),
}

COLUMNS = (
    "phase",
    "phase_epoch",
    "epoch",
    "nll_oracle",
    "nll_test",
    "g_loss",
    "d_loss",
    "d_accuracy",
    "reward_mean",
    "ss_omega",
    "ss_replaced",
    "entropy",
    "eval_reward_mean",
    "eval_reward_std",
    "d_precision",
    "d_recall",
)  # then any other metric, in order seen
# timing.csv: seconds of the epoch (run and evaluation), seconds since the run started
# summed over its sessions, and the UTC time the row was written (row keys ``_seconds``,
# ``_wall_seconds``, ``_utc``: not in metrics.csv, which stays bit-identical on resume)
TIMING_COLUMNS = ("phase", "phase_epoch", "epoch", "seconds", "wall_seconds", "utc")
_TIMING_KEYS = {"seconds": "_seconds", "wall_seconds": "_wall_seconds", "utc": "_utc"}


class RunFolder:
    """Paths of one run and the writers that fill them."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.config = self.root / "config.toml"
        self.metrics = self.root / "metrics.csv"
        self.tensorboard = self.root / "tensorboard"
        self.checkpoints = self.root / "checkpoints"
        self.samples = self.root / "samples"
        self.figures = self.root / "figures"
        self.summary = self.root / "summary.json"
        self.vocab = self.root / "vocab.json"
        self.timing = self.root / "timing.csv"
        self.lock: FolderLock | None = None  # held while this process writes here
        self._tables = (
            _Table(self.metrics, _metric_columns, _metric_cells),
            _Table(self.timing, lambda rows: list(TIMING_COLUMNS), _timing_cells),
        )

    @classmethod
    def create(cls, root: Path, overwrite: bool = False) -> RunFolder:
        """Make a fresh run folder and lock it (``storage.lock``).  An existing non-empty
        folder needs ``overwrite`` and must be a seqgan run folder no process is writing:
        only what seqgan wrote is deleted (``clear``)."""
        root = Path(root)
        run = cls(root)
        if run.check_can_create(overwrite):
            run.take_lock()
            run.clear()
        else:
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create output folder {root}: {exc.strerror}") from None
            run.take_lock()
        run.mark()
        for sub in (run.checkpoints, run.samples, run.figures):
            try:
                sub.mkdir(exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create {sub}: {exc.strerror}") from None
        return run

    def foreign_entry(self) -> Path | None:
        """The first path in this folder that seqgan did not write (None if there is none):
        a name seqgan never writes, or a sample / figure / array named after a phase or
        metric this run does not have (its ``metrics.csv`` says which)."""
        phases, metrics = self._written()
        for path in sorted(self.root.iterdir()):
            if path.name in _FOLDERS and path.is_dir() and not path.is_symlink():
                for inner in sorted(path.iterdir()):
                    if not self._ours(inner, _FOLDERS[path.name], phases, metrics):
                        return inner
            elif not (
                path.is_file()
                and not path.is_symlink()
                and (path.name in _FILES or _TMP.fullmatch(path.name))
            ):
                return path
        return None

    @staticmethod
    def _ours(path: Path, pattern: re.Pattern, phases: set, metrics: set) -> bool:
        if not path.is_file() or path.is_symlink():
            return False
        if _TMP.fullmatch(path.name):
            return True
        match = pattern.fullmatch(path.name)
        if match is None:
            return False
        named = match.groupdict()
        return named.get("phase") in (None, *phases) and named.get("metric") in (None, *metrics)

    def _written(self) -> tuple[set[str], set[str]]:
        """The phases and metrics of this run's ``metrics.csv`` (empty if unreadable)."""
        try:
            with open(self.metrics, encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                columns = set(reader.fieldnames or ())
        except (OSError, UnicodeDecodeError, csv.Error):
            return set(), set()
        phases = {row.get("phase") for row in rows} - {None, "", "init"}
        return phases | {"final"}, columns - {"phase", "phase_epoch", "epoch"}

    def _looks_like_a_run(self) -> bool:
        """A folder without the marker (an older release's) is a run folder if its
        ``config.toml`` is a seqgan config and its ``metrics.csv`` has seqgan's header."""
        from seqgan.config import build_config, read_toml

        try:
            build_config(read_toml(self.config))
            with open(self.metrics, encoding="utf-8") as handle:
                header = handle.readline().strip().split(",")
        except (UserError, OSError, UnicodeDecodeError):
            return False
        return header[:3] == list(COLUMNS[:3])

    def _marker_write_killed(self) -> bool:
        """A folder holding nothing but seqgan's lock and perhaps the temporary file of its
        marker: a new run killed outright after locking the folder, before its marker was
        in place (``create``)."""
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return False
        return bool(entries) and all(
            p.is_file()
            and not p.is_symlink()
            and (
                p.name == LOCK_NAME
                or (TEMPORARY.fullmatch(p.name) and p.name.startswith(f".{MARKER}."))
            )
            for p in entries
        )

    def remove_temporaries(self) -> list[Path]:
        """Remove the temporary files a killed writer left in this folder and its
        sub-folders (``storage.atomic.TEMPORARY``); only while holding its lock.  The paths
        removed."""
        removed = remove_temporaries(self.root)
        for name in _FOLDERS:
            removed += remove_temporaries(self.root / name)
        return removed

    def check_can_create(self, overwrite: bool) -> bool:
        """Whether the folder exists and is to be overwritten; refuses (one line) an
        existing non-empty folder without ``overwrite``, and one that may not be
        overwritten (``check_overwritable``).  Writes nothing."""
        root = self.root
        if not _exists(root) or (root.is_dir() and is_empty(root)):
            return False
        if not overwrite:
            raise UserError(
                f"output folder {root} exists; pass --overwrite to replace it "
                f"or --resume {root} to continue it"
            )
        self.check_overwritable()
        return True

    def check_overwritable(self) -> None:
        """Refuse (one line) a folder that is not a seqgan run folder or holds other files."""
        root = self.root
        if not root.is_dir():
            raise UserError(f"refusing to overwrite {root}: it is not a folder")
        if (
            not (root / MARKER).is_file()
            and not self._looks_like_a_run()
            and not self._marker_write_killed()
        ):
            raise UserError(
                f"refusing to overwrite {root}: it is not a seqgan run folder (no {MARKER} marker)"
            )
        try:
            foreign = self.foreign_entry()
        except OSError as exc:
            raise UserError(f"cannot overwrite {root}: {exc.strerror} ({exc.filename})") from None
        if foreign is not None:
            raise UserError(
                f"refusing to overwrite {root}: it holds {foreign}, which seqgan "
                "did not write (move it away, or choose another --out)"
            )

    def clear(self) -> None:
        """Delete what seqgan wrote here (the folder itself, its marker and lock stay),
        after ``check_overwritable``."""
        self.check_overwritable()
        root = self.root
        try:
            with deferred():  # summary.json first: a half-cleared run never looks finished
                self.summary.unlink(missing_ok=True)
                for path in sorted(root.iterdir()):
                    if path.name in (MARKER, LOCK_NAME):
                        continue
                    if path.is_dir():
                        for inner in path.iterdir():
                            inner.unlink()
                        path.rmdir()
                    else:
                        path.unlink()
        except OSError as exc:
            raise UserError(f"cannot overwrite {root}: {exc.strerror} ({exc.filename})") from None

    @classmethod
    def open(cls, root: Path) -> RunFolder:
        """An existing run folder (for resume, generate, evaluate)."""
        run = cls(root)
        if not _exists(run.config) or not run.config.is_file():
            raise UserError(f"{root} is not a seqgan run folder (no config.toml)")
        return run

    def take_lock(self) -> None:
        """Become this folder's one writer (a one-line ``UserError`` if another is)."""
        if self.lock is None:
            self.lock = FolderLock(self.root)

    def unlock(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def mark(self) -> None:
        """Write the marker into a run folder of an older release that lacks it."""
        if not (self.root / MARKER).is_file():
            write_bytes(self.root / MARKER, json.dumps({"seqgan_run": FORMAT}).encode() + b"\n")

    def write_metrics(self, rows: list[dict]) -> None:
        """Rewrite metrics.csv and timing.csv from ``rows`` (atomic): a fresh start, and a
        resume, which so drops rows written after its checkpoint (and a torn last line)."""
        for table in self._tables:
            table.rewrite(rows)

    def append_metrics(self, rows: list[dict]) -> None:
        """Add the last of ``rows`` (all rows so far) to metrics.csv and timing.csv as one
        appended line each, so ``tail -f`` follows them; rewritten whole (atomic) instead
        if this process has not written the file yet or the row has a new column."""
        for table in self._tables:
            table.append(rows)

    def read_metrics(self) -> list[dict]:
        if not self.metrics.is_file():
            return []
        with open(self.metrics, encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def write_samples(self, name: str, tokens: torch.Tensor, task=None) -> Path:
        """``samples/<name>.txt`` (ids); for a text task also ``<name>.text.txt``, for a
        music task ``<name>.symbols.txt`` (the encoding's symbols, space-separated)."""
        path = self.samples / f"{name}.txt"
        write_text(path, tokens_to_text(tokens))
        if task is not None and task.kind == "text":
            write_text(
                self.samples / f"{name}.text.txt",
                "".join(line + "\n" for line in task.texts(tokens)),
            )
        if task is not None and task.kind == "music":
            write_text(
                self.samples / f"{name}.symbols.txt",
                "".join(" ".join(row) + "\n" for row in task.symbols(tokens)),
            )
        return path

    def write_array(self, name: str, values: np.ndarray) -> Path:
        path = self.samples / f"{name}.npy"
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        write_bytes(path, buffer.getvalue())
        return path

    def write_summary(self, summary: dict) -> None:
        """``summary.json``; NaN (an undefined metric) is written as null."""
        clean = {
            k: None if isinstance(v, float) and math.isnan(v) else v for k, v in summary.items()
        }
        write_text(self.summary, json.dumps(clean, indent=2, sort_keys=True) + "\n")

    def read_summary(self) -> dict:
        """``summary.json`` ({} if absent); a damaged one is a one-line ``UserError``."""
        if not self.summary.is_file():
            return {}
        try:
            summary = json.loads(self.summary.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UserError(
                f"{self.summary} is damaged ({exc}); re-make it with "
                f"seqgan train --resume {self.root}"
            ) from None
        if not isinstance(summary, dict):
            raise UserError(
                f"{self.summary} is damaged (not a JSON object); re-make it "
                f"with seqgan train --resume {self.root}"
            )
        return summary

    def finished(self) -> bool:
        """Whether the run wrote a readable ``summary.json`` (its last output)."""
        try:
            return bool(self.read_summary())
        except UserError:
            return False


class _Table:
    """A CSV file of metric rows that grows by appended lines (``RunFolder.append_metrics``).

    ``columns(rows)`` gives the header for rows; ``cells(row, columns)`` a row's texts."""

    def __init__(self, path: Path, columns, cells):
        self.path, self.columns_of, self.cells = path, columns, cells
        self.header: list[str] | None = None  # as this process last wrote it

    def rewrite(self, rows: list[dict]) -> None:
        header = self.columns_of(rows)
        write_text(self.path, _csv_lines([header, *(self.cells(r, header) for r in rows)]))
        self.header = header

    def append(self, rows: list[dict]) -> None:
        header = self.header
        if header is None or any(c not in header for c in self.columns_of(rows[-1:])):
            return self.rewrite(rows)
        try:
            append_text(self.path, _csv_lines([self.cells(rows[-1], header)]))
        except FileNotFoundError:  # deleted while the run goes on: made again
            self.rewrite(rows)


def append_text(path: Path, text: str) -> None:
    """Append ``text`` to the existing file ``path`` in one write, fsynced, signals held
    (so a line is torn only by a crash or a full disk; a resume rewrites the file).  A
    symlink is followed, a device or FIFO written through; ``FileNotFoundError`` if
    there is no file."""
    target, _ = write_target(path)
    data = text.encode("utf-8")
    try:
        with deferred():
            descriptor = os.open(target, os.O_WRONLY | os.O_APPEND)
            try:
                while data:
                    data = data[os.write(descriptor, data) :]
                if stat.S_ISREG(os.fstat(descriptor).st_mode):
                    os.fsync(descriptor)
            finally:
                os.close(descriptor)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise cannot_write(target, exc) from None


def _csv_lines(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _metric_columns(rows: list[dict]) -> list[str]:
    """``COLUMNS``, then every other metric of ``rows`` in the order seen (not the keys
    starting with ``_``: markers and times)."""
    columns = list(COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns and not k.startswith("_")]
    return columns


def _metric_cells(row: dict, columns: list[str]) -> list[str]:
    return [_fmt(row.get(k)) for k in columns]


def _timing_cells(row: dict, columns: list[str]) -> list[str]:
    cells = []
    for column in columns:
        value = row.get(_TIMING_KEYS.get(column, column))
        cells.append(f"{value:.3f}" if isinstance(value, float) else _fmt(value))
    return cells


def is_empty(folder: Path) -> bool:
    """Whether ``folder`` holds nothing; an unreadable one is a one-line ``UserError``."""
    try:
        return not any(folder.iterdir())
    except OSError as exc:
        raise UserError(f"cannot read folder {folder}: {exc.strerror}") from None


def _exists(path: Path) -> bool:
    """``path.exists()``, with a name the system refuses (too long, ...) a ``UserError``."""
    try:
        return path.exists()
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot use {path}: {getattr(exc, 'strerror', None) or exc}") from None


def tokens_to_text(tokens: torch.Tensor) -> str:
    """One line of space-separated ids per row."""
    return "".join(" ".join(map(str, row)) + "\n" for row in tokens.tolist())


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)
