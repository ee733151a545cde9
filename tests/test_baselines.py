"""The baselines of the SeqGAN paper: Random, MLE, scheduled sampling, PG-BLEU."""

import math

import pytest
import torch

from seqgan import registry
from seqgan.config import build_config
from seqgan.data.synthetic import build_synthetic_task
from seqgan.rl.rewards import BleuReward
from seqgan.training import steps
from seqgan.training.scheduled_sampling import omega_at
from tests.conftest import TINY


def test_scheduled_inputs_replace_at_rate_one_minus_omega():
    true = torch.zeros(200_000, dtype=torch.long)
    model = torch.ones(200_000, dtype=torch.long)
    for omega in (1.0, 0.7, 0.2, 0.0):
        inputs, replaced = steps.scheduled_inputs(true, model, omega)
        assert torch.equal(inputs, replaced.long())  # replaced exactly where the mask says
        assert abs(float(replaced.float().mean()) - (1 - omega)) < 0.005


def test_scheduled_sampling_epoch_feeds_own_tokens_at_the_scheduled_rate(tiny_config):
    task = build_synthetic_task(tiny_config, None)
    model, _, phases = registry.algorithm("ss").build(tiny_config, task)
    generator = model["generator"]
    optimizer = torch.optim.Adam(generator.parameters(), lr=0.01)
    loss, replaced = steps.scheduled_sampling_epoch(
        generator, optimizer, task.train, 32, 5.0, omega=0.6
    )
    # 256 sequences x 7 replaceable inputs = 1,792 coins: std of the rate ~ 0.012
    assert math.isfinite(loss) and abs(replaced - 0.4) < 0.05
    assert [p.name for p in phases] == ["pretrain_generator", "scheduled_sampling"]


def test_omega_starts_at_one_and_falls_by_0002_per_epoch():
    cfg = build_config({"ss": {"omega_start": 1.0, "omega_decay": 0.002}})
    assert omega_at(cfg, 1) == 1.0
    assert omega_at(cfg, 101) == pytest.approx(0.8)
    assert omega_at(cfg, 10_000) == 0.0


def test_bleu_reward_prefers_a_copy_of_the_references():
    torch.manual_seed(0)
    references = torch.randint(0, 50, (200, 12))
    reward = BleuReward(references, n=3)
    copied, random_rows = references[:8], torch.randint(0, 50, (8, 12))
    scores_copied, scores_random = reward(copied), reward(random_rows)
    assert torch.allclose(scores_copied, torch.ones(8))
    assert float(scores_random.max()) < float(scores_copied.min())


def test_random_baseline_is_exactly_uniform(tiny_config):
    tiny_config.algorithm = "random"
    task = build_synthetic_task(tiny_config, None)
    models, optimizers, phases = registry.algorithm("random").build(tiny_config, task)
    logp = models["generator"].log_prob(task.test)
    assert phases == [] and optimizers == {}
    torch.testing.assert_close(logp, torch.full_like(logp, -math.log(40)))


@pytest.mark.parametrize(
    "algorithm,phases",
    [
        ("mle", ["pretrain_generator", "mle"]),
        ("pg-bleu", ["pretrain_generator", "policy_gradient"]),
        ("seqgan", ["pretrain_generator", "pretrain_discriminator", "adversarial"]),
    ],
)
def test_algorithms_share_the_pretraining_phase(tiny_config, algorithm, phases):
    task = build_synthetic_task(tiny_config, None)
    _, optimizers, built = registry.algorithm(algorithm).build(tiny_config, task)
    assert [p.name for p in built] == phases
    assert built[0].shareable and "mle" in optimizers
    assert (
        sum(p.epochs for p in built if p.trains_generator)
        == TINY["pretrain"]["generator_epochs"] + TINY["adversarial"]["epochs"]
    )
