import copy

import torch

from seqgan.config import build_config
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.rl.policy_gradient import policy_gradient_loss
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.rl.rollout import (
    draw_rollout_uniforms,
    mc_search_q,
    mc_search_q_reference,
    update_rollout_policy,
)
from seqgan.training.steps import policy_gradient_step


def test_batched_mc_search_equals_reference_with_same_random_numbers():
    g = Generator(50, 8, 8, 10)
    rollout = copy.deepcopy(g)
    with torch.no_grad():  # a roll-out policy that differs from the generator
        for p in rollout.parameters():
            p.add_(0.05 * torch.randn_like(p))
    d = Discriminator(50, 10, 6, [1, 2, 5], [5, 5, 5])
    reward = DiscriminatorReward(d, chunk=7)
    tokens = g.sample(6)
    u = draw_rollout_uniforms(6, 10, 5, torch.Generator().manual_seed(3))
    q_fast = mc_search_q(rollout, tokens, reward, 5, u)
    q_ref = mc_search_q_reference(rollout, tokens, reward, 5, u)
    assert q_fast.shape == (6, 10)
    torch.testing.assert_close(q_fast, q_ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(q_fast[:, -1], reward(tokens))


def test_rollouts_keep_the_prefix_and_follow_the_rollout_policy():
    g = Generator(20, 4, 4, 6)
    tokens = g.sample(3)
    seen = []

    def reward(batch):
        seen.append(batch.clone())
        return torch.zeros(len(batch))

    mc_search_q(g, tokens, reward, 4)
    for t, batch in enumerate(seen[:-1], start=1):  # the last call scores tokens itself
        assert batch.shape == (12, 6)
        assert torch.equal(batch[:, :t], tokens[:, :t].repeat(4, 1))


def test_rollout_policy_update_rate():
    a, b = Generator(10, 3, 3, 4), Generator(10, 3, 3, 4)
    beta0, theta = a.output.bias.clone(), b.output.bias.clone()
    update_rollout_policy(a, b, 0.8)
    torch.testing.assert_close(a.output.bias, 0.8 * beta0 + 0.2 * theta)
    update_rollout_policy(a, b, 0.0)
    assert torch.equal(a.output.bias, theta)


def test_policy_gradient_loss_is_eq7():
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-0.1, -0.2, -0.3]], requires_grad=True)
    q = torch.tensor([[0.5, 0.2, 1.0], [0.0, 1.0, 0.4]])
    loss = policy_gradient_loss(logp, q)
    manual = -((-1 * 0.5 - 2 * 0.2 - 0.5 * 1) / 3 + (0 - 0.2 - 0.3 * 0.4) / 3) / 2
    assert abs(loss.item() - manual) < 1e-6
    loss.backward()
    torch.testing.assert_close(logp.grad, -q / 6)


def test_policy_gradient_raises_probability_of_rewarded_token():
    torch.manual_seed(0)
    g = Generator(8, 6, 6, 5, init_std=0.3)
    rollout = copy.deepcopy(g).requires_grad_(False)
    target = 3

    def reward(tokens):  # fraction of positions holding the favoured token
        return (tokens == target).float().mean(1)

    def prob_of_target():
        return float(
            (g.sample(4000, generator=torch.Generator().manual_seed(9)) == target).float().mean()
        )

    before = prob_of_target()
    opt = torch.optim.Adam(g.parameters(), lr=0.02)
    cfg = build_config(
        {
            "generator": {"batch_size": 32, "grad_clip": 5.0},
            "adversarial": {"num_rollouts": 4, "rollout_update_rate": 0.0},
        }
    )
    for _ in range(40):
        policy_gradient_step(g, rollout, reward, opt, cfg)
    after = prob_of_target()
    assert after > before + 0.2, (before, after)
