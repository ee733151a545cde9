"""The checks of the values a caller passes: one rule for the command line and the Python
API — the same types and ranges, and each message spelled as the caller wrote the value
(``--top-k`` and ``-n`` on the command line, ``top_k=`` and ``n=`` in Python).

Numbers: a whole number is anything with ``__index__`` except a bool (so numpy integer
scalars such as ``np.int64(5)`` from a sweep are taken as the ints they are); a real
number is any ``numbers.Real`` except a bool (numpy floats included).  Text such as
``"5"`` is not a number.  A seed is a whole number in [0, 2**63): what ``torch.manual_seed``
and the config's ``seed`` take.
"""

from __future__ import annotations

import math
import operator
from numbers import Real

from seqgan.errors import UserError

CLI, API = "cli", "api"  # who passes the value: how a message spells its name
MAX_SEED = 2**63 - 1


def spelled(name: str, caller: str | None) -> str:
    """``top_k`` as the caller writes it: ``--top-k`` (``-n``) on the command line,
    ``top_k=`` in Python, ``top_k`` when the caller is not known."""
    if caller == CLI:
        return f"-{name}" if len(name) == 1 else "--" + name.replace("_", "-")
    return f"{name}=" if caller == API else name


def whole(
    value,
    name: str,
    caller: str | None,
    low: int | None = None,
    high: int | None = None,
    note: str = "",
) -> int:
    """``value`` as an int within ``[low, high]``, else a one-line ``UserError``
    (``note`` appended to the range)."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        bounds = _bounds(low, high)
        raise UserError(
            f"{spelled(name, caller)} must be a whole number{bounds}{note}, got {value!r}"
        )
    return number


def real(
    value,
    name: str,
    caller: str | None,
    low: float,
    high: float,
    low_open: bool = True,
    note: str = "",
) -> float:
    """``value`` as a finite float in ``(low, high]`` (``[low, high]`` unless
    ``low_open``), else a one-line ``UserError`` (``note`` appended to the range)."""
    ok = isinstance(value, Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    inside = (
        math.isfinite(number) and (low < number if low_open else low <= number) and number <= high
    )
    if not inside:
        interval = f"{'(' if low_open else '['}{_short(low)}, {_short(high)}]"
        raise UserError(
            f"{spelled(name, caller)} must be a number in {interval}{note}, got {value!r}"
        )
    return number


def seed(value, caller: str | None, name: str = "seed") -> int:
    """A random seed: a whole number in [0, 2**63)."""
    try:
        return whole(value, name, caller, 0, MAX_SEED)
    except UserError:
        raise UserError(
            f"{spelled(name, caller)} must be a whole number in [0, 2**63), got {value!r}"
        ) from None


def switch(value, name: str, caller: str | None) -> bool:
    """An on/off value: ``True`` or ``False`` only."""
    if not isinstance(value, bool):
        raise UserError(f"{spelled(name, caller)} must be on or off (True or False), got {value!r}")
    return value


def _short(number: float) -> str:
    """``1e6`` for 1000000.0, ``0`` for 0.0."""
    return f"{number:g}".replace("e+0", "e").replace("e+", "e")


def _bounds(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    return f" <= {high}" if high is not None else ""


def path(value, name: str, caller: str | None):
    """A file or folder name: text or an ``os.PathLike`` (returned as a ``Path``)."""
    import os
    from pathlib import Path

    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) or value == "":
        raise UserError(
            f"{spelled(name, caller)} must be a file or folder name (text or a path), got {value!r}"
        )
    return Path(value)


def choice(value, name: str, caller: str | None, choices) -> str:
    """One of ``choices``; else a one-line error with the closest one."""
    from seqgan.errors import unknown_name

    if value not in choices:
        raise UserError(f"{spelled(name, caller)} {unknown_name('value', value, choices)}")
    return value


def count(value, name: str, caller: str | None, of: str, high: int | None = None) -> int:
    """A positive whole number of ``of`` (``-n must be a positive number of sequences``),
    at most ``high``."""
    try:
        return whole(value, name, caller, 1, high)
    except UserError:
        most = f" (at most {high})" if high is not None else ""
        raise UserError(
            f"{spelled(name, caller)} must be a positive number of {of}{most}, got {value!r}"
        ) from None
