"""MaliGAN's generator objective (Che et al. 2017): normalised importance weights.

With the discriminator's D(Y) = P(Y is real), r_D(Y) = D(Y) / (1 - D(Y)) estimates
p_data(Y) / p_theta(Y) (exact at the optimal D), so for m samples Y_i ~ p_theta the
self-normalised weights

    w_i = r_D(Y_i) / sum_j r_D(Y_j) - b

re-weight the samples towards the data distribution, and the generator follows
sum_i w_i grad log p_theta(Y_i) (the paper's Algorithm 1; b a baseline).  Since D is
the sigmoid of its log-odds z = logit_real - logit_fake, r_D = exp(z) and the normalised
ratio is a softmax of z over the samples: computed that way, it is exact however close
D comes to 1 (where D / (1 - D) overflows).

Weights ``[n, T]``: one per sampled token.  The sequence variant gives every token of
Y_i the weight of Y_i; the MC-search variant (``ratios [n, T]``, the mean ratio of the
roll-outs of each prefix) normalises each time step over the samples.  ``groups``: the
samples are normalised within consecutive groups of equal size (the mixed-MLE variant
normalises the completions of one data prefix among themselves).
"""

from __future__ import annotations

import torch

# log-odds beyond this are clamped when ratios are averaged over roll-outs (exp(80) is
# finite in float32); a normalised ratio of one sequence uses the exact softmax instead
MAX_LOG_ODDS = 80.0


def ratio_scores(log_odds: torch.Tensor, weight: str = "ratio") -> torch.Tensor:
    """The unnormalised weight of each sequence from D's log-odds ``[m]``: r_D = exp(z)
    (``"ratio"``) or D = sigmoid(z) itself (``"probability"``, Texygen's reward)."""
    if weight == "ratio":
        return torch.exp(log_odds.clamp(-MAX_LOG_ODDS, MAX_LOG_ODDS))
    if weight == "probability":
        return torch.sigmoid(log_odds)
    raise ValueError(f"unknown MaliGAN weight {weight!r}; choose ratio or probability")


def normalised_weights(
    scores: torch.Tensor, groups: int = 1, baseline: str = "mean", log_space: bool = False
) -> torch.Tensor:
    """``scores / sum over the group - b`` along dim 0 of ``scores [n]`` or ``[n, T]``.

    ``groups`` consecutive groups of ``n / groups`` rows are normalised separately;
    ``baseline`` ``"mean"`` subtracts b = 1 / (group size) (the mean of a group's
    normalised weights, so each group's weights then sum to 0), ``"none"`` b = 0.
    ``log_space``: ``scores`` are log r_D (D's log-odds), normalised by a softmax (exact).
    """
    n = scores.shape[0]
    if groups < 1 or n % groups:
        raise ValueError(f"{n} samples do not split into {groups} equal groups")
    grouped = scores.reshape(groups, n // groups, *scores.shape[1:])
    if log_space:
        weights = torch.softmax(grouped, dim=1)
    else:
        weights = grouped / grouped.sum(dim=1, keepdim=True)
    if baseline == "mean":
        weights = weights - 1.0 / grouped.shape[1]
    elif baseline != "none":
        raise ValueError(f"unknown MaliGAN baseline {baseline!r}; choose mean or none")
    return weights.reshape(scores.shape)


def weighted_likelihood_loss(
    log_probs: torch.Tensor, weights: torch.Tensor, groups: int = 1
) -> torch.Tensor:
    """Scalar loss ``-(1/G) sum_i sum_t w[i, t] log p_theta(y_t | Y_<t) / T`` from
    ``log_probs [n, T]`` (with grad) and ``weights [n, T]`` (held constant; 0 where a
    token is not trained by it), G = ``groups``: the gradient is the paper's
    sum_i w_i grad log p_theta(Y_i), per token (1/T, as SeqGAN's Eq. 7 page) and per group
    of normalised samples."""
    if log_probs.shape != weights.shape:
        raise ValueError(
            f"log_probs {tuple(log_probs.shape)} and weights {tuple(weights.shape)} differ in shape"
        )
    return -(log_probs * weights.detach()).mean(dim=1).sum() / groups


def data_tokens(epoch: int, seq_len: int, start: int, step: int, every: int) -> int:
    """N of the mixed-MLE schedule in adversarial epoch ``epoch`` (1-based): ``start``
    (0 = T), falling by ``step`` every ``every`` epochs, at least 0."""
    first = start or seq_len
    return max(0, min(seq_len, first) - step * ((epoch - 1) // every))
