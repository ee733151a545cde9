"""The discriminator's features of every prefix of a sequence, without re-reading the
prefix: LeakGAN's leaked features (``models.leakgan``), exact.

The feature of the prefix of t tokens is f_t = highway(relu(p_t + b)), where p_t[c] is
filter c's maximum over the windows j = 0..T-w of its width w of the convolution over
the token embeddings e_1..e_T with every position from t on zeroed (the definition:
``LeakGANGenerator.prefix_features``, one discriminator pass per prefix).  Filter c's
window j, for the prefix t, is

* complete (j + w <= t): sum_{i<w} W_i e_{j+i}, its value in any longer prefix;
* partial (j < t < j + w): sum_{i<t-j} W_i e_{j+i}, its first t - j taps;
* empty (j >= t): 0 (it exists while t <= T - w).

Every value is a running sum S[j, m] = sum_{i<m} W_i e_{j+i} along one window, so one
product of each token's embedding with every tap (P[p, i] = W_i e_p: a matrix product
with the filters laid out tap by tap) and sums along the windows give all of them:

    p_t = max(max_{j <= t-w} S[j, w],  max_{t-w < j < t, j <= T-w} S[j, t-j],  0 if t <= T-w)

``all_prefix_features``: f_0..f_T of a batch at once (teacher forcing); ``PrefixFeatures``:
the same one token at a time (sampling), holding each width's running sums ``[n, w, f]``
and the maximum of its complete windows ``[n, f]``.  A step costs one ``[n, k] x [k,
sum_i w_i f_i]`` product, a few passes over the sums, and the highway layer, instead of
a whole discriminator pass over T positions.  The taps are summed in another order than
a convolution kernel's: the features equal the definition's to float rounding
(``tests/test_leakgan_features.py``).  Dropout is off, no gradient reaches D.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from seqgan.models.discriminator import Discriminator

SUMS_BUDGET = 1 << 22  # floats of running sums per teacher-forced chunk of sequences


def prefix_feature_macs(emb: int, widths: list[int], counts: list[int]) -> int:
    """Multiply-adds of one leaked feature, per prefix and token: the new token's taps
    (``E sum_i w_i f_i``: ``PrefixFeatures.push``, or one position of
    ``all_prefix_features``' product) and the highway layer's two ``F x F`` maps on f_t
    (F = ``sum(counts)``)."""
    total = sum(counts)
    return emb * sum(w * f for w, f in zip(widths, counts)) + 2 * total * total


def _taps(weight: torch.Tensor) -> torch.Tensor:
    """A width's filters ``[f, k, w]`` as ``[k, w*f]``, column ``i*f + c``: tap i of
    filter c (so ``e @ taps`` is ``[.., w, f]``, P[i] = W_i e)."""
    filters, emb, width = weight.shape
    return weight.permute(1, 2, 0).reshape(emb, width * filters)


def _finish(discriminator: Discriminator, pooled: torch.Tensor) -> torch.Tensor:
    """f from the pooled maps: bias, ReLU, highway (dropout off)."""
    return discriminator.highway(F.relu(pooled + discriminator.conv_bias))


def _pooled_all(emb: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """p_0..p_T ``[n, T+1, f]`` of one width from ``emb [n, T, k]``."""
    n, length, k = emb.shape
    filters, _, width = weight.shape
    starts = length - width + 1  # windows j = 0..T-w
    products = (emb.reshape(n * length, k) @ _taps(weight)).view(n, length, width, filters)
    s = products.stride()
    # along[:, j, i] = products[:, j + i, i]: window j's taps in order
    along = products.as_strided((n, starts, width, filters), (s[0], s[1], s[1] + s[2], s[3]))
    sums = along.cumsum(2)  # sums[:, j, m-1] = S[j, m]
    pooled = sums.new_full((n, length + 1, filters), float("-inf"))
    pooled[:, width:] = sums[:, :, -1].cummax(1).values  # complete windows j <= t - w
    for taps in range(1, width):  # partial windows with m taps: j = t - m
        part = pooled[:, taps : taps + starts]
        torch.maximum(part, sums[:, :, taps - 1], out=part)
    pooled[:, :starts].clamp_(min=0.0)  # t <= T - w: an empty window
    return pooled


@torch.no_grad()
def all_prefix_features(discriminator: Discriminator, tokens: torch.Tensor) -> torch.Tensor:
    """``[n, T+1, F]``: f_0 .. f_T of each row of ``tokens [n, T]``."""
    n, length = tokens.shape
    weights = list(discriminator.conv_weights)
    widest = max(w.shape[0] * w.shape[2] for w in weights)
    rows = max(1, SUMS_BUDGET // (length * widest))
    out = []
    for part in tokens.split(rows):
        emb = discriminator.embedding(part)
        pooled = torch.cat([_pooled_all(emb, w) for w in weights], dim=2)
        out.append(_finish(discriminator, pooled))
    if not out:
        return discriminator.conv_bias.new_empty(0, length + 1, discriminator.conv_bias.numel())
    return torch.cat(out)


class PrefixFeatures:
    """f of a batch of growing prefixes, one token at a time: ``current()`` is f_t of
    the t tokens ``push``-ed so far (f_0 at first), for sequences of length ``seq_len``."""

    def __init__(self, discriminator: Discriminator, rows: int, seq_len: int):
        self.discriminator, self.seq_len, self.length = discriminator, seq_len, 0
        self.taps = [_taps(w) for w in discriminator.conv_weights]
        self.widths = [w.shape[2] for w in discriminator.conv_weights]
        device = discriminator.conv_bias.device
        dtype = discriminator.conv_bias.dtype
        # sums[b][:, i]: the window of width b that has i + 1 taps (started i tokens ago)
        self.sums = [
            torch.zeros(rows, w.shape[2], w.shape[0], device=device, dtype=dtype)
            for w in discriminator.conv_weights
        ]
        self.best = [  # the maximum of each width's complete windows
            torch.full((rows, w.shape[0]), float("-inf"), device=device, dtype=dtype)
            for w in discriminator.conv_weights
        ]

    @torch.no_grad()
    def push(self, tokens: torch.Tensor) -> None:
        """Append ``tokens [n]`` to the prefixes."""
        emb = self.discriminator.embedding(tokens)
        self.length += 1
        for b, (taps, width) in enumerate(zip(self.taps, self.widths)):
            sums = (emb @ taps).view(len(tokens), width, -1)
            sums[:, 1:] += self.sums[b][:, :-1]
            self.sums[b] = sums
            if self.length >= width:  # window t - w is complete
                self.best[b] = torch.maximum(self.best[b], sums[:, -1])

    @torch.no_grad()
    def current(self) -> torch.Tensor:
        """f_t ``[n, F]`` of the prefixes so far."""
        t, pooled = self.length, []
        for sums, best, width in zip(self.sums, self.best, self.widths):
            parts = [best] if t >= width else []
            first = max(0, t - 1 - (self.seq_len - width))  # partial windows: j <= T - w
            last = min(t - 1, width - 2)
            if first <= last:
                parts.append(sums[:, first : last + 1].amax(1))
            if t <= self.seq_len - width:
                parts.append(torch.zeros_like(best))
            value = parts[0]
            for part in parts[1:]:
                value = torch.maximum(value, part)
            pooled.append(value)
        return _finish(self.discriminator, torch.cat(pooled, dim=1))

    def repeat(self, copies: int) -> PrefixFeatures:
        """The same prefixes ``copies`` times over, rows ``k * n + i`` (``Tensor.repeat``)."""
        out = object.__new__(PrefixFeatures)
        out.discriminator, out.seq_len, out.length = self.discriminator, self.seq_len, self.length
        out.taps, out.widths = self.taps, self.widths
        out.sums = [s.repeat(copies, 1, 1) for s in self.sums]
        out.best = [b.repeat(copies, 1) for b in self.best]
        return out
