"""Sentence-level BLEU against a whole reference corpus, and Self-BLEU — exact and fast,
under each of the conventions the literature used (``BleuConvention``).

Common part (Papineni et al. 2002, as nltk's ``sentence_bleu`` computes it). For a
hypothesis h, a reference set R and the order n, with c_x(g) the count of n-gram g in x:

    num_k = sum_{k-grams g of h} min(c_h(g), max_{r in R} c_r(g))
    den_k = max(1, |h| - k + 1)                      (the number of k-grams of h, at least 1)
    p_k   = num_k / den_k                            (when num_k > 0)
    BP    = 1 if |h| > r* else exp(1 - r*/|h|),      r* = the reference length closest to
                                                     |h| (the shorter one on a tie)
    BLEU-n = 0 if num_1 = 0 (this covers the empty hypothesis), else
    BLEU-n = BP * exp(sum_{k in K} (1/n) log p_k)

The conventions differ in p_k for an order without a match (num_k = 0) and in K:

* ``rule="current"``, ``smoothing="none"`` — nltk >= 3.3 (since PR #1844, May 2018): a
  zero p_k is floored to the smallest positive float (``sys.float_info.min``), K = 1..n.
  One order without a match makes BLEU-4 ~ 1e-78 ("``CURRENT``").
* ``rule="nltk-3.2"``, ``smoothing="none"`` — nltk 3.2.1 to 3.2.5 (2016 to May 2018, the
  SeqGAN era; ``SmoothingFunction.method0`` of 3.2.5, the unsmoothed default of 3.2.1):
  K = the orders before the first k with num_k = 0, the weights staying 1/n (not
  renormalised).  E.g. p = (1, 3/4, 1/3, 0) gives BLEU-4 = (1 * 3/4 * 1/3)^(1/4) = 0.7071
  (and BLEU-3 = 0.25^(1/3) = 0.63: under this rule BLEU-n can exceed BLEU-(n-1)).
  Read in the sources of nltk 3.2.1 to 3.2.5 and checked against nltk 3.2.5 itself by
  ``benchmarks/bleu.py --nltk32-python``.  (3.2.1 divided by zero on an empty hypothesis,
  where 3.2.2+ give 0; 3.2.0 also returned 0 when every matched order had p_k = 1, and
  its method1 used epsilon / 1.)
* ``smoothing="method1"`` — nltk's ``SmoothingFunction(epsilon).method1``: a zero p_k
  becomes epsilon / den_k, K = 1..n.  The same in nltk 3.2.1-3.2.5 and today, so under
  method1 both rules give the same value.  Texygen uses it with epsilon = 0.1.

Since a (k+1)-gram match implies a match of its leading k-gram, num_k = 0 implies
num_j = 0 for every j > k: "stop at the first order without a match" and "skip the orders
without a match" (nltk 3.2.1's wording) are the same rule, and the higher orders need not
be counted.

Subsets (``references`` / ``hypotheses`` = K, 0 = all): the first K, or K drawn without
replacement by ``random.Random(subset_seed)``; either way the kept items stay in their
original order.  References are picked where their tables are built (``ReferenceTables``),
hypotheses inside ``bleu`` / ``self_bleu``; so tables built once serve every call, and a
call whose convention picks other references than the tables hold is refused.

Self-BLEU (Zhu et al. 2018, Texygen): the sample set S = the references picked from the
samples; each hypothesis (picked from S) is scored against S without itself — or, with
``self_reference=True``, against S including itself, as Texygen's ``SelfBleu.get_bleu``
does (then every sample of length >= n scores exactly 1).

Where the conventions come from:

* SeqGAN reference code (LantaoYu/SeqGAN, ``pg_bleu/rollout.py``): the PG-BLEU reward is
  ``nltk.translate.bleu_score.sentence_bleu(references, sample, (1/3, 1/3, 1/3))`` with no
  smoothing, under the nltk of 2016 — rule "nltk-3.2"; the references are each oracle
  sample kept with probability 0.4 (``pg_bleu/pg_bleu.py``).  The repository computes no
  BLEU evaluation (its synthetic experiment reports NLL-oracle only).
* Texygen (geek-ai/Texygen, ``utils/metrics/Bleu.py``, ``SelfBleu.py``): method1 with
  epsilon 0.1 everywhere, word tokens.  Its training loop calls ``get_score()``, whose
  default fast mode keeps the first 500 references for BLEU (every generated sentence is
  a hypothesis) and the first 500 samples for Self-BLEU (each against the other 499)
  ("``TEXYGEN``").  The maintainers report their paper's figures came from ``get_bleu``:
  all references, and for Self-BLEU every sample against all samples including itself
  ("``TEXYGEN_FULL``"; geek-ai/Texygen issue #8).  Not modelled: Texygen tokenizes with
  ``nltk.word_tokenize`` and caches the reference / sample set at its first evaluation
  (geek-ai/Texygen issue #27), so its later Self-BLEU figures reuse the first samples.

Metric signatures (in the spirit of sacrebleu's), ``BleuConvention.signature`` /
``self_signature``: ``|``-separated fields, the first the metric name and order, then
``key=value``::

    bleu4|rule=nltk-3.2|smooth=none|refs=test:1639|hyps=2000|tok=char
    bleu3|rule=current|smooth=method1:0.1|refs=test:10000:first500|hyps=2000|tok=word
    self_bleu4|rule=current|smooth=none|refs=others:2000:random500@7|hyps=500|tok=char

    smooth := none | method1:<epsilon>
    refs   := <label>:<pool>[:<pick>]   label: the reference set (test, train, ...); for
                                        Self-BLEU "others" or "self+others"
    hyps   := <pool>[:<pick>]           pool: how many were available
    pick   := first<K> | random<K>@<seed>   only when K < pool (else all are used)

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
import random
import sys
import warnings
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import takewhile

import numpy as np

Tokens = Sequence[Hashable]
RULES = ("current", "nltk-3.2")
SMOOTHINGS = ("none", "method1")
SUBSETS = ("first", "random")
_RESERVED = "|=:"  # characters a signature label may not contain


def _check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"BleuConvention.{field} must be one of {choices}, got {value!r}")


def _check_label(label: str) -> str:
    if not label or any(c in label for c in _RESERVED):
        raise ValueError(f"signature label {label!r} is empty or has one of {_RESERVED}")
    return label


def _keeps_all(pool: int, keep: int) -> bool:
    return not keep or keep >= pool


@dataclass(frozen=True)
class BleuConvention:
    """How a BLEU figure is computed (module docstring: formulas and sources).

    ``rule``: "current" (nltk >= 3.3) or "nltk-3.2" (stop at the first order without a
    match); ``smoothing``: "none" or "method1" (``epsilon``); ``references`` /
    ``hypotheses``: keep that many (0 = all), the ``subset`` "first" ones or a "random"
    draw seeded by ``subset_seed``; ``self_reference``: Self-BLEU counts the hypothesis
    among its own references (Texygen's ``get_bleu``; off = the correct exclusion)."""

    rule: str = "current"
    smoothing: str = "none"
    epsilon: float = 0.1
    references: int = 0
    hypotheses: int = 0
    subset: str = "first"
    subset_seed: int = 0
    self_reference: bool = False

    def __post_init__(self):
        _check_choice("rule", self.rule, RULES)
        _check_choice("smoothing", self.smoothing, SMOOTHINGS)
        _check_choice("subset", self.subset, SUBSETS)
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {self.epsilon}")
        if self.references < 0 or self.hypotheses < 0:
            raise ValueError("references / hypotheses must be >= 0 (0 = all)")

    def indices(self, pool: int, keep: int) -> list[int]:
        """Positions kept out of ``pool`` items when keeping ``keep`` (0 = all): the first
        ones, or a seeded draw without replacement; always in increasing order."""
        if _keeps_all(pool, keep):
            return list(range(pool))
        if self.subset == "first":
            return list(range(keep))
        return sorted(random.Random(self.subset_seed).sample(range(pool), keep))

    def pick_references(self, items: Sequence) -> list:
        """The references this convention uses out of ``items``."""
        return [items[i] for i in self.indices(len(items), self.references)]

    def pick_hypotheses(self, items: Sequence) -> list:
        """The hypotheses this convention scores out of ``items``."""
        return [items[i] for i in self.indices(len(items), self.hypotheses)]

    def pick_label(self, pool: int, keep: int) -> str:
        """``""`` when all ``pool`` items are used, else ``first<K>`` / ``random<K>@<seed>``."""
        if _keeps_all(pool, keep):
            return ""
        return f"first{keep}" if self.subset == "first" else f"random{keep}@{self.subset_seed}"

    @property
    def smooth_label(self) -> str:
        return "none" if self.smoothing == "none" else f"method1:{self.epsilon:g}"

    def _fields(self, name: str, n: int, refs: str, hyps: str, tok: str) -> str:
        return (
            f"{_check_label(name)}{n}|rule={self.rule}|smooth={self.smooth_label}"
            f"|refs={refs}|hyps={hyps}|tok={_check_label(tok)}"
        )

    def _counted(self, label: str, pool: int, keep: int) -> str:
        pick = self.pick_label(pool, keep)
        return ":".join(part for part in (label, str(pool), pick) if part)

    def signature(
        self, name: str, n: int, refs_label: str, n_refs: int, n_hyps: int, tok: str
    ) -> str:
        """E.g. ``bleu4|rule=nltk-3.2|smooth=none|refs=test:1639|hyps=2000|tok=char``;
        ``n_refs`` / ``n_hyps``: how many were available, before this convention's pick."""
        refs = self._counted(_check_label(refs_label), n_refs, self.references)
        return self._fields(name, n, refs, self._counted("", n_hyps, self.hypotheses), tok)

    def self_signature(self, n: int, n_samples: int, tok: str, name: str = "self_bleu") -> str:
        """E.g. ``self_bleu4|rule=current|smooth=none|refs=others:2000|hyps=2000|tok=char``:
        the sample set is picked by ``references``, its hypotheses by ``hypotheses``."""
        label = "self+others" if self.self_reference else "others"
        refs = self._counted(label, n_samples, self.references)
        in_set = len(self.indices(n_samples, self.references))
        return self._fields(name, n, refs, self._counted("", in_set, self.hypotheses), tok)


CURRENT = BleuConvention()  # nltk >= 3.3 sentence_bleu, no smoothing
NLTK_32 = BleuConvention(rule="nltk-3.2")  # nltk 3.2.1-3.2.5 sentence_bleu, no smoothing
TEXYGEN = BleuConvention(smoothing="method1", epsilon=0.1, references=500)  # get_score()
TEXYGEN_FULL = BleuConvention(smoothing="method1", epsilon=0.1, self_reference=True)  # get_bleu
CONVENTIONS = {
    "current": CURRENT,
    "nltk-3.2": NLTK_32,
    "texygen": TEXYGEN,
    "texygen-full": TEXYGEN_FULL,
}
# how a reported metric names its convention: bleu4, bleu4_nltk32, self_bleu2_texygen, ...
SUFFIXES = {
    "current": "",
    "nltk-3.2": "_nltk32",
    "texygen": "_texygen",
    "texygen-full": "_texygen_full",
}
LABELS = {
    "current": "",
    "nltk-3.2": "nltk-3.2",
    "texygen": "Texygen",
    "texygen-full": "Texygen full",
}  # for figures and tables


def _as_convention(convention) -> BleuConvention:
    """A ``BleuConvention``; the former ``smoothing: bool`` still maps to method1 / none."""
    if isinstance(convention, BleuConvention):
        return convention
    if isinstance(convention, bool):
        warnings.warn(
            "smoothing=bool is deprecated; pass a BleuConvention", DeprecationWarning, stacklevel=3
        )
        return BleuConvention(smoothing="method1") if convention else CURRENT
    raise TypeError(f"expected a BleuConvention, got {convention!r}")


def nltk32_smoothing(p_n, *args, **kwargs) -> list:
    """The nltk-3.2 rule as a ``smoothing_function`` for today's nltk ``sentence_bleu``:
    the precisions before the first order without a match (nltk zips them with the
    weights, so the later orders drop out).  For cross-checks against nltk; the fast
    path is ``bleu(..., convention=NLTK_32)``."""
    return list(takewhile(lambda p: p.numerator != 0, p_n))


def _ngrams(tokens: Tokens, k: int) -> list[tuple]:
    return [tuple(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]


class ReferenceTables:
    """Per order k = 1..max_n: for every k-gram, the largest count in any one reference,
    which reference holds it, and the largest count among the others; plus the multiset
    of reference lengths.  Built from ``convention.pick_references(references)``; the
    tables remember that pick (``pool``, ``pick``) so a call cannot mix conventions."""

    def __init__(
        self, references: Sequence[Tokens], max_n: int, convention: BleuConvention = CURRENT
    ):
        if max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {max_n}")
        if not len(references):
            raise ValueError("BLEU needs at least one reference")
        self.max_n, self.pool = max_n, len(references)
        self.pick = convention.pick_label(self.pool, convention.references)
        references = convention.pick_references(references)
        self.size = len(references)
        self.lengths = Counter(len(r) for r in references)
        self.tables = [self._table(references, k) for k in range(1, max_n + 1)]

    @staticmethod
    def _table(references: Sequence[Tokens], k: int) -> dict[tuple, list[int]]:
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
        return table

    def check(self, n: int, convention: BleuConvention) -> None:
        """Refuse orders beyond the tables and a convention picking other references."""
        if self.max_n < n:
            raise ValueError(f"tables hold orders up to {self.max_n}, BLEU-{n} needs {n}")
        wanted = convention.pick_label(self.pool, convention.references)
        if wanted != self.pick:
            raise ValueError(
                f"tables were built from references {self.pick or 'all'}, "
                f"the convention picks {wanted or 'all'}"
            )

    def max_count(self, gram: tuple, exclude: int | None) -> int:
        entry = self.tables[len(gram) - 1].get(gram)
        if entry is None:
            return 0
        return entry[2] if exclude is not None and entry[1] == exclude else entry[0]

    def closest_length(self, hyp_len: int, exclude_len: int | None) -> int:
        candidates = [
            length for length, count in self.lengths.items() if count - (length == exclude_len) > 0
        ]
        return min(candidates, key=lambda length: (abs(length - hyp_len), length))


def _numerators(
    hypothesis: Tokens, tables: ReferenceTables, n: int, exclude: int | None
) -> list[int]:
    """num_1..num_n; counting stops at the first zero, as every higher order is 0 too."""
    numerators: list[int] = []
    for k in range(1, n + 1):
        counts = Counter(_ngrams(hypothesis, k))
        numerators.append(sum(min(c, tables.max_count(g, exclude)) for g, c in counts.items()))
        if not numerators[-1]:
            break
    return numerators + [0] * (n - len(numerators))


def _precision(numerator: int, denominator: int, convention: BleuConvention) -> float | None:
    """p_k under the convention; ``None`` where the nltk-3.2 rule stops."""
    if numerator:
        return numerator / denominator
    if convention.smoothing == "method1":
        return convention.epsilon / denominator
    return None if convention.rule == "nltk-3.2" else sys.float_info.min


def _sentence_bleu(
    hypothesis: Tokens,
    tables: ReferenceTables,
    n: int,
    convention: BleuConvention,
    exclude: int | None = None,
) -> float:
    numerators = _numerators(hypothesis, tables, n, exclude)
    if not numerators[0]:
        return 0.0
    hyp_len = len(hypothesis)
    logs = []
    for k, numerator in enumerate(numerators, start=1):
        p = _precision(numerator, max(1, hyp_len - k + 1), convention)
        if p is None:
            break
        logs.append((1 / n) * math.log(p))
    ref_len = tables.closest_length(hyp_len, hyp_len if exclude is not None else None)
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return penalty * math.exp(math.fsum(logs))


def _as_lists(sequences) -> list[list]:
    return sequences.tolist() if hasattr(sequences, "tolist") else [list(s) for s in sequences]


def bleu(
    hypotheses,
    references=None,
    n: int = 4,
    convention: BleuConvention = CURRENT,
    tables: ReferenceTables | None = None,
) -> np.ndarray:
    """BLEU-n of each hypothesis the convention picks against the references it picks;
    ``[len(convention.pick_hypotheses(hypotheses))]``.

    ``hypotheses`` / ``references``: sequences of token sequences (lists, or tensors /
    arrays ``[count, T]``).  Pass ``tables`` (``ReferenceTables(references, n,
    convention)``, built once) to reuse them across calls; ``references`` is then
    ignored."""
    convention = _as_convention(convention)
    tables = tables or ReferenceTables(_as_lists(references), n, convention)
    tables.check(n, convention)
    return np.array(
        [
            _sentence_bleu(h, tables, n, convention)
            for h in convention.pick_hypotheses(_as_lists(hypotheses))
        ],
        dtype=np.float64,
    )


def self_bleu(samples, n: int = 4, convention: BleuConvention = CURRENT) -> np.ndarray:
    """Self-BLEU-n: the sample set S = ``convention.pick_references(samples)``; each
    hypothesis of ``convention.pick_hypotheses(S)`` scored against the *other* samples of
    S (against all of S with ``self_reference``); ``[len(picked hypotheses)]``.  High
    values mean samples resemble one another (low diversity)."""
    convention = _as_convention(convention)
    pool = convention.pick_references(_as_lists(samples))
    keep_self = convention.self_reference
    if len(pool) < (1 if keep_self else 2):
        raise ValueError("Self-BLEU needs at least two samples")
    tables = ReferenceTables(pool, n)
    return np.array(
        [
            _sentence_bleu(pool[i], tables, n, convention, None if keep_self else i)
            for i in convention.indices(len(pool), convention.hypotheses)
        ],
        dtype=np.float64,
    )
