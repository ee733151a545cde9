"""Action-value estimators: the weights Q[n, T] of the policy-gradient loss (Eq. 8 of
SeqGAN, ``rl.policy_gradient``) for sampled sequences ``Y [n, T]``.

With R = reward(Y) ``[n]`` (the terminal reward, e.g. D(Y)) and log π_t = log G(y_t|Y_<t):

* ``mc_search`` (SeqGAN, default): Q_t by Monte Carlo search with the roll-out policy
  (Eq. 4, ``rl.rollout.mc_search_q``); Q_T = R.
* ``ordinary`` (REINFORCE, Bjare & Meredith Eq. 1): the reward is terminal only, so the
  return from every step is R:  Q_t = R.
* ``baseline`` (REINFORCE with the mean-reward baseline): Q_t = R − mean_batch(R), an
  advantage that can be negative.
* ``merl`` (maximum-entropy REINFORCE, Eq. 2, with the baseline as in the paper's runs):
  Q_t = (R − mean_batch(R)) + Σ_{t'=t}^{T} (−α log π_{t'} − 1), with α the temperature
  and log π taken as constants (no gradient through the return).

Each returns ``(Q [n, T], R [n])``.
"""

from __future__ import annotations

import torch

from seqgan.models.generator import Generator
from seqgan.rl.rollout import Reward, mc_search_q

ESTIMATORS = ("mc_search", "ordinary", "baseline", "merl")


def terminal_returns(rewards: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``ordinary``: every step's return is the terminal reward; ``[n, T]``."""
    return rewards.unsqueeze(1).expand(-1, seq_len).clone()


def baseline_returns(rewards: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``baseline``: terminal reward minus the batch-mean reward; ``[n, T]``."""
    return terminal_returns(rewards - rewards.mean(), seq_len)


def merl_returns(
    rewards: torch.Tensor, log_probs: torch.Tensor, alpha: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """``merl``: baseline return plus the reverse cumulative sum of −α log π − 1; ``[n, T]``.
    ``mask [n, T]`` (1 = a chosen token) leaves the padding after ``<eos>`` out of the sum."""
    step = -alpha * log_probs.detach() - 1.0
    if mask is not None:
        step = step * mask
    to_go = step.flip(1).cumsum(1).flip(1)  # sum over t' >= t
    return baseline_returns(rewards, log_probs.shape[1]) + to_go


def action_values(
    kind: str,
    samples: torch.Tensor,
    log_probs: torch.Tensor,
    reward: Reward,
    rollout: Generator | None = None,
    num_rollouts: int = 16,
    alpha: float = 1.0,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Q ``[n, T]`` and the terminal rewards ``[n]`` of ``samples`` for estimator ``kind``;
    ``mask [n, T]`` (variable length) zeroes Q on the padding after ``<eos>``."""
    q, rewards = _action_values(
        kind, samples, log_probs, reward, rollout, num_rollouts, alpha, mask
    )
    return (q if mask is None else q * mask), rewards


def _action_values(kind, samples, log_probs, reward, rollout, num_rollouts, alpha, mask):
    if kind == "mc_search":
        q = mc_search_q(rollout, samples, reward, num_rollouts)
        return q, q[:, -1]
    rewards = reward(samples).to(log_probs.dtype)
    seq_len = samples.shape[1]
    if kind == "ordinary":
        return terminal_returns(rewards, seq_len), rewards
    if kind == "baseline":
        return baseline_returns(rewards, seq_len), rewards
    if kind == "merl":
        return merl_returns(rewards, log_probs, alpha, mask), rewards
    raise ValueError(f"unknown estimator {kind!r}; choose from {', '.join(ESTIMATORS)}")
