"""SeqGAN, Algorithm 1 of Yu et al. (2017), as phases for the trainer.

1. ``pretrain_generator``: MLE on the training set S (``pretrain.generator_epochs``).
2. beta <- theta (the roll-out policy G_beta starts as a copy of G_theta).
3. ``pretrain_discriminator``: ``pretrain.discriminator_rounds`` rounds, each with fresh
   negatives from G_theta, trained ``pretrain.discriminator_epochs`` epochs (Eq. 5).
4. ``adversarial``: each epoch does ``g_steps`` policy-gradient updates (Q by MC search
   with N = ``num_rollouts`` roll-outs of G_beta, Eq. 4; update Eq. 8; then
   beta <- r beta + (1 - r) theta) and ``d_steps`` discriminator steps, each on fresh
   negatives plus as many positives, for ``k_epochs`` epochs.
"""

from __future__ import annotations

import copy

import torch

from seqgan.config import Config
from seqgan.data.synthetic import SyntheticTask
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.train import steps
from seqgan.train.loop import Phase


def build_generator(cfg: Config) -> Generator:
    o = cfg.oracle
    return Generator(o.vocab_size, cfg.generator.emb_dim, cfg.generator.hidden_dim,
                     o.seq_len, o.start_token, cfg.generator.init_std)


def build_discriminator(cfg: Config) -> Discriminator:
    d = cfg.discriminator
    return Discriminator(cfg.oracle.vocab_size, cfg.oracle.seq_len, d.emb_dim,
                         d.filter_sizes, d.num_filters, d.dropout)


def _adam(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def build(cfg: Config, task: SyntheticTask):
    """Models, optimizers and phases of SeqGAN for ``cfg`` on ``task``."""
    generator = build_generator(cfg)
    discriminator = build_discriminator(cfg)
    rollout = copy.deepcopy(generator).requires_grad_(False)
    models = {"generator": generator, "rollout": rollout, "discriminator": discriminator}
    optimizers = {"mle": _adam(generator, cfg.generator.lr),
                  "policy": _adam(generator, cfg.generator.lr),
                  "discriminator": _adam(discriminator, cfg.discriminator.lr)}
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

    def pretrain_generator(epoch: int) -> dict:
        loss = steps.mle_epoch(generator, optimizers["mle"], task.train, g.batch_size, g.grad_clip)
        if epoch == cfg.pretrain.generator_epochs:
            rollout.load_state_dict(generator.state_dict())  # Algorithm 1, line 3
        return {"g_loss": loss}

    def pretrain_discriminator(epoch: int) -> dict:
        loss, acc = d_step(cfg.pretrain.discriminator_epochs)
        return {"d_loss": loss, "d_accuracy": acc}

    def adversarial(epoch: int) -> dict:
        row: dict = {}
        for _ in range(a.g_steps):
            row["g_loss"], row["reward_mean"] = steps.policy_gradient_step(
                generator, rollout, reward, optimizers["policy"], g.batch_size,
                a.num_rollouts, g.grad_clip, a.rollout_update_rate)
        for _ in range(a.d_steps):
            row["d_loss"], row["d_accuracy"] = d_step(a.k_epochs)
        return row

    if cfg.pretrain.generator_epochs == 0:
        rollout.load_state_dict(generator.state_dict())
    phases = [Phase("pretrain_generator", cfg.pretrain.generator_epochs, pretrain_generator, True),
              Phase("pretrain_discriminator", cfg.pretrain.discriminator_rounds,
                    pretrain_discriminator, False),
              Phase("adversarial", a.epochs, adversarial, True)]
    return models, optimizers, phases
