"""LeakGAN: the rescaled activation, the manager's and worker's quantities on
hand-computed cases, the generator's consistency (sampling = teacher forcing), a tiny run."""

from __future__ import annotations

import math

import pytest
import torch

from seqgan.cli import main
from seqgan.config import build_config
from seqgan.data.synthetic import build_synthetic_task
from seqgan.models import size
from seqgan.models.sampling import greedy_from_logits
from seqgan.rl.leakgan import (
    block_lengths,
    intrinsic_rewards,
    manager_loss,
    rescaled_activation,
)
from seqgan.training.leakgan import build_generator
from tests.conftest import TINY
from tests.helpers import read_csv, train_tiny


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_rescaled_activation_by_hand():
    # one column, B = 4, delta = 16: ranks (1 = highest) 4, 1, 2, 3 (the tie: earlier row
    # first) -> sigmoid(16 (0.5 - rank / 4)) = sigmoid(-8), sigmoid(4), sigmoid(0), sigmoid(-4)
    rewards = torch.tensor([[0.2, 1.0], [0.9, 3.0], [0.5, 2.0], [0.5, 4.0]])
    out = rescaled_activation(rewards, delta=16.0)
    assert out[:, 0].tolist() == pytest.approx(
        [_sigmoid(-8), _sigmoid(4), _sigmoid(0), _sigmoid(-4)]
    )
    # second column: ranks 4, 2, 3, 1
    assert out[:, 1].tolist() == pytest.approx(
        [_sigmoid(-8), _sigmoid(0), _sigmoid(-4), _sigmoid(4)]
    )
    assert rescaled_activation(rewards, delta=0.0).eq(0.5).all()


def test_block_lengths():
    assert block_lengths(20, 4) == [4, 8, 12, 16, 20]
    assert block_lengths(10, 4) == [4, 8, 10]


def test_manager_loss_and_intrinsic_reward_by_hand():
    # F = 2, T = 2, c = 1: f_0 = 0, f_1 = (1, 0), f_2 = (1, 1); goals g_0 = (1, 0), g_1 = (1, 0)
    features = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]])
    goals = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]], requires_grad=True)
    # d_cos(f_1 - f_0, g_0) = 1, d_cos(f_2 - f_1, g_1) = cos((0, 1), (1, 0)) = 0
    assert float(manager_loss(features, goals, 1).detach()) == pytest.approx(-0.5)
    q = torch.tensor([[0.5, 2.0]])
    assert float(manager_loss(features, goals, 1, q).detach()) == pytest.approx(-0.25)
    # c = 2: block starts t = 0 only: d_cos(f_2 - f_0, g_0) = cos((1, 1), (1, 0))
    assert float(manager_loss(features, goals, 2).detach()) == pytest.approx(-1 / math.sqrt(2))
    # r^I_t, c = 2: t = 1: (1/2) d_cos(f_1 - f_0, g_0) = 1/2;
    # t = 2: (1/2) [d_cos(f_2 - f_1, g_1) + d_cos(f_2 - f_0, g_0)] = (0 + 1/sqrt 2) / 2
    r = intrinsic_rewards(features, goals.detach(), 2)
    assert r.tolist()[0] == pytest.approx([0.5, 1 / (2 * math.sqrt(2))])


@pytest.fixture
def leak(tiny_config):
    cfg = build_config({**TINY, "algorithm": "leakgan", "leakgan": {"step": 3}})
    task = build_synthetic_task(cfg, None)
    return build_generator(cfg, task), task


def test_sampling_draws_from_the_teacher_forced_policy(leak):
    generator, task = leak
    tokens = generator.continue_from(
        torch.empty(5, 0, dtype=torch.long), sampler=greedy_from_logits
    )
    assert torch.equal(generator.logits(tokens).argmax(-1), tokens)
    uniforms = torch.rand(5, task.seq_len)
    sampled = generator.continue_from(torch.empty(5, 0, dtype=torch.long), uniforms)
    expected = torch.searchsorted(
        generator.logits(sampled).softmax(-1).cumsum(-1),
        (uniforms * generator.logits(sampled).softmax(-1).sum(-1)).unsqueeze(-1),
        right=True,
    ).squeeze(-1)
    assert torch.equal(sampled, expected)


def test_memory_estimate_counts_the_generator_without_its_d(leak):
    generator, task = leak
    cfg = build_config({**TINY, "algorithm": "leakgan", "leakgan": {"step": 3}})
    own = sum(p.numel() for p in generator.parameters()) - sum(
        p.numel() for p in generator.discriminator.parameters()
    )
    parts = {p.name: p.count for p in size.estimate(cfg, task.vocab_size, task.seq_len).parameters}
    assert parts["generator"] == own
    assert parts["discriminator"] == sum(p.numel() for p in generator.discriminator.parameters())
    assert "roll-out copy" not in parts  # its MC search completes with the generator itself


def test_completions_keep_the_prefix_and_leave_d_alone(leak):
    generator, task = leak
    before = {k: v.clone() for k, v in generator.discriminator.state_dict().items()}
    out = generator.continue_from(task.train[:4, :5])
    assert torch.equal(out[:, :5], task.train[:4, :5])
    generator.log_prob(task.train[:8]).sum().backward()
    assert all(p.grad is None for p in generator.discriminator.parameters())
    assert all(torch.equal(v, before[k]) for k, v in generator.discriminator.state_dict().items())
    at_temperature = generator.log_prob(task.test[:4], temperature=0.5)
    assert at_temperature.shape == (4, task.seq_len) and bool((at_temperature <= 0).all())


def test_tiny_leakgan_run(tmp_path):
    out, summary, rows = train_tiny(
        tmp_path, "leakgan", leakgan={"step": 3, "num_rollouts": 2, "mle_every": 2}
    )
    assert math.isfinite(summary["nll_oracle"]) and math.isfinite(summary["nll_test"])
    assert [r["phase"] for r in rows][:3] == [
        "init",
        "pretrain_discriminator",
        "pretrain_discriminator",
    ]
    adversarial = [r for r in rows if r["phase"] == "adversarial"]
    assert all(0 < float(r["reward_mean"]) < 1 and r["manager_loss"] for r in adversarial)
    assert [bool(r["mle_loss"]) for r in adversarial] == [False, True, False]
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(out),
                "--temperatures",
                "0.5,1.5",
                "--samples",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = read_csv(out / "quality_diversity.csv")
    assert [float(r["temperature"]) for r in rows] == [0.5, 1.5]
