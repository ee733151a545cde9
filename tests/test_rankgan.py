"""RankGAN: the rank score on a hand-computed case, the ranker's loss, the batched MC
search against the per-timestep reference, a tiny run."""

from __future__ import annotations

import math

import pytest
import torch

from seqgan.data.synthetic import build_synthetic_task
from seqgan.models.ranker import Ranker
from seqgan.rl.ranking import LogRankReward, log_rank_scores, ranker_loss
from seqgan.rl.rollout import draw_rollout_uniforms, mc_search_q, mc_search_q_reference
from seqgan.training import parts
from tests.helpers import train_tiny


def test_rank_score_by_hand():
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])  # lengths do not matter
    u = torch.stack([2 * e1])
    comparison = torch.stack([e1, e2])
    e = math.e
    # one reference s = e1: alpha(u|s) = 1, alpha(C|s) = 1, 0 -> P = e / (e + e + 1)
    one = log_rank_scores(u, torch.stack([e1]), comparison, gamma=1.0).exp()
    assert float(one) == pytest.approx(e / (2 * e + 1))
    # U = {e1, e2}: for s = e2, alpha(u|s) = 0 and alpha(C|s) = 0, 1 -> P = 1 / (1 + 1 + e)
    two = log_rank_scores(u, torch.stack([e1, e2]), comparison, gamma=1.0).exp()
    assert float(two) == pytest.approx((e / (2 * e + 1) + 1 / (2 + e)) / 2)
    # gamma scales the similarities inside the softmax: gamma = 2 with s = e1
    sharp = log_rank_scores(u, torch.stack([e1]), comparison, gamma=2.0).exp()
    assert float(sharp) == pytest.approx(e**2 / (2 * e**2 + 1))
    # gamma = 0: every member of C' = C + {u} is equally relevant
    flat = log_rank_scores(u, torch.stack([e1, e2]), comparison, gamma=0.0).exp()
    assert float(flat) == pytest.approx(1 / 3)


def test_ranker_loss_is_eq1_negated():
    real, fake = torch.log(torch.tensor([0.5, 0.25])), torch.log(torch.tensor([0.2, 0.6]))
    expected = -(math.log(0.5) + math.log(0.25)) / 2 - (math.log(0.8) + math.log(0.4)) / 2
    assert float(ranker_loss(real, fake)) == pytest.approx(expected)


def test_reward_scores_with_dropout_off_and_in_chunks(tiny_config):
    task = build_synthetic_task(tiny_config, None)
    ranker = parts.build_discriminator(tiny_config, task, Ranker).train()
    reward = LogRankReward(ranker, task.train[:4], task.train[4:12], 1.0, chunk=5)
    scores = reward(task.test[:13])
    assert scores.shape == (13,) and bool((scores < 0).all()) and ranker.training
    again = LogRankReward(ranker, task.train[:4], task.train[4:12], 1.0, chunk=64)
    assert torch.allclose(scores, again(task.test[:13]), atol=1e-6)  # no dropout noise
    assert ranker.output is None


def test_batched_mc_search_of_the_log_rank_reward_equals_the_per_timestep_reference(
    tiny_config,
):
    # the two paths of benchmarks/rankgan_reference.py: the same rewards from the same
    # uniform numbers (a roll-out policy other than the generator, a ranker with dropout)
    task = build_synthetic_task(tiny_config, None)
    generator = parts.build_generator(tiny_config, task)
    rollout = parts.rollout_copy(generator)
    with torch.no_grad():
        for p in rollout.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ranker = parts.build_discriminator(tiny_config, task, Ranker).train()
    reward = LogRankReward(ranker, task.train[:8], task.train[8:40], 1.0, chunk=7)
    tokens = generator.sample(6)
    u = draw_rollout_uniforms(6, task.seq_len, 4, torch.Generator().manual_seed(3))
    batched = mc_search_q(rollout, tokens, reward, 4, u)
    torch.testing.assert_close(
        batched, mc_search_q_reference(rollout, tokens, reward, 4, u), rtol=0, atol=1e-6
    )
    assert bool((batched < 0).all()) and ranker.training


def test_tiny_rankgan_run(tmp_path):
    out, summary, rows = train_tiny(  # diagnostics: entropy only, the ranker is no classifier
        tmp_path,
        "rankgan",
        rankgan={"reference_size": 8, "comparison_size": 32},
        eval={"diagnostics": True},
    )
    assert math.isfinite(summary["nll_oracle"]) and math.isfinite(summary["entropy"])
    ranker_rows = [r for r in rows if r["phase"] == "pretrain_discriminator"]
    assert len(ranker_rows) == 2 and all(0 <= float(r["d_accuracy"]) <= 1 for r in ranker_rows)
    adversarial = [r for r in rows if r["phase"] == "adversarial"]
    # the reward is a log rank score: below 0, above log of a tiny share of C' = 33
    assert all(-10 < float(r["reward_mean"]) < 0 for r in adversarial)
    assert set(torch.load(out / "model.pt", weights_only=True)) == {
        "generator",
        "rollout",
        "ranker",
    }
