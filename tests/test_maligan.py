"""MaliGAN: the normalised importance weights on hand-computed cases, the mixed-MLE
schedule and prefixes, tiny end-to-end runs of its variants."""

from __future__ import annotations

import math

import pytest
import torch

from seqgan.config import build_config, read_toml
from seqgan.data.synthetic import build_synthetic_task
from seqgan.rl.maligan import (
    data_tokens,
    normalised_weights,
    ratio_scores,
    weighted_likelihood_loss,
)
from seqgan.training import parts
from seqgan.training.maligan import complete_prefixes
from tests.helpers import train_tiny


def test_normalised_weights_by_hand():
    # D = 1/2, 3/4, 1/4 -> r_D = D / (1 - D) = 1, 3, 1/3; sum 13/3; b = 1/3
    d = torch.tensor([0.5, 0.75, 0.25], dtype=torch.float64)
    log_odds = torch.log(d / (1 - d))
    expected = torch.tensor([3 / 13, 9 / 13, 1 / 13], dtype=torch.float64)
    ratios = ratio_scores(log_odds)
    assert torch.allclose(ratios, torch.tensor([1, 3, 1 / 3], dtype=torch.float64))
    assert torch.allclose(normalised_weights(ratios, baseline="none"), expected)
    assert torch.allclose(normalised_weights(log_odds, baseline="none", log_space=True), expected)
    with_b = normalised_weights(log_odds, log_space=True)
    assert torch.allclose(with_b, expected - 1 / 3) and abs(float(with_b.sum())) < 1e-12
    # Texygen's weight: D itself, normalised: 0.5/1.5, 0.75/1.5, 0.25/1.5
    assert torch.allclose(
        normalised_weights(ratio_scores(log_odds, "probability"), baseline="none"),
        torch.tensor([1 / 3, 1 / 2, 1 / 6], dtype=torch.float64),
    )


def test_weights_are_exact_where_d_rounds_to_one():
    log_odds = torch.tensor([200.0, 199.0])  # D = 1 in float32; r_D overflows
    w = normalised_weights(log_odds, baseline="none", log_space=True)
    e = math.exp(1)
    assert torch.allclose(w, torch.tensor([e / (e + 1), 1 / (e + 1)]))


def test_groups_are_normalised_separately_and_per_time_step():
    scores = torch.tensor([[1.0, 2.0], [3.0, 2.0], [1.0, 1.0], [1.0, 3.0]])
    w = normalised_weights(scores, groups=2, baseline="mean")
    assert torch.allclose(
        w, torch.tensor([[0.25, 0.5], [0.75, 0.5], [0.5, 0.25], [0.5, 0.75]]) - 0.5
    )
    with pytest.raises(ValueError):
        normalised_weights(scores, groups=3)


def test_loss_is_the_weighted_log_likelihood_per_token_and_group():
    log_probs = torch.tensor([[-1.0, -2.0], [-3.0, -1.0]], requires_grad=True)
    weights = torch.tensor([[0.5, 0.5], [-0.25, 1.0]])
    loss = weighted_likelihood_loss(log_probs, weights, groups=2)
    # -(1/2) * [ (0.5*-1 + 0.5*-2)/2 + (-0.25*-3 + 1*-1)/2 ]
    assert float(loss.detach()) == pytest.approx(-0.5 * ((-1.5) / 2 + (-0.25) / 2))
    loss.backward()
    assert torch.allclose(log_probs.grad, -weights / 4)


def test_mixed_mle_schedule_falls_by_k_every_few_epochs():
    assert [data_tokens(e, 20, 0, 5, 1) for e in range(1, 7)] == [20, 15, 10, 5, 0, 0]
    assert [data_tokens(e, 20, 12, 5, 2) for e in range(1, 8)] == [12, 12, 7, 7, 2, 2, 0]
    assert data_tokens(1, 20, 30, 5, 1) == 20  # never above T


def test_completions_keep_the_data_prefix(tiny_config):
    task = build_synthetic_task(tiny_config, None)
    generator = parts.build_generator(tiny_config, task)
    data = task.train[:3]
    out = complete_prefixes(generator, data, 5, 4)
    assert out.shape == (12, task.seq_len)
    assert torch.equal(out[:, :5], data[:, :5].repeat_interleave(4, dim=0))
    assert not torch.equal(out[0::4], out[1::4])  # the copies are sampled independently
    assert complete_prefixes(generator, data, 0, 2).shape == (6, task.seq_len)


@pytest.mark.parametrize(
    "variant",
    [{}, {"estimator": "mc_search", "mixed_mle": True, "data_tokens_step": 3, "completions": 4}],
)
def test_tiny_maligan_run(tmp_path, variant):
    out, summary, rows = train_tiny(tmp_path, "maligan", maligan=variant)
    assert math.isfinite(summary["nll_oracle"]) and math.isfinite(summary["nll_test"])
    rows = [r for r in rows if r["phase"] == "adversarial"]
    assert len(rows) == 3 and all(math.isfinite(float(r["g_loss"])) for r in rows)
    models = torch.load(out / "model.pt", weights_only=True)
    assert ("rollout" in models) == (variant.get("estimator") == "mc_search")
    if variant.get("mixed_mle"):
        assert [float(r["data_tokens"]) for r in rows] == [8, 5, 2]  # T = 8, K = 3
        assert rows[0]["reward_mean"] == ""  # N = T: MLE only, nothing sampled
    else:
        assert all(0 < float(r["reward_mean"]) < 1 for r in rows)
    assert build_config(read_toml(out / "config.toml")).section("maligan").estimator == variant.get(
        "estimator", "sequence"
    )
