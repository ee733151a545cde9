"""LeakGAN's generator (Guo et al. 2018): a MANAGER that reads the discriminator's leaked
features and emits goals, and a WORKER whose output is combined with the goal embedding.

Notation (tokens y_1..y_T, step t = 0..T-1 emits y_{t+1}; c = ``step``, k = ``goal_size``,
F = the discriminator's feature size, ``sum(num_filters)``):

* f_t = F_D(y_1..y_t): the discriminator's feature vector (CNN max-pooled features and
  highway layer, dropout off) of the prefix of t tokens, the positions after it zeroed
  in embedding space (f_0: the empty prefix).  No gradient flows into D.
* MANAGER: an LSTM over f_0, f_1, ...; g_t = normalise(W_M h^M_t + b_M) (unit length, F).
* goal embedding: w_t = normalise(psi(sum of the c goals before step t)), psi a linear map
  F -> k without bias; the goals before step 0 are a fixed vector ``goal_init`` (as in the
  authors' code, where no loss reaches it).  The worker sees the goals as constants.
* WORKER: an LSTM over the token embeddings (start, y_1, ...); O_t = W_W h^W_t + B_W is
  a [V, k] matrix, the logits are O_t w_t, and pi(y_{t+1} | s_t) = softmax(O_t w_t).  Computed
  without building O_t: logits = (h^W_t outer w_t) . W_W + B_W w_t.

The interface is ``models.generator.Generator``'s where the trainer and the evaluator use
it: ``sample`` (with ``models.sampling.Sampling`` controls), ``logits``, ``log_prob`` (with
``temperature``), ``token_mask``, ``continue_from`` (re-reading the prefix, or from the
``Walk`` state after it: ``walks``), variable length with ``<eos>`` / ``<pad>``.
``leaked(tokens)`` returns everything the losses need (features, goals, logits) in one
teacher-forced pass.  The leaked features are computed exactly without re-reading
prefixes (``models.leaked_features``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from seqgan.models.discriminator import Discriminator
from seqgan.models.discriminator_kernels import KERNELS
from seqgan.models.generator import Sampler, SequenceGenerator, set_special_tokens
from seqgan.models.leaked_features import PrefixFeatures, all_prefix_features
from seqgan.models.sampling import sample_from_logits, temper

FEATURE_ROWS = 1024  # prefixes per discriminator pass of ``prefix_features`` (the definition)


def leakgan_params(vocab: int, emb: int, hidden: int, goal: int, features: int) -> int:
    """Parameters of ``LeakGANGenerator`` without its discriminator: the worker (embedding
    V E, LSTM, W_W with H k V, B_W with V k, psi with F k) and the manager (LSTM over F,
    H -> F output layer)."""
    lstm = 4 * hidden * (emb + hidden) + 8 * hidden
    manager = 4 * hidden * (features + hidden) + 8 * hidden + hidden * features + features
    return vocab * emb + lstm + hidden * goal * vocab + vocab * goal + features * goal + manager


def leakgan_step_macs(
    vocab: int, emb: int, hidden: int, goal: int, features: int
) -> tuple[int, int]:
    """Multiply-adds of one row-step of ``LeakGANGenerator`` as the code computes it,
    without the leaked feature (``models.leaked_features.prefix_feature_macs``), in two
    parts: reading (the manager's LSTM over F inputs, ``4 H (F + H)``, and its ``H -> F``
    output layer; the worker's LSTM, ``4 H (E + H)``), what ``walks`` does at every step,
    and emitting the logits (psi, ``F k``; ``O_t w_t``, ``H k V + k V``)."""
    reading = 4 * hidden * (features + hidden) + hidden * features + 4 * hidden * (emb + hidden)
    emitting = features * goal + hidden * goal * vocab + goal * vocab
    return reading, emitting


@dataclass
class Leaked:
    """One teacher-forced pass: ``features [n, T+1, F]`` (f_0..f_T), ``goals [n, T, F]``
    (g_0..g_{T-1}, with gradient to the manager), ``logits [n, T, V]``."""

    features: torch.Tensor
    goals: torch.Tensor
    logits: torch.Tensor


@dataclass
class Walk:
    """The generator's state before step ``pos`` of a batch of n sequences: the running
    sums of the prefix's features, the manager's and the worker's LSTM states, the goals
    whose sum enters w_pos (at most the last c of goal_init, g_0, g_1, ...), the worker's
    next input and, with ``<eos>``, which rows have ended."""

    pos: int
    features: PrefixFeatures
    manager: tuple[torch.Tensor, torch.Tensor] | None
    worker: tuple[torch.Tensor, torch.Tensor] | None
    goals: list[torch.Tensor]
    token: torch.Tensor
    ended: torch.Tensor | None

    def repeat(self, copies: int) -> Walk:
        """The same state ``copies`` times over, rows ``k * n + i`` (``Tensor.repeat``)."""

        def rows(state):
            return None if state is None else tuple(x.repeat(1, copies, 1) for x in state)

        return Walk(
            self.pos,
            self.features.repeat(copies),
            rows(self.manager),
            rows(self.worker),
            [g.repeat(copies, 1) for g in self.goals],
            self.token.repeat(copies),
            None if self.ended is None else self.ended.repeat(copies),
        )


class LeakGANGenerator(SequenceGenerator):
    """Manager + worker; ``discriminator`` is the D whose features leak (a submodule, so
    one checkpoint holds both; the generator's losses never change it)."""

    goal_init: torch.Tensor  # buffer [F]: the goals before step 0
    output_penalty: torch.Tensor | None  # buffer [V]: -1e9 at never_output tokens
    eos_token: int | None  # these three: set_special_tokens
    pad_token: int | None
    never_output: tuple[int, ...]

    def __init__(
        self,
        discriminator: Discriminator,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        max_len: int,
        start_token: int,
        goal_size: int,
        step: int,
        init_std: float,
        eos_token: int | None,
        pad_token: int | None,
        never_output: tuple[int, ...],
    ):
        super().__init__()
        self.vocab_size, self.emb_dim, self.hidden_dim = vocab_size, emb_dim, hidden_dim
        self.max_len, self.start_token, self.step_size = max_len, start_token, step
        self.goal_size = goal_size
        features = sum(discriminator.num_filters)
        self.feature_size = features
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.worker = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim * goal_size, vocab_size, bias=False)  # W_W
        self.output_bias = nn.Parameter(torch.empty(vocab_size, goal_size))  # B_W
        self.psi = nn.Linear(features, goal_size, bias=False)
        self.manager = nn.LSTM(features, hidden_dim, batch_first=True)
        self.manager_out = nn.Linear(hidden_dim, features)
        with torch.no_grad():
            for param in self.parameters():
                param.normal_(0.0, init_std)
            self.worker.get_parameter("bias_hh_l0").zero_()
            self.manager.get_parameter("bias_hh_l0").zero_()
        self.register_buffer("goal_init", torch.randn(features) * init_std)
        self.discriminator = discriminator  # after the draws above: D's init is its own
        set_special_tokens(self, vocab_size, eos_token, pad_token, never_output)

    # -- parameter groups ---------------------------------------------------------------
    def worker_parameters(self) -> list[torch.Tensor]:
        """The worker's parameters (embedding, LSTM, W_W, B_W, psi)."""
        return [
            *self.embedding.parameters(),
            *self.worker.parameters(),
            self.output.weight,
            self.output_bias,
            self.psi.weight,
        ]

    def manager_parameters(self) -> list[torch.Tensor]:
        return [*self.manager.parameters(), *self.manager_out.parameters()]

    # -- leaked features ------------------------------------------------------------------
    @torch.no_grad()
    def prefix_features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """f of the prefixes ``tokens[i, :lengths[i]]`` ``[m, F]`` (``tokens [m, T]``): D's
        pooled features and highway layer, later positions zeroed, dropout off.  The
        definition, one D pass per prefix (tests compare): training and sampling compute
        the same from running sums (``models.leaked_features``)."""
        d = self.discriminator
        keep = torch.arange(tokens.shape[1], device=tokens.device) < lengths.unsqueeze(1)
        out = []
        for rows, kept in zip(tokens.split(FEATURE_ROWS), keep.split(FEATURE_ROWS)):
            emb = d.embedding(rows) * kept.unsqueeze(-1)
            pooled = KERNELS[d.score_kernel](emb, list(d.conv_weights))
            out.append(d.highway(F.relu(pooled + d.conv_bias)))
        return torch.cat(out)

    def all_prefix_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[n, T+1, F]``: f_0 .. f_T of each row of ``tokens [n, T]``."""
        return all_prefix_features(self.discriminator, tokens)

    # -- goals and logits -----------------------------------------------------------------
    def _goals(self, features: torch.Tensor, state=None):
        """g for manager inputs ``features [n, t, F]``; (goals ``[n, t, F]``, state)."""
        hidden, state = self.manager(features, state)
        return F.normalize(self.manager_out(hidden), dim=-1), state

    def _goal_embedding(self, window_sum: torch.Tensor) -> torch.Tensor:
        """w from the sum of the last c goals ``[..., F]`` -> ``[..., k]`` (unit length)."""
        return F.normalize(self.psi(window_sum), dim=-1)

    def _window_sums(self, goals: torch.Tensor) -> torch.Tensor:
        """``[n, T, F]``: for step t the sum of the c entries before it of
        [goal_init, g_0, g_1, ...] (goals ``[n, T, F]``, held constant)."""
        n, length, size = goals.shape
        history = torch.cat([self.goal_init.expand(n, 1, size), goals[:, :-1].detach()], 1)
        total = history.cumsum(1)
        before = F.pad(total, (0, 0, self.step_size, 0))[:, :length]
        return total - before

    def _logits(self, hidden: torch.Tensor, goal_embedding: torch.Tensor) -> torch.Tensor:
        """O_t w_t for worker states ``hidden [..., H]`` and goal embeddings ``[..., k]``."""
        outer = (hidden.unsqueeze(-1) * goal_embedding.unsqueeze(-2)).flatten(-2)
        logits = self.output(outer) + goal_embedding @ self.output_bias.T
        return logits if self.output_penalty is None else logits + self.output_penalty

    def start_tokens(self, n: int) -> torch.Tensor:
        return torch.full(
            (n,), self.start_token, dtype=torch.long, device=self.output.weight.device
        )

    def leaked(self, tokens: torch.Tensor) -> Leaked:
        """Features, goals and logits of ``tokens [n, T]``, teacher-forced."""
        features = self.all_prefix_features(tokens)
        goals, _ = self._goals(features[:, :-1])
        w = self._goal_embedding(self._window_sums(goals))
        inputs = torch.cat([self.start_tokens(len(tokens)).unsqueeze(1), tokens[:, :-1]], 1)
        hidden, _ = self.worker(self.embedding(inputs))
        return Leaked(features, goals, self._logits(hidden, w))

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token logits ``[n, T, V]``."""
        return self.leaked(tokens).logits

    def token_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """1 up to and including the first ``<eos>`` (all ones at fixed length)."""
        if self.eos_token is None:
            return torch.ones(tokens.shape, device=tokens.device)
        is_eos = (tokens == self.eos_token).long()
        return ((is_eos.cumsum(1) - is_eos) == 0).float()

    def log_prob(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """log pi(y_t | s_{t-1}) ``[n, T]`` of the tempered policy softmax(logits / tau);
        0 after ``<eos>``."""
        logp = F.log_softmax(temper(self.logits(tokens), temperature), dim=-1)
        logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return logp if self.eos_token is None else logp * self.token_mask(tokens)

    # -- sampling -------------------------------------------------------------------------
    def start_walk(self, n: int) -> Walk:
        """The state before step 0 of ``n`` sequences."""
        ended = None
        if self.eos_token is not None:
            ended = torch.zeros(n, dtype=torch.bool, device=self.output.weight.device)
        features = PrefixFeatures(self.discriminator, n, self.max_len)
        goals = [self.goal_init.expand(n, -1)]
        return Walk(0, features, None, None, goals, self.start_tokens(n), ended)

    def _read(self, walk: Walk) -> tuple[torch.Tensor, torch.Tensor]:
        """Step ``walk.pos``: the manager reads f_pos, the worker its input; returns the
        worker's output ``[n, H]`` and the sum of the goals before the step ``[n, F]``."""
        goal, walk.manager = self._goals(walk.features.current().unsqueeze(1), walk.manager)
        window = torch.stack(walk.goals).sum(0)
        walk.goals = [*walk.goals, goal.squeeze(1)][-self.step_size :]
        hidden, walk.worker = self.worker(self.embedding(walk.token).unsqueeze(1), walk.worker)
        return hidden.squeeze(1), window

    def _feed(self, walk: Walk, token: torch.Tensor) -> torch.Tensor:
        """``token [n]`` is y_{pos+1} (``<pad>`` once a row has ended); the walk moves on."""
        if walk.ended is not None and self.pad_token is not None:  # set exactly when eos is
            token = torch.where(walk.ended, self.pad_token, token)
            walk.ended = walk.ended | (token == self.eos_token)
        walk.token = token
        walk.features.push(token)
        walk.pos += 1
        return token

    @torch.no_grad()
    def walks(self, tokens: torch.Tensor, lengths: list[int]) -> list[Walk]:
        """The states before steps ``lengths`` (each 0..T) of a walk that reads ``tokens
        [n, >= max(lengths)]``, one per length (what ``continue_from`` re-reads)."""
        walk, out = self.start_walk(len(tokens)), {}
        for pos in range(max(lengths, default=0) + 1):
            if pos in lengths:
                out[pos] = walk.repeat(1)
            if pos < max(lengths):
                self._read(walk)
                self._feed(walk, tokens[:, pos])
        return [out[length] for length in lengths]

    @torch.no_grad()
    def continue_from(
        self,
        prefix: torch.Tensor,
        uniforms: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        sampler=sample_from_logits,
        walk: Walk | None = None,
    ) -> torch.Tensor:
        """Complete ``prefix [n, t]`` (0 <= t <= T) to ``[n, T]``, step by step: at step s
        the manager reads f_s of the sequence so far, the worker emits y_{s+1}.  The
        prefix is re-read (``walks``), unless ``walk`` holds the state after it (the
        features of a prefix depend on nothing after it).  ``uniforms [n, T - t]``: the
        numbers of the sampled positions."""
        n, given = prefix.shape
        if walk is None:
            walk = self.walks(prefix, [given])[0]
        elif walk.pos != given or len(walk.token) != n:
            raise ValueError(
                f"a walk at step {walk.pos} of {len(walk.token)} rows for {n} x {given}"
            )
        out = torch.zeros(n, self.max_len, dtype=torch.long, device=prefix.device)
        out[:, :given] = prefix
        if self.pad_token is not None:  # the prefix as read: <pad> after <eos>
            out[:, :given].masked_fill_(self.token_mask(prefix) == 0, self.pad_token)
        for pos in range(given, self.max_len):
            hidden, window = self._read(walk)
            logits = self._logits(hidden, self._goal_embedding(window))
            u = None if uniforms is None else uniforms[:, pos - given]
            out[:, pos] = self._feed(walk, sampler(logits, u, generator))
        return out

    def sample_from_start(
        self, rows: int, generator: torch.Generator | None, sampler: Sampler
    ) -> torch.Tensor:
        """(``SequenceGenerator.sample``) with dropout off in the leaking D."""
        empty = torch.empty(rows, 0, dtype=torch.long, device=self.output.weight.device)
        was_training = self.training
        self.eval()
        try:
            return self.continue_from(empty, generator=generator, sampler=sampler)
        finally:
            self.train(was_training)
