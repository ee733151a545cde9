"""Significance tests for comparing generators.

``welch_t_test(a, b)``: Welch's two-sample t-test (unequal variances), two-sided, on
per-sequence metric values (e.g. per-sequence NLL-oracle of two generators' samples) —
the test the SeqGAN paper reports p-values of in Table 1.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats


def welch_t_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``(t, p)`` of Welch's two-sided t-test of mean(a) = mean(b); NaN if either sample has
    fewer than two values or both have zero variance."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2 or (a.var() == 0 and b.var() == 0):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        if np.ptp(a) == 0 or np.ptp(b) == 0:  # a constant side (e.g. the untrained
            # generator's NLL-test, equal over seeds) has variance 0, not "precision loss"
            warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)
