"""Posterior-collapse diagnostics of a recurrent VAE (``models.vae``) on a set of sequences.

* ``kl``: KL(q(z|x) || N(0, I)) per sequence, mean over the sequences (nats);
* ``kl_dim_max``: the largest per-dimension mean KL (nats): near 0 when every unit of z
  has collapsed onto the prior;
* ``active_units``: the number of units u with Cov_x(E_q[z_u]) = Var_x(mu_u(x)) > 0.01
  (Burda et al. 2016, "Importance Weighted Autoencoders", Section 5.2): units whose
  posterior mean moves with the input;
* ``recon_nll``: reconstruction NLL per token, -log p(x|z) at z ~ q(z|x) (nats), the
  other half of -ELBO = recon + KL; a decoder that ignores z has recon near its NLL.
"""

from __future__ import annotations

import torch

from seqgan.models.vae import LatentGenerator, gaussian_kl

ACTIVE_THRESHOLD = 0.01  # Burda et al. 2016


@torch.no_grad()
def posterior_diagnostics(generator: LatentGenerator, tokens: torch.Tensor,
                          chunk: int = 1024) -> dict[str, float]:
    """The four numbers above for ``tokens [n, T]`` (encoder dropout off)."""
    was_training = generator.training
    generator.eval()
    mus, kls, nll, count = [], [], 0.0, 0.0
    try:
        for part in tokens.split(chunk):
            logp, mu, sigma = generator.reconstruct(part)
            mus.append(mu)
            kls.append(gaussian_kl(mu, sigma))
            nll -= float(logp.double().sum())
            count += float(generator.token_mask(part).sum())
    finally:
        generator.train(was_training)
    mu, kl = torch.cat(mus), torch.cat(kls)
    variance = mu.var(dim=0, unbiased=False) if len(mu) > 1 else torch.zeros(mu.shape[1])
    return {"kl": float(kl.sum(1).mean()), "kl_dim_max": float(kl.mean(0).max()),
            "active_units": float((variance > ACTIVE_THRESHOLD).sum()),
            "recon_nll": nll / max(1.0, count)}
