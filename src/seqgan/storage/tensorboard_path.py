"""A path TensorBoard can open for a run's ``tensorboard/`` folder, whatever its name.

TensorBoard's file layer encodes every path as strict UTF-8, so a run folder whose name
is not UTF-8 (the bytes ``caf\\xe9``, which Python holds as the surrogate escape
``caf\\udce9``) cannot be handed to it as it is.  Such a folder is reached through a
symbolic link with an ASCII name in a private temporary folder (``TensorBoardPath``):
the events land in the run folder itself, and the link is removed when the writer closes
(or the process ends).  Where no link can be made (Windows without the privilege),
``check`` refuses the run in one line before anything is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path

from seqgan.errors import UserError


def is_utf8(path: Path) -> bool:
    """Whether ``path`` is a valid UTF-8 string (no surrogate escapes)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TensorBoardPath:
    """``path``: a string naming ``folder`` that TensorBoard can encode — ``folder``
    itself, or a link to it (made here, the folder created first); ``close()`` removes
    the link."""

    def __init__(self, folder: Path):
        folder = Path(folder).absolute()
        if is_utf8(folder):
            self.path, self._cleanup = str(folder), None
            return
        folder.mkdir(parents=True, exist_ok=True)
        holder = tempfile.mkdtemp(prefix="seqgan-tensorboard-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, holder, True)
        try:
            os.symlink(folder, Path(holder) / "run", target_is_directory=True)
        except OSError as exc:
            self.close()
            raise UserError(
                f"TensorBoard cannot write into {folder}, whose name is not "
                f"UTF-8, here ({exc.strerror or exc}); choose a UTF-8 run "
                f"folder name or set run.tensorboard = false"
            ) from None
        self.path = str(Path(holder) / "run")

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()  # the link and its folder only, never the run's files


def check(folder: Path) -> None:
    """Before a run writes anything: TensorBoard can write into ``folder`` (a name that
    is not UTF-8 needs a link, which this system must be able to make), else a one-line
    ``UserError``."""
    if is_utf8(folder):
        return
    holder = tempfile.mkdtemp(prefix="seqgan-tensorboard-")
    try:
        os.symlink(holder, Path(holder) / "probe", target_is_directory=True)
    except OSError as exc:
        raise UserError(
            f"TensorBoard cannot write into {folder}, whose name is not UTF-8, "
            f"here ({exc.strerror or exc}); choose a UTF-8 run folder name or "
            f"set run.tensorboard = false"
        ) from None
    finally:
        shutil.rmtree(holder, ignore_errors=True)
