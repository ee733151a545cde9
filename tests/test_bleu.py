"""BLEU and Self-BLEU under each convention: equal to nltk (to 1e-9) on randomized inputs,
the nltk-3.2 rule on cases derived by hand from its definition, subsets and signatures."""

import math
import random
import sys
import warnings

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan.metrics.bleu import (
    CURRENT,
    NLTK_32,
    TEXYGEN,
    TEXYGEN_FULL,
    BleuConvention,
    ReferenceTables,
    bleu,
    nltk32_smoothing,
    self_bleu,
)

METHOD1 = BleuConvention(smoothing="method1")
NLTK_32_METHOD1 = BleuConvention(rule="nltk-3.2", smoothing="method1")
UNSUBSET = [CURRENT, NLTK_32, METHOD1, NLTK_32_METHOD1]  # every rule x smoothing, all data


def _id(convention):
    return f"{convention.rule}-{convention.smoothing}-refs{convention.references}"


def _nltk(references, hypothesis, n, convention):
    """Today's nltk under ``convention`` (nltk-3.2 via the stopping smoothing function)."""
    smoothing = (
        SmoothingFunction(epsilon=convention.epsilon).method1
        if convention.smoothing == "method1"
        else nltk32_smoothing
        if convention.rule == "nltk-3.2"
        else None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns on zero counts without smoothing
        return sentence_bleu(
            references, hypothesis, weights=tuple([1.0 / n] * n), smoothing_function=smoothing
        )


def _corpus(rng, count, vocab, lengths):
    return [[rng.randrange(vocab) for _ in range(rng.choice(lengths))] for _ in range(count)]


def _one(hypothesis, references, n, convention):
    return float(bleu([hypothesis], references, n, convention)[0])


# --- equal to nltk on random data ---------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("convention", UNSUBSET, ids=_id)
def test_bleu_equals_nltk(n, convention):
    rng = random.Random(n)
    references = _corpus(rng, 60, 6, range(1, 12))
    hypotheses = _corpus(rng, 40, 6, range(0, 14))  # includes empty and short hypotheses
    hypotheses += [max(references, key=len)[:], [99, 98, 97], [99]]  # a copy; no overlap
    ours = bleu(hypotheses, references, n, convention)
    theirs = [_nltk(references, h, n, convention) for h in hypotheses]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert ours[-3] == pytest.approx(1.0) and ours[-2] == 0.0 and ours[-1] == 0.0


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("convention", UNSUBSET, ids=_id)
def test_self_bleu_equals_nltk_against_the_other_samples(n, convention):
    rng = random.Random(7 + n)
    samples = _corpus(rng, 30, 5, range(2, 9))
    samples.append(samples[0][:])  # a duplicate: its twin is still another sample
    ours = self_bleu(samples, n, convention)
    theirs = [
        _nltk(samples[:i] + samples[i + 1 :], s, n, convention) for i, s in enumerate(samples)
    ]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_method1_is_the_same_under_both_rules():
    rng = random.Random(3)
    references, hypotheses = _corpus(rng, 50, 8, range(1, 10)), _corpus(rng, 50, 8, range(10))
    for n in (2, 3, 4):
        np.testing.assert_array_equal(
            bleu(hypotheses, references, n, METHOD1),
            bleu(hypotheses, references, n, NLTK_32_METHOD1),
        )


# --- the nltk-3.2 rule, by hand -------------------------------------------------------------
# Rule: p_k = num_k / max(1, |h|-k+1); BLEU = 0 if num_1 = 0; else stop at the first k with
# num_k = 0 and BLEU = BP * exp(sum over the orders before it of (1/n) log p_k); BP = 1 if
# |h| > r*, else exp(1 - r*/|h|).


def test_nltk32_issue_example_no_match_at_order_4():
    # h = 1 2 3 4 5, R = {1 2 3 9 5, 4 5 7 7 7}.
    # k=1: 1 2 3 5 in the first reference, 4 in the second      -> p_1 = 5/5
    # k=2: (1 2) (2 3) in the first, (4 5) in the second, (3 4) nowhere -> p_2 = 3/4
    # k=3: (1 2 3) in the first; (2 3 4), (3 4 5) nowhere       -> p_3 = 1/3
    # k=4: (1 2 3 4), (2 3 4 5) nowhere                         -> num_4 = 0: stop
    # |h| = 5 = r* -> BP = exp(0) = 1
    # BLEU-4 = exp((log 1 + log 3/4 + log 1/3) / 4) = (1/4)^(1/4) = 1/sqrt(2) = 0.7071
    h, refs = [1, 2, 3, 4, 5], [[1, 2, 3, 9, 5], [4, 5, 7, 7, 7]]
    assert _one(h, refs, 4, NLTK_32) == pytest.approx(0.25**0.25, rel=1e-12)
    assert _one(h, refs, 4, NLTK_32) == pytest.approx(2**-0.5, rel=1e-12)
    # today's rule floors p_4 to the smallest float: (1/4 * float_min)^(1/4) ~ 8.6e-78
    assert _one(h, refs, 4, CURRENT) == pytest.approx((0.25 * sys.float_info.min) ** 0.25)
    # no order without a match at n = 3: both rules give (1 * 3/4 * 1/3)^(1/3)
    assert _one(h, refs, 3, NLTK_32) == pytest.approx(0.25 ** (1 / 3), rel=1e-12)
    assert _one(h, refs, 3, CURRENT) == pytest.approx(0.25 ** (1 / 3), rel=1e-12)


def test_nltk32_no_match_at_order_2():
    # h = 1 2 3 4, R = {4 3 2 9}: k=1: 4 3 2 match, 1 does not -> p_1 = 3/4
    # k=2: (1 2) (2 3) (3 4) vs (4 3) (3 2) (2 9): none -> stop. |h| = 4 = r* -> BP = 1.
    # BLEU-n = exp((1/n) log 3/4) = (3/4)^(1/n): the weight stays 1/n, not renormalised.
    for n in (2, 3, 4):
        assert _one([1, 2, 3, 4], [[4, 3, 2, 9]], n, NLTK_32) == pytest.approx(
            0.75 ** (1 / n), rel=1e-12
        )


def test_nltk32_no_match_at_order_3():
    # h = 1 2 3 4, R = {1 2 9 3 4}: p_1 = 4/4; k=2: (1 2) (3 4) match, (2 3) not -> p_2 = 2/3
    # k=3: (1 2 3) (2 3 4) vs (1 2 9) (2 9 3) (9 3 4): none -> stop.
    # |h| = 4 < r* = 5 -> BP = exp(1 - 5/4) = exp(-1/4).
    # BLEU-4 = exp(-1/4) * exp((log 1 + log 2/3) / 4) = exp(-1/4) * (2/3)^(1/4)
    assert _one([1, 2, 3, 4], [[1, 2, 9, 3, 4]], 4, NLTK_32) == pytest.approx(
        math.exp(-0.25) * (2 / 3) ** 0.25, rel=1e-12
    )


def test_nltk32_hypothesis_shorter_than_n():
    # h = 1 2, R = {1 2 3}: p_1 = 2/2, p_2 = 1/1; k=3: no 3-gram in h, num_3 = 0 (den
    # max(1, 0) = 1) -> stop. |h| = 2 < r* = 3 -> BP = exp(1 - 3/2).
    # BLEU-4 = exp(-1/2) * exp((log 1 + log 1) / 4) = exp(-1/2)
    assert _one([1, 2], [[1, 2, 3]], 4, NLTK_32) == pytest.approx(math.exp(-0.5), rel=1e-12)
    # today's rule: exp(-1/2) * (float_min * float_min)^(1/4)
    assert _one([1, 2], [[1, 2, 3]], 4, CURRENT) == pytest.approx(
        math.exp(-0.5) * sys.float_info.min**0.5
    )


@pytest.mark.parametrize("convention", UNSUBSET + [TEXYGEN, TEXYGEN_FULL], ids=_id)
def test_empty_hypothesis_scores_zero(convention):
    # num_1 = 0 -> BLEU = 0 (nltk 3.2.5 also sets BP = 0 for |h| = 0)
    assert _one([], [[1, 2, 3]], 4, convention) == 0.0


@pytest.mark.parametrize("rule", ["current", "nltk-3.2"])
@pytest.mark.parametrize("epsilon", [0.1, 0.5])
def test_method1_by_hand_under_both_rules(rule, epsilon):
    # h = 1 2 3 4, R = {4 3 2 9}: num = (3, 0, 0, 0), den = (4, 3, 2, 1); method1 turns a zero
    # numerator into epsilon, no order is dropped; BP = 1.
    # BLEU-4 = (3/4 * eps/3 * eps/2 * eps/1)^(1/4)
    convention = BleuConvention(rule=rule, smoothing="method1", epsilon=epsilon)
    expected = (0.75 * (epsilon / 3) * (epsilon / 2) * epsilon) ** 0.25
    assert _one([1, 2, 3, 4], [[4, 3, 2, 9]], 4, convention) == pytest.approx(expected, rel=1e-12)


def test_nltk32_can_exceed_its_lower_order():
    # Dropping an order keeps the weights at 1/n, so BLEU-n can rise with n (the issue's
    # example: BLEU-3 = 0.25^(1/3) = 0.63 < BLEU-4 = 0.25^(1/4) = 0.71).
    h, refs = [1, 2, 3, 4, 5], [[1, 2, 3, 9, 5], [4, 5, 7, 7, 7]]
    assert _one(h, refs, 4, NLTK_32) > _one(h, refs, 3, NLTK_32)


# --- Self-BLEU -------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", UNSUBSET, ids=_id)
def test_self_bleu_never_scores_a_sample_against_itself(convention):
    samples = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]  # no n-gram shared
    assert np.all(self_bleu(samples, 2, convention) == 0.0)  # against itself each scores 1
    assert np.all(bleu(samples, samples, 2, convention) == pytest.approx(1.0))


def test_self_reference_counts_the_sample_itself():
    # With itself among its references every k-gram of a sample matches and r* = |h|:
    # p_k = 1 for k <= |h|, BP = 1 -> 1 for a sample of length >= n.  A sample of length 2
    # at n = 3 under method1: p_3 = eps / max(1, 0) = 0.1 -> BLEU-3 = 0.1^(1/3).
    samples = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    scores = self_bleu(samples, 3, TEXYGEN_FULL)
    np.testing.assert_allclose(scores, [1.0, 1.0, 0.1 ** (1 / 3)], rtol=1e-12)
    assert np.all(self_bleu(samples, 3, METHOD1) == 0.0)


def test_texygen_fast_self_bleu_is_the_first_k_samples_against_each_other():
    rng = random.Random(11)
    samples = _corpus(rng, 14, 4, range(3, 8))
    fast = BleuConvention(smoothing="method1", references=9)  # TEXYGEN with 9 for 500
    first = samples[:9]
    theirs = [_nltk(first[:i] + first[i + 1 :], s, 3, METHOD1) for i, s in enumerate(first)]
    np.testing.assert_allclose(self_bleu(samples, 3, fast), theirs, rtol=0, atol=1e-9)


def test_self_bleu_hypotheses_are_picked_from_the_sample_set():
    rng = random.Random(5)
    samples = _corpus(rng, 20, 4, range(3, 8))
    convention = BleuConvention(references=12, hypotheses=5, subset="random", subset_seed=2)
    pool = convention.pick_references(samples)
    picked = convention.indices(len(pool), 5)
    np.testing.assert_array_equal(self_bleu(samples, 2, convention), self_bleu(pool, 2)[picked])


# --- subsets ---------------------------------------------------------------------------------


def test_first_k_and_all():
    assert BleuConvention(references=3).pick_references("abcdef") == list("abc")
    assert BleuConvention(references=0).pick_references("abc") == list("abc")
    assert BleuConvention(hypotheses=9).pick_hypotheses("abc") == list("abc")  # K >= pool


def test_random_k_is_seeded_sorted_without_replacement():
    def pick(seed):
        return BleuConvention(references=50, subset="random", subset_seed=seed).indices(1000, 50)

    assert pick(1) == pick(1)
    assert pick(1) != pick(2)
    assert pick(1) == sorted(set(pick(1))) and len(pick(1)) == 50
    assert all(0 <= i < 1000 for i in pick(1))


def test_reference_subset_equals_bleu_on_those_references():
    rng = random.Random(9)
    references, hypotheses = _corpus(rng, 40, 5, range(3, 9)), _corpus(rng, 10, 5, range(3, 9))
    for convention in (
        BleuConvention(references=7),
        BleuConvention(references=7, subset="random", subset_seed=4),
    ):
        kept = convention.pick_references(references)
        np.testing.assert_array_equal(
            bleu(hypotheses, references, 3, convention), bleu(hypotheses, kept, 3)
        )
    first3 = BleuConvention(hypotheses=3)
    np.testing.assert_array_equal(
        bleu(hypotheses, references, 3, first3), bleu(hypotheses[:3], references, 3)
    )


def test_tables_refuse_a_convention_picking_other_references():
    tables = ReferenceTables([[1, 2, 3]] * 10, 4, BleuConvention(references=5))
    bleu([[1, 2]], None, 4, BleuConvention(references=5, rule="nltk-3.2"), tables)  # fine
    with pytest.raises(ValueError, match="references"):
        bleu([[1, 2]], None, 4, CURRENT, tables)
    with pytest.raises(ValueError, match="orders"):
        bleu([[1, 2]], None, 5, BleuConvention(references=5), tables)


# --- signatures ------------------------------------------------------------------------------


def test_signatures():
    assert (
        NLTK_32.signature("bleu", 4, "test", 1639, 2000, "char")
        == "bleu4|rule=nltk-3.2|smooth=none|refs=test:1639|hyps=2000|tok=char"
    )
    assert (
        TEXYGEN.signature("bleu", 3, "test", 10000, 2000, "word")
        == "bleu3|rule=current|smooth=method1:0.1|refs=test:10000:first500|hyps=2000|tok=word"
    )
    assert (
        TEXYGEN.signature("bleu", 3, "test", 300, 2000, "word")
        == "bleu3|rule=current|smooth=method1:0.1|refs=test:300|hyps=2000|tok=word"
    )  # K >= pool
    sampled = BleuConvention(hypotheses=100, subset="random", subset_seed=7)
    assert (
        sampled.signature("bleu", 2, "train", 5000, 2000, "id")
        == "bleu2|rule=current|smooth=none|refs=train:5000|hyps=2000:random100@7|tok=id"
    )


def test_self_bleu_signatures():
    assert (
        CURRENT.self_signature(4, 2000, "char")
        == "self_bleu4|rule=current|smooth=none|refs=others:2000|hyps=2000|tok=char"
    )
    assert (
        TEXYGEN.self_signature(3, 2000, "word")
        == "self_bleu3|rule=current|smooth=method1:0.1|refs=others:2000:first500|hyps=500|tok=word"
    )
    assert (
        TEXYGEN_FULL.self_signature(3, 2000, "word")
        == "self_bleu3|rule=current|smooth=method1:0.1|refs=self+others:2000|hyps=2000|tok=word"
    )


def test_signature_labels_cannot_break_the_grammar():
    with pytest.raises(ValueError):
        CURRENT.signature("bleu", 4, "te:st", 10, 10, "char")
    with pytest.raises(ValueError):
        CURRENT.signature("bleu", 4, "test", 10, 10, "ch|ar")


# --- API -------------------------------------------------------------------------------------


def test_invalid_conventions():
    for bad in (
        dict(rule="nltk-3.3"),
        dict(smoothing="method2"),
        dict(subset="last"),
        dict(epsilon=0),
        dict(references=-1),
    ):
        with pytest.raises(ValueError):
            BleuConvention(**bad)


def test_tables_are_reusable_across_rules_and_accept_tensors():
    import torch

    refs = torch.randint(0, 4, (50, 7))
    hyps = torch.randint(0, 4, (10, 7))
    tables = ReferenceTables(refs.tolist(), 4)
    for convention in UNSUBSET:
        np.testing.assert_array_equal(
            bleu(hyps, None, 3, convention, tables), bleu(hyps, refs, 3, convention)
        )


def test_smoothing_bool_still_works_with_a_warning():
    refs, hyps = [[1, 2, 3, 4]], [[1, 2, 5, 6]]
    with pytest.warns(DeprecationWarning):
        assert bleu(hyps, refs, 4, True)[0] == bleu(hyps, refs, 4, METHOD1)[0]
    with pytest.warns(DeprecationWarning):
        assert self_bleu(refs + hyps, 2, False)[0] == self_bleu(refs + hyps, 2)[0]


def test_config_names_the_conventions_of_this_module():
    """The config (below the metrics in the layers) names the rules, smoothings and
    conventions itself; they must be exactly this module's."""
    from seqgan import config
    from seqgan.metrics import bleu as module

    assert config.BLEU_RULES == module.RULES
    assert config.BLEU_SMOOTHINGS == module.SMOOTHINGS
    assert tuple(module.CONVENTIONS) == config.BLEU_CONVENTIONS
