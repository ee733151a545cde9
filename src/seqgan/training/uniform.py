"""The "Random" baseline of the SeqGAN paper: every token drawn uniformly from the
vocabulary.  A generator whose output layer is zero has exactly uniform next-token
probabilities; there is nothing to train, so the run is one evaluation."""

from __future__ import annotations

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.registry import Algorithm
from seqgan.training import parts


def build(cfg: Config, task: Task):
    generator = parts.build_generator(cfg, task)
    with torch.no_grad():
        generator.output.weight.zero_()
        generator.output.bias.zero_()
    return {"generator": generator}, {}, []


ALGORITHM = Algorithm(
    "random", build, "uniform next-token distribution (nothing trained)", pretraining=None, cost=0
)
