"""Writing a file so that nothing is ever left half-written, and never clobbering what a
path really is.

``write_bytes(path, data)`` is the one writer of every file seqgan makes:

* a regular file or a new path: written to a temporary file beside it, fsynced and
  renamed into place, so a crash, a signal or a full disk leaves either the old or the new
  file, never half of one (SIGINT/SIGTERM/SIGHUP wait until the rename is done);
* a symbolic link: the link is followed and its target written that way (the link stays);
* a character device (``/dev/null``, ``/dev/stdout``, a terminal) or a FIFO: written
  straight through, since renaming onto it would replace the device with a regular file;
* a folder, or a socket: refused.

Every failure (read-only folder, full disk, a name too long or not encodable) is one
``UserError`` line naming the path, with the temporary file removed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from seqgan.errors import UserError
from seqgan.runs.interrupt import deferred


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def write_target(path: Path) -> tuple[Path, bool]:
    """``(where to write, whether to write straight through)`` for ``path``: symlinks are
    resolved; devices and FIFOs are written through; folders and sockets are refused."""
    path = Path(path)
    try:
        if path.is_symlink():
            path = Path(os.path.realpath(path))
        mode = path.stat().st_mode if path.exists() else None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot write {_show(path)}: {_reason(exc)}") from None
    if mode is None or stat.S_ISREG(mode):
        return path, False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return path, True
    kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
    raise UserError(f"cannot write {_show(path)}: it is {kind}")


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (see the module docstring); returns the path written."""
    target, through = write_target(path)
    with deferred():
        if through:
            try:
                with open(target, "wb", buffering=0) as handle:
                    handle.write(data)
            except OSError as exc:
                raise UserError(f"cannot write {_show(target)}: {_reason(exc)}") from None
            return target
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except (OSError, ValueError) as exc:
            _remove_quietly(tmp)
            raise UserError(f"cannot write {_show(target)}: {_reason(exc)}") from None
    return target


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def _remove_quietly(path: Path) -> None:
    """Remove a temporary file if it is there; a folder that refuses even that (read-only)
    must not replace the real error with a second one."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _show(path: Path) -> str:
    """A path for a one-line message: undecodable bytes escaped, very long names cut."""
    text = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 160 else text[:70] + "…" + text[-70:]
