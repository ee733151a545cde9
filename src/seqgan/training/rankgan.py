"""RankGAN (Lin et al. 2017) as phases: SeqGAN's loop with the discriminator replaced by a
ranker and the reward by the expected log rank score (docs/algorithms/rankgan.md).

1. ``pretrain_generator``: MLE on S (shared with every MLE-pre-trained algorithm).
2. ``pretrain_discriminator``: ``pretrain.discriminator_rounds`` rounds of ranker training
   on fresh generated sequences (``ranker_step``).
3. ``adversarial``: each epoch ``adversarial.g_steps`` policy-gradient g-steps whose
   reward is log R(Y|U, C+) (a fresh reference set U and comparison set C+ of real
   sequences per g-step), by SeqGAN's MC search and roll-out policy, then
   ``adversarial.d_steps`` ranker steps of ``adversarial.k_epochs`` epochs.

Knobs: ``[rankgan]`` (|U|, |C|, gamma); the ranker's shape, learning rate, batch of
positives and kernels are ``[discriminator]``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqgan.config import Config, knob
from seqgan.data.task import Task
from seqgan.models.ranker import Ranker
from seqgan.registry import Algorithm
from seqgan.rl.ranking import LogRankReward, log_rank_scores, ranker_loss
from seqgan.runtime import progress
from seqgan.training import parts, steps


@dataclass
class RankGANConfig:
    """RankGAN (Lin et al. 2017; docs/algorithms/rankgan.md): a ranker scores sequences by
    cosine relevance to a reference set, against a comparison set (Eqs. 2-4)."""

    reference_size: int = knob(
        16, low=1
    )  # |U|: real sequences each candidate is compared with (Texygen: 16)
    comparison_size: int = knob(
        64, low=1
    )  # |C|: sequences of the other kind it is ranked against; also the ranker's minibatch per kind (Texygen: the batch, 64)
    gamma: float = knob(
        1.0, low=0.0
    )  # gamma of Eq. 3, the softmax's inverse temperature over C' (Texygen: 1)


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of RankGAN for ``cfg`` on ``task``."""
    generator = parts.build_generator(cfg, task)
    ranker = parts.build_discriminator(cfg, task, Ranker)
    rollout = parts.rollout_copy(generator)
    # not "discriminator": the evaluator's D diagnostics (precision, recall) need a classifier
    models = {"generator": generator, "rollout": rollout, "ranker": ranker}
    optimizers = {
        "mle": parts.adam(generator, cfg.generator.lr),
        "policy": parts.adam(generator, cfg.generator.lr),
        "discriminator": parts.adam(ranker, cfg.discriminator.lr),
    }

    def d_step(epochs: int) -> tuple[float, float]:
        real = parts.positives(cfg, task)
        fake = generator.sample(len(real), cfg.generator.sample_batch)
        return ranker_step(cfg, task, ranker, optimizers["discriminator"], real, fake, epochs)

    def g_updates(epoch: int) -> dict:
        row: dict = {}
        for _ in progress.steps("g-step", cfg.adversarial.g_steps):
            r = cfg.section("rankgan")
            reward = LogRankReward(
                ranker,
                _rows(task.train, r.reference_size),
                _rows(task.train, r.comparison_size),
                r.gamma,
                cfg.discriminator.score_chunk,
            )
            row["g_loss"], row["reward_mean"] = steps.policy_gradient_step(
                generator, rollout, reward, optimizers["policy"], cfg
            )
        return row

    phases = parts.gan_phases(cfg, task, generator, optimizers, rollout, d_step, g_updates)
    return models, optimizers, phases


def _rows(data: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` distinct random rows of ``data`` (all of them if it has fewer)."""
    return data[torch.randperm(len(data), device=data.device)[:count]]


def ranker_step(
    cfg: Config,
    task: Task,
    ranker: Ranker,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    epochs: int,
) -> tuple[float, float]:
    """Train the ranker ``epochs`` epochs on ``real`` and ``fake`` sequences; (mean loss,
    accuracy) of the last epoch.

    A minibatch holds c = ``rankgan.comparison_size`` real and c generated sequences and
    a fresh reference set U of ``rankgan.reference_size`` training sequences: each real
    one is ranked against the minibatch's generated ones (C-), each generated one against
    its real ones (C+), and the loss is Eq. 1 negated (``rl.ranking.ranker_loss``).
    Accuracy: the share of candidates on the right side of the rank score of a tie,
    1 / (c + 1) (real above, generated below)."""
    r = cfg.section("rankgan")
    size = r.comparison_size
    ranker.train()
    loss_sum = seen = 0.0
    correct = torch.zeros((), dtype=torch.long, device=real.device)
    tie = -math.log(size + 1)
    for epoch in range(1, epochs + 1):
        loss_sum, seen = 0.0, 0.0
        correct = torch.zeros((), dtype=torch.long, device=real.device)
        real_order = torch.randperm(len(real), device=real.device)
        fake_order = torch.randperm(len(fake), device=fake.device)
        count = max(1, min(len(real), len(fake)) // size)
        for step in range(count):
            rows = slice(step * size, (step + 1) * size)
            real_b, fake_b = real[real_order[rows]], fake[fake_order[rows]]
            references = _rows(task.train, r.reference_size)
            y = ranker.embed(torch.cat([real_b, fake_b, references]))
            y_real, y_fake, y_ref = y.split([len(real_b), len(fake_b), len(references)])
            real_log_rank = log_rank_scores(y_real, y_ref, y_fake, r.gamma)
            fake_log_rank = log_rank_scores(y_fake, y_ref, y_real, r.gamma)
            loss = ranker_loss(real_log_rank, fake_log_rank)
            batch = len(real_b) + len(fake_b)
            loss_sum += (
                steps.update(
                    ranker.parameters(),
                    optimizer,
                    loss,
                    0.0,
                    f"the ranker (epoch {epoch}, batch {step + 1})",
                )
                * batch
            )
            correct += (real_log_rank.detach() > tie).sum() + (fake_log_rank.detach() < tie).sum()
            seen += batch
    return loss_sum / seen, float(correct) / seen


ALGORITHM = Algorithm(
    "rankgan",
    build,
    "RankGAN (Lin et al. 2017): a ranker's expected log rank score as reward, section [rankgan]",
    config=RankGANConfig,
    discriminator=True,
    rollout=True,
    cost=3,
)
