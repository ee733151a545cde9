"""Policy-gradient loss of SeqGAN (Eqs. 6-8).

For sampled sequences ``Y [n, T]`` with per-token log-probabilities ``log G(y_t|Y_{1:t-1})``
and action values ``Q [n, T]`` (held constant), the estimate of ``-grad J`` (Eq. 7) is the
gradient of

    loss = mean_b [ -(1/T) sum_t log G(y_t | Y_{1:t-1}) * Q(Y_{1:t-1}, y_t) ].
"""

from __future__ import annotations

import torch


def policy_gradient_loss(log_probs: torch.Tensor, q_values: torch.Tensor) -> torch.Tensor:
    """Scalar loss from ``log_probs [n, T]`` (with grad) and ``q_values [n, T]`` (no grad)."""
    if log_probs.shape != q_values.shape:
        raise ValueError(
            f"log_probs {tuple(log_probs.shape)} and q_values "
            f"{tuple(q_values.shape)} differ in shape"
        )
    return -(log_probs * q_values.detach()).mean(dim=1).mean()
