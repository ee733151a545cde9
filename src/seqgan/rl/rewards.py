"""Reward sources: ``reward(tokens [m, T]) -> [m]`` in [0, 1], stateless for the estimator."""

from __future__ import annotations

import torch

from seqgan.models.discriminator import Discriminator


class DiscriminatorReward:
    """SeqGAN's reward (Eq. 2): D's probability that a finished sequence is real,
    scored with dropout off, ``chunk`` rows per forward pass."""

    def __init__(self, discriminator: Discriminator, chunk: int = 1024):
        self.discriminator = discriminator
        self.chunk = chunk

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.discriminator.prob_real(tokens, self.chunk)
