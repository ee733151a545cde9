"""Posterior-collapse diagnostics of a recurrent VAE (``models.vae``) on a set of sequences.

* ``kl``: KL(q(z|x) || N(0, I)) per sequence, mean over the sequences (nats);
* ``kl_dim_max``: the largest per-dimension mean KL (nats): near 0 when every unit of z
  has collapsed onto the prior;
* ``active_units``: the number of units u with Cov_x(E_q[z_u]) = Var_x(mu_u(x)) > 0.01
  (Burda et al. 2016, "Importance Weighted Autoencoders", Section 5.2): units whose
  posterior mean moves with the input;
* ``recon_nll``: reconstruction NLL per token, -log p(x|z) at z ~ q(z|x) (nats), the
  other half of -ELBO = recon + KL; a decoder that ignores z has recon near its NLL.

``posterior_diagnostics(..., per_dimension=True)`` also returns ``kl_per_dimension``, the
mean KL of each unit of z ``[Z]`` (nats): a run writes it at its end
(``samples/kl_per_dimension.npy`` and ``figures/posterior.png``).

The sequences: the held-out set, or the first ``eval.num_samples`` training sequences when
there is none (``diagnostic_sequences``).
"""

from __future__ import annotations

import torch

from seqgan.data.task import Task
from seqgan.models.pass_rows import nll_rows
from seqgan.models.vae import LatentGenerator, gaussian_kl
from seqgan.runtime.device import wide_float

ACTIVE_THRESHOLD = 0.01  # Burda et al. 2016


def diagnostic_sequences(task: Task, limit: int) -> torch.Tensor:
    """The sequences of the diagnostics: the test set, else the first ``limit`` training
    sequences."""
    return task.test if len(task.test) else task.train[:limit]


@torch.no_grad()
def posterior_diagnostics(
    generator: LatentGenerator, tokens: torch.Tensor, chunk: int = 0, per_dimension: bool = False
) -> dict:
    """The four numbers above for ``tokens [n, T]`` (encoder dropout off), ``chunk`` rows
    at a time (0: as NLL scoring, ``models.pass_rows.nll_rows``), and with
    ``per_dimension`` the list ``kl_per_dimension`` (``[Z]``, nats)."""
    chunk = nll_rows(generator, tokens.shape[-1], chunk)
    was_training = generator.training
    generator.eval()
    mus, kls, nll, count = [], [], 0.0, 0.0
    try:
        for part in tokens.split(chunk):
            logp, mu, sigma = generator.reconstruct(part)
            mus.append(mu)
            kls.append(gaussian_kl(mu, sigma))
            nll -= float(logp.to(wide_float(logp.device)).sum())
            count += float(generator.token_mask(part).sum())
    finally:
        generator.train(was_training)
    mu, kl = torch.cat(mus), torch.cat(kls)
    variance = (
        mu.var(dim=0, unbiased=False) if len(mu) > 1 else torch.zeros(mu.shape[1], device=mu.device)
    )
    per_dim = kl.mean(0)
    out: dict[str, float | list[float]] = {
        "kl": float(kl.sum(1).mean()),
        "kl_dim_max": float(per_dim.max()),
        "active_units": float((variance > ACTIVE_THRESHOLD).sum()),
        "recon_nll": nll / max(1.0, count),
    }
    if per_dimension:
        out["kl_per_dimension"] = per_dim.tolist()
    return out
