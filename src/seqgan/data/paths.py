"""Finding data files: a path as the user gave it (relative to the current folder), else
under the data root (``--data-root``, ``SEQGAN_DATA``, or ``./data``), where presets name
their files."""

from __future__ import annotations

import os
from pathlib import Path

from seqgan.errors import UserError

DEFAULT_DATA_ROOT = "data"
ENV_VAR = "SEQGAN_DATA"


def data_root(cli_value: str | None = None) -> Path:
    """``--data-root`` if given, else ``$SEQGAN_DATA``, else ``./data``."""
    return Path(cli_value or os.environ.get(ENV_VAR) or DEFAULT_DATA_ROOT)


def candidates(relative: str, root: Path) -> list[Path]:
    """Where ``relative`` is looked for, in order: itself if absolute; else the current
    folder, then the data root."""
    path = Path(relative)
    if path.is_absolute():
        return [path]
    return [path, Path(root) / path]


def resolve(relative: str, root: Path, folder_ok: bool = False) -> Path:
    """The first of ``candidates`` that is a file — or a folder, with ``folder_ok`` (music
    reads folders of MIDI files); a one-line ``UserError`` naming where it looked otherwise.
    A path found in the current folder is returned absolute, so a run's ``config.toml``
    still finds it when resumed from elsewhere."""
    for path in candidates(relative, root):
        if path.is_file() or (folder_ok and path.is_dir()):
            return path.resolve() if path == Path(relative) else path
    if Path(relative).is_absolute():
        where = "it does not exist" if not Path(relative).exists() else "it is not a file"
        raise UserError(f"data file not found: {relative} ({where})")
    raise UserError(
        f"data file not found: {relative} (looked in the current folder "
        f"'{Path.cwd()}' and in the data root '{root}'; set --data-root DIR or "
        f"{ENV_VAR} to the folder that holds it)"
    )


def recorded(relative: str, found: Path) -> str:
    """What a run's config records for a data path ``relative`` that ``resolve`` found at
    ``found``: the absolute path if it was found in the current folder (so a resume or
    evaluation from another folder finds it too), else ``relative`` as given."""
    path = Path(relative)
    if not path.is_absolute() and found == path.resolve():
        return str(found)
    return relative
