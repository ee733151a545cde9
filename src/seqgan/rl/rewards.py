"""Reward sources: ``reward(tokens [m, T]) -> [m]`` in [0, 1], stateless for the estimator."""

from __future__ import annotations

import torch

from seqgan.metrics.bleu import CURRENT, BleuConvention, ReferenceTables, bleu
from seqgan.models.discriminator import Discriminator


class DiscriminatorReward:
    """SeqGAN's reward (Eq. 2): D's probability that a finished sequence is real,
    scored with dropout off, ``chunk`` rows per forward pass (0: chosen for the device,
    ``models.pass_rows``)."""

    def __init__(self, discriminator: Discriminator, chunk: int = 0):
        self.discriminator = discriminator
        self.chunk = chunk

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.discriminator.prob_real(tokens, self.chunk)


class BleuReward:
    """PG-BLEU's reward: BLEU-n (``metrics.bleu``) of each finished sequence against a fixed
    reference corpus (the training set, or the part of it ``convention`` picks), under
    ``convention``'s zero-order rule and smoothing, with the n-gram tables built once.
    ``content`` maps ids ``[m, T]`` to the token lists compared (default: whole rows;
    variable-length tasks pass ``Task.content``, which cuts each row at ``<eos>``)."""

    def __init__(
        self,
        references: torch.Tensor,
        n: int = 3,
        convention: BleuConvention = CURRENT,
        content=None,
    ):
        if convention.hypotheses:
            raise ValueError("a reward scores every sequence: convention.hypotheses must be 0")
        self.n, self.convention = n, convention
        self.content = content or (lambda tokens: tokens.tolist())
        self.tables = ReferenceTables(self.content(references), n, convention)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        scores = bleu(self.content(tokens), None, self.n, self.convention, tables=self.tables)
        return torch.from_numpy(scores).to(tokens.device, torch.float32)
