"""REINFORCE variants (Bjare & Meredith): hand-computed losses and variance reduction."""

import pytest
import torch

from seqgan.models.generator import Generator
from seqgan.rl.estimators import action_values
from seqgan.rl.policy_gradient import policy_gradient_loss

LOG_PROBS = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -1.2, -2.5]])
REWARDS = torch.tensor([0.8, 0.2])
SAMPLES = torch.zeros(2, 3, dtype=torch.long)


def _reward(_tokens):
    return REWARDS


@pytest.mark.parametrize(
    "kind,expected_q,expected_loss",
    [
        # ordinary: every step's return is the terminal reward
        (
            "ordinary",
            [[0.8, 0.8, 0.8], [0.2, 0.2, 0.2]],
            -((-3.5 * 0.8) / 3 + (-4.0 * 0.2) / 3) / 2,
        ),
        # baseline: minus the batch mean 0.5 -> advantages +0.3 and -0.3 (a negative weight)
        (
            "baseline",
            [[0.3, 0.3, 0.3], [-0.3, -0.3, -0.3]],
            -((-3.5 * 0.3) / 3 + (-4.0 * -0.3) / 3) / 2,
        ),
        # merl, alpha = 1: per-step terms -log pi - 1 are [0, 1, -0.5] and [-0.7, 0.2, 1.5];
        # their sums to go [0.5, 0.5, -0.5] and [1.0, 1.7, 1.5] are added to the advantages
        (
            "merl",
            [[0.8, 0.8, -0.2], [0.7, 1.4, 1.2]],
            -((-1.0 * 0.8 - 2.0 * 0.8 - 0.5 * -0.2) / 3 + (-0.3 * 0.7 - 1.2 * 1.4 - 2.5 * 1.2) / 3)
            / 2,
        ),
    ],
)
def test_estimator_returns_and_loss_match_hand_computation(kind, expected_q, expected_loss):
    q, rewards = action_values(kind, SAMPLES, LOG_PROBS, _reward, alpha=1.0)
    torch.testing.assert_close(q, torch.tensor(expected_q))
    torch.testing.assert_close(rewards, REWARDS)
    loss = policy_gradient_loss(LOG_PROBS, q)
    assert float(loss) == pytest.approx(expected_loss, abs=1e-6)


def test_merl_temperature_scales_the_entropy_term():
    q0, _ = action_values("merl", SAMPLES, LOG_PROBS, _reward, alpha=0.0)
    q2, _ = action_values("merl", SAMPLES, LOG_PROBS, _reward, alpha=2.0)
    # alpha = 0 leaves only the advantage and the -1 per remaining step
    torch.testing.assert_close(
        q0, torch.tensor([[0.3 - 3, 0.3 - 2, 0.3 - 1], [-0.3 - 3, -0.3 - 2, -0.3 - 1]])
    )
    torch.testing.assert_close(q2 - q0, -2.0 * LOG_PROBS.flip(1).cumsum(1).flip(1))


def test_baseline_gradient_has_lower_variance_than_ordinary():
    """Toy problem: V = 4, T = 3, reward 0.5 + 0.5 [last token is 0] (a large mean, as a
    discriminator's rewards).  Gradient estimates from batches of 16, over 300 draws."""
    torch.manual_seed(0)
    policy = Generator(4, 4, 4, 3, init_std=0.5)

    def reward(tokens):
        return 0.5 + 0.5 * (tokens[:, -1] == 0).float()

    def gradient(kind):
        samples = policy.sample(16)
        log_probs = policy.log_prob(samples)
        q, _ = action_values(kind, samples, log_probs, reward)
        policy.zero_grad()
        policy_gradient_loss(log_probs, q).backward()
        return torch.cat([p.grad.flatten() for p in policy.parameters()])

    variance = {}
    for kind in ("ordinary", "baseline"):
        grads = torch.stack([gradient(kind) for _ in range(300)])
        variance[kind] = float(grads.var(dim=0).sum())
    assert variance["baseline"] < 0.5 * variance["ordinary"], variance


def test_precision_recall_on_a_hand_made_confusion():
    from seqgan.metrics.gan_diagnostics import precision_recall

    real = torch.tensor([0.9, 0.8, 0.3, 0.6])  # TP = 3, FN = 1
    fake = torch.tensor([0.7, 0.1, 0.2])  # FP = 1, TN = 2
    assert precision_recall(real, fake) == (0.75, 0.75)
    assert precision_recall(real, torch.tensor([0.0]))[0] == 1.0


def test_policy_entropy_equals_the_analytic_entropy():
    """A generator with zero recurrent weights and one fixed output distribution: every
    step's policy is the same categorical, whose entropy is known."""
    from seqgan.metrics.gan_diagnostics import policy_entropy

    policy = Generator(5, 3, 3, 6)
    probs = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05])
    with torch.no_grad():
        policy.output.weight.zero_()
        policy.output.bias.copy_(probs.log())
    analytic = float(-(probs * probs.log()).sum())
    assert policy_entropy(policy, policy.sample(64)) == pytest.approx(analytic, rel=1e-5)


def test_reward_stats():
    from seqgan.metrics.gan_diagnostics import reward_stats

    mean, std = reward_stats(torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert (mean, std) == (0.5, 0.5)


def test_compare_policies_draws_each_generator_at_the_step(tmp_path, capsys):
    import tomli_w

    from seqgan.cli import main
    from seqgan.training.policies import entropy, policy_at
    from tests.conftest import TINY

    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps({**TINY, "adversarial": {**TINY["adversarial"], "epochs": 1}}))
    runs = []
    for estimator in ("ordinary", "merl"):
        runs.append(tmp_path / estimator)
        assert (
            main(
                [
                    "train",
                    "--config",
                    str(config),
                    "--out",
                    str(runs[-1]),
                    "--set",
                    f"generator.estimator={estimator}",
                ]
            )
            == 0
        )
    figure = tmp_path / "policies.png"
    capsys.readouterr()
    assert (
        main(
            ["evaluate", "--compare-policies", *map(str, runs), "--step", "4", "--out", str(figure)]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert figure.stat().st_size > 10_000
    assert lines[0].startswith("ordinary") and lines[1].startswith("merl")
    uniform = torch.full((40,), 1 / 40)
    assert entropy(uniform) == pytest.approx(float(torch.log(torch.tensor(40.0))))
    assert policy_at(
        Generator(40, 4, 4, 8), torch.zeros(8, dtype=torch.long), 4
    ).sum() == pytest.approx(1.0)
