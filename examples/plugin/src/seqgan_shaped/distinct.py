"""distinct-2 (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural
Conversation Models", section 4.2): the number of distinct bigrams in the generated
samples divided by the total number of bigrams, over the whole sample set (each sequence's
tokens before ``<eos>``).  In [0, 1]; higher is more diverse."""

from __future__ import annotations

import torch

from seqgan.extend import Metric, Task


def distinct2(samples: torch.Tensor, task: Task) -> float:
    """distinct-2 of ``samples`` ``[n, T]`` (a number for the set; NaN without bigrams)."""
    bigrams = [tuple(s[i : i + 2]) for s in task.content(samples) for i in range(len(s) - 1)]
    return len(set(bigrams)) / len(bigrams) if bigrams else float("nan")


METRIC = Metric(
    "distinct2",
    distinct2,
    "distinct bigrams / bigrams of the samples (Li et al. 2016; higher = more diverse)",
)
