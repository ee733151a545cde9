"""GAN diagnostics of Bjare & Meredith (Table 1): is the generator fooling anyone, and how
diverse is it?

* ``reward_stats``: mean R̄_T and standard deviation S_T (population, ddof 0) of the
  terminal reward D(x) over fresh generator samples.
* ``precision_recall``: the discriminator as a classifier of "real", threshold 0.5 on
  D(x).  With TP = real judged real, FP = generated judged real, FN = real judged
  generated: precision p_d = TP / (TP + FP) (falls as generated samples fool D),
  recall r_d = TP / (TP + FN).  Computed on held-out real data vs as many fresh samples.
* ``policy_entropy``: H(p_gen) per token, in nats: the mean over sampled sequences and
  steps t of the exact entropy −Σ_v π(v|s_t) log π(v|s_t) of the next-token distribution
  at the states the generator visits (an unbiased, lower-variance form of
  −E log π(x_t|s_t)).
* H(p_data, p_gen), the cross-entropy of held-out data under the generator, is NLL-test
  (``metrics.nll``).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from seqgan.models.generator import Generator
from seqgan.runtime.device import wide_float


def reward_stats(rewards: torch.Tensor) -> tuple[float, float]:
    """(mean, standard deviation) of ``rewards [n]``."""
    rewards = rewards.to(wide_float(rewards.device))
    return float(rewards.mean()), float(rewards.std(unbiased=False))


def precision_recall(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, threshold: float = 0.5
) -> tuple[float, float]:
    """(p_d, r_d) of the rule "real if D(x) > threshold"; NaN where undefined (0 / 0)."""
    true_pos = int((real_scores > threshold).sum())
    false_pos = int((fake_scores > threshold).sum())
    false_neg = len(real_scores) - true_pos
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else float("nan")
    recall = true_pos / (true_pos + false_neg) if len(real_scores) else float("nan")
    return precision, recall


@torch.no_grad()
def policy_entropy(generator: Generator, samples: torch.Tensor, chunk: int = 256) -> float:
    """Mean per-step entropy (nats) of the generator's next-token distributions along its
    own ``samples [n, T]`` (steps up to and including ``<eos>``), in chunks of ``chunk``."""
    was_training = generator.training
    generator.eval()
    total = 0.0
    count: float = 0
    try:
        for part in samples.split(chunk):
            logp = F.log_softmax(generator.logits(part), dim=-1)
            mask = generator.token_mask(part)  # steps after <eos> are not choices
            total += float((-(logp.exp() * logp).sum(-1) * mask).to(wide_float(mask.device)).sum())
            count += float(mask.sum())
    finally:
        generator.train(was_training)
    return total / max(1, count)
