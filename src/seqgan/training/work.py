"""The work of one epoch of a phase, counted in floating-point operations before it runs,
and its price in seconds: the generator's FLOPs when it samples and when it trains, and
the discriminator's, at rates measured here in about a second (``measure_rates``).  A
phase not yet measured is priced so, calibrated by the phases that were
(``runtime.progress.eta_seconds``), and a run's total time is estimated before it starts
(``long_run_warning``).

A count, not a measurement: the multiply-adds of the models' matrix products (2 FLOPs
each; element-wise work, Python and data movement left out), per epoch:

* a generator row-step: ``g = 2 (4H (E + H) + H V)`` forward (LSTM gates, output layer),
  ``3 g`` with the backward pass; the oracle's alike with its sizes;
* a discriminator row of T tokens: ``d = 2 (sum_i f_i w_i k (T - w_i + 1) + 2 F^2)``
  forward (convolutions, highway), ``3 d`` with the backward pass;
* MLE (``pretrain_generator``, ``scheduled_sampling``): ``n T 3g`` over the n training rows
  (training work: priced at the rate of a training step, not of a sampling step; at a large
  vocabulary the two differ threefold, ``models/output_loss.py``);
* a d-step of ``epochs`` epochs: P negatives sampled (``P T g``) and ``epochs`` passes over
  the 2P rows (``2P 3d``), P = ``discriminator.num_positives`` (0: the training set);
* a g-step (B = ``generator.batch_size``): B rows sampled; with MC search (Eq. 4) N =
  ``num_rollouts`` roll-outs from each of the T - 1 prefixes, ``N B T (T - 1) / 2``
  generator steps and ``N B (T - 1)`` discriminator rows scored (one row each without it);
  the update ``B T 3g`` (training work);
* an evaluation, in each epoch a phase evaluates (every ``eval.every``-th and the last,
  spread over its epochs):
  ``num_samples`` samples (``T g`` each), NLL-oracle over them, NLL-test over the test set.

The MC search is the largest term by far (quadratic in T); what the count leaves out
(BLEU in Python, small kernels' overhead) is why a measured phase's rate calibrates it.

An algorithm with models of its own kind counts them itself: its ``registry.Algorithm.work``
is a ``WorkModel`` (RelGAN's: ``training.relgan.WORK``), whose generator step and
discriminator row replace ``g`` and ``d`` above (also in ``measure_rates``) and whose
``epoch`` gives the work of its phases.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

import seqgan.registry as registry
from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.models.generator import Generator
from seqgan.models.sampling import sample_from_logits
from seqgan.models.scratch import scratch
from seqgan.training.steps import mle_loss

LONG_RUN = 3600.0  # seconds: a run estimated to take longer is warned about up front


@dataclass
class Work:
    """FLOPs of the generator's sampling and scoring passes (and the oracle's), of the
    discriminator's passes, and of the generator's training passes (forward + backward
    of teacher-forced MLE and of the policy-gradient update)."""

    generator: float
    discriminator: float = 0.0
    training: float = 0.0

    def __add__(self, other: Work) -> Work:
        return Work(
            self.generator + other.generator,
            self.discriminator + other.discriminator,
            self.training + other.training,
        )

    def scaled(self, factor: float) -> Work:
        return Work(self.generator * factor, self.discriminator * factor, self.training * factor)


@dataclass
class Rates:
    """Achieved FLOP/s here: a generator step over many rows (sampling), a discriminator
    pass, a generator training step (forward + backward with the run's output kernel)."""

    generator: float
    discriminator: float
    training: float

    def seconds(self, work: Work) -> float:
        return (
            work.generator / self.generator
            + (work.discriminator / self.discriminator if work.discriminator else 0.0)
            + (work.training / self.training if work.training else 0.0)
        )


@dataclass(frozen=True)
class WorkModel:
    """How an algorithm with models of its own kind counts its work (FLOPs, forward):
    ``generator_step(cfg, V)`` of one row-step of its generator, ``discriminator_row(cfg,
    T)`` of its D over one row of token ids, and ``epoch(cfg, task, phase, epochs)`` of
    one epoch of each of its phases (None: a phase priced from its own epochs only); and,
    optionally, how fast its generator runs (``rates``)."""

    generator_step: Callable[[Config, int], float]
    discriminator_row: Callable[[Config, int], float]
    epoch: Callable[[Config, Task, str, int], Work | None]
    # (cfg, task, a copy of the run's generator) -> its (sampling, training) FLOP/s timed
    # on it; None: an LSTM generator of the same sizes is timed in its place
    rates: Callable[[Config, Task, torch.nn.Module], tuple[float, float]] | None = None


def work_model(cfg: Config) -> WorkModel | None:
    """The algorithm's own ``WorkModel``, or None (the LSTM generator and CNN D counted
    here)."""
    return registry.algorithm(cfg.algorithm).work


def generator_step_flops(vocab: int, emb: int, hidden: int) -> float:
    """FLOPs of one forward row-step of an LSTM generator (``g``)."""
    return 2.0 * (4 * hidden * (emb + hidden) + hidden * vocab)


def _step_flops(cfg: Config, vocab: int, own: bool = True) -> float:
    """``g`` of the run's generator: its ``WorkModel``'s (unless ``own`` is False), else
    the LSTM's of ``cfg.generator``'s sizes."""
    model = work_model(cfg)
    if own and model is not None:
        return model.generator_step(cfg, vocab)
    return generator_step_flops(vocab, cfg.generator.emb_dim, cfg.generator.hidden_dim)


def discriminator_row_flops(cfg: Config, seq_len: int) -> float:
    """FLOPs of one forward pass of the discriminator over a row of ``seq_len`` tokens."""
    d = cfg.discriminator
    convolutions = sum(
        f * w * d.emb_dim * max(seq_len - w + 1, 1) for w, f in zip(d.filter_sizes, d.num_filters)
    )
    total = sum(d.num_filters)
    return 2.0 * (convolutions + 2 * total * total)


def evaluation_flops(cfg: Config, task: Task) -> Work:
    """One evaluation: samples drawn, NLL-oracle over them, NLL-test over the test set."""
    T, n = task.seq_len, cfg.eval.num_samples
    step = _step_flops(cfg, task.vocab_size)
    work = n * T * step + len(task.test) * T * step
    if task.oracle is not None:
        o = cfg.oracle
        work += n * T * generator_step_flops(task.vocab_size, o.emb_dim, o.hidden_dim)
    return Work(work)


def epoch_flops(
    cfg: Config, task: Task, phase: str, discriminator: bool, epochs: int = 0
) -> Work | None:
    """The work of one epoch of the phase named ``phase`` (see the module docstring), with
    its share of the evaluations if it trains the generator (a phase of ``epochs`` epochs
    evaluates every ``eval.every``-th and its last; 0: one in ``eval.every``); None for a
    phase this count does not know (its time is then estimated from its own epochs
    only)."""
    model = work_model(cfg)
    if model is not None:
        return model.epoch(cfg, task, phase, epochs)
    g, a = cfg.generator, cfg.adversarial
    T = task.seq_len
    step = generator_step_flops(task.vocab_size, g.emb_dim, g.hidden_dim)
    d_row = discriminator_row_flops(cfg, T)
    rows = cfg.discriminator.num_positives or len(task.train)
    rows = min(rows, len(task.train)) if len(task.train) else rows

    def d_step(epochs: int) -> Work:
        return Work(rows * T * step, epochs * 2 * rows * 3 * d_row)

    evaluation = evaluation_share(cfg, task, epochs)
    if phase in ("pretrain_generator", "scheduled_sampling"):
        return Work(0.0, training=len(task.train) * T * 3 * step) + evaluation
    if phase == "pretrain_discriminator":
        return d_step(cfg.pretrain.discriminator_epochs)
    if phase in ("adversarial", "policy_gradient"):
        B = g.batch_size
        sampled = B * T * step
        if g.estimator == "mc_search":
            sampled += a.num_rollouts * B * T * (T - 1) / 2 * step
            scored = a.num_rollouts * B * (T - 1) + B
        else:
            scored = B
        d_work = scored * d_row if discriminator else 0.0
        work = Work(sampled, d_work, training=B * T * 3 * step).scaled(a.g_steps)
        if discriminator:
            work = work + d_step(a.k_epochs).scaled(a.d_steps)
        return work + evaluation
    return None


def evaluation_share(cfg: Config, task: Task, epochs: int) -> Work:
    """An epoch's share of the evaluations of a phase of ``epochs`` epochs that trains the
    generator (every ``eval.every``-th epoch and its last; 0 epochs: one in ``eval.every``)."""
    every = cfg.eval.every
    share = (epochs // every + (1 if epochs % every else 0)) / epochs if epochs else 1 / every
    return evaluation_flops(cfg, task).scaled(share)


def predicted_epoch_seconds(
    cfg: Config, task: Task, phases, models: dict, rates: Rates
) -> list[float | None]:
    """Seconds per epoch of each of ``phases`` (objects with a ``name``) at ``rates``;
    None where ``epoch_flops`` does not know the phase."""
    discriminator = "discriminator" in models
    out = []
    for phase in phases:
        work = epoch_flops(cfg, task, phase.name, discriminator, phase.epochs)
        out.append(None if work is None else rates.seconds(work))
    return out


@torch.no_grad()
def measure_rates(cfg: Config, task: Task, models: dict, repeats: int = 3) -> Rates:
    """FLOP/s achieved here by a generator step, with a token drawn from its logits, over
    the rows of one MC search step (``num_rollouts x batch_size``), by a discriminator
    pass over ``batch_size`` rows and by a generator training step (``training_rate``), on
    copies of the models (for another kind of generator: its ``WorkModel.rates`` if it has
    them, else an LSTM generator of the same sizes stands in; a ``WorkModel`` counts its
    own work) and random tokens, under a forked RNG: the run is unchanged.  Takes about a
    second (most of it the training step at a large vocabulary; a few with LeakGAN's
    generator at T = 40)."""
    g, a = cfg.generator, cfg.adversarial
    model = work_model(cfg)
    rows = max(1, a.num_rollouts * g.batch_size)
    device = task.device
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        generator = models["generator"]
        if not isinstance(generator, Generator) and model is not None and model.rates:
            gen_rate, train_rate = model.rates(cfg, task, copy.deepcopy(generator))
            d_rate = _discriminator_rate(cfg, task, models, model, repeats)
            return Rates(gen_rate, d_rate or gen_rate, train_rate)
        if isinstance(generator, Generator):
            generator = copy.deepcopy(generator).eval()
        else:  # another kind of generator (RelGAN's): an LSTM one of the same sizes
            sizes = (task.vocab_size, g.emb_dim, g.hidden_dim, task.seq_len)
            generator = Generator(*sizes).to(device).eval()
        tokens = torch.randint(0, task.vocab_size, (rows,)).to(device)
        state = generator.initial_state(rows)
        # a step as the MC search and sampling take it (``Generator.continue_from``): the
        # logits, written into the kept buffer, and a token drawn from them (at V = 14,595
        # the draw costs 1.5 times the step's products)
        with torch.no_grad():
            weight = generator.output.weight
            (kept,) = scratch(weight, [(rows, weight.shape[0])], "logits")
            seconds = best_seconds(
                lambda: sample_from_logits(generator.step(tokens, state, kept)[0]),
                repeats,
                device,
            )
        # timed on the run's own generator, or on the LSTM standing in for it
        step = _step_flops(cfg, task.vocab_size, isinstance(models["generator"], Generator))
        gen_rate = rows * step / seconds
        train_rate = training_rate(generator, g.batch_size, task, step, repeats)
        d_rate = _discriminator_rate(cfg, task, models, model, repeats)
    return Rates(gen_rate, d_rate or gen_rate, train_rate)


def _discriminator_rate(
    cfg: Config, task: Task, models: dict, model: WorkModel | None, repeats: int = 3
) -> float:
    """FLOP/s of a forward pass of (a copy of) the run's D over ``discriminator.batch_size``
    random rows; 0.0 without a D."""
    if "discriminator" not in models:
        return 0.0
    discriminator = copy.deepcopy(models["discriminator"]).eval()
    batch = torch.randint(0, task.vocab_size, (cfg.discriminator.batch_size, task.seq_len))
    batch = batch.to(task.device)
    seconds = best_seconds(lambda: discriminator(batch), repeats, task.device)
    row = (
        model.discriminator_row(cfg, task.seq_len)
        if model is not None
        else discriminator_row_flops(cfg, task.seq_len)
    )
    return len(batch) * row / seconds


def training_rate(
    generator: Generator, rows: int, task: Task, step_flops: float, repeats: int
) -> float:
    """FLOP/s of one teacher-forced MLE step of ``generator`` (forward and backward, with
    its output kernel: ``training.steps.mle_loss``) over ``rows`` random sequences of the
    task's length, counted as ``rows T 3 step_flops``; ``generator`` is a copy."""
    tokens = torch.randint(0, task.vocab_size, (max(1, rows), task.seq_len)).to(task.device)

    def step() -> None:
        with torch.enable_grad():
            generator.zero_grad(set_to_none=True)
            mle_loss(generator, tokens).backward()

    seconds = best_seconds(step, repeats, task.device)
    return len(tokens) * task.seq_len * 3 * step_flops / seconds


def best_seconds(call, repeats: int, device: torch.device) -> float:
    """The fastest of ``repeats`` timed calls after one warm-up (seconds, at least 1 us;
    on CUDA and mps, synchronised)."""

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elif device.type == "mps":
            torch.mps.synchronize()

    call()
    best = float("inf")
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        call()
        sync()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-6)


def long_run_warning(
    cfg: Config, plan: list[tuple[str, int]], predicted: list[float | None], done: int = 0
) -> str | None:
    """A warning line when the epochs of ``plan`` ((name, epochs) per phase) after the
    first ``done`` (over all phases) add up to more than ``LONG_RUN`` seconds at
    ``predicted`` seconds per epoch; what to do about it.  None otherwise."""
    from seqgan.runtime.progress import format_duration

    parts, total, skip = [], 0.0, done
    for (name, epochs), seconds in zip(plan, predicted):
        left = max(0, epochs - skip)
        skip = max(0, skip - epochs)
        if seconds is None or not left:
            continue
        total += left * seconds
        parts.append((left * seconds, f"{name} {left} x {format_duration(seconds)}"))
    if total <= LONG_RUN:
        return None
    biggest = ", ".join(text for _, text in sorted(parts, reverse=True)[:2])
    quick = "" if cfg.name == "synthetic-quick" else ", or the synthetic-quick preset"
    return (
        f"warning: this run is estimated to take about {format_duration(total)} here "
        f"({biggest} per epoch; from the work of each epoch at speeds measured now); "
        f"for a shorter one: fewer epochs (--set adversarial.epochs=N, "
        f"pretrain.generator_epochs=N), fewer roll-outs (--set "
        f"adversarial.num_rollouts=N){quick}; Ctrl-C stops it with its state saved "
        f"(seqgan train --resume continues)"
    )
