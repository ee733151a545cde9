"""LeakGAN (Guo et al. 2018) as phases (docs/algorithms/leakgan.md).

1. ``pretrain_discriminator``: D pre-training rounds on samples of the untrained
   generator (the authors' code trains D before the generator: its features feed the
   manager).
2. ``pretrain_generator``: MLE epochs: the worker's cross-entropy plus the manager's
   pre-training loss -d_cos(f_{t+c} - f_t, g_t) on real data (``leakgan_mle_epoch``).
3. ``adversarial``: each epoch ``adversarial.g_steps`` g-steps (``leakgan_step``: block
   rewards by MC search, rescaled by rank; manager and worker losses), then
   ``adversarial.d_steps`` d-steps (SeqGAN's); every ``leakgan.mle_every`` epochs
   ``leakgan.mle_epochs`` MLE epochs (interleaved training).

One Adam trains the manager and the worker in each stage (``mle`` in MLE epochs,
``policy`` in g-steps); neither touches D, whose own Adam is ``discriminator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqgan.config import Config, knob
from seqgan.data.task import Task
from seqgan.models.leakgan import LeakGANGenerator, leakgan_params
from seqgan.registry import Algorithm
from seqgan.rl.leakgan import (
    block_q,
    intrinsic_rewards,
    manager_loss,
    rescaled_activation,
    worker_loss,
)
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.runtime import progress
from seqgan.training import parts, steps
from seqgan.training.loop import Phase


@dataclass
class LeakGANConfig:
    """LeakGAN (Guo et al. 2018; docs/algorithms/leakgan.md): a manager reads D's leaked
    features and sets goals every c steps for a worker."""

    goal_size: int = knob(16, low=1)  # k: size of the goal embedding w_t (authors' code: 16)
    step: int = knob(
        4, low=1
    )  # c: the manager's horizon; rewards at every c-th prefix (authors' code: 4)
    num_rollouts: int = knob(
        4, low=1
    )  # completions per block-end prefix in the MC search (authors' code: 4)
    delta: float = knob(
        16.0, low=0.0
    )  # delta of the bootstrapped rescaled activation sigmoid(delta (0.5 - rank / B)) (authors' code: 16)
    mle_every: int = knob(
        10, low=0
    )  # interleaved training: MLE epochs after every this many adversarial epochs (0 = none)
    mle_epochs: int = knob(1, low=1)  # interleaved training: MLE epochs each time


def build_generator(cfg: Config, task: Task) -> LeakGANGenerator:
    """The manager/worker generator with its own D (``cfg.discriminator``), on the task's
    device; the D is ``generator.discriminator``."""
    discriminator = parts.build_discriminator(cfg, task)
    lk = cfg.section("leakgan")
    return LeakGANGenerator(
        **parts.generator_arguments(cfg, task),
        discriminator=discriminator,
        goal_size=lk.goal_size,
        step=lk.step,
    ).to(task.device)


def generator_params(cfg: Config, vocab: int) -> int:
    """The parameters of ``build_generator``'s model without its D (memory estimate)."""
    g, lk = cfg.generator, cfg.section("leakgan")
    return leakgan_params(
        vocab, g.emb_dim, g.hidden_dim, lk.goal_size, sum(cfg.discriminator.num_filters)
    )


def _adam(generator: LeakGANGenerator, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(
        generator.worker_parameters() + generator.manager_parameters(), lr=lr, fused=True
    )


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of LeakGAN for ``cfg`` on ``task``."""
    generator = build_generator(cfg, task)
    discriminator = generator.discriminator
    models = {"generator": generator, "discriminator": discriminator}
    optimizers = {
        "mle": _adam(generator, cfg.generator.lr),
        "policy": _adam(generator, cfg.generator.lr),
        "discriminator": parts.adam(discriminator, cfg.discriminator.lr),
    }
    reward, d_step = parts.discriminator_parts(
        cfg, task, generator, discriminator, optimizers["discriminator"]
    )

    def mle(epoch: int) -> dict:
        worker, manager = leakgan_mle_epoch(cfg, task, generator, optimizers["mle"])
        return {"g_loss": worker, "manager_loss": manager}

    def adversarial(epoch: int) -> dict:
        row: dict = {}
        for _ in progress.steps("g-step", cfg.adversarial.g_steps):
            row.update(leakgan_step(cfg, generator, reward, optimizers["policy"]))
        row.update(parts.discriminator_updates(cfg, d_step))
        lk = cfg.section("leakgan")
        if lk.mle_every and epoch % lk.mle_every == 0:
            for _ in range(lk.mle_epochs):
                row["mle_loss"], _ = leakgan_mle_epoch(cfg, task, generator, optimizers["mle"])
        return row

    phases = [
        parts.discriminator_pretrain_phase(cfg, d_step),
        Phase(parts.PRETRAIN, cfg.pretrain.generator_epochs, mle, trains_generator=True),
        Phase("adversarial", cfg.adversarial.epochs, adversarial, trains_generator=True),
    ]
    return models, optimizers, phases


def _own_parameters(generator: LeakGANGenerator) -> list[torch.Tensor]:
    return generator.worker_parameters() + generator.manager_parameters()


def leakgan_mle_epoch(
    cfg: Config, task: Task, generator: LeakGANGenerator, optimizer: torch.optim.Optimizer
) -> tuple[float, float]:
    """One epoch over S: worker cross-entropy + manager pre-training loss per minibatch;
    (mean worker loss, mean manager loss)."""
    g = cfg.generator
    generator.train()
    worker_sum = manager_sum = 0.0
    batches = steps.minibatches(len(task.train), g.batch_size, task.train.device)
    for step, idx in enumerate(batches, start=1):
        progress.advance("batch", step - 1, len(batches))
        batch = task.train[idx]
        leaked = generator.leaked(batch)
        worker = steps.token_cross_entropy(generator, leaked.logits, batch)
        manager = manager_loss(leaked.features, leaked.goals, generator.step_size)
        steps.update(
            _own_parameters(generator),
            optimizer,
            worker + manager,
            g.grad_clip,
            f"LeakGAN's MLE (batch {step})",
        )
        worker_sum += float(worker.detach())
        manager_sum += float(manager.detach())
    return worker_sum / len(batches), manager_sum / len(batches)


def leakgan_step(
    cfg: Config,
    generator: LeakGANGenerator,
    reward: DiscriminatorReward,
    optimizer: torch.optim.Optimizer,
) -> dict:
    """One adversarial g-step: a batch of samples, Q at the block ends by MC search
    (``leakgan.num_rollouts`` completions each) rescaled by rank, the manager's and the
    worker's losses, one update of both."""
    g, lk = cfg.generator, cfg.section("leakgan")
    samples = generator.sample(g.batch_size, g.batch_size)
    q = block_q(generator, samples, reward, lk.num_rollouts)
    generator.train()
    leaked = generator.leaked(samples)
    mask = generator.token_mask(samples)
    log_probs = torch.log_softmax(leaked.logits, -1).gather(-1, samples.unsqueeze(-1))
    log_probs = log_probs.squeeze(-1) * mask
    manager = manager_loss(
        leaked.features, leaked.goals, generator.step_size, rescaled_activation(q, lk.delta)
    )
    worker = worker_loss(
        log_probs, intrinsic_rewards(leaked.features, leaked.goals, generator.step_size) * mask
    )
    value = steps.update(
        _own_parameters(generator), optimizer, manager + worker, g.grad_clip, "the LeakGAN update"
    )
    return {
        "g_loss": value,
        "reward_mean": float(q[:, -1].mean()),
        "manager_loss": float(manager.detach()),
        "worker_loss": float(worker.detach()),
    }


ALGORITHM = Algorithm(
    "leakgan",
    build,
    "LeakGAN (Guo et al. 2018): manager/worker over D's leaked features, section [leakgan]",
    config=LeakGANConfig,
    **parts.own_generator_fields(build_generator, generator_params),
)
