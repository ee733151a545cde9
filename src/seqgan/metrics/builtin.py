"""The built-in metric families, registered as ``seqgan.metrics`` entry points like a
plug-in's metric (``registry.BUILTIN``; pyproject.toml).  Each is computed by the
``metrics.evaluation.Evaluator`` that calls it (which holds the reference tables and data
features they share) and is switched on by its own keys, not by ``eval.metrics``:

* ``nll_oracle``: NLL-oracle (tasks with an oracle), ``metrics.nll``;
* ``nll_test``: NLL-test of the held-out data;
* ``diagnostics``: entropy, reward mean/std, D precision/recall (``eval.diagnostics``);
* ``bleu``: BLEU-n (``eval.bleu``) and Self-BLEU-n (``eval.self_bleu``), ``metrics.bleu``;
* ``music``: the encoding's metrics (MSE, SPB, QN), ``metrics.music``;
* ``features``: music feature metrics and their overlap with the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqgan.registry import FamilyFunction, Metric


def _means(per_sequence: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(np.mean(v)) if len(v) else float("nan") for name, v in per_sequence.items()}


def _nll_oracle(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """NLL of the samples under the oracle, nats per token (lower is better)"""
    means, per_sequence = ev.nll_oracle(samples)
    return dict(means), dict(per_sequence)


def _nll_test(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """NLL of the held-out data under the generator, nats per token (lower is better)"""
    return ev.nll_test(generator, sampling), {}


def _diagnostics(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """GAN diagnostics (eval.diagnostics)"""
    if not ev.cfg.eval.diagnostics:
        return {}, {}
    return ev.diagnostics(generator, discriminator, samples), {}


def _bleu(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """BLEU-n and Self-BLEU-n (eval.bleu, eval.self_bleu)"""
    per_sequence = ev.bleu_metrics(samples)
    return _means(per_sequence), per_sequence


def _music(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """the music encoding's metrics and features"""
    per_sequence = ev.music_metrics(samples)
    return _means(per_sequence), per_sequence


def _features(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """music feature metrics (OA with the data)"""
    return (ev.feature_metrics(samples) if ev.task.kind == "music" else {}), {}


def _family(evaluate: FamilyFunction, higher_is_better: bool = True, signatures=None) -> Metric:
    """The built-in family computed by ``evaluate``: named after it (``_bleu``: ``bleu``),
    its docstring the summary ``seqgan presets`` prints."""
    name, summary = evaluate.__name__.lstrip("_"), evaluate.__doc__ or ""
    return Metric(name, None, summary, higher_is_better, evaluate, signatures)


NLL_ORACLE = _family(_nll_oracle, False, lambda ev, n: ev.nll_signatures(n))
NLL_TEST = _family(_nll_test, False)
DIAGNOSTICS = _family(_diagnostics)
BLEU = _family(_bleu, signatures=lambda ev, n: ev.bleu_signatures(n))
MUSIC = _family(_music, signatures=lambda ev, n: ev.music_signatures(n))
FEATURES = _family(_features)
