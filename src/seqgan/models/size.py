"""How much memory a run needs, estimated by arithmetic before any model is built.

``check_fits`` refuses (one-line ``UserError``) a config whose estimate exceeds the
machine's physical memory, naming the largest part and the knobs that shrink it.  The
estimate, in bytes, is a lower bound of the peak, not a measurement:

    parameters + data + the largest single activation

**Parameters** (float32).  A trained model holds its value, gradient and two Adam moments,
16 bytes per parameter; a frozen copy (the roll-out policy G_beta, the oracle) 4 bytes.
With V the vocabulary, E / H ``generator.emb_dim`` / ``hidden_dim``, and
``lstm(i, h) = 4h(i + h) + 8h`` (an LSTM layer: four gates, two bias vectors):

* generator: ``V E + lstm(E, H) + H V + V`` (embedding, LSTM, output layer), or what
  the algorithm counts for its own (``registry.Algorithm.generator_params``; LeakGAN's:
  ``models.leakgan.leakgan_params``);
* VAE algorithms add the map z -> (h_0, c_0), ``2H (Z + 1)``, and the encoder
  ``V Ee + 2 lstm(Ee, He) + 2 lstm(2He, He) + 2 (2He Z + Z)`` (Z ``vae.latent_dim``,
  Ee / He ``vae.encoder_emb_dim`` / ``encoder_hidden_dim``; two bidirectional layers,
  the mu and sigma heads);
* discriminator (algorithms that train one): ``V k + sum_i f_i k w_i + F + 2 (F^2 + F)
  + 2F + 2`` with k ``discriminator.emb_dim``, widths w_i, filters f_i, F = sum_i f_i
  (embedding, convolutions and their bias, highway layer, output layer), or what the
  algorithm counts for its own kind (``registry.Algorithm.discriminator_params``;
  RelGAN's: ``training.relgan.discriminator_params``);
* roll-out copy (algorithms that keep one): a frozen generator;
* oracle (``data.kind = "oracle"``): a frozen generator of the oracle's sizes.

**Data**: token ids (int64, 8 bytes) of the training and held-out sequences, the
discriminator's negatives (as many as the positives) and ``eval.num_samples`` samples,
T ids each.

**Largest activation** (float32, 4 bytes per number): the maximum over the passes a run
makes, a row-step of the generator costing ``3V + 6H`` numbers with gradients (logits,
log-softmax, their gradient; four gates, h, c) and ``2V + 6H`` without:

* MLE / policy-gradient batch: ``B T (3V + 6H)`` (B ``generator.batch_size``);
* NLL scoring (``metrics.nll``, chunks of 1024 rows): ``1024 T (2V + 6H)``;
* sampling: ``sample_batch (2V + 6H)`` per step;
* MC search (roll-out algorithms): ``N B (2V + 6H)`` per step plus the cached prefix
  states ``T B 2H`` (N ``adversarial.num_rollouts``);
* discriminator: ``2 R (k T + sum_i f_i (T - w_i + 1))`` with R the larger of
  ``discriminator.batch_size`` and ``score_chunk`` (embeddings and feature maps, with
  gradients), or the algorithm's own passes in its place
  (``registry.Algorithm.activations``; RelGAN's: ``training.relgan.activations``);
* VAE encoder: ``2 B T (Ee + 26 He)`` (embeddings, both layers' gates and states in both
  directions, the residual sum, with gradients).

``sample_batch`` / ``score_chunk`` 0, the default, count as the CPU's 1024 rows
(``models.pass_rows``): the estimate is of the host's memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import seqgan.registry as registry
from seqgan.config import Config
from seqgan.errors import UserError
from seqgan.models.pass_rows import CPU_ROWS

TRAINED_BYTES = 16  # per trained parameter: value, gradient, two Adam moments (float32)
FROZEN_BYTES = 4  # per parameter of a frozen copy
FLOAT_BYTES = 4  # float32 activations
ID_BYTES = 8  # int64 token ids


@dataclass(frozen=True)
class Part:
    """One term of the estimate: ``count`` parameters, numbers or ids taking ``bytes``."""

    name: str
    count: int
    unit: str  # "parameters", "floats" or "ids"
    bytes: int
    knobs: str  # the settings that shrink it


@dataclass(frozen=True)
class Estimate:
    parameters: list[Part]
    activation: Part  # the largest single activation
    data: Part

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.parameters) + self.activation.bytes + self.data.bytes

    def largest(self) -> Part:
        return max([*self.parameters, self.activation, self.data], key=lambda p: p.bytes)


# -- parameter counts -------------------------------------------------------------------


def lstm_params(inputs: int, hidden: int) -> int:
    """One LSTM layer (one direction): four gates of input and recurrent weights, two biases."""
    return 4 * hidden * (inputs + hidden) + 8 * hidden


def generator_params(vocab: int, emb: int, hidden: int) -> int:
    """Embedding, LSTM and output layer of ``models.generator.Generator``."""
    return vocab * emb + lstm_params(emb, hidden) + hidden * vocab + vocab


def vae_extra_params(cfg: Config, vocab: int) -> int:
    """``models.vae``: the encoder and the decoder's map z -> (h_0, c_0)."""
    v, hidden = cfg.vae, cfg.vae.encoder_hidden_dim
    encoder = (
        vocab * v.encoder_emb_dim
        + 2 * lstm_params(v.encoder_emb_dim, hidden)
        + 2 * lstm_params(2 * hidden, hidden)
        + 2 * (2 * hidden * v.latent_dim + v.latent_dim)
    )
    return encoder + 2 * cfg.generator.hidden_dim * (v.latent_dim + 1)


def discriminator_params(cfg: Config, vocab: int) -> int:
    """Embedding, convolutions, highway and output layer of ``models.discriminator``."""
    d = cfg.discriminator
    total = sum(d.num_filters)
    convolutions = sum(f * d.emb_dim * w for w, f in zip(d.filter_sizes, d.num_filters))
    return vocab * d.emb_dim + convolutions + total + 2 * (total * total + total) + 2 * total + 2


# -- the estimate -----------------------------------------------------------------------


def _vocab_knob(cfg: Config) -> str:
    return {
        "oracle": "oracle.vocab_size",
        "text": "the vocabulary (raise data.min_freq)",
        "music": "the vocabulary (data.encoding)",
    }[cfg.data.kind]


def _length_knob(cfg: Config) -> str:
    return "oracle.seq_len" if cfg.data.kind == "oracle" else "data.seq_len"


def _parameter_parts(cfg: Config, vocab: int) -> list[Part]:
    g, o = cfg.generator, cfg.oracle
    sizes = f"generator.hidden_dim, generator.emb_dim or {_vocab_knob(cfg)}"
    own_count = registry.algorithm(cfg.algorithm).generator_params
    generator = (
        own_count(cfg, vocab)
        if own_count is not None
        else generator_params(vocab, g.emb_dim, g.hidden_dim)
    )
    parts = [("generator", generator, TRAINED_BYTES, sizes)]
    if registry.algorithm(cfg.algorithm).vae:
        parts.append(
            (
                "VAE encoder",
                vae_extra_params(cfg, vocab),
                TRAINED_BYTES,
                "vae.encoder_hidden_dim, vae.encoder_emb_dim or vae.latent_dim",
            )
        )
    algorithm = registry.algorithm(cfg.algorithm)
    if algorithm.discriminator:
        own_d = algorithm.discriminator_params
        parts.append(
            (
                "discriminator",
                own_d(cfg, vocab) if own_d is not None else discriminator_params(cfg, vocab),
                TRAINED_BYTES,
                "discriminator.emb_dim or discriminator.num_filters",
            )
        )
    if registry.algorithm(cfg.algorithm).rollout:
        parts.append(("roll-out copy", generator, FROZEN_BYTES, sizes))
    if cfg.data.kind == "oracle":
        parts.append(
            (
                "oracle",
                generator_params(vocab, o.emb_dim, o.hidden_dim),
                FROZEN_BYTES,
                f"oracle.hidden_dim, oracle.emb_dim or {_vocab_knob(cfg)}",
            )
        )
    return [
        Part(name, count, "parameters", count * size, knobs) for name, count, size, knobs in parts
    ]


def _activation_parts(cfg: Config, vocab: int, seq_len: int) -> list[Part]:
    g, d, v, n = cfg.generator, cfg.discriminator, cfg.vae, cfg.adversarial.num_rollouts
    trained, scored = 3 * vocab + 6 * g.hidden_dim, 2 * vocab + 6 * g.hidden_dim
    vocab_or_length = f"{_vocab_knob(cfg)} or {_length_knob(cfg)}"
    parts = [
        ("MLE batch", g.batch_size * seq_len * trained, f"generator.batch_size, {vocab_or_length}"),
        ("NLL scoring", CPU_ROWS * seq_len * scored, vocab_or_length),
        ("sampling batch", (g.sample_batch or CPU_ROWS) * scored, "generator.sample_batch"),
    ]
    if registry.algorithm(cfg.algorithm).rollout:
        parts.append(
            (
                "MC search",
                n * g.batch_size * scored + seq_len * g.batch_size * 2 * g.hidden_dim,
                "adversarial.num_rollouts or generator.batch_size",
            )
        )
    own = registry.algorithm(cfg.algorithm).activations
    if own is not None:
        parts.extend(own(cfg, vocab, seq_len))
    elif registry.algorithm(cfg.algorithm).discriminator:
        maps = sum(f * max(0, seq_len - w + 1) for w, f in zip(d.filter_sizes, d.num_filters))
        parts.append(
            (
                "discriminator batch",
                2 * max(d.batch_size, d.score_chunk or CPU_ROWS) * (d.emb_dim * seq_len + maps),
                "discriminator.batch_size, discriminator.score_chunk or discriminator.num_filters",
            )
        )
    if registry.algorithm(cfg.algorithm).vae:
        parts.append(
            (
                "VAE encoder batch",
                2 * g.batch_size * seq_len * (v.encoder_emb_dim + 26 * v.encoder_hidden_dim),
                "generator.batch_size or vae.encoder_hidden_dim",
            )
        )
    return [Part(name, count, "floats", count * FLOAT_BYTES, knobs) for name, count, knobs in parts]


def _data_part(cfg: Config, seq_len: int, rows: int) -> Part:
    negatives = rows if registry.algorithm(cfg.algorithm).discriminator else 0
    ids = (rows + negatives + cfg.eval.num_samples) * seq_len
    knobs = (
        "data.num_train, data.num_test or eval.num_samples"
        if cfg.data.kind == "oracle"
        else "data.limit or eval.num_samples"
    )
    return Part("data", ids, "ids", ids * ID_BYTES, knobs)


def estimate(cfg: Config, vocab_size: int, seq_len: int, rows: int = 0) -> Estimate:
    """The memory a run of ``cfg`` needs on a task of V = ``vocab_size`` tokens, length
    T = ``seq_len`` and ``rows`` training + held-out sequences (see the module docstring)."""
    activations = _activation_parts(cfg, vocab_size, seq_len)
    return Estimate(
        _parameter_parts(cfg, vocab_size),
        max(activations, key=lambda p: p.bytes),
        _data_part(cfg, seq_len, rows),
    )


# -- the check --------------------------------------------------------------------------


def physical_memory() -> int | None:
    """Bytes of RAM of this machine (None where ``os.sysconf`` cannot tell)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def human_bytes(n: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**6 else f"{float(n):.1e}"


def check_fits(
    cfg: Config, vocab_size: int, seq_len: int, rows: int = 0, available: int | None = None
) -> Estimate:
    """``estimate``, refused with a one-line ``UserError`` when above ``available`` bytes
    (default: ``physical_memory()``; no check where that is unknown)."""
    found = estimate(cfg, vocab_size, seq_len, rows)
    available = physical_memory() if available is None else available
    if available is None or found.bytes <= available:
        return found
    params = ", ".join(f"{p.name} {_count(p.count)}" for p in found.parameters)
    act, data = found.activation, found.data
    raise UserError(
        f"the model does not fit in memory: about {human_bytes(found.bytes)} of parameters, "
        f"activations and data (V = {vocab_size:,}, T = {seq_len:,}; parameters: {params}; "
        f"largest activation: {act.name}, {_count(act.count)} floats; data "
        f"{_count(data.count)} ids) but this machine has {human_bytes(available)}; reduce "
        f"{found.largest().knobs}"
    )


SAMPLE_TOKEN_BYTES = 16  # per sampled token held at once: its int64 id and a list slot


def check_sample_memory(flag: str, count: int, seq_len: int) -> None:
    """Refuse (one line) ``count`` sequences of ``seq_len`` tokens to be held at once
    (evaluation samples: their ids, and the token lists BLEU reads) when they alone
    would exceed the machine's physical memory."""
    need = count * seq_len * SAMPLE_TOKEN_BYTES
    have = physical_memory()
    if have is not None and need > have:
        most = have // (seq_len * SAMPLE_TOKEN_BYTES)
        raise UserError(
            f"{flag} {count}: {count} x {seq_len} sampled tokens would need "
            f"at least {human_bytes(need)}, more than this machine's "
            f"{human_bytes(have)}; at most about {_count(most)} fit"
        )


def check_before_data(cfg: Config) -> None:
    """``check_fits`` on what the config alone fixes: a random oracle's V and T (before the
    oracle is built and sampled); other tasks learn V and T from their data."""
    o, d = cfg.oracle, cfg.data
    if d.kind == "oracle" and o.source == "random":
        check_fits(cfg, o.vocab_size, o.seq_len, d.num_test + (0 if d.train_file else d.num_train))
