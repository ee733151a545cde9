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

from seqgan.registry import Metric


def _means(per_sequence: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(np.mean(v)) if len(v) else float("nan") for name, v in per_sequence.items()}


def _nll_oracle(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    means, per_sequence = ev.nll_oracle(samples)
    return dict(means), dict(per_sequence)


def _nll_test(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    return ev.nll_test(generator, sampling), {}


def _diagnostics(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    if not ev.cfg.eval.diagnostics:
        return {}, {}
    return ev.diagnostics(generator, discriminator, samples), {}


def _bleu(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    per_sequence = ev.bleu_metrics(samples)
    return _means(per_sequence), per_sequence


def _music(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    per_sequence = ev.music_metrics(samples)
    return _means(per_sequence), per_sequence


def _features(
    ev: Any, samples: Any, generator: Any, discriminator: Any, sampling: Any
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    return (ev.feature_metrics(samples) if ev.task.kind == "music" else {}), {}


NLL_ORACLE = Metric(
    "nll_oracle",
    summary="NLL of the samples under the oracle, nats per token (lower is better)",
    higher_is_better=False,
    evaluate=_nll_oracle,
    signatures=lambda ev, n: ev.nll_signatures(n),
)
NLL_TEST = Metric(
    "nll_test",
    summary="NLL of the held-out data under the generator, nats per token (lower is better)",
    higher_is_better=False,
    evaluate=_nll_test,
)
DIAGNOSTICS = Metric(
    "diagnostics", summary="GAN diagnostics (eval.diagnostics)", evaluate=_diagnostics
)
BLEU = Metric(
    "bleu",
    summary="BLEU-n and Self-BLEU-n (eval.bleu, eval.self_bleu)",
    evaluate=_bleu,
    signatures=lambda ev, n: ev.bleu_signatures(n),
)
MUSIC = Metric(
    "music",
    summary="the music encoding's metrics and features",
    evaluate=_music,
    signatures=lambda ev, n: ev.music_signatures(n),
)
FEATURES = Metric(
    "features", summary="music feature metrics (OA with the data)", evaluate=_features
)
