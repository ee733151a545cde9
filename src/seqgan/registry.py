"""The two registries: algorithms and metrics, looked up by name.

Both are filled from Python entry points, the built-ins through the same mechanism as a
user's package: group ``seqgan.algorithms`` maps a name to an ``Algorithm``, group
``seqgan.metrics`` to a ``Metric``, each declared in the providing package's
``pyproject.toml``::

    [project.entry-points."seqgan.algorithms"]
    shaped-seqgan = "my_package.shaped:ALGORITHM"

    [project.entry-points."seqgan.metrics"]
    distinct2 = "my_package.distinct:METRIC"

Only installed code is imported: a name read from a run folder or a TOML file is looked
up among the installed entry points, never imported as a module path.  Names are known
without importing anything (``algorithm_names``); an entry point is imported when its
object is first needed.  One that fails to import, or that does not hold what its group
expects, gives one warning line on standard error naming its package and is skipped
(``seqgan: warning: ...``), so it never breaks a command that does not use it.

The built-ins are the ``BUILTIN`` table below, which the package's ``pyproject.toml``
declares verbatim (a test keeps the two equal).  The table stands in for seqgan's own
installed metadata, so a source tree on ``PYTHONPATH``, or an editable install whose
metadata predates a change of the list, finds exactly the built-ins of the code that
runs; a plug-in cannot take a built-in's name (it is skipped with a warning).  See
docs/extending.md.

This module sits below every other seqgan module: it imports none of them (``Config``,
``Task`` and models appear in the types as ``Any``).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module, metadata
from typing import Any, TypeVar

import numpy as np

from seqgan.errors import UserError

ALGORITHM_GROUP = "seqgan.algorithms"
METRIC_GROUP = "seqgan.metrics"
PACKAGE = "seqgan"  # the distribution that provides the built-ins

# name -> "module:attribute" of the built-ins; pyproject.toml declares the same entry points
BUILTIN: dict[str, dict[str, str]] = {
    ALGORITHM_GROUP: {
        "seqgan": "seqgan.training.seqgan:ALGORITHM",
        "mle": "seqgan.training.mle:ALGORITHM",
        "ss": "seqgan.training.scheduled_sampling:ALGORITHM",
        "pg-bleu": "seqgan.training.pg_bleu:ALGORITHM",
        "random": "seqgan.training.uniform:ALGORITHM",
        "vae": "seqgan.training.vae:ALGORITHM",
        "seqvae1": "seqgan.training.seqvae:SEQVAE1",
        "seqvae2": "seqgan.training.seqvae:SEQVAE2",
        "maligan": "seqgan.training.maligan:ALGORITHM",
        "rankgan": "seqgan.training.rankgan:ALGORITHM",
        "leakgan": "seqgan.training.leakgan:ALGORITHM",
        "relgan": "seqgan.training.relgan:ALGORITHM",
    },
    # in the order of their columns in metrics.csv (plug-in metrics follow, in the order
    # of eval.metrics)
    METRIC_GROUP: {
        "nll_oracle": "seqgan.metrics.builtin:NLL_ORACLE",
        "nll_test": "seqgan.metrics.builtin:NLL_TEST",
        "diagnostics": "seqgan.metrics.builtin:DIAGNOSTICS",
        "bleu": "seqgan.metrics.builtin:BLEU",
        "music": "seqgan.metrics.builtin:MUSIC",
        "features": "seqgan.metrics.builtin:FEATURES",
    },
}

# what build(cfg, task) returns: models (the generator as "generator"), optimizers, phases
Built = tuple[dict[str, Any], dict[str, Any], list[Any]]
T = TypeVar("T", "Algorithm", "Metric")
PRETRAININGS = ("mle", "vae")  # the pre-training families seqgan compare shares per seed
OWN_PRETRAINING = "own"  # a shareable pre-training of the algorithm's own (a --sweep shares it)


@dataclass(frozen=True)
class Algorithm:
    """One trainable algorithm: how to build it, and what the rest of seqgan needs to
    know about it (memory estimate, loading its generator, sharing pre-training)."""

    name: str  # what --set algorithm=NAME and --algorithms name (the entry point's name)
    build: Callable[[Any, Any], Built]  # (cfg: Config, task: Task) -> (models, optimizers, phases)
    summary: str = ""  # one line for `seqgan presets` and --help
    # a plug-in's own config section: a dataclass of config.knob fields, named after the
    # algorithm with "-" as "_" (``Config.section``); None: no section of its own
    config: type | None = None
    # rules between keys of the whole Config, raising seqgan.errors.UserError
    validate: Callable[[Any], None] | None = None
    # (cfg, task) -> the generator whose weights model.pt holds (None: an LSTM Generator,
    # training.parts.build_generator)
    generator: Callable[[Any, Any], Any] | None = None
    # (cfg, vocabulary size) -> the parameters of that generator (its own, without a
    # discriminator it holds), for the memory estimate (None: an LSTM Generator's)
    generator_params: Callable[[Any, int], int] | None = None
    vae: bool = False  # its generator is a VAE (models.vae): memory of the encoder
    discriminator: bool = False  # trains a discriminator (memory, negatives)
    # (cfg, vocabulary size) -> the parameters of its own kind of discriminator, for the
    # memory estimate (None: models.discriminator's CNN, where ``discriminator``)
    discriminator_params: Callable[[Any, int], int] | None = None
    # (cfg, V, T) -> its own largest passes, [(name, floats, knobs that shrink it)], for the
    # memory estimate in place of the CNN discriminator's batch (None: that batch)
    activations: Callable[[Any, int, int], list[tuple[str, int, str]]] | None = None
    rollout: bool = False  # keeps a roll-out copy of the generator for an MC search (memory)
    # the shareable first phase it starts with: "mle" (training.parts.pretrain_phase),
    # "vae" (training.vae's), "own" (a shareable phase of its own, Phase.shared_optimizer:
    # seqgan compare shares it among the runs of a --sweep of the algorithm), or None
    # (none that can be shared)
    pretraining: str | None = "mle"
    cost: int = 1  # relative time of a run; seqgan compare launches costlier ones first
    # how its own kinds of models count their work for the time estimates (a
    # training.work.WorkModel); None: an LSTM generator and SeqGAN's CNN D
    work: Any = None

    def __post_init__(self) -> None:
        if not callable(self.build):
            raise TypeError(f"algorithm '{self.name}': build is not callable")
        if self.pretraining not in (*PRETRAININGS, OWN_PRETRAINING, None):
            raise TypeError(
                f"algorithm '{self.name}': pretraining must be one of "
                f"{', '.join(PRETRAININGS)}, {OWN_PRETRAINING} or None, got {self.pretraining!r}"
            )

    @property
    def section(self) -> str | None:
        """The name of its config section (``[shaped_seqgan]``), or None."""
        return section_name(self.name) if self.config is not None else None


# a plug-in metric: (samples [n, T] int64 on the task's device, task) -> one value per
# sequence ([n], array or tensor) or one number for the whole set
MetricFunction = Callable[[Any, Any], Any]
# a built-in family: (evaluator, samples, generator, discriminator, sampling) ->
# (means: name -> float, per_sequence: name -> [n] array)
FamilyFunction = Callable[[Any, Any, Any, Any, Any], tuple[dict[str, float], dict[str, np.ndarray]]]


@dataclass(frozen=True)
class Metric:
    """One metric of generated samples.  A plug-in gives ``compute``: its column in
    ``metrics.csv`` / ``summary.json`` / ``table.md`` is its name, and a per-sequence
    result is also saved (``samples/<name>_per_sequence.npy``) and t-tested by ``seqgan
    compare``; runs compute it when ``eval.metrics`` names it.  The built-ins
    (``BUILTIN``) are families of columns switched on by their own knobs
    (``eval.bleu``, ``eval.diagnostics``, ...) and give ``evaluate`` and
    ``signatures`` instead."""

    name: str
    compute: MetricFunction | None = None
    summary: str = ""  # one line: what it measures, its units and direction
    higher_is_better: bool = True
    evaluate: FamilyFunction | None = None  # built-in families only
    # (evaluator, n) -> metric name -> signature
    signatures: Callable[[Any, int], dict[str, str]] | None = None

    def __post_init__(self) -> None:
        if (self.compute is None) == (self.evaluate is None):
            raise TypeError(f"metric '{self.name}': give exactly one of compute and evaluate")


def section_name(algorithm: str) -> str:
    """The config section of a plug-in algorithm: its name with ``-`` as ``_``."""
    return algorithm.replace("-", "_")


# -- entry points -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    value: str  # "module:attribute"
    package: str  # the distribution that declares it


_entries: dict[str, dict[str, _Entry]] = {}
_loaded: dict[tuple[str, str], Any] = {}
_failed: dict[tuple[str, str], str] = {}  # (group, name) -> why it could not be loaded


def warn(text: str) -> None:
    """One warning line on standard error."""
    print(f"seqgan: warning: {text}", file=sys.stderr, flush=True)


def _installed(group: str) -> list[_Entry]:
    """The entry points of ``group`` in the installed metadata, by package."""
    found = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        package = dist.name if dist is not None else "?"
        found.append(_Entry(ep.name, ep.value, package))
    return found


def entries(group: str) -> dict[str, _Entry]:
    """name -> entry of ``group``: the built-ins, then the installed plug-ins (a name
    taken twice: the first keeps it, the other gets one warning)."""
    if group in _entries:
        return _entries[group]
    out = {name: _Entry(name, value, PACKAGE) for name, value in BUILTIN[group].items()}
    for entry in _installed(group):
        if entry.package == PACKAGE:
            continue  # the built-ins as installed: the table above (metadata may be stale)
        taken = out.get(entry.name)
        if taken is not None:
            warn(
                f"package '{entry.package}' declares {group} '{entry.name}', which "
                f"package '{taken.package}' already provides; ignored"
            )
            continue
        out[entry.name] = entry
    _entries[group] = out
    return out


def _load(group: str, name: str, kind: type[T]) -> T | None:
    """The object of entry point ``name`` of ``group`` (imported once); None, with one
    warning line naming its package, when it cannot be imported or is not a ``kind``
    named ``name``."""
    key = (group, name)
    if key in _loaded:
        found: T = _loaded[key]
        return found
    if key in _failed:
        return None
    entry = entries(group)[name]
    try:
        module, _, attribute = entry.value.partition(":")
        obj: Any = import_module(module)
        for part in attribute.split(".") if attribute else ():
            obj = getattr(obj, part)
        if not isinstance(obj, kind):
            raise TypeError(
                f"{entry.value} is a {type(obj).__name__}, not a seqgan {kind.__name__}"
            )
        if getattr(obj, "name", None) != name:
            raise TypeError(f"{entry.value} is named '{getattr(obj, 'name', None)}', not '{name}'")
    except Exception as exc:  # a plug-in's import error must not break other commands  # noqa: BLE001
        why = f"{type(exc).__name__}: {exc}".splitlines()[0]
        _failed[key] = f"package '{entry.package}' ({group} '{name}' = {entry.value}): {why}"
        warn(f"could not load {_failed[key]}; skipped")
        return None
    _loaded[key] = obj
    loaded: T = obj
    return loaded


def suggest(name: str, names: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``names``, else ``""``."""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


# -- algorithms ---------------------------------------------------------------------------


def algorithm_names() -> list[str]:
    """Every algorithm's name, the built-ins first (nothing is imported)."""
    return list(entries(ALGORITHM_GROUP))


def is_algorithm(name: str) -> bool:
    return name in entries(ALGORITHM_GROUP)


def unknown_algorithm(name: str, what: str = "config key 'algorithm'") -> UserError:
    """The one-line error for an algorithm name nobody provides."""
    names = algorithm_names()
    return UserError(
        f"{what} must be one of {', '.join(names)}; got {name!r}{suggest(name, names)}"
    )


def algorithm(name: str) -> Algorithm:
    """The algorithm registered as ``name``; a one-line ``UserError`` for an unknown
    name ("did you mean") or one whose package failed to load."""
    if not is_algorithm(name):
        raise unknown_algorithm(name)
    return _usable(ALGORITHM_GROUP, name, Algorithm, "algorithm")


def _usable(group: str, name: str, kind: type[T], what: str) -> T:
    """The entry ``name`` of ``group``, loaded; one that does not load is a one-line
    ``UserError`` naming why."""
    found = _load(group, name, kind)
    if found is None:
        raise UserError(f"{what} '{name}' is not usable: could not load {_failed[(group, name)]}")
    return found


def algorithms() -> list[Algorithm]:
    """Every algorithm that loads (each that does not: one warning line)."""
    loaded = (_load(ALGORITHM_GROUP, name, Algorithm) for name in algorithm_names())
    return [a for a in loaded if a is not None]


def is_section_name(section: str) -> bool:
    """Whether ``section`` is the config-section name of an algorithm's (nothing is
    imported)."""
    return any(section_name(name) == section for name in algorithm_names())


def section_owner(section: str) -> Algorithm | None:
    """The installed plug-in algorithm whose config section is ``section``, if any (only
    that one is imported)."""
    for name in algorithm_names():
        if section_name(name) == section:
            found = _load(ALGORITHM_GROUP, name, Algorithm)
            if found is not None and found.config is not None:
                return found
    return None


# -- metrics ------------------------------------------------------------------------------


def metric_names(plugins_only: bool = False) -> list[str]:
    """Every metric's name, the built-in families first (nothing is imported)."""
    names = list(entries(METRIC_GROUP))
    return [n for n in names if n not in BUILTIN[METRIC_GROUP]] if plugins_only else names


def metric(name: str) -> Metric:
    """The metric registered as ``name`` (one-line ``UserError``s as ``algorithm``)."""
    names = metric_names()
    if name not in names:
        plugins = metric_names(plugins_only=True)
        raise UserError(
            f"unknown metric '{name}' in eval.metrics; installed plug-in "
            f"metrics: {', '.join(plugins) or 'none'}{suggest(name, plugins)}"
        )
    return _usable(METRIC_GROUP, name, Metric, "metric")


def builtin_metrics() -> list[Metric]:
    """The built-in metric families, in the order of their columns."""
    return [metric(name) for name in BUILTIN[METRIC_GROUP]]


def reset() -> None:
    """Forget what was read and loaded (tests that install a package mid-process)."""
    _entries.clear()
    _loaded.clear()
    _failed.clear()
