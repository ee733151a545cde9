"""SeqGAN with a sharpened reward: the discriminator's D(Y) raised to the power
``shaped_seqgan.exponent`` (1 = SeqGAN's reward), so that only sequences D finds very
real earn a high reward.  Everything else is SeqGAN's Algorithm 1, composed from the
shared parts: MLE pre-training (shareable with other runs), D pre-training, then
g-steps (MC search, Eq. 4) and d-steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqgan.extend import Algorithm, Config, Phase, Reward, Task, knob, parts


@dataclass
class ShapedConfig:
    exponent: float = knob(2.0, low=0.0)  # the reward is D(Y) ** exponent (1 = SeqGAN's)


class PowerReward:
    """``reward(tokens) ** exponent``: tokens ``[m, T]`` -> ``[m]`` in [0, 1]."""

    def __init__(self, reward: Reward, exponent: float):
        self.reward, self.exponent = reward, exponent

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.reward(tokens) ** self.exponent


def build(cfg: Config, task: Task):
    """Models, optimizers and phases, as SeqGAN's with ``PowerReward``."""
    generator = parts.build_generator(cfg, task)
    discriminator = parts.build_discriminator(cfg, task)
    rollout = parts.rollout_copy(generator)
    optimizers = {
        "mle": parts.adam(generator, cfg.generator.lr),
        "policy": parts.adam(generator, cfg.generator.lr),
        "discriminator": parts.adam(discriminator, cfg.discriminator.lr),
    }
    d_reward, d_step = parts.discriminator_parts(
        cfg, task, generator, discriminator, optimizers["discriminator"]
    )
    reward = PowerReward(d_reward, cfg.section("shaped_seqgan").exponent)

    def adversarial(epoch: int) -> dict:
        row = parts.policy_gradient_updates(cfg, generator, rollout, reward, optimizers["policy"])
        return {**row, **parts.discriminator_updates(cfg, d_step)}

    models = {"generator": generator, "rollout": rollout, "discriminator": discriminator}
    phases = [
        parts.pretrain_phase(cfg, task, generator, optimizers["mle"], rollout),
        parts.discriminator_pretrain_phase(cfg, d_step),
        Phase("adversarial", cfg.adversarial.epochs, adversarial, trains_generator=True),
    ]
    return models, optimizers, phases


ALGORITHM = Algorithm(
    "shaped-seqgan",
    build,
    "SeqGAN with the reward D(Y) ** exponent",
    config=ShapedConfig,
    discriminator=True,
    rollout=True,
    cost=3,
)
