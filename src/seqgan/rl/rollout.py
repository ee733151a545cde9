"""Monte Carlo search Q-values (SeqGAN Eq. 4) and the roll-out policy G_beta.

For a batch of sampled sequences ``Y [n, T]`` and a reward ``R(Y) -> [n]`` in [0, 1]:

    Q[:, t-1] = 1/N sum_k R(MC^{G_beta}(Y_{1:t}; N)_k)   for t < T
    Q[:, T-1] = R(Y)                                       for t = T

Two implementations draw identical tokens when given the same uniform numbers
``uniforms[t-1, k, b, pos]`` (roll-out k of prefix length t for row b, position pos):

* ``mc_search_q`` (used in training): the roll-out policy reads each sequence once,
  teacher-forced, caching its state before every prefix token; for each prefix length
  t the N roll-outs of all n rows continue as one ``[N * n]`` batch from that cached
  state, and each such batch is scored as one chunk.
* ``mc_search_q_reference``: the reference code's loop, re-reading every prefix from the
  start for every (roll-out, t) pair.  Kept for tests and ``benchmarks/rollout.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqgan.models.generator import Generator
from seqgan.models.sampling import sample_from_logits

Reward = Callable[[torch.Tensor], torch.Tensor]  # tokens [m, T] -> rewards [m]


@torch.no_grad()
def update_rollout_policy(rollout: Generator, generator: Generator, rate: float) -> None:
    """``beta <- rate * beta + (1 - rate) * theta`` for every parameter (rate 0 copies theta)."""
    for beta, theta in zip(rollout.parameters(), generator.parameters()):
        beta.lerp_(theta, 1.0 - rate)


def draw_rollout_uniforms(
    n: int,
    seq_len: int,
    num_rollouts: int,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Uniform numbers ``[T-1, N, n, T]`` for one MC search (entries before the prefix end
    unused), on ``device`` (that of ``generator`` when given)."""
    if device is None and generator is not None:
        device = generator.device
    return torch.rand(seq_len - 1, num_rollouts, n, seq_len, generator=generator, device=device)


@torch.no_grad()
def mc_search_q(
    rollout: Generator,
    tokens: torch.Tensor,
    reward: Reward,
    num_rollouts: int,
    uniforms: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    """Batched MC-search Q-values ``[n, T]`` for ``tokens [n, T]`` (see module docstring).

    With ``lengths`` (``[m]``, each in 1..T): only the values at those prefix lengths,
    ``[n, m]``, column i = ``Q[:, lengths[i] - 1]`` (SeqVAE_2's decodings, which need
    every ``step``-th prefix only); a length T is scored as ``reward(tokens)``."""
    n, length = tokens.shape
    wanted = range(1, length + 1) if lengths is None else [int(t) for t in lengths]
    if lengths is not None and not all(1 <= t <= length for t in wanted):
        raise ValueError(f"prefix lengths must lie in 1..{length}, got {wanted}")
    q = torch.empty(n, len(wanted), device=tokens.device)
    states = rollout.prefix_states(tokens)
    for i, t in enumerate(wanted):
        if t >= length:
            q[:, i] = reward(tokens)
            continue
        h, c = states[t - 1]
        state = (h.repeat(num_rollouts, 1), c.repeat(num_rollouts, 1))  # row k*n + b
        prefix = tokens[:, :t].repeat(num_rollouts, 1)
        u = None if uniforms is None else uniforms[t - 1, :, :, t:].reshape(num_rollouts * n, -1)
        completed = rollout.continue_from(prefix, state, u, generator)
        q[:, i] = reward(completed).view(num_rollouts, n).mean(dim=0)
    return q


@torch.no_grad()
def mc_search_q_reference(
    rollout: Generator,
    tokens: torch.Tensor,
    reward: Reward,
    num_rollouts: int,
    uniforms: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    sampler=sample_from_logits,
) -> torch.Tensor:
    """Per-timestep reference: re-read each prefix for every roll-out (slow, plain).

    ``sampler`` draws tokens (``benchmarks/rollout.py`` passes a ``torch.multinomial``
    sampler to time the original code's method)."""
    n, length = tokens.shape
    q = torch.zeros(n, length, device=tokens.device)
    for k in range(num_rollouts):
        for t in range(1, length):
            _, state = rollout.step(rollout.start_tokens(n), rollout.initial_state(n))
            for pos in range(t - 1):  # read y_1 .. y_{t-1}
                _, state = rollout.step(tokens[:, pos], state)
            u = None if uniforms is None else uniforms[t - 1, k, :, t:]
            completed = rollout.continue_from(tokens[:, :t], state, u, generator, sampler)
            q[:, t - 1] += reward(completed) / num_rollouts
    q[:, length - 1] = reward(tokens)
    return q
