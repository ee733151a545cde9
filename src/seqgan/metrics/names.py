"""The names of the metrics an evaluation reports (``metrics.evaluation.Evaluator``), and
the check of the names a user asks for: an unknown one is a one-line ``UserError`` with
the closest known name.

``metric_names`` is the one list of what exists; a reported name is ``nll_oracle``,
``nll_test``, ``bleu<n><suffix>`` / ``self_bleu<n><suffix>`` (orders 1-10, the suffix
naming the BLEU convention: ``bleu4``, ``bleu4_nltk32``, ``self_bleu2_texygen``; see
``metrics.bleu.SUFFIXES``), ``entropy`` (the generator's, ``metrics.gan_diagnostics``),
and for music runs the encoding's metrics (``metrics.music.METRICS``) and the feature
metrics (``feat_<f>``, ``feat_oa_<f>``, ``feat_ii_oa_<f>``, ``feat_ii_kl_<f>``,
``data_oa_<f>``; ``music.features``).
"""

from __future__ import annotations

import re

from seqgan.errors import UserError, unknown_name
from seqgan.metrics.bleu import SUFFIXES

BLEU_ORDERS = range(1, 11)  # the orders eval.bleu / eval.self_bleu accept
_BLEU = re.compile(r"(self_bleu|bleu)(\d+)(.*)")


def metric_names(kind: str, encoding: str = "") -> list[str]:
    """Every metric an evaluation of a run of task ``kind`` (``data.kind``: oracle, text,
    music) and music ``encoding`` can report, in the order of the docs."""
    names = ["nll_oracle"] if kind == "oracle" else []
    names.append("nll_test")
    for suffix in SUFFIXES.values():
        for what in ("bleu", "self_bleu"):
            names += [f"{what}{n}{suffix}" for n in BLEU_ORDERS]
    names.append("entropy")
    if kind == "music":
        from seqgan.metrics.music import METRICS
        from seqgan.music.features import feature_names

        names += METRICS.get(encoding, ())
        for f in feature_names(encoding):
            names += [
                f"feat_{f}",
                f"feat_oa_{f}",
                f"feat_ii_oa_{f}",
                f"feat_ii_kl_{f}",
                f"data_oa_{f}",
            ]
    return names


def check_metric_names(names, kind: str, encoding: str = "") -> list[str]:
    """``names`` (a list of metric names, or one name) as a list, each one reported by
    runs of ``kind`` / ``encoding`` (``metric_names``); else a one-line ``UserError``:
    the closest known name, or the kind of run that reports it."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise UserError(f"metrics must be a list of metric names, got {names!r}")
    known = metric_names(kind, encoding)
    for name in names:
        if name not in known:
            elsewhere = _reported_by(name)
            if elsewhere:
                raise UserError(
                    f"metric '{name}' is reported by {elsewhere} runs only, "
                    f"not by this {encoding or kind} run"
                )
            raise unknown_name("metric", name, known)
    return list(names)


def _reported_by(name: str) -> str:
    """The kinds or encodings of run that report metric ``name`` (``""``: none)."""
    from seqgan.music.encodings import ENCODINGS

    runs = {
        "oracle": metric_names("oracle"),
        "text": metric_names("text"),
        **{encoding: metric_names("music", encoding) for encoding in ENCODINGS},
    }
    return " or ".join(label for label, names in runs.items() if name in names)


def bleu_request(name: str) -> tuple[str, int, str] | None:
    """``"bleu4_nltk32"`` -> ``("bleu", 4, "nltk-3.2")``: what a (Self-)BLEU metric name
    asks for (kind, order, convention); ``None`` for any other metric."""
    found = _BLEU.fullmatch(name)
    if not found:
        return None
    conventions = {suffix: convention for convention, suffix in SUFFIXES.items()}
    if found.group(3) not in conventions:
        return None
    return found.group(1), int(found.group(2)), conventions[found.group(3)]
