"""RelGAN: the relational memory's shapes and gates, the Gumbel-softmax relaxation, the
inverse-temperature schedules and the losses on hand-computed cases, a tiny run with
``evaluate --temperatures``, and a RelGAN run taking another's pre-training."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from seqgan.cli import main
from seqgan.config import build_config
from seqgan.data.synthetic import build_synthetic_task
from seqgan.models import size
from seqgan.models.discriminator_kernels import KERNELS
from seqgan.models.relgan import (
    RelationalMemory,
    RelGANDiscriminator,
    gumbel_softmax,
    max_windows,
)
from seqgan.models.sampling import greedy_from_logits
from seqgan.rl.relgan import LOSSES, SCHEDULES, gradient_penalty, inverse_temperature
from seqgan.training.relgan import beta_at, build_discriminator, build_generator
from tests.conftest import TINY
from tests.helpers import error_line, read_csv, train_tiny

# the tiny model: memory 1 x (2 heads x 4), D with 4 representations of 2 numbers
RELGAN = {"head_size": 4, "num_representations": 4}


@pytest.fixture
def relgan():
    cfg = build_config({**TINY, "algorithm": "relgan", "relgan": RELGAN})
    task = build_synthetic_task(cfg, None)
    return cfg, task, build_generator(cfg, task)


def _gated(core: RelationalMemory, input_bias: float, forget_bias: float):
    """A copy of ``core`` whose gates are the constants sigmoid(input_bias) and
    sigmoid(forget_bias) (gate weights zero)."""
    core.gate_input.weight.data.zero_()
    core.gate_memory.weight.data.zero_()
    core.input_bias, core.forget_bias = input_bias, forget_bias
    return core


def test_relational_memory_shapes_and_gates():
    torch.manual_seed(0)
    core = RelationalMemory(input_size=5, mem_slots=3, num_heads=2, head_size=4)
    memory = core.initial_state(6)
    assert memory.shape == (6, 3, 8)
    assert torch.equal(memory[0], torch.eye(3, 8))  # distinct unit rows
    x = torch.randn(6, 7, 5)
    out = core.unroll(x, memory)
    assert out.shape == (6, 7, 24)
    stepped, m = [], memory
    for t in range(7):
        m = core.step(x[:, t], m)
        stepped.append(m.flatten(1))
    assert torch.allclose(torch.stack(stepped, 1), out, atol=1e-5)  # teacher forced = stepped
    # input gate shut, forget gate open: the memory stays; input open, forget shut: the
    # memory is tanh(M~) (the attended one), and the default gates mix the two by
    # sigmoid(0) and sigmoid(1)
    kept = _gated(core, -1e4, 1e4).step(x[:, 0], memory)
    assert torch.equal(kept, memory)
    new = _gated(core, 1e4, -1e4).step(x[:, 0], memory)
    assert bool((new.abs() < 1).all()) and not torch.allclose(new, memory)
    mixed = _gated(core, 0.0, 1.0).step(x[:, 0], memory)
    expected = 0.5 * new + torch.sigmoid(torch.tensor(1.0)) * memory
    assert torch.allclose(mixed, expected, atol=1e-6)


def test_generator_samples_its_teacher_forced_policy(relgan):
    cfg, task, generator = relgan
    tokens = generator.continue_from(
        torch.empty(5, 0, dtype=torch.long), generator.initial_state(5), sampler=greedy_from_logits
    )
    assert torch.equal(generator.logits(tokens).argmax(-1), tokens)
    assert generator.sample(7).shape == (7, task.seq_len)
    at_temperature = generator.log_prob(task.test[:4], temperature=0.5)
    assert at_temperature.shape == (4, task.seq_len) and bool((at_temperature <= 0).all())
    parts = {p.name: p.count for p in size.estimate(cfg, task.vocab_size, task.seq_len).parameters}
    assert parts["generator"] == sum(p.numel() for p in generator.parameters())


def test_memory_estimate_counts_relgans_own_discriminator(relgan):
    """The estimate counts RelGAN's D (S representations, no highway biases, a 100-wide
    head) parameter for parameter, and its step's activations grow with S: the CNN D's
    formula it used before knew neither."""
    cfg, task, _ = relgan
    d = build_discriminator(cfg, task)
    found = size.estimate(cfg, task.vocab_size, task.seq_len)
    parts = {p.name: p.count for p in found.parameters}
    assert parts["discriminator"] == sum(p.numel() for p in d.parameters())
    wider = build_config(
        {**TINY, "algorithm": "relgan", "relgan": {**RELGAN, "num_representations": 8}}
    )
    step, wider_step = (
        next(
            p
            for p in size._activation_parts(c, task.vocab_size, task.seq_len)
            if p.name == "RelGAN step"
        )
        for c in (cfg, wider)
    )
    assert wider_step.count > step.count


def test_straight_through_is_the_hard_sample_with_the_soft_gradient(relgan):
    _, task, generator = relgan
    weights = torch.randn(task.seq_len, task.vocab_size)

    def draw(straight_through: bool):
        torch.manual_seed(7)
        generator.zero_grad()
        tokens, relaxed = generator.relaxed_sample(16, 5.0, straight_through)
        (relaxed * weights).sum().backward()
        return tokens, relaxed, [p.grad.clone() for p in generator.parameters()]

    tokens, hard, hard_grads = draw(True)
    assert torch.equal(hard, F.one_hot(tokens, task.vocab_size).float())
    same_tokens, soft, soft_grads = draw(False)
    assert torch.equal(same_tokens, tokens)  # the same Gumbel noise: the same tokens
    assert not torch.equal(soft, hard) and torch.equal(soft.argmax(-1), tokens)
    assert all(torch.equal(a, b) for a, b in zip(hard_grads, soft_grads))
    named = dict(zip((n for n, _ in generator.named_parameters()), soft_grads))
    for name in ("output.weight", "memory.qkv.weight", "memory.gate_memory.weight"):
        assert named[name].abs().sum() > 0, name
    # beta -> infinity: the relaxation becomes the one-hot itself
    torch.manual_seed(3)
    logits = torch.randn(4, 9)
    token, relaxed = gumbel_softmax(logits, 1e6)
    assert torch.allclose(relaxed, F.one_hot(token, 9).float())


def test_the_relaxation_and_its_gradient_hold_no_subnormal_numbers():
    """At a large inverse temperature the relaxed one-hot is torch's softmax with its
    values below the smallest normal float set to 0, and so is its gradient with respect
    to the logits (before: thousands of subnormals per row, each a slow operand of the
    output layer's backward products on x86); every other value is torch's, bit for bit."""
    tiny = torch.finfo(torch.float32).tiny
    torch.manual_seed(11)
    beta = 10.0  # beta (l_j - l_max) spread over [-250, 0]: many in the subnormal range
    logits = (torch.randn(16, 3000) * 4).requires_grad_()
    gumbel = -torch.log(-torch.log(torch.rand(16, 3000)))
    upstream = torch.randn(16, 3000)
    _, relaxed = gumbel_softmax(logits, beta, gumbel=gumbel)
    (grad,) = torch.autograd.grad((relaxed * upstream).sum(), logits)
    plain = torch.softmax(beta * (logits + gumbel), dim=-1)
    (plain_grad,) = torch.autograd.grad((plain * upstream).sum(), logits)

    def subnormal(x: torch.Tensor) -> torch.Tensor:
        return (x != 0) & (x.abs() < tiny)

    assert subnormal(plain).sum() > 1000 and subnormal(plain_grad).sum() > 100  # the case
    assert not subnormal(relaxed).any() and not subnormal(grad).any()
    assert torch.equal(relaxed, plain.masked_fill(plain < tiny, 0.0))
    # where p_j was kept and its gradient not flushed (a flushed one, times beta, stays
    # below beta tiny): torch's values; elsewhere both are negligible
    kept = (plain >= tiny) & (plain_grad.abs() >= beta * tiny)
    assert torch.equal(grad[kept], plain_grad[kept])
    assert (grad[~kept].abs() < beta * tiny).all() and (plain_grad[~kept].abs() < 1e-30).all()


def test_inverse_temperature_schedules_by_hand():
    top = 1000.0
    cases = {  # schedule: [(step i, steps N, beta by hand)]
        "constant": [(0, 10, 1000.0), (9, 10, 1000.0)],
        "exp": [(0, 10, 1.0), (5, 10, math.sqrt(1000)), (3, 6, math.sqrt(1000))],
        "linear": [(0, 101, 1.0), (50, 101, 500.5), (100, 101, 1000.0)],
        "log": [(0, 100, 1.0), (9, 100, 500.5), (99, 100, 1000.0)],  # log 10 / log 100 = 1/2
        "sigmoid": [(50, 100, 500.5), (0, 100, 1 + 999 / (1 + math.exp(10)))],
        "quad": [(50, 101, 250.75), (100, 101, 1000.0)],
        "sqrt": [(25, 101, 500.5), (100, 101, 1000.0)],
    }
    assert set(cases) == set(SCHEDULES)
    for schedule, points in cases.items():
        for step, steps, beta in points:
            assert inverse_temperature(schedule, step, steps, top) == pytest.approx(beta), schedule
    cfg = build_config(
        {**TINY, "algorithm": "relgan", "relgan": RELGAN, "adversarial": {"epochs": 4}}
    )
    assert [beta_at(cfg, e) for e in (1, 3, 9)] == pytest.approx([1, 100**0.5, 100**0.75])
    cfg.section("relgan").temperature_steps = 2  # later epochs keep the last step's beta
    assert [beta_at(cfg, e) for e in (1, 2, 3)] == pytest.approx([1, 10, 10])


def test_losses_by_hand():
    r, f = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731 (softplus)
    expected = {  # (d_loss, g_loss)
        "rsgan": ((sp(-2) + sp(0)) / 2, (sp(2) + sp(0)) / 2),
        "standard": ((sp(-2) + sp(0)) / 2 + sp(0), sp(0)),
        "vanilla": ((sp(-2) + sp(0)) / 2 + sp(0), -sp(0)),
        "kl": ((sp(-2) + sp(0)) / 2 + sp(0), 0.0),
        # mean r = 1, mean f = 0
        "rasgan": ((sp(-2) + sp(0)) / 2 + sp(-1), sp(1) + (sp(2) + sp(0)) / 2),
        "hinge": (0.5 + 1.0, 0.0),
        "tv": (-math.tanh(2) / 2, 0.0),
        "lsgan": ((1 + 1) / 2, 1.0),
        "wgan-gp": (-1.0, 0.0),
    }
    assert set(expected) == set(LOSSES)
    for name, (d_loss, g_loss) in expected.items():
        d, g = LOSSES[name](r, f)
        assert (float(d), float(g)) == pytest.approx((d_loss, g_loss), abs=1e-6), name
    # a linear D (the sum of w * x): its gradient is w for every x, the penalty
    # lambda (||w|| - 1)^2
    w = torch.tensor([[0.0, 3.0], [4.0, 0.0]])  # ||w|| = 5
    real, fake = torch.rand(3, 2, 2), torch.rand(3, 2, 2)
    penalty = gradient_penalty(lambda x: (x * w).sum((1, 2)).unsqueeze(1), real, fake, 10.0)
    assert float(penalty) == pytest.approx(160.0)


def test_discriminator_reads_ids_and_one_hots_alike(relgan):
    cfg, task, _ = relgan
    d = build_discriminator(cfg, task).eval()
    assert isinstance(d, RelGANDiscriminator)
    tokens = task.train[:5]
    logits = d(tokens)
    assert logits.shape == (5, 4)
    assert torch.equal(logits, d(F.one_hot(tokens, task.vocab_size).float()))
    real, fake = d.pair(tokens, F.one_hot(task.train[5:8], task.vocab_size).float())
    assert torch.allclose(real, logits, atol=1e-6) and real.shape == (5, 4)
    assert fake.shape == (3, 4) and d.prob_real(tokens).shape == (5,)


def test_max_windows_equals_the_convolution_kernels_values_and_gradients():
    # float64: no two windows tie, so the maximum's position is the one amax shares
    # its gradient with; rows over POOL_ROWS, widths up to T, 1 and 3 channels
    torch.manual_seed(0)
    for rows, channels in ((600, 1), (9, 3)):
        x = torch.randn(rows, 6, channels, dtype=torch.float64, requires_grad=True)
        weights = [
            torch.randn(4, channels, w, dtype=torch.float64, requires_grad=True) for w in (1, 2, 6)
        ]
        grad = torch.randn(rows, 12, dtype=torch.float64)
        results = []
        for kernel in (max_windows, KERNELS["unfold"]):
            out = kernel(x, weights)
            results.append((out, *torch.autograd.grad(out, [x, *weights], grad)))
        for ours, theirs in zip(*results):
            assert torch.allclose(ours, theirs, atol=1e-12)


def test_discriminator_head_equals_its_plain_layers():
    # the fused highway + dropout + output map against nn.Modules in sequence: the same
    # dropout draws, values and every gradient (float64)
    torch.manual_seed(0)
    d = RelGANDiscriminator(30, 7, 4, 2, [2, 3], [5, 6], 0.25).double()
    soft = torch.softmax(torch.randn(9, 7, 30, dtype=torch.float64), -1).requires_grad_(True)

    def plain(x: torch.Tensor) -> torch.Tensor:
        pooled = max_windows(d.embed(x), list(d.conv_weights))
        features = d.dropout(d.highway(F.relu(pooled + d.conv_bias)))
        return d.out(d.hidden(features)).view(-1, 4)

    for training in (True, False):
        d.train(training)
        results = []
        for forward in (d, plain):
            torch.manual_seed(5)
            out = forward(soft)
            weights = torch.arange(out.numel(), dtype=out.dtype).view_as(out)
            results.append(
                (out, *torch.autograd.grad((out * weights).sum(), [soft, *d.parameters()]))
            )
        for ours, theirs in zip(*results):
            assert torch.allclose(ours, theirs, atol=1e-12)


@pytest.mark.slow
def test_tiny_relgan_run_its_temperatures_and_a_shared_pretraining(tmp_path, capsys):
    out, summary, rows = train_tiny(tmp_path, "relgan", relgan=RELGAN, eval={"diagnostics": True})
    assert math.isfinite(summary["nll_oracle"]) and math.isfinite(summary["nll_test"])
    assert [r["phase"] for r in rows][:2] == ["init", "pretrain_generator"]
    adversarial = [r for r in rows if r["phase"] == "adversarial"]
    betas = [float(r["beta"]) for r in adversarial]  # exp from 1 to 100 over N = 3 epochs
    assert betas == pytest.approx([1, 100 ** (1 / 3), 100 ** (2 / 3)])
    assert all(float(r["g_loss"]) > 0 and float(r["d_loss"]) > 0 for r in adversarial)
    assert 0 <= summary["eval_reward_mean"] <= 1
    args = ["--run", str(out), "--temperatures", "0.5,1.5", "--samples", "32", "--out", str(out)]
    assert main(["evaluate", *args]) == 0
    assert [float(r["temperature"]) for r in read_csv(out / "quality_diversity.csv")] == [0.5, 1.5]
    # another beta_max takes this run's pre-training; another memory size may not
    base = ["train", "--config", str(tmp_path / "tiny.toml"), "--set"]
    shared = f"pretrain.generator_from={out}"
    capsys.readouterr()
    assert main([*base, shared, "--set", "relgan.beta_max=10", "--out", str(tmp_path / "b")]) == 0
    assert f"took pretrain_generator (3 epochs) from {out}" in capsys.readouterr().err
    assert main([*base, shared, "--set", "relgan.head_size=8", "--out", str(tmp_path / "c")]) == 2
    error_line(capsys.readouterr().err, "other settings", "relgan.head_size")
