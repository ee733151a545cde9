"""RelGAN's adversarial losses and inverse-temperature schedules (Nie et al. 2019;
docs/algorithms/relgan.md).

* ``LOSSES``: name -> ``(d_loss, g_loss)`` of the discriminator's logits on real data
  ``r`` and on generated data ``f`` (equal shapes, ``[n, S]``: one logit per sequence and
  representation; real row i is paired with generated row i where a loss pairs them).
  Every mean is over all n S logits.  With softplus(z) = log(1 + e^z) = -log sigmoid(-z):

  ============  ==========================================  =================================
  name          d_loss                                      g_loss
  ============  ==========================================  =================================
  rsgan         mean softplus(-(r - f))                     mean softplus(-(f - r))
  standard      mean softplus(-r) + mean softplus(f)        mean softplus(-f)  (non-saturating)
  vanilla       as standard                                 -mean softplus(f)  (minimax)
  kl            as standard                                 -mean f
  rasgan        mean softplus(-(r - mean f))                mean softplus(-(f - mean r))
                + mean softplus(f - mean r)                 + mean softplus(r - mean f)
  hinge         mean relu(1 - r) + mean relu(1 + f)         -mean f
  tv            mean tanh(f) - mean tanh(r)                 -mean tanh(f)
  lsgan         mean (r - 1)^2 + mean f^2                   mean (f - 1)^2
  wgan-gp       mean f - mean r (+ the gradient penalty)    -mean f
  ============  ==========================================  =================================

  rsgan is the paper's (the relativistic standard GAN of Jolicoeur-Martineau 2018);
  standard, vanilla ("JS"), kl, hinge, tv, lsgan ("LS") and wgan-gp are the authors' code's
  other choices, rasgan (relativistic average) the relativistic paper's.
* ``gradient_penalty``: lambda mean_i (||grad_x sum D(x_i)|| - 1)^2 at x_i = a_i real_i +
  (1 - a_i) fake_i, a_i ~ U[0, 1) per sequence (WGAN-GP, Gulrajani et al. 2017).
* ``inverse_temperature``: beta_i of the Gumbel-softmax at adversarial step i = 0, 1, ...
  of N (``SCHEDULES``, the authors' ``get_fixed_temperature``):

      constant  beta_max
      linear    1 + (beta_max - 1) i / (N - 1)
      exp       beta_max^(i / N)                   (the paper's Eq. 5)
      log       1 + (beta_max - 1) log(i + 1) / log N
      sigmoid   1 + (beta_max - 1) / (1 + exp(20 (N / 2 - i) / N))
      quad      1 + (beta_max - 1) i^2 / (N - 1)^2
      sqrt      1 + (beta_max - 1) sqrt(i / (N - 1))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.nn import functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _standard_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def rsgan(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return F.softplus(fake - real).mean(), F.softplus(real - fake).mean()


def rasgan(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    def relative(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.softplus(-(a - b.mean())).mean() + F.softplus(b - a.mean()).mean()

    return relative(real, fake), relative(fake, real)


LOSSES: dict[str, Loss] = {
    "rsgan": rsgan,
    "standard": lambda r, f: (_standard_d(r, f), F.softplus(-f).mean()),
    "vanilla": lambda r, f: (_standard_d(r, f), -F.softplus(f).mean()),
    "kl": lambda r, f: (_standard_d(r, f), -f.mean()),
    "rasgan": rasgan,
    "hinge": lambda r, f: (F.relu(1 - r).mean() + F.relu(1 + f).mean(), -f.mean()),
    "tv": lambda r, f: (torch.tanh(f).mean() - torch.tanh(r).mean(), -torch.tanh(f).mean()),
    "lsgan": lambda r, f: ((r - 1).square().mean() + f.square().mean(), (f - 1).square().mean()),
    "wgan-gp": lambda r, f: (f.mean() - r.mean(), -f.mean()),
}


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float,
) -> torch.Tensor:
    """WGAN-GP's penalty for one-hots ``real`` and relaxed one-hots ``fake`` ``[n, T, V]``
    (module docstring); ``a`` drawn from torch's global generator."""
    mix = torch.rand(len(real), 1, 1, device=real.device, dtype=real.dtype)
    between = (mix * real + (1 - mix) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(between).sum(), between, create_graph=True)
    return weight * (grad.flatten(1).norm(dim=1) - 1).square().mean()


def _linear(i: int, n: int, top: float) -> float:
    return 1 + (top - 1) * i / (n - 1) if n > 1 else top


SCHEDULES: dict[str, Callable[[int, int, float], float]] = {
    "constant": lambda i, n, top: top,
    "linear": _linear,
    "exp": lambda i, n, top: top ** (i / n),
    "log": lambda i, n, top: 1 + (top - 1) * math.log(i + 1) / math.log(n) if n > 1 else top,
    "sigmoid": lambda i, n, top: 1 + (top - 1) / (1 + math.exp(20 * (n / 2 - i) / n)),
    "quad": lambda i, n, top: 1 + (top - 1) * (i / (n - 1)) ** 2 if n > 1 else top,
    "sqrt": lambda i, n, top: 1 + (top - 1) * math.sqrt(i / (n - 1)) if n > 1 else top,
}


def inverse_temperature(schedule: str, step: int, steps: int, beta_max: float) -> float:
    """beta at adversarial step ``step`` (0-based) of ``steps`` under ``schedule``."""
    return float(SCHEDULES[schedule](step, steps, beta_max))
