"""Negative log-likelihood metrics.

* NLL-oracle (SeqGAN Eq. 13): ``-E_{Y ~ G_theta} sum_{t=1}^T log G_oracle(y_t | Y_{1:t-1})``.
  Estimated on ``n`` fresh samples of G_theta and reported **per token** (divided by T,
  nats), as the reference code's ``target_loss``; the ``n`` per-sequence sums are kept for
  significance tests.
* NLL-test: the same sum with the roles exchanged, ``-log G_theta(Y)`` for held-out data Y,
  reported per token: the corpus sum over the number of tokens (``per_token_nll``).  With
  variable-length text a sequence's tokens are those up to and including ``<eos>``.
* NLL-test at temperature tau (``temperature``): the same for the tempered model
  softmax(logits / tau) that ``Sampling(temperature=tau)`` samples; 1 is the model itself
  (the same computation as without the argument).  Top-k / top-p have no such NLL: a
  held-out token outside the kept set has probability 0 (NLL infinite).
"""

from __future__ import annotations

from typing import Any

import torch

from seqgan.models.generator import Generator
from seqgan.models.pass_rows import nll_rows
from seqgan.runtime.device import wide_float


@torch.no_grad()
def sequence_nll(
    model: Generator, tokens: torch.Tensor, batch_size: int = 0, temperature: float = 1.0
) -> torch.Tensor:
    """Per-sequence NLL ``-sum_t log p_model(y_t | Y_{1:t-1})`` in nats, ``[n]`` float64
    (float32 on ``mps``),
    ``batch_size`` rows at a time (0: chosen for the device, ``models.pass_rows``).

    With ``model`` the oracle and ``tokens`` sampled from G_theta this is the summand of
    NLL-oracle (Eq. 13); with ``model`` = G_theta and held-out data it is NLL-test.
    ``temperature`` tau: under p_model tempered, softmax(logits / tau) (``log_prob``).
    """
    extra: dict[str, Any] = {} if temperature == 1.0 else {"temperature": temperature}
    batch_size = nll_rows(model, tokens.shape[-1], batch_size)
    was_training = model.training
    model.eval()
    try:
        parts = [
            -model.log_prob(chunk, **extra).to(wide_float(chunk.device)).sum(dim=1)
            for chunk in tokens.split(batch_size)
        ]
    finally:
        model.train(was_training)
    return (
        torch.cat(parts)
        if parts
        else torch.empty(0, dtype=wide_float(tokens.device), device=tokens.device)
    )


@torch.no_grad()
def per_token_nll(model: Generator, tokens: torch.Tensor, temperature: float = 1.0) -> float:
    """Corpus NLL per token (nats): the sum of ``sequence_nll`` over the sum of sequence
    lengths, a length counting the tokens up to and including ``<eos>`` (T at fixed length).
    ``temperature`` tau: the NLL of the tempered model softmax(logits / tau) (1: the
    model's own, computed as without the argument).  Only the temperature: under top-k /
    top-p a held-out token outside the kept set has probability 0 and the NLL is infinite."""
    total = float(sequence_nll(model, tokens, temperature=temperature).sum())
    return total / max(1.0, float(model.token_mask(tokens).sum()))
