"""Writing a file so that nothing is ever left half-written, and never clobbering what a
path really is.

``open_output(path)`` (a binary handle for a block, for streams) and ``write_bytes(path,
data)`` (built on it) are the writers of every file seqgan makes.  By kind of path:

* a regular file or a new path: the block writes a temporary file beside it, which is
  fsynced and renamed into place only when the block ends without error, so a crash, a
  signal or a full disk leaves either the old or the new file, never half of one (the
  temporary file is removed; the new file keeps the old one's permission bits);
  ``write_bytes`` holds SIGINT/SIGTERM for the whole write, a stream only for the rename
  (interrupting it earlier leaves the old file);
* a symbolic link: followed link by link, and the file it ends at written that way (the
  link stays; a dangling link gets its target created; a loop is refused);
* a character device (``/dev/null``, a terminal), a FIFO, or a process descriptor
  (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``, even when it names a redirected
  file): written straight through, since renaming onto it would replace it with a
  regular file — this process's own descriptors through a duplicate (at their offset,
  after what it printed), anything else opened for appending (never truncated);
* ``"-"`` (the string): this process's standard output (its binary buffer);
* a folder, or a socket: refused.

Every failure (read-only folder, full disk, a name too long or undecodable, a reader
gone away) is one ``UserError`` line naming the path (made printable by ``show_path``).
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import BinaryIO

from seqgan.errors import UserError
from seqgan.runtime.interrupt import deferred

STDOUT = "-"
NAME_MAX = 255  # bytes in one file name (Linux, macOS); bounds the temporary file's name
MAX_LINKS = 40  # symbolic links followed before calling it a loop (as Linux does)
# the temporary files ``_temporary_name`` makes: left behind only by a process killed
# outright (SIGKILL, power loss) between their creation and their rename
TEMPORARY = re.compile(r"\..+\.[0-9a-f]{6}\.tmp")


def is_stdout(path) -> bool:
    """Whether ``path`` means standard output: the string ``-`` (a ``Path("-")`` is a file
    of that name, as is ``./-`` on the command line)."""
    return isinstance(path, str) and path == STDOUT


@contextmanager
def open_output(path, hold_signals: bool = False) -> Iterator[BinaryIO]:
    """A binary handle on ``path`` for the block (see the module docstring).  A regular file
    is replaced only if the block ends without an exception; otherwise the old file stays
    and the exception goes on (an ``OSError`` of the writes as a one-line ``UserError``).
    SIGINT/SIGTERM wait for the rename, or, with ``hold_signals``, for the whole block
    (not for a FIFO's reader to come, which can be interrupted)."""
    if is_stdout(path):
        with _stdout(hold_signals) as handle:
            yield handle
        return
    target, through = write_target(path)
    with (_straight_through if through else _replacing)(target, hold_signals) as handle:
        yield handle


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` in one go (see the module docstring), signals held until
    it is in place."""
    with open_output(path, hold_signals=True) as handle:
        handle.write(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_figure(fig, path, **options) -> None:
    """Render a matplotlib figure in memory (format from ``path``'s suffix, else PNG) and
    ``write_bytes`` it, so an interrupted run never leaves half a picture."""
    options.setdefault("format", Path(str(path)).suffix[1:].lower() or "png")
    buffer = io.BytesIO()
    fig.savefig(buffer, **options)
    write_bytes(path, buffer.getvalue())


def write_target(path) -> tuple[Path, bool]:
    """``(where to write, whether to write straight through)`` for ``path``: symlinks are
    followed; devices, FIFOs and process descriptors are written through; folders,
    sockets and link loops are refused."""
    path = Path(path)
    if "\0" in str(path):
        raise UserError(f"cannot write {show_path(path)}: a name cannot hold a NUL character")
    try:
        path, descriptor = _follow_links(path)
        mode = None if descriptor else _mode(path)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    if descriptor or (mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode))):
        return path, True
    if mode is None or stat.S_ISREG(mode):
        return path, False
    kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
    raise UserError(f"cannot write {show_path(path)}: it is {kind}")


def cannot_write(path, exc: BaseException) -> UserError:
    """The one-line error for a failed write of ``path``."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return UserError(f"cannot write {show_path(path)}: {reason}")


def show_path(path) -> str:
    """A path for a one-line message that prints on any UTF-8 stream: undecodable bytes
    of the name escaped (``out\\xff.txt``), very long names cut."""
    text = str(path)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 160 else text[:70] + "…" + text[-70:]


# -- what a path is ------------------------------------------------------------------------


def _follow_links(path: Path) -> tuple[Path, bool]:
    """``(the path the last component's symlinks lead to, whether it is a process's file
    descriptor)``; a descriptor link (``/proc/<pid>/fd/N``) is not followed, since it may
    name a pipe, and reopening it in append mode is what writing to it means."""
    for _ in range(MAX_LINKS):
        if _is_descriptor(path):
            return path, True
        if not path.is_symlink():
            return path, False
        path = path.parent / os.readlink(path)
    raise OSError(errno.ELOOP, "too many levels of symbolic links")


def _is_descriptor(path: Path) -> bool:
    folder = os.path.realpath(path.parent)
    return folder.startswith("/proc/") and folder.endswith("/fd") and path.name.isdigit()


def _own_descriptor(path: Path) -> int | None:
    """N if ``path`` is this process's descriptor N (``/dev/stdout``, ``/dev/fd/N``,
    ``/proc/self/fd/N``), else ``None``."""
    if not _is_descriptor(path):
        return None
    parts = Path(os.path.realpath(path.parent)).parts  # / proc <pid> [task <tid>] fd
    return int(path.name) if parts[2] == str(os.getpid()) else None


def _mode(path: Path) -> int | None:
    """``st_mode`` of what ``path`` names, ``None`` if nothing is there yet."""
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return None


# -- the three ways of writing -------------------------------------------------------------


def _held(hold: bool):
    return deferred() if hold else nullcontext()


@contextmanager
def _replacing(target: Path, hold: bool) -> Iterator[BinaryIO]:
    """Write a temporary file beside ``target`` and rename it onto ``target`` at the end."""
    tmp = _temporary_name(target)
    try:
        with _held(hold), open(tmp, "xb") as handle:
            _keep_permissions(target, handle)
            yield handle
            with deferred():  # complete: land it whatever comes now
                handle.flush()
                os.fsync(handle.fileno())
                os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise cannot_write(target, exc) from None
    except BaseException:
        _remove_quietly(tmp)
        raise


@contextmanager
def _straight_through(target: Path, hold: bool) -> Iterator[BinaryIO]:
    """Write into ``target`` itself (a device, FIFO or descriptor; opening a FIFO waits for
    its reader)."""
    try:
        with _open_through(target) as handle, _held(hold):
            yield handle
    except OSError as exc:
        raise cannot_write(target, exc) from None


def _open_through(target: Path) -> BinaryIO:
    """A descriptor of this process is duplicated, so that the writes go where its own
    writes go, at its offset (a redirected ``>`` file is neither truncated nor written
    over); anything else is opened for appending."""
    number = _own_descriptor(target)
    if number is None:
        return open(target, "ab")
    for stream in (sys.stdout, sys.stderr):  # what this process wrote comes first
        stream.flush()
    return open(os.dup(number), "wb")


@contextmanager
def _stdout(hold: bool) -> Iterator[BinaryIO]:
    """This process's standard output, text written before flushed first; if its reader
    is gone (``| head``), the descriptor is pointed at /dev/null so that Python's final
    flush does not complain a second time."""
    try:
        sys.stdout.flush()
        with _held(hold):
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
    except BrokenPipeError as exc:
        _silence_stdout()
        raise cannot_write("standard output", exc) from None
    except OSError as exc:
        raise cannot_write("standard output", exc) from None


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real descriptor (tests' captured streams)
        pass


def _temporary_name(target: Path) -> Path:
    """``.<name>.<random>.tmp`` beside ``target``, the name part cut so that the whole
    fits in ``NAME_MAX`` bytes."""
    suffix = f".{os.urandom(3).hex()}.tmp"  # (``TEMPORARY`` matches the name)
    room = NAME_MAX - 1 - len(suffix)
    name = os.fsdecode(os.fsencode(target.name)[:room])
    return target.with_name(f".{name}{suffix}")


def remove_temporaries(folder: Path) -> list[Path]:
    """Remove the writer's temporary files (``TEMPORARY``) directly in ``folder``, which
    only a killed writer leaves; the caller must be the folder's one writer
    (``storage.lock``).  The paths removed, in name order ([] if none or no folder)."""
    try:
        found = sorted(
            p
            for p in folder.iterdir()
            if TEMPORARY.fullmatch(p.name) and p.is_file() and not p.is_symlink()
        )
    except OSError:
        return []
    removed = []
    for path in found:
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


def _keep_permissions(target: Path, handle) -> None:
    """Give the temporary file the permission bits of the file it replaces."""
    try:
        os.chmod(handle.fileno(), stat.S_IMODE(target.stat().st_mode))
    except OSError:  # no old file, or a file system without modes
        pass


def _remove_quietly(path: Path) -> None:
    """Remove a temporary file if it is there; a folder that refuses even that (read-only)
    must not replace the real error with a second one."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
