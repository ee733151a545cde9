"""PG-BLEU, the SeqGAN paper's fourth baseline: SeqGAN's policy gradient and MC search with
the discriminator replaced by BLEU-n (``pg_bleu.n``) of each completed sequence against
the training set; no discriminator, no adversarial game."""

from __future__ import annotations

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.rl.rewards import BleuReward
from seqgan.train import parts
from seqgan.train.loop import Phase


def build(cfg: Config, task: Task):
    generator = parts.build_generator(cfg, task)
    rollout = parts.rollout_copy(generator)
    optimizers = {"mle": parts.adam(generator, cfg.generator.lr),
                  "policy": parts.adam(generator, cfg.generator.lr)}
    reward = BleuReward(task.train, cfg.pg_bleu.n, cfg.pg_bleu.smoothing, task.content)

    def run_epoch(epoch: int) -> dict:
        return parts.policy_gradient_updates(cfg, generator, rollout, reward,
                                             optimizers["policy"])

    phases = [parts.pretrain_phase(cfg, task, generator, optimizers["mle"], rollout),
              Phase("policy_gradient", cfg.adversarial.epochs, run_epoch, trains_generator=True)]
    return {"generator": generator, "rollout": rollout}, optimizers, phases
