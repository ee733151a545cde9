"""The output layer and log-softmax of a language model, a few rows at a time.

For hidden states ``h [N, H]``, the output layer's weight ``W [V, H]`` and bias ``b [V]``
and target tokens ``y [N]``, ``token_log_probs`` gives

    log p_i = l_{i, y_i} - logsumexp_j l_{i, j},   l = h W^T + b,

and ``weighted_nll`` the loss ``-sum_i w_i log p_i`` for weights ``w [N]`` known up front
(the mean cross-entropy of MLE: ``w = mask / mask.sum()``).  Both equal the plain
computation (``F.log_softmax`` of the whole ``[N, V]`` logits) to float rounding, values
and gradients, but never hold more than one chunk of ``rows_per_chunk`` rows of logits
(``chunk_mib`` MiB, kept between calls; the probabilities overwrite them): at a large vocabulary
the plain path's ``[N, V]`` tensors, hundreds of MB each, are allocated and freed by the
C library on every step (page faults: system time) and pass through main memory several
times, where a chunk stays in the CPU's cache between its matrix products.

Per chunk: ``l = [h, 1] [W, b]^T`` (one matrix product; the bias as a column of the
weight, so no pass adds it and its gradient comes with the weight's), ``p = softmax(l)``
(one fused pass, in place over the logits), ``log p_y = log(p_y)`` (for the rare ``p_y``
below ``_tiny``, where that would lose precision or be -inf, ``l_y - logsumexp(l)`` of those
rows); with gradients, for ``G = w (p - onehot(y))`` (the gradient of ``-w log p`` with
respect to ``l``):

    dh = w (p W - W_y),   d[W, b]^T += (w [h, 1])^T p - scatter_y(w [h, 1])^T,

so ``p`` is read by two matrix products and never rescaled or copied.  ``weighted_nll``
computes these in its forward pass (three matrix products in all: the minimum);
``token_log_probs``, whose upstream gradient ``g`` is known only in the backward pass,
recomputes the chunk there with ``w = -g`` (four).
"""

from __future__ import annotations

import torch

from seqgan.models.scratch import scratch

CHUNK_MIB = 32.0  # "auto" size of one chunk's logits (and of its probabilities), MiB
MIN_ROWS = 32  # fewer rows make the weight gradient's product inefficient
AUTO_CHUNKED_FROM = 8192  # "auto": chunked on the CPU from this vocabulary size up


def choose_output_kernel(name: str, vocab_size: int, device: torch.device) -> str:
    """``generator.output_kernel`` resolved: ``"auto"`` is ``"chunked"`` on the CPU at
    ``V >= AUTO_CHUNKED_FROM``, else ``"plain"`` (the synthetic experiments, V = 5,000,
    stay bit-identical to earlier releases; other devices keep the path measured there);
    ``"plain"`` and ``"chunked"`` are kept."""
    if name != "auto":
        return name
    return "chunked" if device.type == "cpu" and vocab_size >= AUTO_CHUNKED_FROM else "plain"


def choose_chunk_mib(mib: float) -> float:
    """``generator.output_chunk_mib`` resolved: 0 ("auto") is ``CHUNK_MIB``.  Larger chunks
    mean fewer, larger matrix products: on a 2-core AMD EPYC (docs/performance.md) 32 MiB
    ran the output layer + loss at V = 14,000 1.2-1.7x faster than 2 MiB, with one 32 MiB
    buffer kept per thread."""
    return mib or CHUNK_MIB


def rows_per_chunk(vocab_size: int, itemsize: int, chunk_mib: float = CHUNK_MIB) -> int:
    """Rows of one chunk: about ``chunk_mib`` MiB of logits, at least ``MIN_ROWS``."""
    return max(MIN_ROWS, int(chunk_mib * 2**20) // max(1, vocab_size * itemsize))


def _tiny(dtype: torch.dtype) -> float:
    """Probabilities below this are recomputed in log space: ``log(p)`` would have lost
    relative precision (subnormal) or be -inf."""
    return torch.finfo(dtype).tiny * 2.0**24


def _chunked_pass(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
    chunk_mib: float,
    weights: torch.Tensor | None = None,
):
    """``log p [N]`` and, with ``weights [N]``, the gradients of ``-sum_i w_i log p_i``
    with respect to ``(hidden, weight, bias)``; else ``None`` for them."""
    n, width = hidden.shape
    vocab = weight.shape[0]
    rows = min(max(n, 1), rows_per_chunk(vocab, hidden.element_size(), chunk_mib))
    chunk, weight_1, grad_weight_1 = scratch(
        hidden, [(rows, vocab), (vocab, width + 1), (width + 1, vocab)]
    )
    # the bias as one more input column (of ones): no separate pass adds it, and its
    # gradient comes out of the weight gradient's product
    weight_1[:, :width] = weight
    weight_1[:, width] = bias
    h_1 = hidden.new_ones(rows, width + 1)
    log_probs = hidden.new_empty(n)
    tiny = _tiny(hidden.dtype)
    if weights is not None:
        grad_hidden = torch.empty_like(hidden)
        grad_weight_1.zero_()
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        y, h = targets[start:stop], h_1[: stop - start]
        h[:, :width] = hidden[start:stop]
        p = _probabilities(h, weight_1, y, chunk[: stop - start], log_probs[start:stop], tiny)
        if weights is not None:
            w = weights[start:stop].unsqueeze(1)
            wh = h * w
            torch.mm(p, weight, out=grad_hidden[start:stop])
            grad_hidden[start:stop].sub_(weight[y]).mul_(w)
            # transposed, [H + 1, V]: the product with p as its wide right-hand operand ran
            # 1.6x faster than p^T (w h) on a 2-core Xeon with AVX-512 (docs/performance.md),
            # with the same sums (bit-identical gradients there)
            grad_weight_1.addmm_(wh.t(), p).index_add_(1, y, wh.t(), alpha=-1)
    if weights is None:
        return log_probs, None
    return log_probs, (
        grad_hidden,
        grad_weight_1[:width].t().contiguous(),
        grad_weight_1[width].contiguous(),
    )


def _probabilities(
    h: torch.Tensor,
    weight_1: torch.Tensor,
    y: torch.Tensor,
    out: torch.Tensor,
    log_p: torch.Tensor,
    tiny: float,
) -> torch.Tensor:
    """``p = softmax(l)``, ``l = h weight_1^T`` (``[n, V]``, written into ``out``: the
    softmax runs in place over the logits, so one buffer serves both), and ``log p_y``
    into ``log_p [n]``: ``log(p_y)``, or ``l_y - logsumexp(l)`` where ``p_y < tiny`` (on
    the CPU the logits of only those rows are computed again; elsewhere, without a host
    sync, that value is taken for every row before the softmax and kept where needed)."""
    logits = torch.mm(h, weight_1.t(), out=out)
    exact = None
    if logits.device.type != "cpu":
        exact = _log_softmax_at(logits, y)
    p = torch._softmax(logits, 1, False, out=logits)
    p_y = p.gather(1, y.unsqueeze(1)).squeeze(1)
    torch.log(p_y, out=log_p)
    if exact is not None:
        torch.where(p_y < tiny, exact, log_p, out=log_p)
        return p
    small = (p_y < tiny).nonzero().squeeze(1)
    if len(small):
        log_p[small] = _log_softmax_at(torch.mm(h[small], weight_1.t()), y[small])
    return p


def _log_softmax_at(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``l_y - logsumexp(l)`` of each row of ``logits [n, V]``, ``[n]``."""
    return logits.gather(1, y.unsqueeze(1)).squeeze(1) - torch.logsumexp(logits, dim=1)


class _TokenLogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_mib):
        log_probs, _ = _chunked_pass(hidden, weight, bias, targets, chunk_mib)
        ctx.save_for_backward(hidden, weight, bias, targets)
        ctx.chunk_mib = chunk_mib
        return log_probs

    @staticmethod
    def backward(ctx, grad):
        hidden, weight, bias, targets = ctx.saved_tensors
        # d(sum_i g_i log p_i) = the gradient of -sum_i w_i log p_i with w = -g
        _, (grad_hidden, grad_weight, grad_bias) = _chunked_pass(
            hidden, weight, bias, targets, ctx.chunk_mib, -grad.contiguous()
        )
        return grad_hidden, grad_weight, grad_bias, None, None


class _WeightedNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, weights, chunk_mib):
        wanted = any(ctx.needs_input_grad[:3])
        log_probs, grads = _chunked_pass(
            hidden, weight, bias, targets, chunk_mib, weights if wanted else None
        )
        ctx.grads = grads or ()
        ctx.mark_non_differentiable(log_probs)
        return -(weights * log_probs).sum(), log_probs

    @staticmethod
    def backward(ctx, grad_loss, _grad_log_probs):
        grads = [grad_loss * g for g in ctx.grads]
        return *grads, None, None, None


def _check(hidden, weight, bias, targets) -> None:
    if hidden.dim() != 2 or targets.shape != hidden.shape[:1]:
        raise ValueError(
            f"hidden [N, H] and targets [N] expected, got "
            f"{tuple(hidden.shape)} and {tuple(targets.shape)}"
        )
    if weight.shape[1] != hidden.shape[1] or bias.shape != weight.shape[:1]:
        raise ValueError(
            f"weight [V, H] and bias [V] expected for H = {hidden.shape[1]}, "
            f"got {tuple(weight.shape)} and {tuple(bias.shape)}"
        )


def token_log_probs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
    chunk_mib: float = CHUNK_MIB,
) -> torch.Tensor:
    """``log softmax(hidden W^T + b)[i, targets[i]]``, ``[N]`` (nats), differentiable in
    ``hidden [N, H]``, ``weight [V, H]`` and ``bias [V]``; ``targets [N]`` long; chunks of
    about ``chunk_mib`` MiB of logits (the size changes the rounding of the gradients)."""
    _check(hidden, weight, bias, targets)
    return _TokenLogProbs.apply(
        hidden.contiguous(),
        weight.contiguous(),
        bias.contiguous(),
        targets.contiguous(),
        chunk_mib,
    )


def weighted_nll(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    chunk_mib: float = CHUNK_MIB,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(-sum_i weights[i] log p_i, log p [N])``: the loss (differentiable in ``hidden``,
    ``weight``, ``bias``; ``weights [N]`` are constants) and the per-token log-probabilities
    (no gradient) of ``token_log_probs``, with the gradients computed in one pass."""
    _check(hidden, weight, bias, targets)
    return _WeightedNLL.apply(
        hidden.contiguous(),
        weight.contiguous(),
        bias.contiguous(),
        targets.contiguous(),
        weights.detach().to(hidden.dtype).contiguous(),
        chunk_mib,
    )
