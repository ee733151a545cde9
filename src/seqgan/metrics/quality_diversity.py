"""Quality-diversity metrics: forward / backward BLEU, the reverse-LM score, and the
comparison of two algorithms' temperature curves at matched diversity.

Caccia et al. ("Language GANs Falling Short", ICLR 2020) argue that a generator must be
judged by the whole curve it traces between quality and diversity as its softmax
temperature varies, and that two algorithms are compared at *equal diversity*.  This
module gives the numbers such a comparison needs; sampling at each temperature, tables
and figures are left to the caller.  Definitions (also in ``docs/metrics.md``):

**Forward and backward BLEU** (Shi et al. 2018, "Toward Diverse Text Generation with
Inverse Reinforcement Learning").  With BLEU-n(h; R) the sentence BLEU-n of hypothesis h
against the reference set R under a ``BleuConvention`` (``metrics.bleu``), G the
generated samples and D the test sequences (each as its tokens before ``<eos>``,
``Task.content``)::

    forward  BLEU-n = (1/|G|) sum_{g in G} BLEU-n(g; D)     quality: samples look like data
    backward BLEU-n = (1/|D|) sum_{d in D} BLEU-n(d; G)     coverage: data are found in samples
    harmonic BLEU-n = 2 f b / (f + b)  (0 when f = b = 0)   f, b the two means

Forward BLEU is exactly the project's ``bleu4`` with the test set as references.  The
convention's pick applies to each role: its ``references`` picks among the test set for
forward BLEU and among the samples for backward BLEU, its ``hypotheses`` picks among the
samples for forward BLEU and among the test sequences for backward BLEU.

**Reverse-LM score** (Semeniuta et al. 2018): it trains a language model, so it is
``training.reverse_lm``'s, a layer above the metrics.

**Matched-diversity comparison.**  A curve is K points (x_k, y_k), x a diversity measure
and y a quality measure, one point per temperature.  Sorted by x (the y of equal x
averaged), it is the piecewise-linear function through its points, defined on
[min x, max x] only (never extrapolated).  Two curves A, B are compared on the overlap
[max(min x_A, min x_B), min(max x_A, max x_B)]::

    difference(x) = y_A(x) - y_B(x)
    advantage(x)  = difference(x) if higher_is_better else -difference(x)   (> 0: A better)

``bootstrap_matched_difference`` resamples, within each temperature of each algorithm,
the samples with replacement (one draw of indices for a sample's x and y values, the two
algorithms independently), rebuilds both curves from the resampled means and takes the
percentile interval of advantage(x) over the resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from seqgan.metrics.bleu import CURRENT, BleuConvention, ReferenceTables, bleu

# -- forward and backward BLEU -------------------------------------------------------------


def _as_lists(sequences) -> list[list]:
    return sequences.tolist() if hasattr(sequences, "tolist") else [list(s) for s in sequences]


def _nonempty(sequences, what: str) -> list[list]:
    sequences = _as_lists(sequences)
    if not sequences:
        raise ValueError(f"forward / backward BLEU need at least one {what} sequence")
    return sequences


def forward_bleu(
    samples,
    test,
    n: int = 4,
    convention: BleuConvention = CURRENT,
    tables: ReferenceTables | None = None,
) -> np.ndarray:
    """BLEU-n of each generated sample against the test set, ``[len(convention.
    pick_hypotheses(samples))]`` (quality; = ``metrics.bleu.bleu(samples, test, ...)``).

    ``samples``, ``test``: token-id sequences (the content before ``<eos>``); ``tables``:
    ``ReferenceTables(test, >= n, convention)`` built once (``test`` is then ignored)."""
    samples = _nonempty(samples, "generated")
    if tables is None:
        tables = ReferenceTables(_nonempty(test, "test"), n, convention)
    return bleu(samples, None, n, convention, tables)


def backward_bleu(
    samples,
    test,
    n: int = 4,
    convention: BleuConvention = CURRENT,
    tables: ReferenceTables | None = None,
) -> np.ndarray:
    """BLEU-n of each test sequence against the generated samples as references,
    ``[len(convention.pick_hypotheses(test))]`` (coverage / diversity).

    ``tables``: ``ReferenceTables(samples, >= n, convention)`` (``samples`` then ignored)."""
    test = _nonempty(test, "test")
    if tables is None:
        tables = ReferenceTables(_nonempty(samples, "generated"), n, convention)
    return bleu(test, None, n, convention, tables)


def harmonic_mean(forward: float, backward: float) -> float:
    """2 f b / (f + b) of two non-negative scores; 0 when both are 0."""
    forward, backward = float(forward), float(backward)
    if forward < 0 or backward < 0:
        raise ValueError(f"harmonic mean of non-negative scores, got {forward}, {backward}")
    total = forward + backward
    return 0.0 if total == 0 else 2.0 * forward * backward / total


def _counted(convention: BleuConvention, label: str, pool: int, keep: int) -> str:
    pick = convention.pick_label(pool, keep)
    return ":".join(part for part in (label, str(pool), pick) if part)


def signature_label(label: str) -> str:
    """A signature field value: non-empty, none of ``|=:`` (as ``metrics.bleu``'s)."""
    if not label or any(c in label for c in "|=:"):
        raise ValueError(f"signature label {label!r} is empty or has one of '|=:'")
    return label


def _head(name: str, n: int, convention: BleuConvention) -> str:
    return f"{name}{n}|rule={convention.rule}|smooth={convention.smooth_label}"


def forward_bleu_signature(
    n: int,
    convention: BleuConvention,
    n_test: int,
    n_samples: int,
    tok: str = "ids",
    refs_label: str = "test",
) -> str:
    """``fwd_bleu4|rule=current|smooth=none|refs=test:1639|hyps=2000|tok=char``: the
    fields of ``BleuConvention.signature`` (``n_test`` / ``n_samples`` before any pick)."""
    return convention.signature("fwd_bleu", n, refs_label, n_test, n_samples, tok)


def backward_bleu_signature(
    n: int,
    convention: BleuConvention,
    n_test: int,
    n_samples: int,
    tok: str = "ids",
    refs_label: str = "test",
) -> str:
    """``bwd_bleu4|rule=current|smooth=none|refs=samples:2000|hyps=test:1639|tok=char``:
    the samples are the references, the test sequences the hypotheses."""
    refs = _counted(convention, "samples", n_samples, convention.references)
    hyps = _counted(convention, signature_label(refs_label), n_test, convention.hypotheses)
    return f"{_head('bwd_bleu', n, convention)}|refs={refs}|hyps={hyps}|tok={signature_label(tok)}"


def harmonic_bleu_signature(
    n: int,
    convention: BleuConvention,
    n_test: int,
    n_samples: int,
    tok: str = "ids",
    refs_label: str = "test",
) -> str:
    """``hm_bleu4|rule=current|smooth=none|refs=test:1639+samples:2000|hyps=samples:2000+
    test:1639|tok=char``: the forward part's references and hypotheses, ``+``, the
    backward part's."""
    refs = "+".join(
        (
            _counted(convention, signature_label(refs_label), n_test, convention.references),
            _counted(convention, "samples", n_samples, convention.references),
        )
    )
    hyps = "+".join(
        (
            _counted(convention, "samples", n_samples, convention.hypotheses),
            _counted(convention, refs_label, n_test, convention.hypotheses),
        )
    )
    return f"{_head('hm_bleu', n, convention)}|refs={refs}|hyps={hyps}|tok={signature_label(tok)}"


@dataclass(frozen=True)
class ForwardBackwardBleu:
    """Forward / backward BLEU-n of one sample set against one test set.

    ``forward``: ``[picked samples]`` BLEU-n per generated sample; ``backward``: ``[picked
    test sequences]`` BLEU-n per test sequence; both in [0, 1], higher is better."""

    n: int
    forward: np.ndarray
    backward: np.ndarray
    signatures: dict[str, str] = field(default_factory=dict)  # metric name -> signature
    suffix: str = ""  # the convention's metric-name suffix (``metrics.bleu.SUFFIXES``)

    @property
    def forward_mean(self) -> float:
        return float(np.mean(self.forward))

    @property
    def backward_mean(self) -> float:
        return float(np.mean(self.backward))

    @property
    def harmonic(self) -> float:
        return harmonic_mean(self.forward_mean, self.backward_mean)

    def means(self) -> dict[str, float]:
        """``{fwd_bleu<n><suffix>, bwd_bleu<n><suffix>, hm_bleu<n><suffix>}`` -> mean."""
        n, s = self.n, self.suffix
        return {
            f"fwd_bleu{n}{s}": self.forward_mean,
            f"bwd_bleu{n}{s}": self.backward_mean,
            f"hm_bleu{n}{s}": self.harmonic,
        }

    def per_sequence(self) -> dict[str, np.ndarray]:
        """``{fwd_bleu<n><suffix>: [samples], bwd_bleu<n><suffix>: [test]}``."""
        return {
            f"fwd_bleu{self.n}{self.suffix}": self.forward,
            f"bwd_bleu{self.n}{self.suffix}": self.backward,
        }


def forward_backward_bleu(
    samples,
    test,
    n: int = 4,
    convention: BleuConvention = CURRENT,
    *,
    tok: str = "ids",
    refs_label: str = "test",
    suffix: str = "",
    test_tables: ReferenceTables | None = None,
) -> ForwardBackwardBleu:
    """Forward and backward BLEU-n, their harmonic mean and the three signatures.

    ``samples`` ``[n_samples]`` / ``test`` ``[n_test]``: token-id sequences, each the
    tokens before ``<eos>`` (``Task.content(ids)``); ``tok``: what a token is, as in
    ``Evaluator.signatures`` (``ids``, the tokenizer, the music encoding); ``refs_label``:
    the name of the data set (``test``, ``train``); ``suffix``: appended to the metric
    names (not to the signatures), e.g. ``SUFFIXES["nltk-3.2"]``; ``test_tables``: tables
    of ``test`` for forward BLEU, built once by the caller (e.g. ``Evaluator``'s)."""
    samples, test = _nonempty(samples, "generated"), _nonempty(test, "test")
    forward = forward_bleu(samples, test, n, convention, test_tables)
    backward = backward_bleu(samples, test, n, convention)
    args = (n, convention, len(test), len(samples), tok, refs_label)
    signatures = {
        f"fwd_bleu{n}{suffix}": forward_bleu_signature(*args),
        f"bwd_bleu{n}{suffix}": backward_bleu_signature(*args),
        f"hm_bleu{n}{suffix}": harmonic_bleu_signature(*args),
    }
    return ForwardBackwardBleu(n, forward, backward, signatures, suffix)


# -- matched-diversity comparison ----------------------------------------------------------

Curve = tuple[ArrayLike, ArrayLike]  # (x, y): diversity and quality of K points


def _curve(x, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    """A curve's points sorted by x, the y of equal x averaged; float64 ``[K]`` each."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    what = f"curve {what}" if what else "a curve"
    if x.ndim != 1 or x.shape != y.shape or not len(x):
        raise ValueError(
            f"{what}: x and y must be equal-length non-empty 1-d arrays, "
            f"got shapes {x.shape} and {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"{what}: x and y must be finite")
    xs, inverse = np.unique(x, return_inverse=True)
    ys = np.bincount(inverse, weights=y) / np.bincount(inverse)
    return xs, ys


def interpolate_curve(x, y, at) -> np.ndarray:
    """The curve through points ``(x[k], y[k])`` (any order; equal x averaged), linearly
    interpolated at ``at``; NaN where ``at`` lies outside [min x, max x] (never
    extrapolated).  Returns float64 of ``at``'s shape."""
    xs, ys = _curve(x, y, "")
    at = np.asarray(at, dtype=np.float64)
    values = np.interp(at, xs, ys)
    return np.where((at >= xs[0]) & (at <= xs[-1]), values, np.nan)


def overlap(x_a, x_b) -> tuple[float, float] | None:
    """[max(min x_a, min x_b), min(max x_a, max x_b)], or ``None`` if it is empty."""
    low = max(float(np.min(x_a)), float(np.min(x_b)))
    high = min(float(np.max(x_a)), float(np.max(x_b)))
    return (low, high) if low <= high else None


def _grid(x_a: np.ndarray, x_b: np.ndarray, at) -> np.ndarray:
    if at is not None and not isinstance(at, (int, np.integer)):
        return np.asarray(at, dtype=np.float64)
    span = overlap(x_a, x_b)
    if span is None:
        return np.empty(0)
    if at is not None:  # that many evenly spaced points
        if at < 1:
            raise ValueError(f"a grid needs at least one point, got {at}")
        return np.linspace(span[0], span[1], int(at)) if span[0] < span[1] else np.array(span[:1])
    both = np.concatenate([x_a, x_b])
    return np.unique(both[(both >= span[0]) & (both <= span[1])])


@dataclass(frozen=True)
class MatchedDifference:
    """Two curves at common diversities ``x`` ``[m]`` (sorted unless given by the caller):
    ``quality_a`` / ``quality_b`` ``[m]`` the interpolated qualities (NaN where a given
    x lies outside a curve), ``difference = quality_a - quality_b``, ``advantage`` the
    difference signed so that > 0 means A is better (``-difference`` when lower is
    better)."""

    x: np.ndarray
    quality_a: np.ndarray
    quality_b: np.ndarray
    difference: np.ndarray
    advantage: np.ndarray
    higher_is_better: bool


def matched_difference(
    curve_a: Curve, curve_b: Curve, at=None, *, higher_is_better: bool = True
) -> MatchedDifference:
    """Quality of A minus quality of B at matched diversity.

    ``curve_a``, ``curve_b``: ``(x, y)`` pairs of 1-d arrays ``[K_a]`` / ``[K_b]`` — x the
    diversity of each point (the same measure, in the same units, for both curves; its
    direction does not matter), y its quality (e.g. BLEU: ``higher_is_better=True``;
    NLL-oracle or an LM score in nats: ``False``).  ``at``: where to compare — ``None``:
    every x of either curve inside the overlap of their x ranges (sorted, unique); an
    ``int`` m: m evenly spaced points spanning the overlap; an array: those x (NaN outside
    the overlap).  Empty arrays when the curves do not overlap."""
    x_a, y_a = _curve(*curve_a, "A")
    x_b, y_b = _curve(*curve_b, "B")
    x = _grid(x_a, x_b, at)
    q_a, q_b = interpolate_curve(x_a, y_a, x), interpolate_curve(x_b, y_b, x)
    difference = q_a - q_b
    return MatchedDifference(
        x, q_a, q_b, difference, difference if higher_is_better else -difference, higher_is_better
    )


def _points(
    diversity: Sequence, quality: Sequence, what: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per temperature: (x values, y values) as float64; x a scalar (fixed) or ``[n_k]``."""
    if len(diversity) != len(quality) or not len(quality):
        raise ValueError(
            f"algorithm {what}: one diversity and one quality entry per "
            f"temperature, got {len(diversity)} and {len(quality)}"
        )
    out = []
    for k, (x, y) in enumerate(zip(diversity, quality)):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if y.ndim != 1 or not len(y) or (x.ndim and x.shape != y.shape):
            raise ValueError(
                f"algorithm {what}, temperature {k}: quality must be [n_k] "
                f"(n_k >= 1) and diversity a scalar or [n_k]; got shapes "
                f"{x.shape} and {y.shape}"
            )
        out.append((x, y))
    return out


def _means(points) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([x.mean() for x, _ in points]), np.array([y.mean() for _, y in points]))


def _resampled(points, rng: np.random.Generator, resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """``[resamples, K]`` means of x and y, each temperature's samples redrawn."""
    xs = np.empty((resamples, len(points)))
    ys = np.empty((resamples, len(points)))
    for k, (x, y) in enumerate(points):
        idx = rng.integers(0, len(y), size=(resamples, len(y)))
        ys[:, k] = y[idx].mean(axis=1)
        xs[:, k] = x[idx].mean(axis=1) if x.ndim else x
    return xs, ys


@dataclass(frozen=True)
class MatchedBootstrap:
    """The bootstrap of ``advantage`` at matched diversity.

    ``x`` ``[m]``: the common diversities; ``estimate`` ``[m]``: the advantage of the
    curves of the full-sample means (``matched_difference``); ``low`` / ``high`` ``[m]``:
    the percentile interval at ``confidence`` over the resamples where that x lies in
    both resampled curves (NaN if none); ``valid`` ``[m]``: how many resamples those
    were; ``replicates`` ``[resamples, m]``: every resample's advantage (NaN outside)."""

    x: np.ndarray
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    valid: np.ndarray
    replicates: np.ndarray
    confidence: float
    higher_is_better: bool


def bootstrap_matched_difference(
    diversity_a: Sequence,
    quality_a: Sequence,
    diversity_b: Sequence,
    quality_b: Sequence,
    at=None,
    *,
    higher_is_better: bool = True,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> MatchedBootstrap:
    """Percentile-bootstrap interval of A's advantage over B at matched diversity.

    ``quality_a[k]``: ``[n_k]`` the per-sample quality values of A's samples at its k-th
    temperature (e.g. each sample's forward BLEU, or its NLL-oracle s_i / T);
    ``diversity_a[k]``: the same samples' per-sample diversity values ``[n_k]`` (e.g.
    each sample's negated Self-BLEU), resampled together with the quality, or a scalar,
    held fixed (a set-level measure such as backward BLEU).  A point of the curve is
    (mean x, mean y) of a temperature; K_a and K_b temperatures may differ, and so may
    n_k.  Each resample redraws n_k samples with replacement per temperature, A's and
    B's independently, from ``np.random.default_rng(seed)`` (the global NumPy state is
    not used).  ``at``: as in ``matched_difference``, decided once on the full-sample
    curves.  Per-sample values are taken as fixed: a value that depends on the other
    samples (Self-BLEU) is not recomputed within a resample."""
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"need resamples >= 1 and 0 < confidence < 1, got {resamples}, {confidence}"
        )
    points_a = _points(diversity_a, quality_a, "A")
    points_b = _points(diversity_b, quality_b, "B")
    point = matched_difference(
        _means(points_a), _means(points_b), at, higher_is_better=higher_is_better
    )
    rng = np.random.default_rng(seed)
    xs_a, ys_a = _resampled(points_a, rng, resamples)
    xs_b, ys_b = _resampled(points_b, rng, resamples)
    replicates = (
        np.stack(
            [
                matched_difference(
                    (xs_a[r], ys_a[r]),
                    (xs_b[r], ys_b[r]),
                    point.x,
                    higher_is_better=higher_is_better,
                ).advantage
                for r in range(resamples)
            ]
        )
        if len(point.x)
        else np.empty((resamples, 0))
    )
    finite = np.isfinite(replicates)
    valid = finite.sum(axis=0)
    tail = (1 - confidence) / 2 * 100
    low, high = np.full(len(point.x), np.nan), np.full(len(point.x), np.nan)
    for j in np.flatnonzero(valid):
        low[j], high[j] = np.percentile(replicates[finite[:, j], j], [tail, 100 - tail])
    return MatchedBootstrap(
        point.x, point.advantage, low, high, valid, replicates, confidence, higher_is_better
    )


__all__ = [
    "forward_bleu",
    "backward_bleu",
    "harmonic_mean",
    "forward_backward_bleu",
    "ForwardBackwardBleu",
    "forward_bleu_signature",
    "backward_bleu_signature",
    "harmonic_bleu_signature",
    "signature_label",
    "interpolate_curve",
    "overlap",
    "matched_difference",
    "MatchedDifference",
    "bootstrap_matched_difference",
    "MatchedBootstrap",
]
