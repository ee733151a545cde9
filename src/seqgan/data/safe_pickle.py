"""A pickle reader that admits numpy arrays and nothing else.

A pickle can name any importable callable and run it while loading (``__reduce__``).
This unpickler resolves only the three globals a pickled ``ndarray`` needs; any other
global is refused *before* it is looked up, so no foreign code runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from seqgan.errors import UserError


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as fn  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class _RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allowed set."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _reconstruct()
        raise _RefusedGlobal(f"refused global {module}.{name} (only numpy arrays are allowed)")


def load_array_pickle(path: Path) -> object:
    """Unpickle ``path`` admitting numpy arrays, lists, tuples, dicts and scalars only.

    Raises ``UserError`` (one line) for foreign objects or a damaged file.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return _ArrayOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _RefusedGlobal as exc:
        raise UserError(f"{path}: not a numpy-array pickle ({exc})") from None
    except Exception as exc:  # truncated or garbled: EOFError, ValueError, ...
        raise UserError(f"{path}: unreadable pickle ({type(exc).__name__}: {exc})") from None
