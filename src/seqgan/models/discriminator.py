"""CNN + highway discriminator D_phi(Y) of SeqGAN (Eqs. 11-12, Kim 2014).

Tokens are embedded (Eq. 11), a bank of convolutions of several widths slides over the
``[T, k]`` embedding matrix (Eq. 12), each feature map is max-pooled over time, a
highway layer mixes the pooled features, dropout is applied, and a linear layer gives
two logits (fake, real).  ``D(Y) = softmax(logits)[real]``.

Computation notes (exact, see ``benchmarks/discriminator.py``):
* each width is one ``conv1d`` over the embedding channels, i.e. one GEMM per width;
* bias and ReLU are monotone, so they commute with max-over-time and are applied to
  the pooled ``[n, F]`` features instead of every ``[n, F, T-l+1]`` position.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

REAL = 1  # index of the "real" class in the two logits


def fit_widths(sizes: Sequence[int], counts: Sequence[int], seq_len: int
               ) -> tuple[list[int], list[int]]:
    """Convolution widths that fit sequences of length ``seq_len`` (T): every width > T
    is replaced by T, the filters of equal widths summed — so the filter total (the
    feature size) stays, and the widths stay "from 1 to T" as in the paper.  Widths <= T
    keep their order and counts."""
    fitted: dict[int, int] = {}
    for size, count in zip(sizes, counts):
        width = min(size, seq_len)
        fitted[width] = fitted.get(width, 0) + count
    return list(fitted), list(fitted.values())


class Highway(nn.Module):
    """One highway layer: ``t * relu(W_h x) + (1 - t) * x`` with ``t = sigmoid(W_t x)``."""

    def __init__(self, size: int):
        super().__init__()
        self.transform = nn.Linear(size, size)
        self.gate = nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(x))
        return gate * F.relu(self.transform(x)) + (1.0 - gate) * x


class Discriminator(nn.Module):
    """Binary sequence classifier.

    Args:
        vocab_size: number of token ids V.
        seq_len: sequence length T (no filter may be wider).
        emb_dim: token embedding size k (paper code: 64).
        filter_sizes / num_filters: convolution widths and filter counts per width.
        dropout: drop probability after the highway layer (paper code: keep 0.75).
    """

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int,
                 filter_sizes: Sequence[int], num_filters: Sequence[int], dropout: float = 0.25):
        super().__init__()
        if len(filter_sizes) != len(num_filters):
            raise ValueError("filter_sizes and num_filters must have the same length")
        if max(filter_sizes) > seq_len:
            raise ValueError(f"filter width {max(filter_sizes)} exceeds sequence length {seq_len}")
        self.filter_sizes = list(filter_sizes)
        self.num_filters = list(num_filters)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.conv_weights = nn.ParameterList(
            nn.Parameter(torch.empty(f, emb_dim, w)) for w, f in zip(filter_sizes, num_filters))
        total = sum(num_filters)
        self.conv_bias = nn.Parameter(torch.empty(total))
        self.highway = Highway(total)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(total, 2)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialisation of the reference code: U(-1, 1) embeddings, truncated
        N(0, 0.1) filters and output weights, biases 0.1."""
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
            for weight in self.conv_weights:
                nn.init.trunc_normal_(weight, std=0.1, a=-0.2, b=0.2)
            self.conv_bias.fill_(0.1)
            nn.init.trunc_normal_(self.output.weight, std=0.1, a=-0.2, b=0.2)
            self.output.bias.fill_(0.1)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pooled convolution features ``[n, sum(num_filters)]`` for ``tokens [n, T]``."""
        emb = self.embedding(tokens).transpose(1, 2)  # [n, k, T]
        pooled = [F.conv1d(emb, w).amax(dim=2) for w in self.conv_weights]
        return F.relu(torch.cat(pooled, dim=1) + self.conv_bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[n, 2]`` (index 1 = real)."""
        return self.output(self.dropout(self.highway(self.features(tokens))))

    def output_l2(self) -> torch.Tensor:
        """``(|W_out|^2 + |b_out|^2) / 2``: the reference code's L2 term (tf.nn.l2_loss)."""
        return 0.5 * (self.output.weight.square().sum() + self.output.bias.square().sum())

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        """``D(Y)`` in [0, 1], ``[n]``, scored in chunks with dropout off (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            probs = [F.softmax(self(part), dim=-1)[:, REAL] for part in tokens.split(chunk)]
        finally:
            self.train(was_training)
        return torch.cat(probs) if probs else torch.empty(0, device=tokens.device)
