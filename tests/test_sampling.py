import torch
from scipy.stats import chisquare

from seqgan.rl.sampling import sample_from_logits


def test_inverse_cdf_matches_the_categorical_distribution():
    probs = torch.tensor([0.05, 0.0, 0.4, 0.15, 0.3, 0.1])
    logits = torch.log(probs).expand(200_000, -1)
    tokens = sample_from_logits(logits, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(tokens, minlength=6)
    assert counts[1] == 0  # zero-probability class never drawn
    keep = probs > 0
    expected = probs[keep].double() / probs[keep].double().sum() * len(tokens)
    result = chisquare(counts[keep].double().numpy(), expected.numpy())
    assert result.pvalue > 1e-3, result


def test_same_uniforms_same_tokens_and_edges():
    logits = torch.randn(4, 10)
    u = torch.tensor([0.0, 0.5, 0.999999, 0.25])
    a, b = sample_from_logits(logits, u), sample_from_logits(logits, u.clone())
    assert torch.equal(a, b)
    assert a.dtype == torch.long and int(a.min()) >= 0 and int(a.max()) <= 9
    cdf = torch.softmax(logits, -1).cumsum(-1)
    for row in range(4):  # smallest k with u * F_V < F_k
        k = int(a[row])
        assert u[row] * cdf[row, -1] < cdf[row, k]
        assert k == 0 or u[row] * cdf[row, -1] >= cdf[row, k - 1]
