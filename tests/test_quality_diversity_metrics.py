"""Quality-diversity metrics (``metrics.quality_diversity``): forward / backward BLEU on
sets whose values follow by hand from the BLEU definition, the reverse-LM score, and the
comparison of temperature curves at matched diversity with its bootstrap."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from seqgan.data.task import Task
from seqgan.metrics.bleu import CURRENT, NLTK_32, TEXYGEN, BleuConvention, bleu
from seqgan.metrics.quality_diversity import (
    backward_bleu,
    backward_bleu_signature,
    bootstrap_matched_difference,
    forward_backward_bleu,
    forward_bleu,
    forward_bleu_signature,
    harmonic_bleu_signature,
    harmonic_mean,
    interpolate_curve,
    matched_difference,
    overlap,
)
from seqgan.models.generator import Generator
from seqgan.training.reverse_lm import reverse_lm_score, task_language_model

METHOD1 = BleuConvention(smoothing="method1")
EVERY = [CURRENT, NLTK_32, METHOD1, BleuConvention(rule="nltk-3.2", smoothing="method1")]

A = [1, 2, 3, 4, 5, 6]
B = [1, 2, 3, 7, 8, 9]  # shares the unigrams 1 2 3, the bigrams 12 23 and the trigram 123 with A
C = [20, 21, 22, 23, 24]  # shares nothing with A or B
D = [30, 31, 32, 33, 34, 35, 36]


# -- forward and backward BLEU -------------------------------------------------------------


@pytest.mark.parametrize("convention", EVERY, ids=lambda c: f"{c.rule}-{c.smoothing}")
def test_samples_equal_to_the_test_set_score_one_both_ways(convention):
    # each sequence is among the references: every p_k = 1 and r* = |h|, so BP = 1
    test = [A, B, C, D]
    result = forward_backward_bleu(list(reversed(test)), test, 4, convention)
    assert result.forward.tolist() == [1.0] * 4 and result.backward.tolist() == [1.0] * 4
    assert result.means() == {"fwd_bleu4": 1.0, "bwd_bleu4": 1.0, "hm_bleu4": 1.0}


def test_a_strict_subset_has_forward_one_and_backward_below_one():
    test = [A, B, C]
    result = forward_backward_bleu([A, C], test, 2)
    assert result.forward.tolist() == [1.0, 1.0]
    # backward: A and C are among the samples (1); B against {A, C}: the closest
    # reference length is 6 = |B| so BP = 1, p_1 = 3/6 (1 2 3), p_2 = 2/5 (12, 23)
    b = math.sqrt(3 / 6 * 2 / 5)
    assert result.backward == pytest.approx([1.0, b, 1.0], abs=1e-12)
    assert result.backward_mean == pytest.approx((2 + b) / 3, abs=1e-12)
    assert result.harmonic == pytest.approx(
        2 * 1 * result.backward_mean / (1 + result.backward_mean), abs=1e-12
    )
    assert result.backward_mean < 1


@pytest.mark.parametrize(
    "convention, p4",
    [
        (CURRENT, sys.float_info.min),  # the floor
        (METHOD1, 0.1 / 3),  # epsilon / den_4, three 4-grams in B
        (NLTK_32, None),  # the sum stops before order 4, the weights stay 1/4
    ],
)
def test_backward_bleu4_of_a_partial_match_under_each_convention(convention, p4):
    # B against {A}: p = (3/6, 2/5, 1/4, 0) — trigrams of B: 123 matches, 237 378 789 do not
    logs = [math.log(3 / 6), math.log(2 / 5), math.log(1 / 4)]
    if p4 is not None:
        logs.append(math.log(p4))
    expected = math.exp(sum(logs) / 4)
    assert backward_bleu([A], [B], 4, convention)[0] == pytest.approx(expected, rel=1e-12)
    assert forward_bleu([B], [A], 4, convention)[0] == pytest.approx(expected, rel=1e-12)


def test_one_repeated_sequence_has_high_forward_and_low_backward_bleu():
    test = [A, C, D]
    collapsed = forward_backward_bleu([A] * 10, test, 3)
    diverse = forward_backward_bleu([A, C, D] * 3 + [A], test, 3)
    assert collapsed.forward_mean == 1.0  # A is a test sequence
    assert collapsed.backward.tolist() == [1.0, 0.0, 0.0]  # C, D share no unigram with A
    assert collapsed.backward_mean == pytest.approx(1 / 3)
    assert collapsed.harmonic == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))  # = 1/2
    assert diverse.forward_mean == diverse.backward_mean == diverse.harmonic == 1.0


def test_forward_bleu_is_the_projects_bleu_with_the_test_set_as_references():
    rng = np.random.default_rng(0)
    samples = [rng.integers(0, 6, rng.integers(3, 9)).tolist() for _ in range(40)]
    test = [rng.integers(0, 6, rng.integers(3, 9)).tolist() for _ in range(30)]
    for convention in EVERY + [BleuConvention(references=10, subset="random", subset_seed=2)]:
        for n in (2, 4):
            np.testing.assert_array_equal(
                forward_bleu(samples, test, n, convention), bleu(samples, test, n, convention)
            )
            np.testing.assert_array_equal(
                backward_bleu(samples, test, n, convention), bleu(test, samples, n, convention)
            )


def test_a_conventions_picks_apply_to_each_role():
    keep_first = BleuConvention(references=1)  # only the first reference counts
    result = forward_backward_bleu([A, C], [C, A], 2, keep_first)
    # forward: references {C} (the first test sequence); backward: references {A}
    assert result.forward.tolist() == [0.0, 1.0]
    assert result.backward.tolist() == [0.0, 1.0]
    keep_one_hyp = BleuConvention(hypotheses=1)
    result = forward_backward_bleu([A, C], [C, A], 2, keep_one_hyp)
    assert result.forward.tolist() == [1.0] and result.backward.tolist() == [1.0]


def test_harmonic_mean():
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(1.0, 0.0) == 0.0
    assert harmonic_mean(0.5, 0.5) == 0.5
    assert harmonic_mean(0.6, 0.2) == pytest.approx(2 * 0.6 * 0.2 / 0.8)
    with pytest.raises(ValueError):
        harmonic_mean(-0.1, 0.5)


def test_empty_sets_are_refused():
    with pytest.raises(ValueError, match="generated"):
        forward_backward_bleu([], [A], 2)
    with pytest.raises(ValueError, match="test"):
        backward_bleu([A], [], 2)


def test_signatures():
    args = (1639, 2000, "char")
    assert forward_bleu_signature(4, CURRENT, *args) == (
        "fwd_bleu4|rule=current|smooth=none|refs=test:1639|hyps=2000|tok=char"
    )
    assert forward_bleu_signature(4, CURRENT, *args) == "fwd_" + CURRENT.signature(
        "bleu", 4, "test", 1639, 2000, "char"
    )
    assert backward_bleu_signature(4, NLTK_32, *args) == (
        "bwd_bleu4|rule=nltk-3.2|smooth=none|refs=samples:2000|hyps=test:1639|tok=char"
    )
    assert harmonic_bleu_signature(4, CURRENT, *args) == (
        "hm_bleu4|rule=current|smooth=none|refs=test:1639+samples:2000"
        "|hyps=samples:2000+test:1639|tok=char"
    )
    word = (10000, 2000, "word")
    assert forward_bleu_signature(3, TEXYGEN, *word) == (
        "fwd_bleu3|rule=current|smooth=method1:0.1|refs=test:10000:first500|hyps=2000|tok=word"
    )
    assert backward_bleu_signature(3, TEXYGEN, *word) == (
        "bwd_bleu3|rule=current|smooth=method1:0.1|refs=samples:2000:first500"
        "|hyps=test:10000|tok=word"
    )
    assert harmonic_bleu_signature(3, TEXYGEN, *word, refs_label="train") == (
        "hm_bleu3|rule=current|smooth=method1:0.1|refs=train:10000:first500+samples:2000:first500"
        "|hyps=samples:2000+train:10000|tok=word"
    )
    with pytest.raises(ValueError):
        backward_bleu_signature(4, CURRENT, 10, 10, "a|b")
    result = forward_backward_bleu([A, C], [A, B, C], 2, NLTK_32, tok="ids", suffix="_nltk32")
    assert result.signatures == {
        "fwd_bleu2_nltk32": "fwd_bleu2|rule=nltk-3.2|smooth=none|refs=test:3|hyps=2|tok=ids",
        "bwd_bleu2_nltk32": "bwd_bleu2|rule=nltk-3.2|smooth=none|refs=samples:2|hyps=test:3"
        "|tok=ids",
        "hm_bleu2_nltk32": "hm_bleu2|rule=nltk-3.2|smooth=none|refs=test:3+samples:2"
        "|hyps=samples:2+test:3|tok=ids",
    }
    assert set(result.per_sequence()) == {"fwd_bleu2_nltk32", "bwd_bleu2_nltk32"}


# -- reverse-LM score ----------------------------------------------------------------------

V, T = 8, 12
SCHEDULE = dict(epochs=5, batch_size=32, lr=0.02)


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: fast on a busy machine (and bit-for-bit repeatable)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _chain(n: int, seed: int) -> torch.Tensor:
    """A simple structured distribution: y_t = y_{t-1} + 1 (mod V) with probability 0.9,
    else a uniform token."""
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(n, T, dtype=torch.long)
    token = torch.randint(0, V, (n,), generator=g)
    for t in range(T):
        keep = torch.rand(n, generator=g) < 0.9
        token = torch.where(keep, (token + 1) % V, torch.randint(0, V, (n,), generator=g))
        out[:, t] = token
    return out


def _lm() -> Generator:
    return Generator(V, 16, 32, T, start_token=0)


@pytest.fixture(scope="module")
def test_set() -> torch.Tensor:
    return _chain(256, seed=1)


def test_reverse_lm_ranks_data_like_samples_above_uniform_ones(test_set):
    uniform = torch.randint(0, V, (256, T), generator=torch.Generator().manual_seed(2))
    copy = reverse_lm_score(test_set.clone(), test_set, _lm, **SCHEDULE)
    fresh = reverse_lm_score(_chain(256, seed=3), test_set, _lm, **SCHEDULE)
    noise = reverse_lm_score(uniform, test_set, _lm, **SCHEDULE)
    assert noise.nll > 0.9 * math.log(V)  # a model of uniform tokens: about log V
    assert copy.nll < 0.5 * noise.nll and fresh.nll < 0.5 * noise.nll
    assert copy.tokens == 256 * T
    assert copy.nll == pytest.approx(copy.per_sequence.sum() / copy.tokens, rel=1e-9)
    assert len(copy.train_losses) == 5 and copy.train_losses[-1] < copy.train_losses[0]
    assert copy.signature == (
        "reverse_lm_nll|train=samples:256|refs=test:256|epochs=5"
        "|batch=32|lr=0.02|clip=5|seed=0|emb=16|hidden=32|tok=ids"
    )


def test_reverse_lm_is_deterministic_for_a_seed_and_leaves_the_rng_alone(test_set):
    samples = _chain(64, seed=4)
    schedule = dict(epochs=2, batch_size=32, lr=0.02)
    torch.manual_seed(11)
    before = torch.get_rng_state()
    first = reverse_lm_score(samples, test_set, _lm, seed=7, **schedule)
    assert torch.equal(torch.get_rng_state(), before)
    expected_next = torch.rand(3)
    torch.manual_seed(99)  # another caller state: the same result
    second = reverse_lm_score(samples, test_set, _lm, seed=7, **schedule)
    other = reverse_lm_score(samples, test_set, _lm, seed=8, **schedule)
    assert first.nll == second.nll and first.train_losses == second.train_losses
    np.testing.assert_array_equal(first.per_sequence, second.per_sequence)
    for p, q in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(p, q)
    assert other.nll != first.nll
    torch.manual_seed(11)
    reverse_lm_score(samples, test_set, _lm, seed=7, **schedule)
    assert torch.equal(torch.rand(3), expected_next)


def _text_rows(n: int, seed: int, eos: int, pad: int, fill: int | None = None) -> torch.Tensor:
    """Variable-length rows: counting tokens 1, 2, 3, ... then <eos>, then padding (``pad``,
    or uniform tokens when ``fill`` is set, to show they are never counted)."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.full((n, T), pad, dtype=torch.long)
    lengths = torch.randint(2, T, (n,), generator=g)
    starts = torch.randint(1, 4, (n,), generator=g)
    noise = torch.randint(1, fill or 2, (n, T), generator=torch.Generator().manual_seed(seed))
    for i, (length, start) in enumerate(zip(lengths.tolist(), starts.tolist())):
        rows[i, :length] = (torch.arange(length) + start) % 4 + 1  # tokens 1..4
        rows[i, length] = eos
        if fill is not None:
            rows[i, length + 1 :] = noise[i, length + 1 :]
    return rows


def test_reverse_lm_counts_the_tokens_up_to_eos_only():
    eos, pad = 5, 6
    task = Task(
        torch.empty(0, T, dtype=torch.long),
        _text_rows(64, 1, eos, pad),
        V,
        T,
        7,
        eos_token=eos,
        pad_token=pad,
        kind="text",
    )
    make = task_language_model(task, emb_dim=8, hidden_dim=16)
    samples = _text_rows(96, 2, eos, pad)
    padded = reverse_lm_score(samples, task.test, make, **SCHEDULE)
    lengths = [row.index(eos) + 1 for row in task.test.tolist()]
    assert padded.tokens == sum(lengths)
    assert padded.nll == pytest.approx(padded.per_sequence.sum() / sum(lengths), rel=1e-9)
    # whatever follows <eos> changes neither the training nor the score
    noisy_samples = _text_rows(96, 2, eos, pad, fill=V)
    noisy_test = _text_rows(64, 1, eos, pad, fill=V)
    assert not torch.equal(noisy_samples, samples) and not torch.equal(noisy_test, task.test)
    noisy = reverse_lm_score(noisy_samples, noisy_test, make, **SCHEDULE)
    assert noisy.tokens == padded.tokens
    assert noisy.nll == pytest.approx(padded.nll, rel=1e-6)
    assert noisy.train_losses == pytest.approx(padded.train_losses, rel=1e-6)


def test_reverse_lm_builds_the_tasks_generator_from_a_config(tiny_config):
    task = Task(torch.empty(0, T, dtype=torch.long), _chain(16, 1), V, T, 0)
    model = task_language_model(task, tiny_config)()
    assert (model.vocab_size, model.emb_dim, model.hidden_dim, model.max_len) == (V, 8, 8, T)
    with pytest.raises(ValueError):
        reverse_lm_score(task.test[:0], task.test, _lm)


# -- matched-diversity comparison ----------------------------------------------------------


def _line(slope, intercept, xs):
    xs = np.asarray(xs, dtype=float)
    return xs, slope * xs + intercept


def test_matched_difference_of_two_lines():
    x_a, y_a = _line(2.0, 1.0, [3, 0, 2, 1])  # unsorted on purpose
    x_b, y_b = _line(1.0, 0.0, [0.5, 4, 1.5, 3.5, 2.5])
    result = matched_difference((x_a, y_a), (x_b, y_b))
    np.testing.assert_allclose(result.x, [0.5, 1, 1.5, 2, 2.5, 3])  # both x's in [0.5, 3]
    np.testing.assert_allclose(result.quality_a, 2 * result.x + 1)
    np.testing.assert_allclose(result.quality_b, result.x)
    np.testing.assert_allclose(result.difference, result.x + 1)
    np.testing.assert_allclose(result.advantage, result.x + 1)
    lower = matched_difference((x_a, y_a), (x_b, y_b), higher_is_better=False)
    np.testing.assert_allclose(lower.advantage, -(lower.x + 1))
    np.testing.assert_allclose(lower.difference, lower.x + 1)
    grid = matched_difference((x_a, y_a), (x_b, y_b), at=6)
    np.testing.assert_allclose(grid.x, np.linspace(0.5, 3, 6))
    np.testing.assert_allclose(grid.difference, grid.x + 1)


def test_interpolation_is_piecewise_linear_and_never_extrapolates():
    x, y = [4.0, 0.0, 2.0], [0.0, 0.0, 2.0]  # a tent
    np.testing.assert_allclose(interpolate_curve(x, y, [0, 1, 2, 3, 4]), [0, 1, 2, 1, 0])
    assert np.isnan(interpolate_curve(x, y, [-0.1, 4.1])).all()
    np.testing.assert_allclose(interpolate_curve([1, 1, 3], [0, 2, 3], [1, 2]), [1, 2])  # ties
    a, b = _line(2.0, 1.0, [0, 3]), _line(1.0, 0.0, [0.5, 4])
    assert overlap(a[0], b[0]) == (0.5, 3.0)
    result = matched_difference(a, b, at=[-1, 0.5, 3, 3.5, 5])
    np.testing.assert_allclose(result.quality_b, [np.nan, 0.5, 3, 3.5, np.nan])
    np.testing.assert_allclose(result.quality_a, [np.nan, 2, 7, np.nan, np.nan])
    np.testing.assert_allclose(result.difference, [np.nan, 1.5, 4, np.nan, np.nan])
    apart = matched_difference(_line(1, 0, [0, 1]), _line(1, 0, [2, 3]))
    assert overlap([0, 1], [2, 3]) is None and apart.x.shape == apart.difference.shape == (0,)
    with pytest.raises(ValueError):
        matched_difference(([0, 1], [0]), ([0, 1], [0, 1]))
    with pytest.raises(ValueError):
        matched_difference(([0, np.nan], [0, 1]), ([0, 1], [0, 1]))


def _algorithm(rng, offset, centres, n, noise=0.5):
    """Per temperature: per-sample diversity x_i ~ N(centre, 0.3) and quality
    y_i = offset + 0.5 x_i + N(0, noise): at matched diversity A - B = offset_A - offset_B."""
    xs = [rng.normal(c, 0.3, n) for c in centres]
    ys = [offset + 0.5 * x + rng.normal(0, noise, n) for x in xs]
    return xs, ys


def test_bootstrap_interval_covers_the_true_difference_and_is_reproducible():
    rng = np.random.default_rng(0)
    a = _algorithm(rng, 1.0, [0.0, 0.5, 1.0, 1.5, 2.0], 300)
    b = _algorithm(rng, 0.8, [0.2, 0.8, 1.4, 2.2], 200)
    at = np.linspace(0.4, 1.8, 5)  # inside the overlap [0.2, 2.0] by far more than the noise
    state = np.random.get_state()
    result = bootstrap_matched_difference(*a, *b, at=at, resamples=400, seed=3)
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # global NumPy untouched
    assert result.x.shape == result.low.shape == result.high.shape == (5,)
    assert result.replicates.shape == (400, 5)
    assert (result.valid == 400).all()
    assert ((result.low < 0.2) & (result.high > 0.2)).all()
    assert (result.low > 0).all()  # 0.2 apart with these noise levels: clearly A > B
    again = bootstrap_matched_difference(*a, *b, at=at, resamples=400, seed=3)
    np.testing.assert_array_equal(again.replicates, result.replicates)
    np.testing.assert_array_equal(again.low, result.low)
    other = bootstrap_matched_difference(*a, *b, at=at, resamples=400, seed=4)
    assert not np.array_equal(other.replicates, result.replicates)
    np.testing.assert_array_equal(other.estimate, result.estimate)  # the data decide it
    # the overlap's own ends move with the resampled curves: not every resample has them
    edges = bootstrap_matched_difference(*a, *b, at=2, resamples=400, seed=3)
    assert 0 < edges.valid.min() < 400
    lower = bootstrap_matched_difference(
        *a, *b, at=at, resamples=400, seed=3, higher_is_better=False
    )
    np.testing.assert_allclose(lower.estimate, -result.estimate)
    np.testing.assert_allclose(lower.low, -result.high)


def test_bootstrap_coverage_is_near_nominal():
    covered = 0
    for trial in range(40):
        rng = np.random.default_rng(100 + trial)
        a = _algorithm(rng, 1.0, [0.0, 1.0, 2.0], 60)
        b = _algorithm(rng, 0.8, [0.5, 1.5, 2.5], 60)
        result = bootstrap_matched_difference(
            *a, *b, at=[1.2], resamples=200, confidence=0.9, seed=trial
        )
        covered += bool(result.low[0] <= 0.2 <= result.high[0])
    assert covered >= 30  # nominal 36 of 40


def test_bootstrap_with_fixed_diversity_points():
    rng = np.random.default_rng(1)
    quality_a = [rng.normal(1.0 + 0.5 * x, 0.2, 50) for x in (0.0, 1.0, 2.0)]
    quality_b = [rng.normal(0.5 * x, 0.2, 50) for x in (0.0, 2.0)]
    result = bootstrap_matched_difference(
        [0.0, 1.0, 2.0], quality_a, [0.0, 2.0], quality_b, resamples=100, seed=0
    )
    np.testing.assert_allclose(result.x, [0.0, 1.0, 2.0])
    assert (result.valid == 100).all()  # fixed x: every grid point in every resample
    assert (result.low <= result.estimate).all() and (result.estimate <= result.high).all()
    with pytest.raises(ValueError):
        bootstrap_matched_difference([0.0], [np.ones(3)], [0.0, 1.0], [np.ones(3)])
    with pytest.raises(ValueError):
        bootstrap_matched_difference([np.zeros(2)], [np.ones(3)], [0.0], [np.ones(3)])
