"""Exact, interchangeable formulations of the discriminator's convolution features.

Each kernel maps token embeddings ``emb [n, T, k]`` and the filter bank
``weights[i] [f_i, k, w_i]`` to the max-over-time pooled maps ``[n, sum f_i]``, before
bias and ReLU (both monotone, so ``models.discriminator`` applies them after pooling).
The kernels hold no parameters: they are the same discriminator computed four ways,
equal to float rounding (``tests/test_discriminator_kernels.py``).  Pooling is
``amax`` everywhere, so ties (a window repeated in a sequence) share the gradient the
same way in every kernel.

* ``conv1d``  — one oneDNN ``conv1d`` per width over the embedding channels.
* ``unfold``  — im2col: the windows of each width as a ``[n, L, w*k]`` matrix
  (``Tensor.unfold``), one GEMM per width.
* ``conv2d``  — one ``conv2d`` per width on a channels-last ``[n, k, 1, T]`` view (the
  layout oneDNN prefers; the embedding rows are already in that order in memory).
* ``conv2d_plain`` — the reference code's formulation: one single-channel ``conv2d`` of
  ``[w, k]`` kernels over the ``[T, k]`` embedding image.  Slow on the CPUs measured, kept
  so that ``auto`` is never slower than the plain formulation on any device.

Which is fastest depends on the CPU (and its bf16 units) and the device:
``runs.kernel_choice`` measures them on the machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

Kernel = Callable[[torch.Tensor, Sequence[torch.Tensor]], torch.Tensor]


def conv1d_features(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, T, k]`` -> ``[n, sum f]`` by ``conv1d`` over ``[n, k, T]``."""
    x = emb.transpose(1, 2)
    return torch.cat([F.conv1d(x, w).amax(dim=2) for w in weights], dim=1)


def unfold_features(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, T, k]`` -> ``[n, sum f]`` by im2col + GEMM: the window of width ``w`` at
    position ``t`` is ``emb[:, t:t+w, :]``; ``Tensor.unfold`` lays it out as ``[k, w]``,
    the order of ``weight.reshape(f, k*w)``."""
    n, length, k = emb.shape
    pooled = []
    for weight in weights:
        filters, _, width = weight.shape
        windows = emb.unfold(1, width, 1).reshape(n, length - width + 1, k * width)
        pooled.append((windows @ weight.reshape(filters, k * width).t()).amax(dim=1))
    return torch.cat(pooled, dim=1)


def conv2d_features(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, T, k]`` -> ``[n, sum f]`` by channels-last ``conv2d``: ``emb`` viewed as
    ``[n, k, 1, T]`` (NHWC in memory), kernels ``[f, k, 1, w]``."""
    n, length, k = emb.shape
    x = emb.reshape(n, 1, length, k).permute(0, 3, 1, 2)
    return torch.cat([
        F.conv2d(x, w.unsqueeze(2).contiguous(memory_format=torch.channels_last)
                 ).amax(dim=(2, 3)) for w in weights], dim=1)


def conv2d_plain_features(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, T, k]`` -> ``[n, sum f]`` by ``conv2d`` of ``[n, 1, T, k]`` with kernels
    ``[f, 1, w, k]``."""
    x = emb.unsqueeze(1)
    return torch.cat([F.conv2d(x, w.transpose(1, 2).unsqueeze(1)).amax(dim=(2, 3))
                      for w in weights], dim=1)


KERNELS: dict[str, Kernel] = {
    "conv1d": conv1d_features,
    "unfold": unfold_features,
    "conv2d": conv2d_features,
    "conv2d_plain": conv2d_plain_features,
}
DEFAULT_KERNEL = "conv1d"  # the formulation of earlier releases
