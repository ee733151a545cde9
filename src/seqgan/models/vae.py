"""The recurrent VAE of SeqVAE (Gao et al. 2021, Section 3.1): encoder q_lambda(z|x) and
decoder p_theta(x|z).

* ``Encoder``: token embedding, a 2-layer bidirectional LSTM with a residual connection
  between the layers (``out_2 = BiLSTM_2(out_1) + out_1``), then from the summary
  ``[forward output at the last token, backward output at the first]`` two linear heads:
  mu and sigma = softplus(.) of a diagonal Gaussian over z.
* ``LatentGenerator``: the core ``Generator`` (so ``<eos>``/``<pad>`` handling, MC search
  and every metric work unchanged) whose initial LSTM state ``(h_0, c_0)`` is a linear map
  of z, with the encoder attached (the decoder copy p_beta is a copy of the whole module,
  built and blended by ``training.parts.rollout_copy`` / ``rl.rollout.update_rollout_policy``;
  its encoder is never used).
  Without a given z it draws z ~ N(0, I): ``sample(n)`` samples from the prior, which is
  what evaluation (NLL-oracle), the discriminator's negatives and ``generate`` use.
  ``log_prob(tokens)`` without a state returns the per-token terms of a one-sample ELBO,
  so NLL-test of a VAE is -ELBO per token, an upper bound on its NLL (see ``log_prob``).
* ``Conditioned``: a decoder with z fixed, exposing the two methods MC search calls
  (``prefix_states``, ``continue_from``), so ``rl.rollout.mc_search_q`` completes prefixes
  of a sequence decoded from z with the same z.

Shapes: tokens ``[n, T]``; mu, sigma, z ``[n, Z]``; states ``(h, c)`` each ``[n, H]``;
KL in nats.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqgan.models.generator import Generator, State
from seqgan.models.sampling import Sampling

SIGMA_FLOOR = 1e-6  # sigma = softplus(.) + this, so log sigma (in the KL) stays finite


def gaussian_kl(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per dimension, ``[n, Z]`` (nats):
    ``(mu^2 + sigma^2 - 1) / 2 - log sigma``."""
    return 0.5 * (mu.square() + sigma.square() - 1.0) - sigma.log()


class Encoder(nn.Module):
    """q_lambda(z|x).

    Args:
        vocab_size: V.
        emb_dim: token embedding size.
        hidden_dim: LSTM size per direction (both layers; the residual needs them equal).
        latent_dim: Z.
        dropout: drop probability of each layer's inputs during training.
    """

    def __init__(
        self, vocab_size: int, emb_dim: int, hidden_dim: int, latent_dim: int, dropout: float = 0.0
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.layer1 = nn.LSTM(emb_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.layer2 = nn.LSTM(2 * hidden_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.mu = nn.Linear(2 * hidden_dim, latent_dim)
        self.sigma = nn.Linear(2 * hidden_dim, latent_dim)
        self.hidden_dim = hidden_dim
        with torch.no_grad():  # the authors' initialisation (INotWant/seqvae, encoder)
            nn.init.normal_(self.embedding.weight, 0.0, 0.1)
            for head in (self.mu, self.sigma):
                nn.init.normal_(head.weight, 0.0, 0.001)
                head.bias.zero_()

    @staticmethod
    def _run(lstm: nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Outputs ``[n, T, 2H]`` of ``lstm`` over the first ``lengths`` steps (0 after)."""
        packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        out, _ = lstm(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=inputs.shape[1])[0]

    def layers(
        self, tokens: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(out_1, lstm_2, out_2)``, each ``[n, T, 2H]``: layer 1's outputs, layer 2's LSTM
        outputs, and layer 2's outputs with the residual, ``out_2 = lstm_2 + out_1``."""
        out1 = self._run(self.layer1, self.dropout(self.embedding(tokens)), lengths)
        lstm2 = self._run(self.layer2, self.dropout(out1), lengths)
        return out1, lstm2, lstm2 + out1

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)``, each ``[n, Z]``, of ``tokens [n, T]`` whose first ``lengths [n]``
        positions are read (default: all T; variable length: up to and including
        ``<eos>``)."""
        n, length = tokens.shape
        if lengths is None:
            lengths = torch.full((n,), length, dtype=torch.long)
        lengths = lengths.long().cpu()
        _, _, out = self.layers(tokens, lengths)
        last = (lengths - 1).to(out.device)
        forward = out[torch.arange(n, device=out.device), last, : self.hidden_dim]
        backward = out[:, 0, self.hidden_dim :]
        summary = torch.cat([forward, backward], dim=1)
        return self.mu(summary), F.softplus(self.sigma(summary)) + SIGMA_FLOOR


class LatentGenerator(Generator):
    """p_theta(x|z): the LSTM generator started from ``(h_0, c_0) = split(W z + b)``.

    Args (besides ``Generator``'s):
        latent_dim: Z.
        encoder: q_lambda, or None (a bare decoder: no ``encode``, no ELBO).
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        max_len: int,
        start_token: int = 0,
        init_std: float = 0.1,
        eos_token: int | None = None,
        pad_token: int | None = None,
        never_output: tuple[int, ...] = (),
        *,
        latent_dim: int,
        encoder: Encoder | None = None,
    ):
        super().__init__(
            vocab_size,
            emb_dim,
            hidden_dim,
            max_len,
            start_token,
            init_std,
            eos_token,
            pad_token,
            never_output,
        )
        self.latent_dim = latent_dim
        self.latent = nn.Linear(latent_dim, 2 * hidden_dim)
        with torch.no_grad():
            nn.init.normal_(self.latent.weight, 0.0, init_std)
            nn.init.normal_(self.latent.bias, 0.0, init_std)
        self.encoder = encoder

    # -- z <-> states ---------------------------------------------------------------
    def state_from(self, z: torch.Tensor) -> State:
        """``(h_0, c_0)``, each ``[n, H]``, for ``z [n, Z]``."""
        h, c = self.latent(z).chunk(2, dim=1)
        return h.contiguous(), c.contiguous()

    def prior(self, n: int) -> torch.Tensor:
        """``n`` draws of z ~ N(0, I), ``[n, Z]`` (torch's global generator)."""
        return torch.randn(n, self.latent_dim, device=self.latent.weight.device)

    def initial_state(self, n: int) -> State:
        """The state of a fresh z ~ N(0, I) per row: sampling without a z samples the prior."""
        return self.state_from(self.prior(n))

    def given(self, z: torch.Tensor) -> Conditioned:
        """This decoder with z fixed (for ``rl.rollout.mc_search_q``)."""
        return Conditioned(self, z)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` ``[n, Z]`` of q(z|tokens), reading each row up to its ``<eos>``."""
        if self.encoder is None:
            raise TypeError("encode() needs an encoder; this decoder was built without one")
        return self.encoder(tokens, self.token_mask(tokens).sum(1))

    @torch.no_grad()
    def decode(self, z: torch.Tensor, sampling: Sampling | None = None) -> torch.Tensor:
        """Sequences ``[n, T]`` decoded from ``z [n, Z]``, each token drawn with the
        controls ``sampling`` (``models.sampling.Sampling``: temperature, top-k, top-p, greedy;
        default: exact sampling from p(x|z))."""
        empty = torch.empty(len(z), 0, dtype=torch.long, device=z.device)
        extra = {} if sampling is None else {"sampler": sampling.sampler}
        return self.continue_from(empty, self.state_from(z), **extra)

    # -- likelihood -----------------------------------------------------------------
    def reconstruct(
        self, tokens: torch.Tensor, temperature: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One-sample reconstruction of ``tokens [n, T]``: per-token log p(x_t | x_<t, z)
        at z = mu + sigma * eps ~ q(z|x) (reparameterised), ``[n, T]`` (0 after
        ``<eos>``), and the posterior's ``mu``, ``sigma`` ``[n, Z]``.  ``temperature``: of
        the decoder, as in ``Generator.log_prob``."""
        mu, sigma = self.encode(tokens)
        z = mu + sigma * torch.randn_like(mu)
        return self.log_prob(tokens, self.state_from(z), temperature), mu, sigma

    def log_prob(
        self, tokens: torch.Tensor, state: State | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """With ``state``: per-token log p(y_t | y_<t, z) ``[n, T]``.  Without, and with an
        encoder: the one-sample ELBO spread over each row's tokens, log p(x_t | x_<t, z) -
        KL / length (z ~ q(z|x)), so a row sums to its ELBO <= log p(x) and NLL-test is
        -ELBO per token (an upper bound on the NLL, the usual figure for a VAE).
        ``temperature`` tau tempers the decoder, p_tau(x_t | x_<t, z) = softmax(logits /
        tau) (``Generator.log_prob``); the ELBO is then a bound for the model that decodes
        with temperature tau (z ~ N(0, I) unchanged)."""
        if state is not None or self.encoder is None:
            return super().log_prob(tokens, state, temperature)
        logp, mu, sigma = self.reconstruct(tokens, temperature)
        kl = gaussian_kl(mu, sigma).sum(1)
        mask = self.token_mask(tokens)
        return logp - (kl / mask.sum(1)).unsqueeze(1) * mask


class Conditioned:
    """A ``LatentGenerator`` with z fixed: the policy interface of ``mc_search_q``
    (``prefix_states`` and ``continue_from``), starting every row from its own z."""

    def __init__(self, decoder: LatentGenerator, z: torch.Tensor):
        self.decoder, self.z = decoder, z

    def prefix_states(self, tokens: torch.Tensor) -> list[State]:
        return self.decoder.prefix_states(tokens, self.decoder.state_from(self.z))

    def continue_from(self, *args, **kwargs) -> torch.Tensor:
        return self.decoder.continue_from(*args, **kwargs)
