"""RankGAN's ranker (Lin et al. 2017): SeqGAN's discriminator without its output layer.

It maps a sequence to the feature vector y (the CNN's max-pooled features, the highway
layer, dropout: ``[n, F]``, F = ``sum(num_filters)``) whose cosine similarities rank
sequences (``rl.ranking``).  Same parameters, initialisation and convolution kernels as
``models.discriminator.Discriminator``.
"""

from __future__ import annotations

import torch

from seqgan.models.discriminator import Discriminator
from seqgan.models.pass_rows import score_rows


class Ranker(Discriminator):
    """The embedding y of RankGAN's Eq. 2 (``embed``); no classification layer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_module("output", None)  # it compares embeddings; it classifies nothing

    def embed(self, tokens: torch.Tensor, kernel: str | None = None) -> torch.Tensor:
        """``y [n, F]`` of ``tokens [n, T]`` (dropout as the module's mode says), fp32."""
        with self._autocast(tokens.device):
            y = self.dropout(self.highway(self.features(tokens, kernel)))
        return y.float()

    forward = embed

    def output_l2(self) -> torch.Tensor:
        raise TypeError("the ranker has no output layer")

    @torch.no_grad()
    def embed_for_scoring(self, tokens: torch.Tensor, chunk: int = 0) -> torch.Tensor:
        """``embed`` with dropout off, in chunks of ``chunk`` rows (0: by device), with the
        scoring kernel: the embeddings a reward compares."""
        chunk = score_rows(chunk, self, tokens.shape[1], tokens.device)
        was_training = self.training
        self.eval()
        try:
            parts = [self.embed(part, self.score_kernel) for part in tokens.split(chunk)]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, device=tokens.device)
