"""SeqVAE_2's policy-gradient loss (Gao et al. 2021, Section 3.4, Eqs. 13-14).

For sequences ``y [n, T]`` decoded from z by p_theta, the decoder copy p_beta decodes the
same z m times; decoding i is teacher-forced with the first ``L_i = min(i * step, T)``
tokens of y and completes the rest (``num_rollouts`` times, averaged, as the authors' code
does), and the discriminator scores it: ``R[:, i-1] = d_phi(y^(i))`` (with L_m = T,
d_phi(y) itself).  That is ``rl.rollout.mc_search_q(..., lengths=prefix_lengths(...))``:
SeqGAN's batched MC search evaluated at the prefix lengths L_i only, skipping the
``step - 1`` of every ``step`` prefixes Eq. 14 does not use (the authors' melody setting
has step 16).  Eq. 14,

    grad J ~= 1/m sum_i d_phi(y^(i)) sum_{t=1}^{L_i} grad log p_theta(y_t | s_{t-1}),

sums over the teacher-forced part of decoding i (Eq. 13: "len is the length of the Teacher
Force used by decoding"), whose tokens are y's.  As a loss, averaged over the batch:

    loss = -mean_b 1/m sum_i R[b, i] * sum_{t <= L_i} log p_theta(y[b, t] | ...)

i.e. each log p_t is weighted by the sum of the rewards of the decodings that force it.
"""

from __future__ import annotations

import torch


def prefix_lengths(seq_len: int, step: int, decodings: int = 0) -> torch.Tensor:
    """``L_i = min(i * step, T)`` for i = 1..m, ``[m]`` long; m = ``decodings``, or all
    ``(T - 1) // step + 1`` of them (the last one the whole sequence) when 0."""
    if step < 1:
        raise ValueError(f"need step >= 1; got step {step}")
    most = (seq_len - 1) // step + 1
    if not 0 <= decodings <= most:
        raise ValueError(
            f"need step >= 1 and 0 <= decodings <= {most} at T = {seq_len}, "
            f"step = {step}; got step {step}, decodings {decodings}"
        )
    m = decodings or most
    return (torch.arange(1, m + 1) * step).clamp(max=seq_len)


def decoding_loss(
    log_probs: torch.Tensor, rewards: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Scalar loss of Eq. 14 from ``log_probs [n, T]`` (with grad), ``rewards [n, m]`` (held
    constant) and the prefix ``lengths [m]``."""
    if rewards.shape != (log_probs.shape[0], len(lengths)):
        raise ValueError(
            f"rewards {tuple(rewards.shape)} do not fit {log_probs.shape[0]} "
            f"sequences x {len(lengths)} decodings"
        )
    prefix_sums = log_probs.cumsum(dim=1)[:, lengths - 1]  # [n, m]: sum_{t <= L_i} log p_t
    return -(rewards.detach() * prefix_sums).mean(dim=1).mean()
