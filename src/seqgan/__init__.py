"""seqgan: adversarial and reinforcement-learning training of discrete sequence generators.

The Python API (docs/api.md): ``seqgan.Run.load(path)``, ``seqgan.train(...)``,
``seqgan.compare(...)``; building blocks in ``seqgan.models``, ``seqgan.rl``,
``seqgan.metrics``.  Importing ``seqgan`` imports nothing heavy: torch and the rest load
when an API name is first used.  On a busy machine importing it also sets
``GOMP_SPINCOUNT`` for OpenMP, unless the user chose a wait behaviour
(docs/performance.md, "Shared machines").
"""

from seqgan._version import __version__
from seqgan.runtime.threads import prefer_gentle_openmp

# before torch loads OpenMP: on a busy machine waiting threads soon sleep (runtime.threads)
prefer_gentle_openmp()

_API = ("Run", "Samples", "Comparison", "train", "compare")
_PARTS = ("models", "rl", "metrics")  # the building blocks, imported when first used
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from seqgan import api

        return getattr(api, name)
    if name in _PARTS:
        import importlib

        return importlib.import_module(f"seqgan.{name}")
    raise AttributeError(f"module 'seqgan' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names and the API's (tab completion in a notebook or the REPL)."""
    return sorted({*globals(), *_API, *_PARTS})
