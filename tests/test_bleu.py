"""BLEU and Self-BLEU equal nltk's sentence_bleu (to 1e-9) on randomized inputs."""

import random
import warnings

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan.metrics.bleu import ReferenceTables, bleu, self_bleu


def _nltk(references, hypothesis, n, smoothing):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns on zero counts without smoothing
        return sentence_bleu(references, hypothesis, weights=tuple([1.0 / n] * n),
                             smoothing_function=SmoothingFunction().method1 if smoothing
                             else None)


def _corpus(rng, count, vocab, lengths):
    return [[rng.randrange(vocab) for _ in range(rng.choice(lengths))] for _ in range(count)]


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("smoothing", [False, True])
def test_bleu_equals_nltk(n, smoothing):
    rng = random.Random(n * 10 + smoothing)
    references = _corpus(rng, 60, 6, range(1, 12))
    hypotheses = _corpus(rng, 40, 6, range(0, 14))  # includes empty and short hypotheses
    hypotheses += [max(references, key=len)[:], [99, 98, 97], [99]]  # a copy; no overlap
    ours = bleu(hypotheses, references, n=n, smoothing=smoothing)
    theirs = [_nltk(references, h, n, smoothing) for h in hypotheses]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert ours[-3] == pytest.approx(1.0) and ours[-2] == 0.0 and ours[-1] == 0.0


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("smoothing", [False, True])
def test_self_bleu_equals_nltk_against_the_other_samples(n, smoothing):
    rng = random.Random(7 + n)
    samples = _corpus(rng, 30, 5, range(2, 9))
    samples.append(samples[0][:])  # a duplicate: its twin is still another sample
    ours = self_bleu(samples, n=n, smoothing=smoothing)
    theirs = [_nltk(samples[:i] + samples[i + 1:], s, n, smoothing)
              for i, s in enumerate(samples)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_self_bleu_never_scores_a_sample_against_itself():
    samples = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]  # no n-gram shared
    assert np.all(self_bleu(samples, n=2) == 0.0)  # against itself each would score 1
    assert np.all(bleu(samples, samples, n=2) == pytest.approx(1.0))


def test_tables_are_reusable_and_accept_tensors():
    import torch
    refs = torch.randint(0, 4, (50, 7))
    hyps = torch.randint(0, 4, (10, 7))
    tables = ReferenceTables(refs.tolist(), 4)
    np.testing.assert_array_equal(bleu(hyps, None, n=3, tables=tables), bleu(hyps, refs, n=3))
