"""Atomic, safely loadable checkpoints.

A checkpoint is one ``torch.save`` of plain containers, tensors and numbers (no
pickled classes), written to a temporary file, fsynced and renamed into place, so a
crash leaves either the old or the new file, never half of one.  Loading uses
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects.
"""

from __future__ import annotations

import io
import random
import re
from pathlib import Path

import numpy as np
import torch

from seqgan.errors import UserError
from seqgan.runs.atomic import write_bytes

_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


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


def serialize(payload: dict) -> bytes:
    """``torch.save`` of ``payload`` into bytes: a snapshot, later changes do not reach it."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_checkpoint(folder: Path, index: int, data: bytes, keep: int) -> Path:
    """Write serialized ``data`` to ``folder/ckpt-<index>.pt`` atomically; keep the ``keep``
    newest.  Older files are removed only after the new one is safely in place."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-{index:08d}.pt"
    write_bytes(path, data)
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
    except FileNotFoundError:
        raise UserError(f"checkpoint not found: {path}") from None
    except Exception as exc:
        raise UserError(f"{path} is unreadable ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    """The informative line of a ``torch.load`` failure (weights_only errors put the
    refused global deep inside a long message)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "unsupported global" in line.lower() or "Unsupported operand" in line:
            return "refused: " + line.split("error:", 1)[-1].strip().rstrip(".")
    return lines[0] if lines else type(exc).__name__


def load_latest_checkpoint(folder: Path, warn=print) -> tuple[Path, dict] | None:
    """The newest readable checkpoint in ``folder`` as ``(path, state)``, falling back past
    damaged ones (each named through ``warn``); None if the folder holds no checkpoint.
    Raises a one-line ``UserError`` if there are checkpoints but none is readable."""
    found = list_checkpoints(folder)
    damaged: list[UserError] = []
    for path in reversed(found):
        try:
            state = load_checkpoint(path)
        except UserError as exc:
            damaged.append(exc)
            continue
        for exc in damaged:
            warn(f"warning: {exc}; falling back to the previous checkpoint")
        return path, state
    if found:
        raise UserError(f"no readable checkpoint in {folder}: all {len(found)} are damaged "
                        f"(newest: {damaged[0]}); start the run afresh with --overwrite")
    return None


def load_state_checked(module: torch.nn.Module, state: dict, source: Path | str) -> None:
    """``module.load_state_dict(state)`` with a one-line ``UserError`` naming the first
    missing, unexpected or differently shaped tensor (e.g. another vocabulary size)."""
    own = module.state_dict()
    if not isinstance(state, dict):
        raise UserError(f"{source} does not hold weights for {type(module).__name__}")
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        what = f"lacks '{missing[0]}'" if missing else f"has unexpected '{extra[0]}'"
        raise UserError(f"{source} does not fit this config's {type(module).__name__}: it {what}")
    for key, tensor in own.items():
        theirs = state[key]
        if not isinstance(theirs, torch.Tensor) or theirs.shape != tensor.shape:
            shape = tuple(theirs.shape) if isinstance(theirs, torch.Tensor) else type(theirs).__name__
            raise UserError(f"{source} does not fit this config's {type(module).__name__}: "
                            f"'{key}' is {shape} there but {tuple(tensor.shape)} here "
                            "(different vocabulary or model sizes?)")
    module.load_state_dict(state)
