"""Long work that tells the truth: an unmeasured phase priced from its work, a long run
warned about up front, progress inside the MC search and while kernels are timed, and a
hint about ``data.min_freq``."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from seqgan.config import build_config
from seqgan.models import kernel_choice
from seqgan.runtime import progress
from seqgan.runtime.progress import eta_seconds
from seqgan.training import work
from seqgan.training.session import open_session
from tests.conftest import TINY

PLAN = [("pretrain_generator", 10), ("pretrain_discriminator", 5), ("adversarial", 10)]


def test_an_unmeasured_phase_is_priced_from_its_work():
    """Before the adversarial phase: 30 s per epoch predicted from its work where the
    measured D rounds ran at twice their prediction -> 60 s per epoch, not the 6 s of a
    D round (the rate of the latest measured phase)."""
    seconds = {"pretrain_generator": 20.0, "pretrain_discriminator": 30.0}
    predicted = [1.0, 3.0, 30.0]
    assert eta_seconds(PLAN, (2, 0), seconds) == pytest.approx(60.0)  # the old rule
    assert eta_seconds(PLAN, (2, 0), seconds, predicted) == pytest.approx(600.0)
    # measured phases keep their own rate; before any is measured: the prediction as is
    assert eta_seconds(PLAN, (1, 0), {"pretrain_generator": 20.0}, predicted) == pytest.approx(
        5 * 3.0 * 2 + 10 * 30.0 * 2
    )
    assert eta_seconds(PLAN, (0, 0), {}, predicted) == pytest.approx(10 + 15 + 300)


def _task(cfg, rows=10000):
    return SimpleNamespace(
        train=range(rows),
        test=range(1000),
        seq_len=cfg.oracle.seq_len,
        vocab_size=cfg.oracle.vocab_size,
        oracle=object(),
    )


def test_the_work_of_an_adversarial_epoch_follows_the_mc_search():
    cfg = build_config({"oracle": {"source": "random", "seq_len": 20}})
    task = _task(cfg)
    adversarial = work.epoch_flops(cfg, task, "adversarial", True)
    mle = work.epoch_flops(cfg, task, "pretrain_generator", True)
    assert adversarial.generator > 0 and adversarial.discriminator > 0
    more = build_config(
        {"oracle": {"source": "random", "seq_len": 20}, "adversarial": {"num_rollouts": 32}}
    )
    doubled = work.epoch_flops(more, task, "adversarial", True)
    # 16 more roll-outs of each of the 64 rows from each of the 19 prefixes: T (T-1) / 2
    # generator steps each, and 16 x 64 x 19 more rows scored by D
    step = work.generator_step_flops(5000, 32, 32)
    assert doubled.generator - adversarial.generator == pytest.approx(16 * 64 * 20 * 19 / 2 * step)
    assert doubled.discriminator - adversarial.discriminator == pytest.approx(
        16 * 64 * 19 * work.discriminator_row_flops(cfg, 20)
    )
    # the MLE epoch is training work; its evaluations sample and score
    assert mle.training == pytest.approx(10000 * 20 * 3 * step)
    assert mle.generator == pytest.approx(
        work.evaluation_flops(cfg, task).generator / cfg.eval.every
    )
    assert adversarial.training == pytest.approx(64 * 20 * 3 * step)  # the g-step's update
    assert work.epoch_flops(cfg, task, "unknown_phase", True) is None
    # no discriminator (PG-BLEU): no discriminator work
    assert work.epoch_flops(cfg, task, "policy_gradient", False).discriminator == 0


def test_a_long_run_is_warned_about_up_front():
    cfg = build_config({})
    plan = [("pretrain_generator", 120), ("adversarial", 200)]
    line = work.long_run_warning(cfg, plan, [2.0, 60.0])
    assert line.startswith("warning: this run is estimated to take about 3h24m here")
    assert "adversarial 200 x 1m00s" in line and "--set adversarial.epochs=N" in line
    assert work.long_run_warning(cfg, plan, [2.0, 60.0], done=300) is None  # 20 epochs left
    assert work.long_run_warning(cfg, plan, [1.0, 1.0]) is None


def _tiny(tmp_path: Path, **sections):
    config = copy.deepcopy(TINY)
    config["run"].update(tensorboard=False)
    config.update(sections)
    return build_config(config)


def test_training_prints_the_estimate_and_reports_the_mc_search(tmp_path, monkeypatch, capsys):
    calls = []
    real = progress.Progress.advance
    monkeypatch.setattr(
        progress.Progress,
        "advance",
        lambda self, label, done, total: (
            calls.append((label, done, total)),
            real(self, label, done, total),
        ),
    )
    monkeypatch.setattr(work, "LONG_RUN", 0.0)  # every run is "long" here
    trainer = open_session(_tiny(tmp_path), tmp_path / "run", tmp_path)
    capsys.readouterr()
    trainer.train()
    err = capsys.readouterr().err
    assert "warning: this run is estimated to take about " in err, err
    assert ("MC search prefix", 8, 8) in calls and ("MC search prefix", 3, 8) in calls


def test_kernel_timing_shows_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQGAN_CACHE", str(tmp_path))
    cfg = build_config(TINY).discriminator
    cfg.kernel = cfg.score_kernel = "auto"
    import torch

    kernel_choice.choose_kernels(cfg, 21, 8, torch.device("cpu"))
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("timing the discriminator's 5 kernels on this run's shapes")
    steps = [line for line in err if line.startswith("  ")]
    assert len(steps) == 10 and steps[-1].endswith("(10 of 10)"), err


def test_data_inspect_suggests_min_freq(tmp_path, capsys):
    from seqgan.cli import main

    rare = tmp_path / "rare.txt"
    rare.write_text("".join(f"the w{i} w{i + 1000}\n" for i in range(50)))
    assert main(["data", "inspect", str(rare)]) == 0
    out = capsys.readouterr().out
    assert "hint: 100 of the 101 distinct tokens (99 %) are seen once" in out
    assert "data.min_freq = 2 keeps 1 (66.7 % of the tokens become <unk>)" in out
    common = tmp_path / "common.txt"
    common.write_text("the cat sat\n" * 20)
    assert main(["data", "inspect", str(common)]) == 0
    assert "hint" not in capsys.readouterr().out


def test_mle_epochs_are_priced_at_the_measured_training_rate(tmp_path):
    """MLE is priced at the rate of a measured training step, not of a sampling step
    (before: a 10k-line corpus at V = 14,595 was estimated at 98 s per MLE epoch where
    it took 31 s, and the ETA of the whole run at 24 min where it took about an hour, the
    adversarial phase priced at the MLE's measured / predicted ratio)."""
    cfg = _tiny(tmp_path)
    trainer = open_session(cfg, tmp_path / "run", tmp_path)
    generator = trainer.models["generator"]
    before = [p.detach().clone() for p in generator.parameters()]
    rates = work.measure_rates(cfg, trainer.task, trainer.models, repeats=1)
    assert rates.training > 0 and rates.generator > 0 and rates.discriminator > 0
    # measured on a copy: the run's generator has neither new weights nor gradients
    assert all(torch.equal(a, b) for a, b in zip(before, generator.parameters()))
    assert all(p.grad is None for p in generator.parameters())
    mle = work.epoch_flops(cfg, trainer.task, "pretrain_generator", True, epochs=10)
    fast, slow = (work.Rates(rates.generator, rates.discriminator, t) for t in (1e15, 1e3))
    assert slow.seconds(mle) - fast.seconds(mle) == pytest.approx(mle.training / 1e3)
    assert fast.seconds(mle) == pytest.approx(mle.generator / rates.generator + mle.training / 1e15)


def test_the_sampling_rate_is_timed_on_the_step_the_mc_search_takes(tmp_path, monkeypatch):
    """The sampling rate is timed on the step ``Generator.continue_from`` takes: without
    autograd, its logits written into the kept buffer (before: a new ``[n, V]`` tensor per
    step, which at V = 14,595 took 3.0-3.3 s per 30 steps of 1,024 rows where the run's
    steps take 1.8-2.1 s, so the estimate priced sampling too slow)."""
    from seqgan.models.generator import Generator

    cfg = _tiny(tmp_path)
    trainer = open_session(cfg, tmp_path / "run", tmp_path)
    calls = []
    step = Generator.step

    def spy(self, tokens, state, out=None):
        calls.append((out is not None, torch.is_grad_enabled()))
        return step(self, tokens, state, out)

    monkeypatch.setattr(Generator, "step", spy)
    work.measure_rates(cfg, trainer.task, trainer.models, repeats=1)
    assert calls and all(kept and not grad for kept, grad in calls), calls


def test_leakgans_run_is_estimated_too(tmp_path):
    """LeakGAN's generator (no LSTM step of its own) is timed itself, on a copy: sampling
    and an MLE step (before its own rates: an LSTM of its sizes stood in, whose rate per
    FLOP is two to three times lower, and before that an AttributeError)."""
    from seqgan.training import leakgan

    cfg = _tiny(tmp_path, algorithm="leakgan", leakgan={"step": 3})
    trainer = open_session(cfg, tmp_path / "run", tmp_path)
    generator = trainer.models["generator"]
    before = [p.detach().clone() for p in generator.parameters()]
    timed = []
    own = leakgan.WORK.rates

    def spy(cfg, task, copy_of_generator):
        timed.append(copy_of_generator)
        return own(cfg, task, copy_of_generator)

    model = leakgan.WORK
    object.__setattr__(model, "rates", spy)
    try:
        rates = work.measure_rates(cfg, trainer.task, trainer.models, repeats=1)
    finally:
        object.__setattr__(model, "rates", own)
    assert rates.generator > 0 and rates.discriminator > 0 and rates.training > 0
    assert len(timed) == 1 and type(timed[0]) is type(generator) and timed[0] is not generator
    assert all(torch.equal(a, b) for a, b in zip(before, generator.parameters()))
    assert all(p.grad is None for p in generator.parameters())


def test_leakgans_work_is_counted_as_its_code_computes():
    """LeakGAN's time estimate counts its own models (before: an LSTM's step and SeqGAN's
    MC search from every prefix with ``adversarial.num_rollouts``: at T = 40 an MLE epoch
    was priced at 6.4 s where it took 47-65 s, docs/reliability.md).  A sampling step
    matches torch's FLOP counter on the real modules (the two LSTMs, which it does not
    count, added by hand), and the MC search is the one ``rl.leakgan.block_q`` runs."""
    from torch.utils.flop_counter import FlopCounterMode

    from seqgan.data.synthetic import build_synthetic_task
    from seqgan.training import leakgan

    sizes = {"emb_dim": 16, "hidden_dim": 8}
    cfg = build_config(
        {
            "algorithm": "leakgan",
            "oracle": {"source": "random", "vocab_size": 300, "seq_len": 12},
            "data": {"num_train": 640, "num_test": 16},
            "generator": sizes,
            "leakgan": {"goal_size": 4, "step": 3, "num_rollouts": 2},
            "discriminator": {"emb_dim": 8, "filter_sizes": [2, 3], "num_filters": [10, 12]},
        }
    )
    task = build_synthetic_task(cfg, None)
    generator = leakgan.build_generator(cfg, task).eval()
    rows, T, H, F = 500, 12, 8, 22
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        generator.sample(rows, rows)
    lstms = 2 * (4 * H * (F + H) + 4 * H * (16 + H))  # the manager's and the worker's
    per_step = counter.get_total_flops() / (rows * T) + lstms
    assert per_step == pytest.approx(leakgan.generator_step_flops(cfg, 300), rel=0.02)
    # an adversarial epoch: block ends 3, 6, 9 completed by MC search (T - L = 9, 6, 3
    # steps each); one more roll-out adds 64 rows x 18 steps and 64 x 3 D rows
    adversarial = work.epoch_flops(cfg, task, "adversarial", True, epochs=10)
    assert adversarial == leakgan.epoch_flops(cfg, task, "adversarial", 10)
    more = copy.deepcopy(cfg)
    more.section("leakgan").num_rollouts = 3
    added = leakgan.epoch_flops(more, task, "adversarial", 10) + adversarial.scaled(-1)
    g, d = leakgan.generator_step_flops(cfg, 300), work.discriminator_row_flops(cfg, T)
    assert added.generator == pytest.approx(64 * 18 * g)
    assert added.discriminator == pytest.approx(64 * 3 * d)
    assert added.training == 0
    # MLE: the features without gradient, the manager and worker forward and backward
    mle = leakgan.epoch_flops(cfg, task, "pretrain_generator", 10)
    evaluation = work.evaluation_flops(cfg, task).scaled(1 / cfg.eval.every)
    feature = 2 * (8 * (2 * 10 + 3 * 12) + 2 * F * F)
    assert mle.generator == pytest.approx(640 * T * feature + evaluation.generator)
    assert mle.training == pytest.approx(640 * T * 3 * (g - feature))


def test_relgans_work_is_counted_as_its_code_computes():
    """RelGAN's time estimate counts its own models (before: an LSTM's step and SeqGAN's
    MC search and D): the counts match torch's FLOP counter on the real modules (to the
    attention's few products and the per-pass compositions, over 1000 rows)."""
    from torch.utils.flop_counter import FlopCounterMode

    from seqgan.data.synthetic import build_synthetic_task
    from seqgan.training import relgan

    cfg = build_config(
        {
            "algorithm": "relgan",
            "oracle": {"source": "random", "vocab_size": 300, "seq_len": 12},
            "data": {"num_train": 64, "num_test": 16},
            "generator": {"emb_dim": 16},
            "relgan": {"mem_slots": 2, "num_heads": 2, "head_size": 16, "num_representations": 4},
            "discriminator": {"emb_dim": 8, "filter_sizes": [2, 3], "num_filters": [10, 12]},
        }
    )
    task = build_synthetic_task(cfg, None)
    generator = relgan.build_generator(cfg, task).eval()
    discriminator = relgan.build_discriminator(cfg, task).eval()
    rows = 1000
    tokens = torch.randint(0, 300, (rows, 12))
    passes = {
        relgan.generator_step_flops(cfg, 300): lambda: generator.step(
            tokens[:, 0], generator.initial_state(rows)
        ),
        relgan.discriminator_row_flops(cfg, 12): lambda: discriminator(tokens),
        relgan.discriminator_row_flops(cfg, 12, 300): lambda: discriminator(
            torch.nn.functional.one_hot(tokens, 300).float()
        ),
    }
    for counted, call in passes.items():
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            call()
        assert counter.get_total_flops() / rows == pytest.approx(counted, rel=0.02)
    # the estimate of a RelGAN run uses them: an adversarial iteration of 1 g-step and
    # 5 d-steps (no MC search), MLE epochs of the relational memory
    task = _task(cfg, rows=640)
    adversarial = work.epoch_flops(cfg, task, "adversarial", True, epochs=10)
    assert adversarial == relgan.epoch_flops(cfg, task, "adversarial", 10)
    g, B, T = relgan.generator_step_flops(cfg, 300), cfg.generator.batch_size, 12
    evaluation = work.evaluation_flops(cfg, task).scaled(1 / cfg.eval.every)
    assert adversarial.generator == pytest.approx(
        3 * B * T * g + 5 * B * T * g + evaluation.generator
    )
    mle = work.epoch_flops(cfg, task, "pretrain_generator", True, epochs=10)
    assert mle.training == pytest.approx(640 * T * 3 * g)
    assert mle.generator == pytest.approx(evaluation.generator)
