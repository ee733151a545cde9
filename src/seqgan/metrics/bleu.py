"""Sentence-level BLEU against a whole reference corpus, and Self-BLEU — exact and fast.

Definition (Papineni et al. 2002, as computed by nltk's ``sentence_bleu`` and used by
SeqGAN and Texygen): for a hypothesis h and reference set R,

    p_k  = sum_g min(c_h(g), max_{r in R} c_r(g)) / max(1, sum_g c_h(g))     (k-grams g of h)
    BP   = 1 if |h| > r* else (0 if |h| = 0 else exp(1 - r*/|h|)),
           r* = the reference length closest to |h| (the shorter one on a tie)
    BLEU-n = BP * exp(sum_{k=1..n} (1/n) log p_k)

with BLEU-n = 0 when p_1 has no match. A p_k whose numerator is 0 is replaced by the
smallest positive float (nltk's method0, no smoothing) or, with ``smoothing=True``, by
0.1 / denominator (nltk's ``SmoothingFunction().method1``, epsilon 0.1).

Speed: ``max_r c_r(g)`` depends only on the reference set, so it is tabulated once per
order (``ReferenceTables``) and each hypothesis costs O(|h| n) dictionary look-ups,
instead of a pass over every reference per hypothesis.  Self-BLEU scores each sample
against all the *other* samples: the tables also keep the second-largest count and who
holds the largest, so excluding one sample is exact.

Corpus scores are the mean of the per-sentence values, which are returned so they can be
t-tested.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

Tokens = Sequence[Hashable]
SMOOTHING_EPSILON = 0.1  # nltk SmoothingFunction(epsilon=0.1).method1


def _ngrams(tokens: Tokens, k: int) -> list[tuple]:
    return [tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]


class ReferenceTables:
    """Per order k = 1..max_n: for every k-gram, the largest count in any one reference,
    which reference holds it, and the largest count among the others; plus the multiset
    of reference lengths."""

    def __init__(self, references: Sequence[Tokens], max_n: int):
        if max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {max_n}")
        if not len(references):
            raise ValueError("BLEU needs at least one reference")
        self.max_n = max_n
        self.lengths = Counter(len(r) for r in references)
        self.tables: list[dict[tuple, list[int]]] = []
        for k in range(1, max_n + 1):
            table: dict[tuple, list[int]] = {}
            for owner, reference in enumerate(references):
                for gram, count in Counter(_ngrams(reference, k)).items():
                    entry = table.get(gram)
                    if entry is None:
                        table[gram] = [count, owner, 0]
                    elif count > entry[0]:
                        entry[2], entry[0], entry[1] = entry[0], count, owner
                    elif count > entry[2]:
                        entry[2] = count
            self.tables.append(table)

    def max_count(self, gram: tuple, exclude: int | None) -> int:
        entry = self.tables[len(gram) - 1].get(gram)
        if entry is None:
            return 0
        return entry[2] if exclude is not None and entry[1] == exclude else entry[0]

    def closest_length(self, hyp_len: int, exclude_len: int | None) -> int:
        candidates = [length for length, count in self.lengths.items()
                      if count - (length == exclude_len) > 0]
        return min(candidates, key=lambda length: (abs(length - hyp_len), length))


def _sentence_bleu(hypothesis: Tokens, tables: ReferenceTables, n: int, smoothing: bool,
                   exclude: int | None = None) -> float:
    hyp_len = len(hypothesis)
    numerators, denominators = [], []
    for k in range(1, n + 1):
        counts = Counter(_ngrams(hypothesis, k))
        numerators.append(sum(min(c, tables.max_count(g, exclude)) for g, c in counts.items()))
        denominators.append(max(1, sum(counts.values())))
    if numerators[0] == 0:
        return 0.0
    ref_len = tables.closest_length(hyp_len, hyp_len if exclude is not None else None)
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    logs = []
    for num, den in zip(numerators, denominators):
        if num:
            p = num / den
        else:
            p = SMOOTHING_EPSILON / den if smoothing else sys.float_info.min
        logs.append((1 / n) * math.log(p))
    return penalty * math.exp(math.fsum(logs))


def _as_lists(sequences) -> list[list]:
    return sequences.tolist() if hasattr(sequences, "tolist") else [list(s) for s in sequences]


def bleu(hypotheses, references, n: int = 4, smoothing: bool = False,
         tables: ReferenceTables | None = None) -> np.ndarray:
    """BLEU-n of each hypothesis against the whole reference corpus; ``[len(hypotheses)]``.

    ``hypotheses`` / ``references``: sequences of token sequences (lists, or tensors /
    arrays ``[count, T]``).  Pass ``tables`` (built once from ``references``) to reuse
    them across calls; ``references`` is then ignored."""
    tables = tables or ReferenceTables(_as_lists(references), n)
    if tables.max_n < n:
        raise ValueError(f"tables hold orders up to {tables.max_n}, BLEU-{n} needs {n}")
    return np.array([_sentence_bleu(h, tables, n, smoothing) for h in _as_lists(hypotheses)],
                    dtype=np.float64)


def self_bleu(samples, n: int = 4, smoothing: bool = False) -> np.ndarray:
    """Self-BLEU-n: each sample's BLEU-n against all the *other* samples; ``[len(samples)]``.
    High values mean samples resemble one another (low diversity)."""
    samples = _as_lists(samples)
    if len(samples) < 2:
        raise ValueError("Self-BLEU needs at least two samples")
    tables = ReferenceTables(samples, n)
    return np.array([_sentence_bleu(s, tables, n, smoothing, exclude=i)
                     for i, s in enumerate(samples)], dtype=np.float64)
