"""The MLE baseline: MLE pre-training, then ``adversarial.epochs`` more epochs of MLE with
the same optimizer — the SeqGAN paper's Figure 2 protocol (its "MLE" row of Table 1)."""

from __future__ import annotations

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.registry import Algorithm
from seqgan.training import parts


def build(cfg: Config, task: Task):
    generator = parts.build_generator(cfg, task)
    optimizer = parts.adam(generator, cfg.generator.lr)
    phases = [
        parts.pretrain_phase(cfg, task, generator, optimizer),
        parts.mle_phase("mle", cfg.adversarial.epochs, cfg, task, generator, optimizer),
    ]
    return {"generator": generator}, {"mle": optimizer}, phases


ALGORITHM = Algorithm(
    "mle", build, "MLE baseline: pre-training continued for adversarial.epochs more epochs", cost=0
)
