"""PG-BLEU, the SeqGAN paper's fourth baseline: SeqGAN's policy gradient and MC search with
the discriminator replaced by BLEU-n (``pg_bleu.n``) of each completed sequence against
the training set (or ``pg_bleu.references`` of it), under the BLEU convention of
``pg_bleu.rule`` / ``pg_bleu.smoothing``, with ``pg_bleu.num_rollouts`` roll-outs per
prefix; no discriminator, no adversarial game (docs/algorithms/pg-bleu.md)."""

from __future__ import annotations

import dataclasses

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.metrics.bleu import BleuConvention
from seqgan.registry import Algorithm
from seqgan.rl.rewards import BleuReward
from seqgan.training import parts
from seqgan.training.loop import Phase


def build(cfg: Config, task: Task):
    generator = parts.build_generator(cfg, task)
    rollout = parts.rollout_copy(generator)
    optimizers = {
        "mle": parts.adam(generator, cfg.generator.lr),
        "policy": parts.adam(generator, cfg.generator.lr),
    }
    reward = BleuReward(task.train, cfg.pg_bleu.n, convention(cfg), task.content)
    rollouts = cfg.pg_bleu.num_rollouts or cfg.adversarial.num_rollouts
    pg_cfg = dataclasses.replace(
        cfg, adversarial=dataclasses.replace(cfg.adversarial, num_rollouts=rollouts)
    )

    def run_epoch(epoch: int) -> dict:
        return parts.policy_gradient_updates(
            pg_cfg, generator, rollout, reward, optimizers["policy"]
        )

    phases = [
        parts.pretrain_phase(cfg, task, generator, optimizers["mle"], rollout),
        Phase("policy_gradient", cfg.adversarial.epochs, run_epoch, trains_generator=True),
    ]
    return {"generator": generator, "rollout": rollout}, optimizers, phases


def convention(cfg: Config) -> BleuConvention:
    """The BLEU convention of the reward (``pg_bleu`` section)."""
    b = cfg.pg_bleu
    return BleuConvention(
        rule=b.rule,
        smoothing=b.smoothing,
        epsilon=b.epsilon,
        references=b.references,
        subset=b.subset,
        subset_seed=b.subset_seed,
    )


ALGORITHM = Algorithm(
    "pg-bleu",
    build,
    "policy gradient with a BLEU reward instead of D, section [pg_bleu]",
    rollout=True,
)
