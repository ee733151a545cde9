"""LSTM generator: the stochastic policy G_theta(y_t | Y_{1:t-1}) of SeqGAN (Eqs. 9-10).

One LSTM layer reads token embeddings; a linear layer maps each hidden state to
next-token logits (``softmax(c + V h_t)``).  The first input is ``start_token``;
a sample is the ``max_len`` tokens that follow it (the start token is not part of it).

Shapes: tokens ``[n, T]`` ``torch.long``; states ``(h, c)`` each ``[n, H]``;
logits ``[n, V]`` per step or ``[n, T, V]`` teacher-forced.

Variable length (text): with ``eos_token`` set, a sequence ends at its first ``<eos>``;
sampling (and completing a prefix in MC search) writes ``pad_token`` after it without
sampling, and ``log_prob`` is 0 there (a forced token has probability 1), so likelihoods,
NLL and the policy gradient count the tokens up to and including ``<eos>``.
Tokens listed in ``never_output`` (``<pad>``, ``<bos>``) are inputs only: their logits
get -1e9 added, so the policy never samples them (probability 0, entropy terms 0).

Initial state: ``logits``, ``log_prob`` and ``prefix_states`` start from
``initial_state(n)`` (zeros) unless given a ``state``, and ``continue_from`` always takes
one, so a latent-variable decoder (``models.vae``: the state is a linear map of z) reuses
every method unchanged.

Output kernel: ``output_kernel = "plain"`` (the default) computes the output layer and
log-softmax on all ``[n, T, V]`` logits at once; ``"chunked"`` (``generator.output_kernel``
in the config) computes ``log_prob`` and ``mean_nll`` a few rows at a time
(``models.output_loss``): equal to float rounding, faster at a large vocabulary.
``logits`` and ``step`` are the same under both.

The SeqGAN oracle is the same network with N(0, 1) parameters (``data.oracle``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from seqgan.models.output_loss import CHUNK_MIB, token_log_probs, weighted_nll
from seqgan.models.pass_rows import sample_rows
from seqgan.models.sampling import Sampling, sample_from_logits, temper
from seqgan.models.scratch import scratch

# the recurrent state: (h, c) of the LSTM; a subclass with another core keeps its own tuple
# (models.relgan: (memory,))
State = tuple[torch.Tensor, ...]
Sampler = Callable[..., torch.Tensor]  # (logits, uniforms, generator) -> tokens: Sampling.sampler


def set_special_tokens(
    module: Any,
    vocab_size: int,
    eos_token: int | None,
    pad_token: int | None,
    never_output: tuple[int, ...],
) -> None:
    """Gives a generator ``module`` the task's end and padding ids (both or neither) and
    its ``never_output`` ids, with the buffer ``output_penalty [V]``: -1e9 at those ids,
    None without any (not a parameter, not saved: it follows from the task's vocabulary)."""
    if (eos_token is None) != (pad_token is None):
        raise ValueError("eos_token and pad_token go together")
    module.eos_token, module.pad_token = eos_token, pad_token
    module.never_output = kept = tuple(never_output)
    penalty = torch.zeros(vocab_size)
    penalty[list(kept)] = -1e9
    module.register_buffer("output_penalty", penalty if never_output else None, persistent=False)


class SequenceGenerator(nn.Module):
    """What every generator shares: ``sample`` draws whole sequences in batches, each
    from ``sample_from_start`` (a subclass gives it, and ``output`` and ``max_len``)."""

    max_len: int  # T
    output: nn.Linear  # the output layer (its device is the model's)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        batch_size: int = 0,
        generator: torch.Generator | None = None,
        sampling: Sampling | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` sequences ``[n, T]`` in batches of ``batch_size`` rows (0: chosen for
        the device, ``models.pass_rows``), each token with the controls ``sampling``
        (``models.sampling.Sampling``; default: plain sampling from the model, as in training)."""
        sampler = sample_from_logits if sampling is None else sampling.sampler
        batch_size = sample_rows(batch_size, self, sampling is not None and sampling.filters)
        chunks = [
            self.sample_from_start(min(batch_size, n - start), generator, sampler)
            for start in range(0, n, batch_size)
        ]
        if not chunks:
            device = self.output.weight.device
            return torch.empty(0, self.max_len, dtype=torch.long, device=device)
        return torch.cat(chunks)

    def sample_from_start(
        self, rows: int, generator: torch.Generator | None, sampler: Sampler
    ) -> torch.Tensor:
        """``rows`` sequences ``[rows, T]`` from the start token, each token drawn by
        ``sampler(logits, uniforms, generator)``."""
        raise NotImplementedError


class Generator(SequenceGenerator):
    """LSTM language model used as a policy.

    ``output_kernel`` (attribute): ``"plain"`` or ``"chunked"`` (module docstring);
    ``output_chunk_mib``: the chunked kernel's MiB of logits per chunk.

    Args:
        vocab_size: number of token ids V.
        emb_dim: token embedding size.
        hidden_dim: LSTM state size H.
        max_len: sequence length T of samples.
        start_token: id fed as the first input (0 in the SeqGAN oracle setting).
        init_std: every parameter is drawn from N(0, init_std^2) (reference code: 0.1;
            the oracle: 1.0); the LSTM's second bias vector is zero so that each gate
            has a single N(0, init_std^2) bias, as in the reference equations.
    """

    output_kernel = "plain"
    output_chunk_mib = CHUNK_MIB
    eos_token: int | None  # these four: set_special_tokens
    pad_token: int | None
    never_output: tuple[int, ...]
    output_penalty: torch.Tensor | None

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
    ):
        super().__init__()
        self._set_shape(vocab_size, emb_dim, hidden_dim, max_len, start_token)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)
        self.reset_parameters(init_std)
        set_special_tokens(self, vocab_size, eos_token, pad_token, never_output)

    def _set_shape(self, vocab_size, emb_dim, hidden_dim, max_len, start_token):
        """The sizes every generator of this interface has (ints): a subclass with another
        recurrent core sets them so too (``hidden_dim``: the size of the output layer's
        input)."""
        self.vocab_size = vocab_size
        self.emb_dim = emb_dim
        self.hidden_dim = hidden_dim
        self.max_len = max_len
        self.start_token = start_token

    def _out(self, hidden: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the output layer, with ``never_output`` tokens pushed to -1e9;
        ``out``: an ``[n, V]`` tensor to write them into where no gradient is recorded
        (the same product as ``nn.Linear``'s, ``addmm``)."""
        if out is not None and not torch.is_grad_enabled():
            logits = torch.addmm(self.output.bias, hidden, self.output.weight.t(), out=out)
        else:
            logits = self.output(hidden)
        if self.output_penalty is None:
            return logits
        if torch.is_grad_enabled():
            return logits + self.output_penalty
        return logits.add_(self.output_penalty)  # sampling: no second [n, V] tensor

    def _output_bias(self) -> torch.Tensor:
        """The output layer's bias with the ``never_output`` penalty added, ``[V]``."""
        bias: torch.Tensor = self.output.bias
        penalty = self.output_penalty
        return bias if not isinstance(penalty, torch.Tensor) else bias + penalty

    def reset_parameters(self, std: float) -> None:
        with torch.no_grad():
            for param in self.parameters():
                param.normal_(0.0, std)
            self.lstm.get_parameter("bias_hh_l0").zero_()

    # -- one step -----------------------------------------------------------------
    def initial_state(self, n: int) -> State:
        """Zero ``(h, c)``, each ``[n, H]``."""
        zeros = torch.zeros(n, self.hidden_dim, device=self.output.weight.device)
        return zeros, zeros.clone()

    def step(
        self, tokens: torch.Tensor, state: State, out: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """Feed ``tokens [n]``; return next-token logits ``[n, V]`` and the new state
        (``out``: ``_out``'s)."""
        hidden, state = self.step_hidden(tokens, state)
        return self._out(hidden, out), state

    def step_hidden(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed ``tokens [n]``; return the LSTM output ``[n, H]`` and the new state."""
        h, c = state
        out, (h, c) = self.lstm(
            self.embedding(tokens).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0))
        )
        return out.squeeze(1), (h.squeeze(0), c.squeeze(0))

    def start_tokens(self, n: int) -> torch.Tensor:
        return torch.full(
            (n,), self.start_token, dtype=torch.long, device=self.output.weight.device
        )

    # -- whole sequences ----------------------------------------------------------
    def inputs_for(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forcing inputs ``[start, y_1, ..., y_{T-1}]`` for ``tokens [n, T]``."""
        return torch.cat([self.start_tokens(tokens.shape[0]).unsqueeze(1), tokens[:, :-1]], dim=1)

    def logits(
        self, tokens: torch.Tensor, inputs: torch.Tensor | None = None, state: State | None = None
    ) -> torch.Tensor:
        """Teacher-forced logits ``[n, T, V]``; ``inputs`` default to ``inputs_for(tokens)``,
        ``state`` (the ``(h, c)`` before the first input) to ``initial_state(n)``."""
        return self._out(self.hidden_states(tokens, inputs, state))

    def hidden_states(
        self, tokens: torch.Tensor, inputs: torch.Tensor | None = None, state: State | None = None
    ) -> torch.Tensor:
        """Teacher-forced LSTM outputs ``[n, T, H]`` (the output layer's inputs), as in
        ``logits``."""
        if inputs is None:
            inputs = self.inputs_for(tokens)
        h, c = self.initial_state(inputs.shape[0]) if state is None else state
        hidden, _ = self.lstm(self.embedding(inputs), (h.unsqueeze(0), c.unsqueeze(0)))
        return hidden

    def mean_nll(self, tokens: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (nats) of ``tokens [n, T]`` over the positions a sequence
        chooses (``token_mask``), from the output layer's inputs ``hidden [n, T, H]``, by
        the chunked kernel (``models.output_loss.weighted_nll``: gradients in one pass)."""
        mask = self.token_mask(tokens).reshape(-1).to(hidden.dtype)
        loss, _ = weighted_nll(
            hidden.reshape(-1, hidden.shape[-1]),
            self.output.weight,
            self._output_bias(),
            tokens.reshape(-1),
            mask / mask.sum(),
            self.output_chunk_mib,
        )
        return loss

    def log_prob(
        self, tokens: torch.Tensor, state: State | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """Per-token log G(y_t | Y_{1:t-1}), ``[n, T]`` (nats); 0 after a sequence's ``<eos>``.
        ``state``: the initial ``(h, c)``, as in ``logits``.

        ``temperature`` tau: the log-probabilities of the tempered model softmax(logits /
        tau), the one ``Sampling(temperature=tau)`` samples (1: exactly the model's own).
        Only the temperature: under top-k / top-p the held-out tokens outside the kept
        set have probability 0, so their NLL would be infinite.  With ``output_kernel =
        "chunked"`` (at temperature 1) a few rows at a time (``models.output_loss``)."""
        if self.output_kernel == "chunked" and temperature == 1.0:
            hidden = self.hidden_states(tokens, state=state)
            logp = token_log_probs(
                hidden.reshape(-1, hidden.shape[-1]),
                self.output.weight,
                self._output_bias(),
                tokens.reshape(-1),
                self.output_chunk_mib,
            ).view(tokens.shape)
            return logp if self.eos_token is None else logp * self.token_mask(tokens)
        logp = F.log_softmax(temper(self.logits(tokens, state=state), temperature), dim=-1)
        logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return logp if self.eos_token is None else logp * self.token_mask(tokens)

    def token_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[n, T]`` float: 1 for the positions a sequence chooses (up to and including its
        first ``<eos>``; all of them at fixed length), 0 for the padding after it."""
        if self.eos_token is None:
            return torch.ones(tokens.shape, device=tokens.device)
        is_eos = (tokens == self.eos_token).long()
        return ((is_eos.cumsum(1) - is_eos) == 0).float()

    def prefix_states(self, tokens: torch.Tensor, state: State | None = None) -> list[State]:
        """Teacher-forced states before feeding ``y_t``, for t = 1..T-1.

        Element ``t-1`` is the state after reading ``start, y_1..y_{t-1}``: feeding
        ``y_t`` to it yields the logits of ``y_{t+1}``, which is where a roll-out of
        the prefix ``Y_{1:t}`` starts.  ``state``: the initial ``(h, c)`` (default
        ``initial_state(n)``).
        """
        n, length = tokens.shape
        _, state = self.step(
            self.start_tokens(n), self.initial_state(n) if state is None else state
        )
        states = [state]
        for t in range(length - 2):
            _, state = self.step(tokens[:, t], state)
            states.append(state)
        return states

    @torch.no_grad()
    def continue_from(
        self,
        prefix: torch.Tensor,
        state: State,
        uniforms: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        sampler=sample_from_logits,
    ) -> torch.Tensor:
        """Complete ``prefix [n, t]`` (0 <= t < T) to a sequence ``[n, T]``.

        ``state`` is the state before feeding the prefix's last token (before feeding
        the start token when t = 0).  ``uniforms``, if given, is ``[n, T - t]``: the
        number used for each sampled position, in order.  ``sampler(logits, u, generator)``
        draws the tokens (default: exact inverse-CDF sampling).
        """
        n, t = prefix.shape
        out = torch.empty(n, self.max_len, dtype=torch.long, device=prefix.device)
        out[:, :t] = prefix
        token = prefix[:, -1] if t > 0 else self.start_tokens(n)
        ended = None if self.eos_token is None else (prefix == self.eos_token).any(1)
        pad = self.pad_token  # set exactly when eos_token is
        kept = None  # without autograd every step's logits go into one kept buffer
        if not torch.is_grad_enabled():
            (kept,) = scratch(self.output.weight, [(n, self.output.out_features)], "logits")
        for pos in range(t, self.max_len):
            logits, state = self.step(token, state, kept)
            u = None if uniforms is None else uniforms[:, pos - t]
            token = sampler(logits, u, generator)
            if ended is not None and pad is not None:  # after <eos>: padding follows
                token = torch.where(ended, pad, token)
                ended = ended | (token == self.eos_token)
            out[:, pos] = token
        return out

    def sample_from_start(
        self, rows: int, generator: torch.Generator | None, sampler: Sampler
    ) -> torch.Tensor:
        empty = torch.empty(rows, 0, dtype=torch.long, device=self.output.weight.device)
        state = self.initial_state(rows)
        return self.continue_from(empty, state, generator=generator, sampler=sampler)
