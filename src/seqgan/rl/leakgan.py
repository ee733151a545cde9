"""LeakGAN's rewards and losses (Guo et al. 2018), on ``models.leakgan`` quantities.

* ``rescaled_activation``: the bootstrapped rescaled activation of the rewards, per time
  step over the batch of B sequences: r_hat_i = sigmoid(delta (0.5 - rank(i) / B)),
  rank 1 the highest reward (ties: the earlier row ranks higher).
* ``block_q``: Q at the ends of the manager's blocks, prefix lengths c, 2c, ... (and T),
  by MC search: the mean D of ``num_rollouts`` completions by the generator itself.
* ``manager_loss``: -mean over rows and blocks of Q_hat * d_cos(f_{t+c} - f_t, g_t) at the
  block starts t = 0, c, 2c, ... (f index clamped to T); with Q_hat = 1 it is the
  manager's pre-training loss on real data.
* ``intrinsic_rewards``: r^I_t = (1/c) sum_{i=1..c, i <= t} d_cos(f_t - f_{t-i}, g_{t-i}),
  the worker's reward for the token y_t (t = 1..T), held constant.
* ``worker_loss``: -mean_{rows, t} r^I_t log pi(y_t | s_{t-1}) (REINFORCE on r^I).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def rescaled_activation(rewards: torch.Tensor, delta: float = 16.0) -> torch.Tensor:
    """``[B, m]`` rewards -> the same shape, each column replaced by
    sigmoid(delta * (0.5 - rank / B)) of its rows' ranks (1 = highest)."""
    batch = rewards.shape[0]
    order = torch.sort(rewards, dim=0, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(
        0, order, torch.arange(1, batch + 1, device=rewards.device).unsqueeze(1).expand_as(order)
    )
    return torch.sigmoid(delta * (0.5 - ranks.to(rewards.dtype) / batch))


def block_lengths(seq_len: int, step: int) -> list[int]:
    """Prefix lengths at the ends of the manager's blocks: c, 2c, ..., and T."""
    ends = list(range(step, seq_len, step))
    return ends + [seq_len]


@torch.no_grad()
def block_q(generator, tokens: torch.Tensor, reward, num_rollouts: int) -> torch.Tensor:
    """``[n, m]``: for each block end L (``block_lengths``) the mean reward of
    ``num_rollouts`` completions of ``tokens[:, :L]`` by ``generator`` (L = T: the
    reward of ``tokens`` itself).  The prefixes are read once (``generator.walks``): the
    completions of each continue from their prefix's state."""
    n, length = tokens.shape
    ends = block_lengths(length, generator.step_size)
    walks = generator.walks(tokens, [end for end in ends if end < length])
    columns = []
    for end, walk in zip(ends, [*walks, None]):
        if walk is None:
            columns.append(reward(tokens))
            continue
        prefix = tokens[:, :end].repeat(num_rollouts, 1)
        completed = generator.continue_from(prefix, walk=walk.repeat(num_rollouts))
        columns.append(reward(completed).view(num_rollouts, n).mean(0))
    return torch.stack(columns, dim=1)


def manager_loss(
    features: torch.Tensor, goals: torch.Tensor, step: int, q: torch.Tensor | None = None
) -> torch.Tensor:
    """``features [n, T+1, F]`` (constant), ``goals [n, T, F]`` (with grad), ``q [n, m]``
    (one column per block; None: 1) -> scalar loss."""
    length = goals.shape[1]
    starts = torch.arange(0, length, step, device=goals.device)
    ahead = (starts + step).clamp(max=length)
    direction = features[:, ahead] - features[:, starts]
    cosine = F.cosine_similarity(direction.detach(), goals[:, starts], dim=-1)  # [n, m]
    weight = 1.0 if q is None else q.detach()
    return -(weight * cosine).mean()


@torch.no_grad()
def intrinsic_rewards(features: torch.Tensor, goals: torch.Tensor, step: int) -> torch.Tensor:
    """``[n, T]``: r^I_t for t = 1..T (column t-1), from ``features [n, T+1, F]`` and
    ``goals [n, T, F]``."""
    n, length, _ = goals.shape
    out = torch.zeros(n, length, device=goals.device)
    for i in range(1, step + 1):
        t = torch.arange(i, length + 1, device=goals.device)  # t - i >= 0
        cosine = F.cosine_similarity(features[:, t] - features[:, t - i], goals[:, t - i], dim=-1)
        out[:, t - 1] += cosine / step
    return out


def worker_loss(log_probs: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """-mean r^I_t log pi(y_t | s_{t-1}) from ``log_probs [n, T]`` and ``rewards [n, T]``."""
    return -(log_probs * rewards.detach()).mean()
