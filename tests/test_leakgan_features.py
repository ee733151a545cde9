"""LeakGAN's fast exact paths against their definitions: the leaked features of every
prefix from running sums (``models.leaked_features``) against one discriminator pass per
prefix; the MC search that reads each prefix once against re-reading it per completion;
``<eos>`` / ``<pad>`` in a prefix."""

from __future__ import annotations

import pytest
import torch

from seqgan.config import build_config
from seqgan.data.synthetic import build_synthetic_task
from seqgan.models.discriminator import Discriminator
from seqgan.models.leaked_features import PrefixFeatures, all_prefix_features
from seqgan.models.leakgan import LeakGANGenerator
from seqgan.rl.leakgan import block_lengths, block_q
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.training.leakgan import build_generator
from tests.conftest import TINY

# widths 1 .. T (8), one wider than half the length: windows that are never empty
DISCRIMINATOR = {**TINY["discriminator"], "filter_sizes": [1, 2, 5, 8], "num_filters": [6, 6, 4, 5]}


def _generator(dtype=torch.float32, **leakgan):
    cfg = build_config(
        {
            **TINY,
            "algorithm": "leakgan",
            "discriminator": DISCRIMINATOR,
            "leakgan": {"step": 3, **leakgan},
        }
    )
    task = build_synthetic_task(cfg, None)
    return build_generator(cfg, task).to(dtype), task


def _definition(generator: LeakGANGenerator, tokens: torch.Tensor) -> torch.Tensor:
    """f_0..f_T by one discriminator pass per prefix ``[n, T+1, F]``."""
    n, length = tokens.shape
    lengths = [torch.full((n,), t) for t in range(length + 1)]
    return torch.stack([generator.prefix_features(tokens, t) for t in lengths], dim=1)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_features_of_every_prefix_equal_one_pass_per_prefix(dtype, tolerance):
    generator, task = _generator(dtype)
    repeated = torch.tensor([[3, 3, 3, 3, 3, 3, 3, 3], [1, 2, 1, 2, 1, 2, 1, 2]])  # ties
    tokens = torch.cat([task.train[:13], repeated])
    expected = _definition(generator, tokens)
    batched = all_prefix_features(generator.discriminator, tokens)
    torch.testing.assert_close(batched, expected, rtol=tolerance, atol=tolerance)
    running = PrefixFeatures(generator.discriminator, len(tokens), tokens.shape[1])
    stepwise = [running.current()]
    for pos in range(tokens.shape[1]):
        running.push(tokens[:, pos])
        stepwise.append(running.current())
    torch.testing.assert_close(torch.stack(stepwise, 1), expected, rtol=tolerance, atol=tolerance)


def test_features_in_small_chunks_and_of_no_rows(monkeypatch):
    from seqgan.models import leaked_features

    generator, task = _generator(torch.float64)
    whole = all_prefix_features(generator.discriminator, task.train[:10])
    monkeypatch.setattr(leaked_features, "SUMS_BUDGET", 1)  # one sequence per chunk
    torch.testing.assert_close(
        all_prefix_features(generator.discriminator, task.train[:10]), whole, rtol=1e-13, atol=1e-13
    )
    assert all_prefix_features(generator.discriminator, task.train[:0]).shape == (0, 9, 21)


def test_mc_search_reading_each_prefix_once_equals_re_reading_it():
    generator, task = _generator()
    reward = DiscriminatorReward(generator.discriminator, 0)
    torch.manual_seed(7)
    samples = generator.sample(12, 12)
    torch.manual_seed(8)
    q = block_q(generator, samples, reward, 3)
    torch.manual_seed(8)  # the re-reading loop: every completion reads its prefix again
    columns = []
    for end in block_lengths(samples.shape[1], generator.step_size):
        completed = samples
        if end < samples.shape[1]:
            completed = generator.continue_from(samples[:, :end].repeat(3, 1))
        columns.append(reward(completed).view(-1, 12).mean(0))
    torch.testing.assert_close(q, torch.stack(columns, 1), rtol=1e-6, atol=1e-7)
    walk = generator.walks(samples, [3])[0]
    with pytest.raises(ValueError, match="a walk at step 3 of 12 rows"):
        generator.continue_from(samples[:, :4], walk=walk)


def test_a_prefix_with_eos_is_padded_and_completions_pad_after_eos():
    torch.manual_seed(0)
    d = Discriminator(12, 6, 4, [1, 2, 6], [3, 3, 2])
    generator = LeakGANGenerator(
        d, 12, 4, 4, 6, 0, 3, 2, 0.1, eos_token=1, pad_token=2, never_output=()
    )
    prefix = torch.tensor([[5, 1, 7], [5, 6, 7]])  # row 0 ended at its second token
    out = generator.continue_from(prefix)
    assert out[0].tolist() == [5, 1, 2, 2, 2, 2] and out[1, :3].tolist() == [5, 6, 7]
    samples = generator.sample(64, 64)
    mask = generator.token_mask(samples).bool()
    assert bool((samples[~mask] == 2).all()) and bool((~mask).any())
    # the walk reads what was fed (pads after <eos>): the same as re-reading the padded rows
    torch.manual_seed(1)
    again = generator.continue_from(out[:, :3])
    torch.manual_seed(1)
    assert torch.equal(again, generator.continue_from(prefix))
