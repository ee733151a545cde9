"""What a training run tells the person watching it, and the record it leaves of itself.

* ``Progress``: on a terminal, a tqdm bar over all epochs (ETA weighted by each phase's
  measured cost, ``eta_seconds``) and an inner bar over the steps of the current epoch;
  when stderr is redirected (nohup, Slurm, CI), timestamped lines instead — one per
  epoch and, inside a long epoch, one at most every ``INTERVAL`` seconds::

      2025-05-01T10:00:03Z adversarial 3/200 [173/250] 241.3 s, ETA 5h09m, nll_oracle 8.9312
      2025-05-01T10:01:04Z adversarial 4/200 [173/250] d-step 2/5, 61 s so far, ETA 5h08m

* inner progress: a phase reports the steps of an epoch with ``for i in steps("d-step",
  n)`` (or ``advance``); outside a trainer (``reporting``) that costs nothing;
* ``start_lines``: the run folder, the task's counts (a music task's tunes kept and
  dropped, ``music_data_lines``), the device and the TensorBoard
  command, printed when training starts;
* ``run_record``: versions, command line, host, timestamps and data-file hashes for
  ``summary.json``; ``write_hparams``: the scalar settings and final metrics for
  TensorBoard's hparams dashboard.
"""

from __future__ import annotations

import hashlib
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seqgan._version import __version__
from seqgan.runtime.memory import peak_resident_mib

INTERVAL = 60.0  # seconds between two lines inside one epoch of redirected output
DEVICE = "cpu"  # where models train when a task names no device (runtime.device)
_CHUNK = 1 << 20  # bytes read at a time when hashing


def utc_now() -> str:
    """The current time in ISO 8601, UTC, to the second (``2025-05-01T10:00:03Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def format_duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``5h09m``; ``?`` for an unknown duration."""
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


# -- the ETA --------------------------------------------------------------------------------


def eta_seconds(
    plan: Sequence[tuple[str, int]],
    position: tuple[int, int],
    seconds: Mapping[str, float],
    predicted: Sequence[float | None] | None = None,
) -> float | None:
    """Seconds left after ``position`` (phase index, epochs of that phase done) of ``plan``
    ((phase name, epochs) in order): each phase's remaining epochs at its measured
    seconds per epoch (``seconds``: seconds spent per phase name).  A phase not measured
    yet: at its ``predicted`` seconds per epoch (from its work, ``training.work``)
    calibrated by the latest measured phase that has a prediction (times its measured /
    predicted rate); without a prediction, at the current phase's rate, or, before that
    is measured, at the rate of the latest phase that is.  None if an epoch left can be
    priced neither way."""
    index, done = position
    predicted = list(predicted or [None] * len(plan))
    rates = {}
    for i, (name, epochs) in enumerate(plan[: index + 1]):
        count = epochs if i < index else done
        if count > 0 and name in seconds:
            rates[i] = seconds[name] / count
    fallback = rates[max(rates)] if rates else None
    calibrated = [i for i in rates if predicted[i]]
    calibration = rates[max(calibrated)] / predicted[max(calibrated)] if calibrated else 1.0
    left = 0.0
    for i, (_, epochs) in enumerate(plan[index:], start=index):
        remaining = epochs - (done if i == index else 0)
        if remaining <= 0:
            continue
        rate = rates.get(i)
        if rate is None and predicted[i] is not None:
            rate = predicted[i] * calibration
        rate = fallback if rate is None else rate
        if rate is None:
            return None
        left += remaining * rate
    return left


# -- inner progress: the steps of one epoch -------------------------------------------------

_reporter: Progress | None = None  # the trainer's, while it runs (``reporting``)


@contextmanager
def reporting(reporter: Progress) -> Iterator[Progress]:
    """Make ``reporter`` receive the ``advance`` calls of the phases for the block."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield reporter
    finally:
        _reporter = previous


def advance(label: str, done: int, total: int) -> None:
    """Report that ``done`` of the ``total`` ``label``s of the current epoch are done
    (nothing happens outside a trainer)."""
    if _reporter is not None:
        _reporter.advance(label, done, total)


def steps(label: str, total: int) -> Iterator[int]:
    """``range(total)``, reporting ``advance(label, i, total)`` before step i and
    ``advance(label, total, total)`` after the last."""
    for i in range(total):
        advance(label, i, total)
        yield i
    advance(label, total, total)


# -- the reporter ---------------------------------------------------------------------------


class Progress:
    """A run's progress on stderr: bars on a terminal, timestamped lines otherwise.

    ``plan``: (phase name, epochs) in order; ``metric``: the main metric's row key;
    ``write``: prints one line (the trainer's log); ``clock``: monotonic seconds;
    ``predicted``: seconds per epoch of each phase from its work (``eta_seconds``)."""

    def __init__(
        self,
        plan: Sequence[tuple[str, int]],
        metric: str,
        write: Callable[[str], None],
        terminal: bool,
        clock: Callable[[], float] = time.monotonic,
        interval: float = INTERVAL,
        predicted: Sequence[float | None] | None = None,
    ):
        self.plan, self.metric, self.write, self.terminal = list(plan), metric, write, terminal
        self.predicted = predicted  # seconds per epoch of each phase, from its work
        self.clock, self.interval = clock, interval
        self.total = sum(epochs for _, epochs in self.plan)
        self._bar: tqdm | None = None
        self._inner: tqdm | None = None
        self._inner_label = ""
        self._shown: str = ""  # the last value of the main metric, for the bar
        self._seconds: Mapping[str, float] = {}
        self._where = (0, 0, 0)  # (phase index, epoch being run, serial before it)
        self._started = self._last_line = 0.0

    def open(self, serial: int) -> None:
        """Start reporting, ``serial`` epochs (over all phases) being done already."""
        if self.terminal:
            self._bar = tqdm(
                total=self.total,
                initial=serial,
                unit="epoch",
                dynamic_ncols=True,
                file=sys.stderr,
                bar_format="{desc}{percentage:3.0f}%|{bar}| "
                "{n_fmt}/{total_fmt} [{elapsed}{postfix}]",
            )

    def close(self) -> None:
        for bar in (self._inner, self._bar):
            if bar is not None:
                bar.close()
        self._inner = self._bar = None

    def begin_epoch(self, index: int, epoch: int, seconds: Mapping[str, float]) -> None:
        """Epoch ``epoch`` (1-based) of phase ``index`` starts; ``seconds``: the seconds
        spent so far per phase name (read again for each ETA)."""
        serial = sum(epochs for _, epochs in self.plan[:index]) + epoch - 1
        self._where, self._seconds = (index, epoch, serial), seconds
        self._started = self._last_line = self.clock()
        if self._bar is not None:
            self._bar.set_description(self.plan[index][0], refresh=False)
            self._bar.set_postfix_str(self._postfix(self._eta_now()))

    def advance(self, label: str, done: int, total: int) -> None:
        """``done`` of ``total`` steps called ``label`` of the current epoch are done."""
        if self.terminal:
            self._inner_bar(label, done, total)
        elif self.clock() - self._last_line >= self.interval:
            self._last_line = self.clock()
            index, epoch, serial = self._where
            name, epochs = self.plan[index]
            self.write(
                f"{utc_now()} {name} {epoch}/{epochs} [{serial}/{self.total}] "
                f"{label} {done}/{total}, "
                f"{self.clock() - self._started:.0f} s so far, "
                f"ETA {format_duration(self._eta_now())}"
            )

    def end_epoch(self, row: dict, seconds: float) -> None:
        """The current epoch ended with metrics ``row`` after ``seconds`` seconds."""
        index, epoch, serial = self._where
        name, epochs = self.plan[index]
        eta = eta_seconds(self.plan, (index, epoch), self._seconds, self.predicted)
        shown = shown_value(row, self.metric)
        if self.metric in row:
            self._shown = shown
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(eta), refresh=False)
            self._bar.update(1)
        elif not self.terminal:
            self.write(
                f"{utc_now()} {name} {epoch}/{epochs} [{serial + 1}/{self.total}] "
                f"{seconds:.1f} s, ETA {format_duration(eta)}" + (f", {shown}" if shown else "")
            )

    def _eta_now(self) -> float | None:
        """The ETA from now: the epochs after the current one, and what is left of it."""
        index, epoch, _ = self._where
        left = eta_seconds(self.plan, (index, epoch - 1), self._seconds, self.predicted)
        return None if left is None else max(0.0, left - (self.clock() - self._started))

    def _postfix(self, eta: float | None) -> str:
        return f"ETA {format_duration(eta)}" + (f", {self._shown}" if self._shown else "")

    def _inner_bar(self, label: str, done: int, total: int) -> None:
        """The bar below the main one, started again when the kind of step changes."""
        if self._inner is None:
            self._inner = tqdm(
                total=total,
                desc=label,
                position=1,
                leave=False,
                dynamic_ncols=True,
                file=sys.stderr,
            )
        elif self._inner_label != label or self._inner.total != total:
            self._inner.set_description(label, refresh=False)
            self._inner.reset(total=total)
        self._inner_label = label
        self._inner.update(done - self._inner.n)


def shown_value(row: dict, metric: str) -> str:
    """``nll_oracle 8.9312``: the main metric if the row has it, else the first loss (or
    other number) of the epoch; "" if there is none."""
    if metric in row:
        return f"{metric} {row[metric]:.4f}"
    keys = [k for k in ("g_loss", "d_loss") if k in row]
    keys += [k for k, v in row.items() if isinstance(v, float) and not k.startswith("_")]
    return f"{keys[0]} {row[keys[0]]:.4f}" if keys else ""


def start_lines(root: Path, task, tensorboard: Path | None) -> list[str]:
    """What a run prints when training starts: its folder, the task's counts, the device
    and (if it writes TensorBoard events) the command that shows them."""
    lines = [
        f"run folder: {root}",
        f"task: {task.kind}, {len(task.train)} training / {len(task.test)} test "
        f"sequences, V = {task.vocab_size}, T = {task.seq_len}",
        *music_data_lines(task),
        f"device: {_device_line(task)}",
    ]
    if tensorboard is not None:
        lines.append(f"tensorboard: tensorboard --logdir {tensorboard}")
    return lines


FEW_TEST_TUNES = 5  # a music test set of fewer tunes is warned about


def music_data_lines(task) -> list[str]:
    """A music task's tunes: how many the encoding kept for training and test, how many
    it dropped and why (``music.corpus``: ``task.notes``), and a warning when the test
    set — what NLL-test, BLEU and the music metrics are measured on — has fewer than
    ``FEW_TEST_TUNES`` tunes."""
    notes = task.notes
    if task.kind != "music" or "tunes_train" not in notes:
        return []
    dropped = notes.get("tunes_dropped") or {}
    kept = notes["tunes_train"] + notes["tunes_test"]
    lines = [
        (
            f"tunes: {kept} of {kept + sum(dropped.values())} kept — "
            f"{notes['tunes_train']} for training ({notes['windows_train']} windows), "
            f"{notes['tunes_test']} for test ({notes['windows_test']} windows)"
        )
    ]
    if dropped:
        lines.append(
            f"tunes dropped: {sum(dropped.values())} — "
            + "; ".join(f"{reason}: {count}" for reason, count in dropped.items())
        )
    if notes["tunes_test"] < FEW_TEST_TUNES:
        lines.append(
            f"warning: the test set is {notes['tunes_test']} tune(s) "
            f"({notes['windows_test']} windows): NLL-test, BLEU and the music "
            f"metrics measured on it say little; add tunes, raise data.test_ratio "
            f"or name a test folder (data.test_file)"
        )
    return lines


# -- the reproducibility record -------------------------------------------------------------


def sha256_of(path: Path) -> str | None:
    """The SHA-256 (hex) of a file, or of a folder: over its files' relative names (POSIX,
    sorted) and contents — per file the UTF-8 name, a NUL, the size as 8 bytes big-endian,
    the bytes; None if it cannot be read."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        if not path.is_dir():
            _hash_into(digest, path)
            return digest.hexdigest()
        files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
        for name, file in files:
            digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
            digest.update(file.stat().st_size.to_bytes(8, "big"))
            _hash_into(digest, file)
    except OSError:
        return None
    return digest.hexdigest()


def _hash_into(digest, path: Path) -> None:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def _device_name(task) -> str:
    from seqgan.runtime.device import device_name

    return device_name(torch.device(getattr(task, "device", DEVICE)))


def _device_line(task) -> str:
    """``cuda:0 (NVIDIA A100-SXM4-40GB)``, ``mps (Apple GPU)``, ``cpu`` (its model is in
    ``summary.json``'s ``device_name``)."""
    device = str(getattr(task, "device", DEVICE))
    if device == "cpu":
        return device
    name = _device_name(task)
    return name if name.startswith(device) else f"{device} ({name})"


def run_record(task, started: str) -> dict:
    """The ``summary.json`` entries that say how a run was made: versions, command line,
    host, device, start (``started``, when the run first started training) and end
    (now) in ISO 8601 UTC, each data file's SHA-256 by path, the sequence counts, and
    the peak resident memory of the process that finished the run (``runtime.memory``;
    after a resume, of the resumed process; in a Python session, of the whole session)."""
    return {
        "version": __version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "command": list(sys.argv),
        "host": socket.gethostname(),
        "device": str(getattr(task, "device", DEVICE)),
        "device_name": _device_name(task),
        "started_utc": started,
        "ended_utc": utc_now(),
        "data_files": {str(p): sha256_of(p) for p in getattr(task, "files", [])},
        "num_train": len(task.train),
        "num_test": len(task.test),
        "peak_resident_mib": round(peak_resident_mib(), 1),
    }


# -- TensorBoard's hparams dashboard --------------------------------------------------------


def scalar_settings(config: dict, prefix: str = "") -> dict:
    """A config's scalar values (bool, int, float, str) under flattened keys
    (``generator.lr``); lists and empty tables are left out."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(scalar_settings(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
    return out


def write_hparams(writer, config: dict, metrics: dict[str, float], step: int) -> None:
    """Write the scalar settings of ``config`` with the final ``metrics`` (as
    ``hparam/<metric>`` scalars at ``step``) into ``writer``'s own event file (not the
    sub-folder ``SummaryWriter.add_hparams`` would make)."""
    from torch.utils.tensorboard.summary import hparams

    tags = {f"hparam/{key}": value for key, value in metrics.items()}
    for summary in hparams(scalar_settings(config), tags):
        writer.file_writer.add_summary(summary, step)
    for tag, value in tags.items():
        writer.add_scalar(tag, value, step)
