"""The latent space of a trained VAE run (algorithms ``vae``, ``seqvae1``, ``seqvae2``):
decoding draws from the prior, and interpolating between two sequences' codes
(``seqgan generate --from-prior`` / ``--interpolate A B --steps K``).

* A sequence on the command line is a plain integer (an index into the run's training
  set), or else token ids (synthetic runs), a line of text (text runs, tokenised as the
  run's data) or the encoding's symbols separated by spaces (music runs; ``60`` is the
  pitch symbol there, not an id).  Sequences shorter than T get ``<eos>`` and padding in
  variable-length runs; fixed-length runs need exactly T.
* ``latent_line``: K points z_k = (1 - t_k) a + t_k b, t_k = k / (K - 1), so z_0 = a and
  z_{K-1} = b exactly; the interpolation runs between the posterior means mu(A), mu(B).
* Decoding samples each token (``generate --seed``) with the sampling controls of any
  run (``models.sampling.Sampling``: ``--temperature``, ``--top-k``, ``--top-p``), or takes
  the most probable one (``--greedy``).  The result goes through ``data.export`` like any
  samples (ids, text, MIDI, a piano-roll strip).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.errors import UserError
from seqgan.models.pass_rows import sample_rows
from seqgan.models.sampling import Sampling
from seqgan.models.vae import LatentGenerator


def latent_line(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """``[K, Z]``: K = ``steps`` >= 2 evenly spaced points from ``a [Z]`` to ``b [Z]``."""
    if steps < 2:
        raise UserError(f"--steps must be at least 2 (both ends), got {steps}")
    t = torch.linspace(0.0, 1.0, steps).unsqueeze(1)
    return (1.0 - t) * a + t * b


def _tokens_of(spec: str, cfg: Config, task: Task) -> list[int]:
    parts = spec.split()
    if task.vocab is None:
        try:
            ids = [int(p) for p in parts]
        except ValueError:
            raise UserError(f"'{spec}' is not token ids (this run's data are token ids)") from None
        bad = [i for i in ids if not 0 <= i < task.vocab_size]
        if bad:
            raise UserError(f"token id {bad[0]} outside [0, {task.vocab_size - 1}] in '{spec}'")
        return ids
    if task.kind == "text":
        from seqgan.data.text import tokenize

        d = cfg.data
        symbols = [
            t for t in tokenize(spec, d.tokenizer, d.token_pattern) if t not in d.drop_tokens
        ]
        return task.vocab.encode(symbols)
    unknown = [s for s in parts if task.vocab.id(s) is None]
    if unknown:
        raise UserError(f"'{unknown[0]}' is not a symbol of this run's vocabulary")
    return task.vocab.encode(parts)


def parse_sequence(
    spec: str, cfg: Config, task: Task, training_set: Callable[[], torch.Tensor]
) -> torch.Tensor:
    """``[T]`` ids of one command-line sequence (see the module docstring);
    ``training_set()`` reads the run's training data (only for an index)."""
    if spec.strip().isdigit():
        train = training_set()
        index = int(spec)
        if index >= len(train):
            raise UserError(
                f"index {index} is past the end of the training set ({len(train)} sequences)"
            )
        return train[index]
    ids = _tokens_of(spec, cfg, task)
    length = task.seq_len
    if task.eos_token is not None and task.eos_token not in ids:
        if len(ids) >= length:
            raise UserError(
                f"'{spec}' has {len(ids)} tokens; at most {length - 1} fit "
                f"(T = {length} with <eos>)"
            )
        ids = ids + [task.eos_token] + [task.pad_token] * (length - len(ids) - 1)
    if len(ids) != length:
        raise UserError(f"'{spec}' has {len(ids)} tokens; this run's sequences have {length}")
    return torch.tensor(ids, dtype=torch.long)


def _require_vae(generator) -> LatentGenerator:
    if not isinstance(generator, LatentGenerator) or generator.encoder is None:
        raise UserError(
            "--from-prior and --interpolate need a VAE run (algorithm vae, seqvae1 or seqvae2)"
        )
    return generator.eval()


@torch.no_grad()
def interpolate(
    generator: LatentGenerator,
    a: torch.Tensor,
    b: torch.Tensor,
    steps: int,
    sampling: Sampling | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z [K, Z], tokens [K, T])``: the line between mu(a) and mu(b) (``a``, ``b``:
    ``[T]`` ids), each point decoded with ``sampling`` (default: plain sampling)."""
    device = next(generator.parameters()).device
    mu, _ = _require_vae(generator).encode(torch.stack([a, b]).to(device))
    z = latent_line(mu[0], mu[1], steps)
    return z, generator.decode(z, sampling)


def prior_batches(
    generator: LatentGenerator, n: int, batch_size: int = 0, sampling: Sampling | None = None
) -> Iterator[torch.Tensor]:
    """``n`` sequences decoded from z ~ N(0, I) with ``sampling``, as batches
    ``[<= batch_size, T]`` (0: chosen for the device, ``models.pass_rows``) drawn when
    asked for (the run is checked to be a VAE now)."""
    generator = _require_vae(generator)
    batch_size = sample_rows(batch_size, generator, sampling is not None and sampling.filters)
    return (
        _decode_prior(generator, min(batch_size, n - start), sampling)
        for start in range(0, n, batch_size)
    )


@torch.no_grad()
def _decode_prior(generator: LatentGenerator, rows: int, sampling: Sampling | None) -> torch.Tensor:
    return generator.decode(generator.prior(rows), sampling)
