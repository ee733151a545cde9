"""Exact categorical sampling by inverse CDF.

``torch.multinomial`` draws one random number per class and is the bottleneck of
sequence sampling over large vocabularies on a CPU.  Inverse-CDF sampling draws one
uniform number per row instead: with ``F_k = sum_{j<=k} p_j`` it returns the smallest
``k`` such that ``u * F_V < F_k`` for ``u ~ U[0, 1)``.  This is an exact sample of the
categorical distribution (up to float32 rounding of the cumulative sum) and, measured
in ``benchmarks/adversarial_epoch.py`` (generation line), about 10x faster than
``torch.multinomial`` over 5,000 classes.

Only tokens of positive probability are drawn, whatever the dtype of the uniforms.  The
uniforms are cast to the dtype of the cumulative sum and clamped to the largest number
below 1 in it, ``1 - eps/2`` (``torch.nextafter(1, 0)``): a float64 ``u`` just below 1
would otherwise round to 1.0 in float32, making ``u * F_V = F_V`` and selecting the last
class even when its probability is 0.  For ``u <= 1 - eps/2`` the correctly rounded
product ``u * F_V`` is below ``F_V`` (which is about 1), so the token returned is a ``k``
with ``F_{k-1} <= u * F_V < F_k``: a strict increase of the cumulative sum, so
``p_k > 0`` (a zero ``p_k`` adds exactly 0).  Uniforms already below 1 in that dtype are
left as they are, so they draw the same tokens as without the clamp.

Taking the uniforms as an argument lets two implementations that must agree (the
batched Monte Carlo search and its per-timestep reference) draw the same tokens.

Sampling controls (``Sampling``; definitions in docs/metrics.md, "Sampling controls"):
temperature, top-k, top-p (nucleus) and greedy decoding.  They change the logits
(``Sampling.restrict``: scaled by 1/temperature, tokens outside the top-k / the nucleus
set to -inf) and then draw with ``sample_from_logits``, so a controlled draw is as exact
as a plain one and takes the same one uniform per row.  ``Sampling()`` (the default, as
in training) is ``sample_from_logits`` itself: bit-identical tokens from the same uniforms.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from seqgan.models.scratch import scratch
from seqgan.runtime.device import wide_float

# The largest temperature: below it the -1e9 penalty of a generator's ``never_output``
# tokens stays a probability of exactly 0 (-1e9 / 1e6 = -1000 underflows exp in float32
# and float64 alike).
MAX_TEMPERATURE = 1e6


def sample_from_logits(
    logits: torch.Tensor,
    uniforms: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row of ``logits``.

    Args:
        logits: ``[n, V]`` unnormalised log-probabilities.
        uniforms: optional ``[n]`` numbers in [0, 1); drawn with ``generator`` if absent.
        generator: the torch random generator used when ``uniforms`` is None.

    Returns:
        ``[n]`` ``torch.long`` token ids.
    """
    (buffer,) = scratch(logits, [tuple(logits.shape)])  # no new [n, V] tensor per step
    cdf = torch._softmax(logits, -1, False, out=buffer)
    cdf.cumsum_(-1)  # the same kernels and values as cumsum(softmax(logits)), in place
    if uniforms is None:
        uniforms = torch.rand(
            logits.shape[0], generator=generator, dtype=cdf.dtype, device=logits.device
        )
    # Out of place: ``.to`` returns the caller's tensor when the dtype already matches.
    u = uniforms.to(cdf.dtype).clamp(max=1.0 - torch.finfo(cdf.dtype).eps / 2)
    targets = (u * cdf[:, -1]).unsqueeze(-1)
    tokens = torch.searchsorted(cdf, targets, right=True).squeeze(-1)
    # With u < 1 the index is at most V - 1; the clamp only keeps it in range for
    # invalid input (NaN logits or uniforms).
    return tokens.clamp_(max=logits.shape[-1] - 1)


def temper(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits of softmax(logits / temperature) over the last dimension, in ``logits``' dtype:
    ``logits`` itself at temperature 1, else ``(logits - max) / temperature`` (shifted
    so each row's maximum is 0, so no value overflows however small the temperature;
    softmax does not change under the shift)."""
    if temperature == 1.0:
        return logits
    shifted = logits - logits.detach().max(dim=-1, keepdim=True).values
    if float(torch.tensor(temperature, dtype=logits.dtype)) == 0:  # below the dtype's range
        return (shifted.to(wide_float(logits.device)) / temperature).to(logits.dtype)
    return shifted / temperature


def greedy_from_logits(
    logits: torch.Tensor,
    uniforms: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The most probable token of each row ``[n]`` (the first, lowest id, of tied maxima);
    a ``continue_from`` sampler that draws no random numbers."""
    return logits.argmax(dim=-1)


def check_controls(
    temperature, top_k, top_p, greedy, caller: str | None = None
) -> tuple[float, int, float, bool]:
    """The sampling controls as ``(float, int, float, bool)``, each checked
    (``seqgan.arguments``: the same rule for the command line and the API)."""
    import seqgan.arguments as a

    return (
        a.real(temperature, "temperature", caller, 0.0, MAX_TEMPERATURE),
        a.whole(top_k, "top_k", caller, 0, note=" (0: off)"),
        a.real(top_p, "top_p", caller, 0.0, 1.0, note=" (1: off)"),
        a.switch(greedy, "greedy", caller),
    )


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn from a generator's next-token logits ``l`` (``[n, V]``).

    * ``temperature`` tau (finite, 0 < tau <= ``MAX_TEMPERATURE``): the distribution is
      softmax(l / tau); 1 leaves it as it is, tau -> 0 approaches greedy decoding.
    * ``top_k`` k >= 0: only the k tokens of largest logit are kept (0: off; k >= V keeps
      all).  Ties at the k-th place are broken by index order: of equal logits the lower
      token ids are kept, so exactly k tokens remain.
    * ``top_p`` p in (0, 1]: the nucleus, the smallest set of most probable tokens (of
      softmax(l / tau) restricted to the top k) whose probability reaches p: in descending
      order (ties by index order) a token is kept when the probability of the tokens
      before it is below p, so the most probable token always stays (1: off).
    * ``greedy``: the most probable token (argmax; of tied maxima the lowest id), no
      random numbers drawn; the other controls then change nothing.

    Tokens not kept get logit -inf; the rest are renormalised, i.e. drawn exactly from
    softmax(l / tau) restricted to the kept set (inverse CDF, one uniform per row, as
    ``sample_from_logits``).  Invalid values are a one-line ``UserError`` naming the
    option.
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False

    def __post_init__(self):
        checked = check_controls(self.temperature, self.top_k, self.top_p, self.greedy)
        for name, value in zip(("temperature", "top_k", "top_p", "greedy"), checked):
            object.__setattr__(self, name, value)

    @classmethod
    def of(
        cls, temperature=1.0, top_k=0, top_p=1.0, greedy=False, caller: str | None = None
    ) -> Sampling:
        """A ``Sampling`` of values a caller passed (``arguments.CLI`` or ``API``): an
        invalid one is a one-line ``UserError`` spelled as the caller wrote it."""
        return cls(*check_controls(temperature, top_k, top_p, greedy, caller))

    @property
    def is_default(self) -> bool:
        """Plain sampling from softmax(l): what training uses."""
        return self.temperature == 1.0 and self.top_k == 0 and self.top_p == 1.0 and not self.greedy

    @property
    def filters(self) -> bool:
        """Whether top-k or top-p filtering is on (each row then sorts its V logits)."""
        return bool(self.top_k) or self.top_p < 1.0

    def restrict(self, logits: torch.Tensor) -> torch.Tensor:
        """``[n, V]`` logits whose softmax is the distribution drawn from (temperature,
        then top-k, then top-p; -inf for excluded tokens), in ``logits``' dtype.  Greedy
        is not applied here (see ``sampler``)."""
        out = temper(logits, self.temperature)
        vocab = logits.shape[-1]
        if self.top_k and self.top_k < vocab:
            order = torch.sort(out, dim=-1, descending=True, stable=True).indices
            out = out.scatter(-1, order[:, self.top_k :], float("-inf"))
        if self.top_p < 1.0:
            ranked, order = torch.sort(out, dim=-1, descending=True, stable=True)
            probs = torch.softmax(ranked.to(wide_float(ranked.device)), dim=-1)
            before = torch.nn.functional.pad(probs.cumsum(-1)[:, :-1], (1, 0))
            drop = before >= self.top_p  # the first token has 0 before it: always kept
            out = out.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
        return out

    def sample(
        self,
        logits: torch.Tensor,
        uniforms: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One token per row of ``logits [n, V]``, ``[n]`` ``torch.long`` (arguments as
        ``sample_from_logits``, whose draw it is on ``restrict(logits)``)."""
        if self.greedy:
            return greedy_from_logits(logits)
        if self.is_default:
            return sample_from_logits(logits, uniforms, generator)
        return sample_from_logits(self.restrict(logits), uniforms, generator)

    @property
    def sampler(self):
        """The ``sampler(logits, uniforms, generator)`` of ``Generator.continue_from``:
        ``sample_from_logits`` itself for the default controls."""
        if self.greedy:
            return greedy_from_logits
        return sample_from_logits if self.is_default else self.sample

    def to_dict(self) -> dict:
        """``{"temperature", "top_k", "top_p", "greedy"}`` (as ``evaluation.json`` keeps it)."""
        return asdict(self)

    def signature(self) -> str:
        """The controls that differ from the default, as signature fields
        (``temperature=0.8|top_p=0.9``); ``""`` for the default."""
        fields = []
        if self.temperature != 1.0:
            fields.append(f"temperature={self.temperature!r}")
        if self.top_k:
            fields.append(f"top_k={self.top_k}")
        if self.top_p != 1.0:
            fields.append(f"top_p={self.top_p!r}")
        if self.greedy:
            fields.append("greedy=true")
        return "|".join(fields)
