"""Atomic, safely loadable checkpoints.

A checkpoint is one ``torch.save`` of plain containers, tensors and numbers (no
pickled classes), written to a temporary file, fsynced and renamed into place, so a
crash leaves either the old or the new file, never half of one.  Loading uses
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects.
"""

from __future__ import annotations

import io
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from seqgan.errors import UserError

_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def rng_state() -> dict:
    """Torch, NumPy and Python random states as weights_only-loadable values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.random.get_rng_state(),
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
            "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.random.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(folder: Path, index: int, payload: dict, keep: int) -> Path:
    """Write ``folder/ckpt-<index>.pt`` atomically and keep only the ``keep`` newest."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path = folder / f"ckpt-{index:08d}.pt"
    atomic_write_bytes(path, buffer.getvalue())
    for old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def load_checkpoint(path: Path) -> dict:
    """Load one checkpoint with ``weights_only=True``; damage is a one-line ``UserError``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"checkpoint {path} is unreadable ({first})") from None


def load_latest_checkpoint(folder: Path, warn=print) -> dict | None:
    """The newest readable checkpoint in ``folder`` (falling back past damaged ones)."""
    for path in reversed(list_checkpoints(folder)):
        try:
            return load_checkpoint(path)
        except UserError as exc:
            warn(f"warning: {exc}; trying the previous checkpoint")
    return None
