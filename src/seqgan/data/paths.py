"""Finding data files under the data root (``--data-root``, ``SEQGAN_DATA``, or ``./data``)."""

from __future__ import annotations

import os
from pathlib import Path

from seqgan.errors import UserError

DEFAULT_DATA_ROOT = "data"
ENV_VAR = "SEQGAN_DATA"


def data_root(cli_value: str | None = None) -> Path:
    """``--data-root`` if given, else ``$SEQGAN_DATA``, else ``./data``."""
    return Path(cli_value or os.environ.get(ENV_VAR) or DEFAULT_DATA_ROOT)


def resolve(relative: str, root: Path, folder_ok: bool = False) -> Path:
    """``root / relative`` (``relative`` itself if absolute) if it is a file — or a folder,
    with ``folder_ok`` (music reads folders of MIDI files); a one-line ``UserError``
    naming the data root otherwise."""
    path = Path(relative) if Path(relative).is_absolute() else root / relative
    if not (path.is_file() or (folder_ok and path.is_dir())):
        raise UserError(f"data file not found: {relative} (looked in data root '{root}'; "
                        f"set --data-root DIR or {ENV_VAR} to the folder that holds it)")
    return path
