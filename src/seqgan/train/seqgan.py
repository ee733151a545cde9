"""SeqGAN, Algorithm 1 of Yu et al. (2017), as phases for the trainer.

1. ``pretrain_generator``: MLE on the training set S (``pretrain.generator_epochs``);
   at its end beta <- theta (the roll-out policy G_beta starts as a copy of G_theta).
2. ``pretrain_discriminator``: ``pretrain.discriminator_rounds`` rounds, each with fresh
   negatives from G_theta, trained ``pretrain.discriminator_epochs`` epochs (Eq. 5).
3. ``adversarial``: each epoch does ``g_steps`` policy-gradient updates (Q by MC search
   with N = ``num_rollouts`` roll-outs of G_beta scored by D, Eq. 4; update Eq. 8; then
   beta <- r beta + (1 - r) theta) and ``d_steps`` discriminator steps, each on fresh
   negatives plus as many positives, for ``k_epochs`` epochs.
"""

from __future__ import annotations

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.train import parts, steps
from seqgan.train.loop import Phase


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of SeqGAN for ``cfg`` on ``task``."""
    generator = parts.build_generator(cfg, task)
    discriminator = parts.build_discriminator(cfg, task)
    rollout = parts.rollout_copy(generator)
    models = {"generator": generator, "rollout": rollout, "discriminator": discriminator}
    optimizers = {"mle": parts.adam(generator, cfg.generator.lr),
                  "policy": parts.adam(generator, cfg.generator.lr),
                  "discriminator": parts.adam(discriminator, cfg.discriminator.lr)}
    g, d, a = cfg.generator, cfg.discriminator, cfg.adversarial
    reward = DiscriminatorReward(discriminator, d.score_chunk)

    def positives() -> torch.Tensor:
        if d.num_positives == 0 or d.num_positives >= len(task.train):
            return task.train
        return task.train[torch.randperm(len(task.train))[: d.num_positives]]

    def d_step(epochs: int) -> tuple[float, float]:
        real = positives()
        fake = generator.sample(len(real), g.sample_batch)
        return steps.discriminator_epochs(discriminator, optimizers["discriminator"], real, fake,
                                          epochs, d.batch_size, d.l2_reg)

    def pretrain_discriminator(epoch: int) -> dict:
        loss, acc = d_step(cfg.pretrain.discriminator_epochs)
        return {"d_loss": loss, "d_accuracy": acc}

    def adversarial(epoch: int) -> dict:
        row = parts.policy_gradient_updates(cfg, generator, rollout, reward,
                                            optimizers["policy"])
        for _ in range(a.d_steps):
            row["d_loss"], row["d_accuracy"] = d_step(a.k_epochs)
        return row

    phases = [parts.pretrain_phase(cfg, task, generator, optimizers["mle"], rollout),
              Phase("pretrain_discriminator", cfg.pretrain.discriminator_rounds,
                    pretrain_discriminator, trains_generator=False),
              Phase("adversarial", a.epochs, adversarial, trains_generator=True)]
    return models, optimizers, phases
