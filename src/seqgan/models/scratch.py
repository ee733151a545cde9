"""Scratch tensors kept between calls, per thread: views of one buffer per device and
dtype, grown when too small (``scratch``).

At a large vocabulary the ``[n, V]`` tensors of a loss or a sampling step, tens to
hundreds of MB, made and freed at every step are mapped and unmapped by the C library
each time (glibc ``mmap``s every block above 32 MB): page faults and system time, 40 % of
the CPU time of a 10k-line corpus run before its sampling steps used this.  Used by the
chunked output loss (``models/output_loss.py``) and the sampler
(``models/sampling.sample_from_logits``), which never call each other while they hold
views, and by ``Generator.continue_from`` for its steps' logits (slot ``"logits"``),
which it holds while the sampler runs.
"""

from __future__ import annotations

import math
import threading

import torch

_kept = threading.local()  # this thread's buffers, by (device, dtype, slot)


def scratch(
    like: torch.Tensor, shapes: list[tuple[int, ...]], slot: str = ""
) -> list[torch.Tensor]:
    """Uninitialised tensors of ``shapes`` (``like``'s dtype and device), views of this
    thread's buffer for ``slot``: valid until the next call for that slot, so a caller
    writes them before reading and lets none escape.  Callers that hold views while
    calling one another use different slots."""
    sizes = [math.prod(shape) for shape in shapes]
    kept = getattr(_kept, "buffers", None)
    if kept is None:
        kept = _kept.buffers = {}
    key = (like.device, like.dtype, slot)
    if key not in kept or kept[key].numel() < sum(sizes):
        kept.pop(key, None)
        kept[key] = like.new_empty(sum(sizes))
    views, offset = [], 0
    for shape, size in zip(shapes, sizes):
        views.append(kept[key][offset : offset + size].view(shape))
        offset += size
    return views
