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

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.registry import Algorithm
from seqgan.training import parts


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of SeqGAN for ``cfg`` on ``task``."""
    models, optimizers = parts.adversarial_models(cfg, task)
    generator, rollout, discriminator = (
        models[k] for k in ("generator", "rollout", "discriminator")
    )
    reward, d_step = parts.discriminator_parts(
        cfg, task, generator, discriminator, optimizers["discriminator"]
    )

    def g_updates(epoch: int) -> dict:
        return parts.policy_gradient_updates(cfg, generator, rollout, reward, optimizers["policy"])

    phases = parts.gan_phases(cfg, task, generator, optimizers, rollout, d_step, g_updates)
    return models, optimizers, phases


ALGORITHM = Algorithm(
    "seqgan",
    build,
    "SeqGAN (Yu et al. 2017): policy gradient, MC search, a CNN discriminator as reward",
    discriminator=True,
    rollout=True,
    cost=3,
)
