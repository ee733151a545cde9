"""One writer per folder: an exclusive ``flock`` on ``<folder>/.seqgan-lock``.

The lock belongs to the open file: the operating system releases it when the process
ends in any way (SIGKILL included), so a dead writer never leaves a stale lock.  The file
holds the holder's PID, which a refused second writer is told.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from seqgan.errors import UserError

LOCK_NAME = ".seqgan-lock"


class FolderLock:
    """An exclusive lock on a folder, held until ``release()`` or the process ends."""

    def __init__(self, folder: Path, what: str = "run folder"):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"cannot lock {what} {folder}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise UserError(
                f"{what} {folder} is in use by another seqgan process"
                f"{f' (PID {holder})' if holder else ''}; wait for it to end "
                "or stop it first"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise UserError(f"cannot lock {what} {folder}: {exc.strerror}") from None
        self._fd = fd
        try:  # the PID only informs a refused writer: a full disk must not stop the run
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):
        self.release()


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
