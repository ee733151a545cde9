"""Package attributes imported on first use, so ``import seqgan.models`` stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` giving ``names[attr]``'s attribute ``attr`` (a module
    path relative to ``package``), imported when first asked for."""

    def __getattr__(attr: str):
        if attr in names:
            return getattr(importlib.import_module(names[attr], package), attr)
        raise AttributeError(f"module {package!r} has no attribute {attr!r}")

    return __getattr__


def lazy_dir(namespace: dict, names: Iterable[str]) -> Callable[[], list[str]]:
    """A module ``__dir__`` listing what the module holds (``namespace``, its globals)
    and the lazy ``names`` not imported yet, so ``dir()`` and tab completion show them."""

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __dir__
