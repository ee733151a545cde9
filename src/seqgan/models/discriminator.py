"""CNN + highway discriminator D_phi(Y) of SeqGAN (Eqs. 11-12, Kim 2014).

Tokens are embedded (Eq. 11), a bank of convolutions of several widths slides over the
``[T, k]`` embedding matrix (Eq. 12), each feature map is max-pooled over time, a
highway layer mixes the pooled features, dropout is applied, and a linear layer gives
two logits (fake, real).  ``D(Y) = softmax(logits)[real]``.

Computation notes (exact; measured by ``benchmarks/adversarial_epoch.py``):
* the convolutions + max-over-time are one of the interchangeable formulations of
  ``models.discriminator_kernels`` (``kernel`` for training, ``score_kernel`` for
  scoring without gradients; ``models.kernel_choice`` picks them for the machine);
* bias and ReLU are monotone, so they commute with max-over-time and are applied to
  the pooled ``[n, F]`` features instead of every ``[n, F, T-l+1]`` position;
* ``precision="bf16"`` runs the forward pass under bf16 autocast (parameters, their
  gradients, the optimizer state and the logits stay fp32).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from seqgan.models.discriminator_kernels import DEFAULT_KERNEL, KERNELS
from seqgan.models.pass_rows import score_rows

REAL = 1  # index of the "real" class in the two logits
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}  # autocast dtype of the forward pass


def fit_widths(
    sizes: Sequence[int], counts: Sequence[int], seq_len: int
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
    """One highway layer: ``t * relu(W_h x) + (1 - t) * x`` with ``t = sigmoid(W_t x)``
    (``bias``: each map also adds its bias vector)."""

    def __init__(self, size: int, bias: bool = True):
        super().__init__()
        self.transform = nn.Linear(size, size, bias=bias)
        self.gate = nn.Linear(size, size, bias=bias)

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
        kernel / score_kernel: names in ``KERNELS`` computing the features when training
            and when scoring (``prob_real``); the same parameters either way.
        precision: ``"fp32"`` or ``"bf16"`` (autocast of the forward pass).
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        emb_dim: int,
        filter_sizes: Sequence[int],
        num_filters: Sequence[int],
        dropout: float = 0.25,
        kernel: str = DEFAULT_KERNEL,
        score_kernel: str = DEFAULT_KERNEL,
        precision: str = "fp32",
    ):
        super().__init__()
        for name in (kernel, score_kernel):
            if name not in KERNELS:
                raise ValueError(
                    f"unknown discriminator kernel {name!r} (choose from {', '.join(KERNELS)})"
                )
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        self.kernel, self.score_kernel, self.precision = kernel, score_kernel, precision
        if len(filter_sizes) != len(num_filters):
            raise ValueError("filter_sizes and num_filters must have the same length")
        if max(filter_sizes) > seq_len:
            raise ValueError(f"filter width {max(filter_sizes)} exceeds sequence length {seq_len}")
        self.emb_dim = emb_dim
        self.filter_sizes = list(filter_sizes)
        self.num_filters = list(num_filters)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.conv_weights = nn.ParameterList(
            nn.Parameter(torch.empty(f, emb_dim, w)) for w, f in zip(filter_sizes, num_filters)
        )
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

    def features(self, tokens: torch.Tensor, kernel: str | None = None) -> torch.Tensor:
        """Pooled convolution features ``[n, sum(num_filters)]`` for ``tokens [n, T]``,
        computed by ``kernel`` (default: this model's training kernel)."""
        emb = self.embedding(tokens)  # [n, T, k]
        with self._autocast(tokens.device):
            if self.precision != "fp32":  # cast once here, not per width and window
                emb = emb.to(PRECISIONS[self.precision])
            pooled = KERNELS[kernel or self.kernel](emb, list(self.conv_weights))
            return F.relu(pooled + self.conv_bias)

    def forward(self, tokens: torch.Tensor, kernel: str | None = None) -> torch.Tensor:
        """Logits ``[n, 2]`` (index 1 = real), fp32 whatever the precision."""
        with self._autocast(tokens.device):
            logits = self.output(self.dropout(self.highway(self.features(tokens, kernel))))
        return logits.float()

    def _autocast(self, device: torch.device) -> torch.autocast:
        dtype = PRECISIONS[self.precision]
        return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)

    def output_l2(self) -> torch.Tensor:
        """``(|W_out|^2 + |b_out|^2) / 2``: the reference code's L2 term (tf.nn.l2_loss)."""
        return 0.5 * (self.output.weight.square().sum() + self.output.bias.square().sum())

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor, chunk: int = 0) -> torch.Tensor:
        """``D(Y)`` in [0, 1], ``[n]``, scored in chunks of ``chunk`` rows (0: chosen for
        the device, ``models.pass_rows``) with dropout off (eval mode)."""
        chunk = score_rows(chunk, self, tokens.shape[1], tokens.device)
        was_training = self.training
        self.eval()
        try:
            probs = [
                F.softmax(self(part, self.score_kernel), dim=-1)[:, REAL]
                for part in tokens.split(chunk)
            ]
        finally:
            self.train(was_training)
        return torch.cat(probs) if probs else torch.empty(0, device=tokens.device)

    @torch.no_grad()
    def log_odds(self, tokens: torch.Tensor, chunk: int = 0) -> torch.Tensor:
        """``log D(Y) / (1 - D(Y))`` = logit_real - logit_fake, ``[n]``, scored as
        ``prob_real`` (chunks, dropout off); finite where D rounds to 1."""
        chunk = score_rows(chunk, self, tokens.shape[1], tokens.device)
        was_training = self.training
        self.eval()
        try:
            logits = [self(part, self.score_kernel) for part in tokens.split(chunk)]
            odds = [z[:, REAL] - z[:, 1 - REAL] for z in logits]
        finally:
            self.train(was_training)
        return torch.cat(odds) if odds else torch.empty(0, device=tokens.device)
