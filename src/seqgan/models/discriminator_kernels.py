"""Exact, interchangeable formulations of the discriminator's convolution features.

Each kernel maps token embeddings ``emb [n, T, k]`` and the filter bank
``weights[i] [f_i, k, w_i]`` to the max-over-time pooled maps ``[n, sum f_i]``, before
bias and ReLU (both monotone, so ``models.discriminator`` applies them after pooling).
The kernels hold no parameters: they are the same discriminator computed five ways,
equal to float rounding (``tests/test_discriminator_kernels.py``).  Pooling is
``amax`` everywhere, so ties (a window repeated in a sequence) share the gradient the
same way in every kernel.

* ``conv1d``  — one oneDNN ``conv1d`` per width over the embedding channels.
* ``unfold``  — im2col: the windows of each width as a ``[n, L, w*k]`` matrix
  (``Tensor.unfold``), one GEMM per width.
* ``conv2d``  — one ``conv2d`` per width on a channels-last ``[n, k, 1, T]`` view (the
  layout oneDNN prefers; the embedding rows are already in that order in memory).
* ``shared_unfold`` — one im2col of the *widest* window, position-major ``[T*n, W*k]``;
  width ``w`` is the view of its first ``w*k`` columns and ``(T-w+1)*n`` rows (no copy
  per width), and a hand-written backward accumulates every width's input gradient
  into one buffer in place (autograd would allocate a zeroed full-size buffer per width).
* ``conv2d_plain`` — the reference code's formulation: one single-channel ``conv2d`` of
  ``[w, k]`` kernels over the ``[T, k]`` embedding image.  Slow on the CPUs measured, kept
  so that ``auto`` is never slower than the plain formulation on any device.

Which is fastest depends on the CPU (and its bf16 units) and the device:
``models.kernel_choice`` measures them on the machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.autograd.function import once_differentiable
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


class _SharedWindows(torch.autograd.Function):
    """``emb [n, T, k]``, ``weights[i] [f_i, k, w_i]`` -> per width the window products
    ``[(T-w_i+1)*n, f_i]`` (row ``t*n + s``: sequence ``s``, position ``t``), before
    max-over-time.  The matrices run in ``emb``'s dtype (bf16 under autocast, as
    ``unfold``'s); the weight gradients are returned in the weights' dtype."""

    @staticmethod
    def forward(ctx, emb: torch.Tensor, *weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n, length, k = emb.shape
        widest = max(w.shape[2] for w in weights)
        if widest > length:
            raise ValueError(f"filter width {widest} exceeds sequence length {length}")
        ctx.set_materialize_grads(False)  # an unused width's gradient stays None
        padded = F.pad(emb.transpose(0, 1), (0, 0, 0, 0, 0, widest - 1))  # [T+W-1, n, k]
        # windows[t*n + s, j*k + c] = emb[s, t + j, c]: one im2col for every width
        windows = padded.unfold(0, widest, 1).permute(0, 1, 3, 2).reshape(length * n, widest * k)
        mats = [w.transpose(1, 2).reshape(w.shape[0], -1).to(emb.dtype) for w in weights]
        ctx.save_for_backward(windows, *mats)
        ctx.sizes = (n, length, k, widest, [w.dtype for w in weights])
        return tuple(
            windows[: (length - m.shape[1] // k + 1) * n, : m.shape[1]] @ m.t() for m in mats
        )

    @staticmethod
    @once_differentiable  # the saved matrices are detached: no second derivative
    def backward(ctx, *grads: torch.Tensor | None):
        windows, *mats = ctx.saved_tensors
        n, length, k, widest, dtypes = ctx.sizes
        grad_windows = torch.zeros_like(windows)
        grad_weights: list[torch.Tensor | None] = []
        for grad, mat, dtype in zip(grads, mats, dtypes):
            filters, cols = mat.shape
            if grad is None:
                grad_weights.append(None)
                continue
            grad = grad.to(windows.dtype)
            grad_windows[: grad.shape[0], :cols].addmm_(grad, mat)  # in place, strided view
            grad_weights.append(
                (grad.t() @ windows[: grad.shape[0], :cols])
                .view(filters, cols // k, k)
                .transpose(1, 2)
                .to(dtype)
            )
        # col2im: emb[s, t + j] received windows[t*n + s, j*k:(j+1)*k]'s gradient
        taps = grad_windows.view(length, n, widest, k)
        grad_emb = windows.new_zeros(length + widest - 1, n, k)
        for j in range(widest):
            grad_emb[j : j + length] += taps[:, :, j]
        return (grad_emb[:length].transpose(0, 1), *grad_weights)


def shared_unfold_features(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, T, k]`` -> ``[n, sum f]`` by one im2col of the widest window shared by all
    widths (``_SharedWindows``), then max over time."""
    n = emb.shape[0]
    return torch.cat(
        [out.view(-1, n, out.shape[1]).amax(dim=0) for out in _SharedWindows.apply(emb, *weights)],
        dim=1,
    )


def conv2d_features(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, T, k]`` -> ``[n, sum f]`` by channels-last ``conv2d``: ``emb`` viewed as
    ``[n, k, 1, T]`` (NHWC in memory), kernels ``[f, k, 1, w]``."""
    n, length, k = emb.shape
    x = emb.reshape(n, 1, length, k).permute(0, 3, 1, 2)
    return torch.cat(
        [
            F.conv2d(x, w.unsqueeze(2).contiguous(memory_format=torch.channels_last)).amax(
                dim=(2, 3)
            )
            for w in weights
        ],
        dim=1,
    )


def conv2d_plain_features(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, T, k]`` -> ``[n, sum f]`` by ``conv2d`` of ``[n, 1, T, k]`` with kernels
    ``[f, 1, w, k]``."""
    x = emb.unsqueeze(1)
    return torch.cat(
        [F.conv2d(x, w.transpose(1, 2).unsqueeze(1)).amax(dim=(2, 3)) for w in weights], dim=1
    )


KERNELS: dict[str, Kernel] = {
    "conv1d": conv1d_features,
    "unfold": unfold_features,
    "shared_unfold": shared_unfold_features,
    "conv2d": conv2d_features,
    "conv2d_plain": conv2d_plain_features,
}
DEFAULT_KERNEL = "conv1d"  # the formulation of earlier releases
