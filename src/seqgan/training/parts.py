"""Building blocks every algorithm composes: models, optimizers and the phases they share.

An algorithm module (``training.seqgan``, ``training.mle``, ...) exposes ``build(cfg,
task) -> (models, optimizers, phases)``; the parts here keep them to a few lines each.
Conventions the trainer relies on: the generator is ``models["generator"]``, and its
pre-training (MLE with ``optimizers["mle"]``; a VAE's with ``optimizers["vae"]``) is the
first phase, named ``pretrain_generator``, which runs of the same settings can share
(``Phase.shared_optimizer``, ``pretrain.generator_from``)."""

from __future__ import annotations

import copy

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.kernel_choice import choose_kernels
from seqgan.models.output_loss import choose_chunk_mib, choose_output_kernel
from seqgan.models.pass_rows import score_rows
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.rl.rollout import Reward
from seqgan.runtime import progress
from seqgan.runtime.device import check_precision
from seqgan.training import steps
from seqgan.training.loop import Phase

PRETRAIN = "pretrain_generator"


def generator_arguments(cfg: Config, task: Task) -> dict:
    """The keyword arguments every generator takes: the task's V, T and special tokens,
    ``cfg.generator``'s sizes and initialisation."""
    g = cfg.generator
    sizes = {"emb_dim": g.emb_dim, "hidden_dim": g.hidden_dim, "init_std": g.init_std}
    return {
        "vocab_size": task.vocab_size,
        "max_len": task.seq_len,
        **sizes,
        **task.special_tokens(),
    }


def build_generator(cfg: Config, task: Task) -> Generator:
    """G_theta of ``cfg.generator``, its output kernel set (``with_output_kernel``)."""
    # initialised on the CPU (the same weights on every device), then moved to the task's
    generator = Generator(**generator_arguments(cfg, task)).to(task.device)
    return with_output_kernel(cfg, task, generator)


def with_output_kernel(cfg: Config, task: Task, generator: Generator) -> Generator:
    """``generator`` with ``generator.output_kernel`` and ``output_chunk_mib`` set; "auto"
    ones are resolved (``models.output_loss.choose_output_kernel``, ``choose_chunk_mib``)
    in ``cfg``, so ``config.toml`` records them."""
    g = cfg.generator
    g.output_kernel = choose_output_kernel(
        g.output_kernel, task.vocab_size, torch.device(task.device)
    )
    g.output_chunk_mib = choose_chunk_mib(g.output_chunk_mib)
    generator.output_kernel = g.output_kernel
    generator.output_chunk_mib = g.output_chunk_mib
    return generator


def build_discriminator(cfg: Config, task: Task, kind: type = Discriminator) -> Discriminator:
    """D of ``cfg.discriminator`` (or another model of its shape, ``kind``: RankGAN's
    ranker); an ``"auto"`` kernel is replaced in ``cfg`` by the one measured fastest here
    (``models.kernel_choice``), so ``config.toml`` records it. The
    scoring kernel is timed on the rows scored at a time: an MC search's
    ``num_rollouts x batch_size``, at most one ``score_chunk``."""
    d = cfg.discriminator
    check_precision(d.precision, task.device)
    scored = min(
        score_rows(d.score_chunk, d, task.seq_len, task.device),
        cfg.adversarial.num_rollouts * cfg.generator.batch_size,
    )
    d.kernel, d.score_kernel = choose_kernels(d, task.vocab_size, task.seq_len, task.device, scored)
    return kind(
        task.vocab_size,
        task.seq_len,
        d.emb_dim,
        d.filter_sizes,
        d.num_filters,
        d.dropout,
        d.kernel,
        d.score_kernel,
        d.precision,
    ).to(task.device)


def adam(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def rollout_copy(generator: Generator) -> Generator:
    """G_beta: a frozen copy of G_theta (refreshed with ``load_state_dict`` when needed)."""
    return copy.deepcopy(generator).requires_grad_(False)


def adversarial_models(cfg: Config, task: Task, rollout: bool = True) -> tuple[dict, dict]:
    """SeqGAN's models — ``generator``, its roll-out copy ``rollout`` (if asked for) and
    ``discriminator``, built in that order of random draws — and their optimizers:
    ``mle`` and ``policy`` (both G_theta's) and ``discriminator``."""
    generator = build_generator(cfg, task)
    discriminator = build_discriminator(cfg, task)
    models = {"generator": generator}
    if rollout:
        models["rollout"] = rollout_copy(generator)
    models["discriminator"] = discriminator
    optimizers = {
        "mle": adam(generator, cfg.generator.lr),
        "policy": adam(generator, cfg.generator.lr),
        "discriminator": adam(discriminator, cfg.discriminator.lr),
    }
    return models, optimizers


def mle_phase(
    name: str,
    epochs: int,
    cfg: Config,
    task: Task,
    generator: Generator,
    optimizer: torch.optim.Optimizer,
    on_end=None,
) -> Phase:
    """``epochs`` epochs of teacher-forced MLE on the training set (logs ``g_loss``)."""
    g = cfg.generator

    def run_epoch(epoch: int) -> dict:
        return {
            "g_loss": steps.mle_epoch(generator, optimizer, task.train, g.batch_size, g.grad_clip)
        }

    return Phase(name, epochs, run_epoch, trains_generator=True, on_end=on_end)


def pretrain_phase(
    cfg: Config,
    task: Task,
    generator: Generator,
    optimizer: torch.optim.Optimizer,
    rollout: Generator | None = None,
) -> Phase:
    """MLE pre-training (``pretrain.generator_epochs``); at its end the roll-out policy, if
    any, becomes a copy of the generator (Algorithm 1, line 3)."""
    on_end = (lambda: rollout.load_state_dict(generator.state_dict())) if rollout else None
    phase = mle_phase(
        PRETRAIN, cfg.pretrain.generator_epochs, cfg, task, generator, optimizer, on_end
    )
    phase.shared_optimizer = "mle"
    return phase


def policy_gradient_updates(
    cfg: Config,
    generator: Generator,
    rollout: Generator,
    reward: Reward,
    optimizer: torch.optim.Optimizer,
) -> dict:
    """``adversarial.g_steps`` g-steps: action values from ``reward`` by
    ``generator.estimator`` (MC search, Eq. 4, by default), update Eq. 8, then the roll-out
    update.  Logs ``g_loss`` and ``reward_mean`` (mean terminal reward of the batch); each
    g-step is reported as inner progress (``runtime.progress.steps``)."""
    row: dict = {}
    for _ in progress.steps("g-step", cfg.adversarial.g_steps):
        row["g_loss"], row["reward_mean"] = steps.policy_gradient_step(
            generator, rollout, reward, optimizer, cfg
        )
    return row


def positives(cfg: Config, task: Task) -> torch.Tensor:
    """The real sequences of one discriminator step: ``discriminator.num_positives`` random
    rows of the training set S, or all of S (0, or at least ``len(S)``)."""
    wanted = cfg.discriminator.num_positives
    if wanted == 0 or wanted >= len(task.train):
        return task.train
    return task.train[torch.randperm(len(task.train), device=task.train.device)[:wanted]]


def discriminator_step(
    cfg: Config,
    task: Task,
    generator: Generator,
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    epochs: int,
) -> tuple[float, float]:
    """One d-step: ``positives`` against as many fresh ``generator.sample`` negatives (a
    latent decoder samples its prior), ``epochs`` epochs; (loss, accuracy)."""
    d = cfg.discriminator
    real = positives(cfg, task)
    fake = generator.sample(len(real), cfg.generator.sample_batch)
    return steps.discriminator_epochs(
        discriminator, optimizer, real, fake, epochs, d.batch_size, d.l2_reg
    )


def discriminator_pretrain_phase(cfg: Config, d_step) -> Phase:
    """``pretrain.discriminator_rounds`` rounds of ``d_step(pretrain.discriminator_epochs)``
    (Algorithm 1's D pre-training; fresh negatives every round)."""

    def run_round(epoch: int) -> dict:
        loss, acc = d_step(cfg.pretrain.discriminator_epochs)
        return {"d_loss": loss, "d_accuracy": acc}

    return Phase(
        "pretrain_discriminator",
        cfg.pretrain.discriminator_rounds,
        run_round,
        trains_generator=False,
    )


def discriminator_parts(
    cfg: Config,
    task: Task,
    generator: Generator,
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
):
    """``(reward, d_step)`` of a GAN: the reward D(Y) in [0, 1] (``rl.rewards``) and
    ``d_step(epochs) -> (loss, accuracy)``, ``discriminator_step`` on these models."""

    def d_step(epochs: int) -> tuple[float, float]:
        return discriminator_step(cfg, task, generator, discriminator, optimizer, epochs)

    return DiscriminatorReward(discriminator, cfg.discriminator.score_chunk), d_step


def discriminator_updates(cfg: Config, d_step) -> dict:
    """The ``adversarial.d_steps`` d-steps of one adversarial epoch, ``k_epochs`` epochs
    each; logs the last one's ``d_loss`` and ``d_accuracy`` (each d-step reported as inner
    progress)."""
    row: dict = {}
    for _ in progress.steps("d-step", cfg.adversarial.d_steps):
        row["d_loss"], row["d_accuracy"] = d_step(cfg.adversarial.k_epochs)
    return row


def gan_phases(
    cfg: Config, task: Task, generator: Generator, optimizers: dict, rollout, d_step, g_updates
) -> list[Phase]:
    """Algorithm 1's schedule with any g-step: MLE pre-training (``optimizers["mle"]``;
    beta <- theta at its end when there is a ``rollout``), D pre-training, then adversarial
    epochs, each ``g_updates(epoch)`` (a row of logged values) followed by the d-steps."""

    def adversarial(epoch: int) -> dict:
        return {**g_updates(epoch), **discriminator_updates(cfg, d_step)}

    return [
        pretrain_phase(cfg, task, generator, optimizers["mle"], rollout),
        discriminator_pretrain_phase(cfg, d_step),
        Phase("adversarial", cfg.adversarial.epochs, adversarial, trains_generator=True),
    ]


def own_generator_fields(build_generator, generator_params, shareable: bool = False) -> dict:
    """``Algorithm`` fields of an algorithm with its own kind of generator and D (LeakGAN,
    RelGAN): its own pre-training (nothing to share with MLE-pre-trained LSTM runs; with
    ``shareable``, its first phase is shareable and ``seqgan compare`` shares it among the
    runs of a ``--sweep`` of the algorithm), and cost 0 as the pre-training runs it is
    launched with, so that ``seqgan compare`` starts it beside the shared MLE pre-training
    every other run waits for."""
    return {
        "generator": build_generator,
        "generator_params": generator_params,
        "discriminator": True,
        "pretraining": "own" if shareable else None,
        "cost": 0,
    }
