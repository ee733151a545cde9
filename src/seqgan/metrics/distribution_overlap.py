"""How close two sets of feature values are: overlapping area (OA) and Yang & Lerch's
intra-set / inter-set distance comparison.

Yang & Lerch 2018 ("On the evaluation of generative models in music", Neural Computing
and Applications) smooth each set of values into a probability density function with a
Gaussian kernel density estimate and compare the PDFs by the overlapping area
``OA(A, B) = integral min(p_A(x), p_B(x)) dx`` (in [0, 1]; 1 = the same distribution, 0 =
disjoint supports) and by the Kullback-Leibler divergence.

* ``overlap_area(a, b)``: OA of the KDEs of the values ``a`` and ``b`` themselves.
* ``intra_inter(generated, real)``: the intra-set distances (all pairwise |x_i - x_j|
  within ``generated``) and the inter-set distances (all |x_i - y_j| between
  ``generated`` and ``real``); returns OA and KL(intra || inter) of their KDEs.  OA near 1
  means the generated set is as spread among itself as it is spread from the data.

KDE: Gaussian kernel, bandwidth by Scott's rule ``h = sigma n^(-1/5)`` (sigma: sample
standard deviation, ddof=1); a set of identical values gets ``h`` = 1/20 of the pooled
spread of both sets (or 1e-3 if that is 0 too).  The integral is the trapezoid rule on
513 points spanning both sets +- 6 bandwidths.  NaN values are dropped first; an empty
set gives NaN.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import trapezoid

POINTS = 513
MAX_PAIRS = 10_000  # distances kept per set (a fixed-seed subsample beyond that)


def _clean(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def _bandwidth(x: np.ndarray, pooled_spread: float) -> float:
    sigma = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    if sigma > 0:
        return sigma * len(x) ** (-0.2)
    return pooled_spread / 20 if pooled_spread > 0 else 1e-3


def _kde(x: np.ndarray, h: float, grid: np.ndarray) -> np.ndarray:
    out = np.zeros_like(grid)
    for chunk in np.array_split(x, max(1, len(x) // 2000 + 1)):
        z = (grid[:, None] - chunk[None, :]) / h
        out += np.exp(-0.5 * z * z).sum(axis=1)
    return out / (len(x) * h * math.sqrt(2 * math.pi))


def _densities(a: np.ndarray, b: np.ndarray):
    pooled = np.concatenate([a, b])
    spread = float(pooled.max() - pooled.min())
    ha, hb = _bandwidth(a, spread), _bandwidth(b, spread)
    reach = 6 * max(ha, hb)
    grid = np.linspace(pooled.min() - reach, pooled.max() + reach, POINTS)
    return grid, _kde(a, ha, grid), _kde(b, hb, grid)


def _of_densities(measure, a, b) -> float:
    """``measure(grid, p_a, p_b)`` of the two value sets' KDEs; NaN if either is empty."""
    a, b = _clean(a), _clean(b)
    if not len(a) or not len(b):
        return math.nan
    return measure(*_densities(a, b))


def overlap_area(a, b) -> float:
    """OA of the Gaussian KDEs of ``a`` and ``b`` (in [0, 1])."""
    return _of_densities(_oa, a, b)


def _oa(grid, pa, pb) -> float:
    return float(np.clip(trapezoid(np.minimum(pa, pb), grid), 0.0, 1.0))


def kl_divergence(a, b) -> float:
    """KL(p_a || p_b) of the Gaussian KDEs of ``a`` and ``b``, in nats (>= 0)."""
    return _of_densities(_kl, a, b)


def _kl(grid, pa, pb) -> float:
    tiny = 1e-12
    integrand = np.where(pa > tiny, pa * np.log((pa + tiny) / (pb + tiny)), 0.0)
    return float(max(0.0, trapezoid(integrand, grid)))


def _subsample(d: np.ndarray) -> np.ndarray:
    if len(d) <= MAX_PAIRS:
        return d
    return np.random.default_rng(0).choice(d, MAX_PAIRS, replace=False)


def intra_distances(x) -> np.ndarray:
    x = _clean(x)
    i, j = np.triu_indices(len(x), k=1)
    return _subsample(np.abs(x[i] - x[j]))


def inter_distances(x, y) -> np.ndarray:
    x, y = _clean(x), _clean(y)
    return _subsample(np.abs(x[:, None] - y[None, :]).ravel())


def intra_inter(generated, real) -> dict[str, float]:
    """``{"oa": OA(intra, inter), "kl": KL(intra || inter)}`` of the distance sets of the
    module docstring."""
    intra, inter = intra_distances(generated), inter_distances(generated, real)
    if not len(intra) or not len(inter):
        return {"oa": math.nan, "kl": math.nan}
    grid, pa, pb = _densities(intra, inter)
    return {"oa": _oa(grid, pa, pb), "kl": _kl(grid, pa, pb)}


def feature_mean(values: np.ndarray) -> float:
    """The mean of a feature's finite values (NaN if there is none)."""
    finite = _clean(values)
    return float(finite.mean()) if len(finite) else math.nan


def compare_features(
    generated: dict[str, np.ndarray], real: dict[str, np.ndarray]
) -> dict[str, float]:
    """For each feature in both: ``feat_<f>`` (mean of the generated values),
    ``feat_oa_<f>`` (OA of generated vs real values) and ``feat_ii_oa_<f>`` /
    ``feat_ii_kl_<f>`` (intra-set vs inter-set distances)."""
    out: dict[str, float] = {}
    for name, values in generated.items():
        if name not in real:
            continue
        out[f"feat_{name}"] = feature_mean(values)
        out[f"feat_oa_{name}"] = overlap_area(values, real[name])
        ii = intra_inter(values, real[name])
        out[f"feat_ii_oa_{name}"] = ii["oa"]
        out[f"feat_ii_kl_{name}"] = ii["kl"]
    return out
