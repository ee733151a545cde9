"""RelGAN (Nie, Narodytska & Patel, ICLR 2019) as phases (docs/algorithms/relgan.md).

1. ``pretrain_generator``: MLE epochs of the relational-memory generator
   (``models.relgan.RelGANGenerator``) on S, Adam at ``generator.lr``; shareable with
   another RelGAN run of the same generator settings (``pretrain.generator_from``).
2. ``adversarial``: each epoch is one of the authors' adversarial iterations:
   ``adversarial.g_steps`` generator updates, then ``adversarial.d_steps`` discriminator
   updates, each on one batch of ``generator.batch_size`` real sequences and as many
   free-running Gumbel-softmax samples at the epoch's inverse temperature beta
   (``rl.relgan.inverse_temperature``).  The generator's gradient flows from D through the
   relaxed one-hots (no policy gradient); the loss pair is ``relgan.loss``.

Optimizers: ``mle`` (pre-training), ``adversarial`` (the generator, ``relgan.g_lr``) and
``discriminator`` (``discriminator.lr``), all Adam.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from seqgan.config import Config, knob
from seqgan.data.task import Task
from seqgan.errors import UserError
from seqgan.models.relgan import (
    D_HIDDEN,
    D_KERNELS,
    RelGANDiscriminator,
    RelGANGenerator,
    relgan_discriminator_row_macs,
    relgan_generator_params,
    relgan_step_macs,
)
from seqgan.registry import Algorithm
from seqgan.rl.relgan import LOSSES, SCHEDULES, gradient_penalty, inverse_temperature
from seqgan.runtime import progress
from seqgan.training import parts, steps
from seqgan.training.loop import Phase
from seqgan.training.work import Work, WorkModel, evaluation_share

# the keys of [relgan] that shape the generator, so its MLE pre-training (shared by runs
# that differ in anything else: beta_max, the loss, the discriminator, ...)
GENERATOR_KEYS = ("relgan.mem_slots", "relgan.num_heads", "relgan.head_size")


@dataclass
class RelGANConfig:
    """RelGAN (Nie et al. 2019; docs/algorithms/relgan.md): a relational-memory generator
    trained through a Gumbel-softmax relaxation against a multi-representation CNN."""

    mem_slots: int = knob(
        1, low=1
    )  # N: memory slots of the relational memory (authors' run scripts: 1)
    num_heads: int = knob(2, low=1)  # H: attention heads (authors: 2)
    head_size: int = knob(256, low=1)  # d: size of each head; the memory is N x H d (authors: 256)
    beta_max: float = knob(
        100.0, low=1.0
    )  # the largest inverse temperature of the Gumbel-softmax (paper: 100 and 1000)
    schedule: str = knob(
        "exp", choices=tuple(SCHEDULES)
    )  # how beta grows from 1 to beta_max over the adversarial epochs (rl/relgan.py; paper: exp)
    temperature_steps: int = knob(
        0, low=0
    )  # N of the schedule (0 = adversarial.epochs, the paper's; the authors' code: 5000); later epochs keep the last step's beta
    straight_through: bool = False  # D reads the hard one-hot of each sampled token, the gradient that of the soft sample (paper and authors' code: the soft sample)
    loss: str = knob(
        "rsgan", choices=tuple(LOSSES)
    )  # the adversarial loss pair (rl/relgan.py; paper: rsgan)
    gp_weight: float = knob(10.0, low=0.0)  # lambda of the gradient penalty (loss = "wgan-gp" only)
    num_representations: int = knob(
        64, low=1
    )  # S: embedded representations in D, each discriminator.emb_dim / S wide (authors: 64 of 64 -> 1 each)
    g_lr: float = knob(
        1e-4, low=0.0
    )  # Adam learning rate of the generator's adversarial updates (authors' gadv_lr)
    d_grad_clip: float = knob(
        5.0, low=0.0
    )  # gradient-norm clip of D's updates (authors: 5.0; 0 = off)
    d_kernel: str = knob(
        "max_windows", choices=tuple(D_KERNELS)
    )  # formulation of D's convolutions + max-over-time (models/relgan.py: max_windows keeps each maximum's position, not the maps; the others: models/discriminator_kernels.py)


def validate(cfg: Config) -> None:
    rl = cfg.section("relgan")
    if cfg.discriminator.emb_dim % rl.num_representations:
        raise UserError(
            f"discriminator.emb_dim ({cfg.discriminator.emb_dim}) must be a multiple of "
            f"relgan.num_representations ({rl.num_representations}): each representation "
            "takes an equal share of it"
        )


def build_generator(cfg: Config, task: Task) -> RelGANGenerator:
    """The relational-memory generator of ``cfg`` on the task's device."""
    rl = cfg.section("relgan")
    generator = RelGANGenerator(
        task.vocab_size,
        cfg.generator.emb_dim,
        task.seq_len,
        task.start_token,
        rl.mem_slots,
        rl.num_heads,
        rl.head_size,
        task.eos_token,
        task.pad_token,
        task.never_output,
    ).to(task.device)
    return parts.with_output_kernel(cfg, task, generator)


def generator_params(cfg: Config, vocab: int) -> int:
    rl = cfg.section("relgan")
    return relgan_generator_params(
        vocab, cfg.generator.emb_dim, rl.mem_slots, rl.num_heads, rl.head_size
    )


def discriminator_params(cfg: Config, vocab: int) -> int:
    """Parameters of ``RelGANDiscriminator`` (memory estimate, ``models.size``): the
    ``[V, S e]`` embedding, the filters ``f_i x e x w_i`` and their F biases, the highway's
    two ``F x F`` maps (no biases), and the ``F -> 100 -> 1`` head."""
    d, rl = cfg.discriminator, cfg.section("relgan")
    e, total = d.emb_dim // rl.num_representations, sum(d.num_filters)
    convolutions = sum(f * e * w for w, f in zip(d.filter_sizes, d.num_filters))
    head = D_HIDDEN * total + D_HIDDEN + D_HIDDEN + 1
    return vocab * rl.num_representations * e + convolutions + total + 2 * total * total + head


def activations(cfg: Config, vocab: int, seq_len: int) -> list[tuple[str, int, str]]:
    """RelGAN's largest pass for the memory estimate (``models.size``), floats: a
    generator step, whose relaxed samples ``[B, T, V]`` keep the logits, the Gumbel noise,
    the relaxed one-hots and their gradient (4 B T V), and whose D pass over B real + B
    relaxed rows, S representations each, keeps the embedded rows with their gradient
    (2 T e per row) and the highway head's five ``[rows, F]`` arrays; with a kernel other
    than ``max_windows``, also the ``[rows, L_i, f_i]`` feature maps."""
    d, rl, batch = cfg.discriminator, cfg.section("relgan"), cfg.generator.batch_size
    e, total = d.emb_dim // rl.num_representations, sum(d.num_filters)
    rows = 2 * batch * rl.num_representations
    floats = 4 * batch * seq_len * vocab + rows * (2 * seq_len * e + 5 * total)
    if rl.d_kernel != "max_windows":
        floats += rows * sum(
            f * max(0, seq_len - w + 1) for w, f in zip(d.filter_sizes, d.num_filters)
        )
    knobs = "generator.batch_size, relgan.num_representations or discriminator.num_filters"
    return [("RelGAN step", floats, knobs)]


def build_discriminator(cfg: Config, task: Task) -> RelGANDiscriminator:
    d, rl = cfg.discriminator, cfg.section("relgan")
    return RelGANDiscriminator(
        task.vocab_size,
        task.seq_len,
        num_representations=rl.num_representations,
        representation_dim=d.emb_dim // rl.num_representations,
        filter_sizes=d.filter_sizes,
        num_filters=d.num_filters,
        dropout=d.dropout,
        kernel=rl.d_kernel,
    ).to(task.device)


def beta_at(cfg: Config, epoch: int) -> float:
    """The inverse temperature of adversarial epoch ``epoch`` (1-based): the schedule at
    step ``epoch - 1`` (at most its last step)."""
    rl = cfg.section("relgan")
    total = rl.temperature_steps or cfg.adversarial.epochs
    return inverse_temperature(rl.schedule, min(epoch, total) - 1, total, rl.beta_max)


def real_batch(task: Task, n: int) -> torch.Tensor:
    """``n`` distinct random rows of the training set (all of it if smaller)."""
    rows = torch.randperm(len(task.train), device=task.train.device)[:n]
    return task.train[rows]


def generator_step(cfg: Config, task: Task, models: dict, optimizers: dict, beta: float) -> float:
    """One adversarial update of the generator (Adam ``adversarial``): its loss under D on
    fresh relaxed samples (D's parameters frozen; its scores of the real batch without
    gradients)."""
    rl, batch = cfg.section("relgan"), cfg.generator.batch_size
    generator, discriminator = models["generator"], models["discriminator"]
    real = real_batch(task, batch)
    _, fake = generator.relaxed_sample(batch, beta, rl.straight_through)
    discriminator.requires_grad_(False)
    try:
        with torch.no_grad():
            d_real = discriminator(real)
        _, loss = LOSSES[rl.loss](d_real, discriminator(fake))
    finally:
        discriminator.requires_grad_(True)
    return steps.update(
        generator.parameters(),
        optimizers["adversarial"],
        loss,
        cfg.generator.grad_clip,
        "RelGAN's generator",
    )


def discriminator_step(
    cfg: Config, task: Task, models: dict, optimizers: dict, beta: float
) -> float:
    """One update of D (Adam ``discriminator``): a real batch against as many relaxed
    samples (no gradient to the generator), one forward pass over both."""
    rl, batch = cfg.section("relgan"), cfg.generator.batch_size
    generator, discriminator = models["generator"], models["discriminator"]
    real = real_batch(task, batch)
    with torch.no_grad():
        _, fake = generator.relaxed_sample(batch, beta, rl.straight_through)
    d_real, d_fake = discriminator.pair(real, fake)
    loss, _ = LOSSES[rl.loss](d_real, d_fake)
    if rl.loss == "wgan-gp":
        one_hot = F.one_hot(real, task.vocab_size).to(fake.dtype)
        loss = loss + gradient_penalty(discriminator, one_hot, fake, rl.gp_weight)
    return steps.update(
        discriminator.parameters(),
        optimizers["discriminator"],
        loss,
        rl.d_grad_clip,
        "RelGAN's discriminator",
    )


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of RelGAN for ``cfg`` on ``task``."""
    generator = build_generator(cfg, task)
    models = {"generator": generator, "discriminator": build_discriminator(cfg, task)}
    optimizers = {
        "mle": parts.adam(generator, cfg.generator.lr),
        "adversarial": parts.adam(generator, cfg.section("relgan").g_lr),
        "discriminator": parts.adam(models["discriminator"], cfg.discriminator.lr),
    }

    def adversarial(epoch: int) -> dict:
        beta = beta_at(cfg, epoch)
        row: dict = {"beta": beta}
        for _ in progress.steps("g-step", cfg.adversarial.g_steps):
            row["g_loss"] = generator_step(cfg, task, models, optimizers, beta)
        for _ in progress.steps("d-step", cfg.adversarial.d_steps):
            row["d_loss"] = discriminator_step(cfg, task, models, optimizers, beta)
        return row

    pretrain = parts.mle_phase(
        parts.PRETRAIN, cfg.pretrain.generator_epochs, cfg, task, generator, optimizers["mle"]
    )
    pretrain.shared_optimizer, pretrain.shaped_by = "mle", GENERATOR_KEYS
    epochs = cfg.adversarial.epochs
    return models, optimizers, [pretrain, Phase("adversarial", epochs, adversarial, True)]


def generator_step_flops(cfg: Config, vocab: int) -> float:
    """FLOPs of one forward row-step of the relational-memory generator."""
    rl = cfg.section("relgan")
    return 2.0 * relgan_step_macs(
        vocab, cfg.generator.emb_dim, rl.mem_slots, rl.num_heads, rl.head_size
    )


def discriminator_row_flops(cfg: Config, seq_len: int, vocab: int = 0) -> float:
    """FLOPs of D's forward pass over one row: of token ids (``vocab`` 0: an embedding
    lookup), or of a relaxed one-hot row over ``vocab`` tokens (a product)."""
    d, rl = cfg.discriminator, cfg.section("relgan")
    return 2.0 * relgan_discriminator_row_macs(
        vocab,
        seq_len,
        rl.num_representations,
        d.emb_dim // rl.num_representations,
        d.filter_sizes,
        d.num_filters,
        one_hot=vocab > 0,
    )


def epoch_flops(cfg: Config, task: Task, phase: str, epochs: int) -> Work | None:
    """The work of one epoch (``training.work``'s count, with RelGAN's models): MLE over
    the n training rows, ``n T 3g`` (training work); an adversarial iteration of B = ``generator.batch_size``
    rows, ``g_steps`` x (B relaxed samples with their graph, ``3 B T g``; D forward and
    backward over them, ``3 B d_soft``, and forward over B real rows, ``B d``) and
    ``d_steps`` x (B samples, ``B T g``; D forward and backward over both batches,
    ``3 B (d_soft + d)``); each with its share of the evaluations."""
    T, V, B = task.seq_len, task.vocab_size, cfg.generator.batch_size
    g = generator_step_flops(cfg, V)
    evaluation = evaluation_share(cfg, task, epochs)
    if phase == parts.PRETRAIN:
        return Work(0.0, training=len(task.train) * T * 3 * g) + evaluation
    if phase == "adversarial":
        real, soft = discriminator_row_flops(cfg, T), discriminator_row_flops(cfg, T, V)
        a = cfg.adversarial
        g_step = Work(3 * B * T * g, 3 * B * soft + B * real).scaled(a.g_steps)
        d_step = Work(B * T * g, 3 * B * (soft + real)).scaled(a.d_steps)
        return g_step + d_step + evaluation
    return None


WORK = WorkModel(generator_step_flops, discriminator_row_flops, epoch_flops)

# RelGAN runs of equal generator settings share their pre-training by pretrain.generator_from
# (seqgan compare --sweep relgan.KNOB=...: a pretrain-relgan run per seed)
ALGORITHM = Algorithm(
    "relgan",
    build,
    "RelGAN (Nie et al. 2019): relational memory, Gumbel-softmax, S representations in D; [relgan]",
    config=RelGANConfig,
    validate=validate,
    work=WORK,
    discriminator_params=discriminator_params,
    activations=activations,
    **parts.own_generator_fields(build_generator, generator_params, shareable=True),
)
