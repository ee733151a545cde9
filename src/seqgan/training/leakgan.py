"""LeakGAN (Guo et al. 2018) as phases (docs/algorithms/leakgan.md).

1. ``pretrain_discriminator``: D pre-training rounds on samples of the untrained
   generator (the authors' code trains D before the generator: its features feed the
   manager).
2. ``pretrain_generator``: MLE epochs: the worker's cross-entropy plus the manager's
   pre-training loss -d_cos(f_{t+c} - f_t, g_t) on real data (``leakgan_mle_epoch``).
3. ``adversarial``: each epoch ``adversarial.g_steps`` g-steps (``leakgan_step``: block
   rewards by MC search, rescaled by rank; manager and worker losses), then
   ``adversarial.d_steps`` d-steps (SeqGAN's); every ``leakgan.mle_every`` epochs
   ``leakgan.mle_epochs`` MLE epochs (interleaved training).

One Adam trains the manager and the worker in each stage (``mle`` in MLE epochs,
``policy`` in g-steps); neither touches D, whose own Adam is ``discriminator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqgan.config import Config, knob
from seqgan.data.task import Task
from seqgan.models.leaked_features import prefix_feature_macs
from seqgan.models.leakgan import LeakGANGenerator, leakgan_params, leakgan_step_macs
from seqgan.registry import Algorithm
from seqgan.rl.leakgan import (
    block_lengths,
    block_q,
    intrinsic_rewards,
    manager_loss,
    rescaled_activation,
    worker_loss,
)
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.runtime import progress
from seqgan.training import parts, steps
from seqgan.training.loop import Phase
from seqgan.training.work import (
    Work,
    WorkModel,
    best_seconds,
    discriminator_row_flops,
    evaluation_share,
)


@dataclass
class LeakGANConfig:
    """LeakGAN (Guo et al. 2018; docs/algorithms/leakgan.md): a manager reads D's leaked
    features and sets goals every c steps for a worker."""

    goal_size: int = knob(16, low=1)  # k: size of the goal embedding w_t (authors' code: 16)
    step: int = knob(
        4, low=1
    )  # c: the manager's horizon; rewards at every c-th prefix (authors' code: 4)
    num_rollouts: int = knob(
        4, low=1
    )  # completions per block-end prefix in the MC search (authors' code: 4)
    delta: float = knob(
        16.0, low=0.0
    )  # delta of the bootstrapped rescaled activation sigmoid(delta (0.5 - rank / B)) (authors' code: 16)
    mle_every: int = knob(
        10, low=0
    )  # interleaved training: MLE epochs after every this many adversarial epochs (0 = none)
    mle_epochs: int = knob(1, low=1)  # interleaved training: MLE epochs each time


def build_generator(cfg: Config, task: Task) -> LeakGANGenerator:
    """The manager/worker generator with its own D (``cfg.discriminator``), on the task's
    device; the D is ``generator.discriminator``."""
    discriminator = parts.build_discriminator(cfg, task)
    lk = cfg.section("leakgan")
    return LeakGANGenerator(
        **parts.generator_arguments(cfg, task),
        discriminator=discriminator,
        goal_size=lk.goal_size,
        step=lk.step,
    ).to(task.device)


def generator_params(cfg: Config, vocab: int) -> int:
    """The parameters of ``build_generator``'s model without its D (memory estimate)."""
    g, lk = cfg.generator, cfg.section("leakgan")
    return leakgan_params(
        vocab, g.emb_dim, g.hidden_dim, lk.goal_size, sum(cfg.discriminator.num_filters)
    )


def _adam(generator: LeakGANGenerator, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(
        generator.worker_parameters() + generator.manager_parameters(), lr=lr, fused=True
    )


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of LeakGAN for ``cfg`` on ``task``."""
    generator = build_generator(cfg, task)
    discriminator = generator.discriminator
    models = {"generator": generator, "discriminator": discriminator}
    optimizers = {
        "mle": _adam(generator, cfg.generator.lr),
        "policy": _adam(generator, cfg.generator.lr),
        "discriminator": parts.adam(discriminator, cfg.discriminator.lr),
    }
    reward, d_step = parts.discriminator_parts(
        cfg, task, generator, discriminator, optimizers["discriminator"]
    )

    def mle(epoch: int) -> dict:
        worker, manager = leakgan_mle_epoch(cfg, task, generator, optimizers["mle"])
        return {"g_loss": worker, "manager_loss": manager}

    def adversarial(epoch: int) -> dict:
        row: dict = {}
        for _ in progress.steps("g-step", cfg.adversarial.g_steps):
            row.update(leakgan_step(cfg, generator, reward, optimizers["policy"]))
        row.update(parts.discriminator_updates(cfg, d_step))
        lk = cfg.section("leakgan")
        if lk.mle_every and epoch % lk.mle_every == 0:
            for _ in range(lk.mle_epochs):
                row["mle_loss"], _ = leakgan_mle_epoch(cfg, task, generator, optimizers["mle"])
        return row

    phases = [
        parts.discriminator_pretrain_phase(cfg, d_step),
        Phase(parts.PRETRAIN, cfg.pretrain.generator_epochs, mle, trains_generator=True),
        Phase("adversarial", cfg.adversarial.epochs, adversarial, trains_generator=True),
    ]
    return models, optimizers, phases


def _own_parameters(generator: LeakGANGenerator) -> list[torch.Tensor]:
    return generator.worker_parameters() + generator.manager_parameters()


def mle_losses(
    generator: LeakGANGenerator, batch: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The worker's cross-entropy and the manager's pre-training loss on ``batch [n, T]``
    (teacher-forced, one ``leaked`` pass)."""
    leaked = generator.leaked(batch)
    worker = steps.token_cross_entropy(generator, leaked.logits, batch)
    return worker, manager_loss(leaked.features, leaked.goals, generator.step_size)


def leakgan_mle_epoch(
    cfg: Config, task: Task, generator: LeakGANGenerator, optimizer: torch.optim.Optimizer
) -> tuple[float, float]:
    """One epoch over S: worker cross-entropy + manager pre-training loss per minibatch;
    (mean worker loss, mean manager loss)."""
    g = cfg.generator
    generator.train()
    worker_sum = manager_sum = 0.0
    batches = steps.minibatches(len(task.train), g.batch_size, task.train.device)
    for step, idx in enumerate(batches, start=1):
        progress.advance("batch", step - 1, len(batches))
        worker, manager = mle_losses(generator, task.train[idx])
        steps.update(
            _own_parameters(generator),
            optimizer,
            worker + manager,
            g.grad_clip,
            f"LeakGAN's MLE (batch {step})",
        )
        worker_sum += float(worker.detach())
        manager_sum += float(manager.detach())
    return worker_sum / len(batches), manager_sum / len(batches)


def leakgan_step(
    cfg: Config,
    generator: LeakGANGenerator,
    reward: DiscriminatorReward,
    optimizer: torch.optim.Optimizer,
) -> dict:
    """One adversarial g-step: a batch of samples, Q at the block ends by MC search
    (``leakgan.num_rollouts`` completions each) rescaled by rank, the manager's and the
    worker's losses, one update of both."""
    g, lk = cfg.generator, cfg.section("leakgan")
    samples = generator.sample(g.batch_size, g.batch_size)
    q = block_q(generator, samples, reward, lk.num_rollouts)
    generator.train()
    leaked = generator.leaked(samples)
    mask = generator.token_mask(samples)
    log_probs = torch.log_softmax(leaked.logits, -1).gather(-1, samples.unsqueeze(-1))
    log_probs = log_probs.squeeze(-1) * mask
    manager = manager_loss(
        leaked.features, leaked.goals, generator.step_size, rescaled_activation(q, lk.delta)
    )
    worker = worker_loss(
        log_probs, intrinsic_rewards(leaked.features, leaked.goals, generator.step_size) * mask
    )
    value = steps.update(
        _own_parameters(generator), optimizer, manager + worker, g.grad_clip, "the LeakGAN update"
    )
    return {
        "g_loss": value,
        "reward_mean": float(q[:, -1].mean()),
        "manager_loss": float(manager.detach()),
        "worker_loss": float(worker.detach()),
    }


def _step_flops(cfg: Config, vocab: int) -> tuple[float, float, float]:
    """FLOPs of one forward row-step of the generator: (reading, emitting, feature), the
    parts of ``leakgan_step_macs`` and the leaked feature (``prefix_feature_macs``, D's
    widths as configured: an upper bound where D fits wider ones to T)."""
    g, lk, d = cfg.generator, cfg.section("leakgan"), cfg.discriminator
    features = sum(d.num_filters)
    reading, emitting = leakgan_step_macs(vocab, g.emb_dim, g.hidden_dim, lk.goal_size, features)
    feature = prefix_feature_macs(d.emb_dim, list(d.filter_sizes), list(d.num_filters))
    return 2.0 * reading, 2.0 * emitting, 2.0 * feature


def generator_step_flops(cfg: Config, vocab: int) -> float:
    """FLOPs of one forward row-step of the generator as it samples: the manager reads
    f_t, the worker emits a token, f_{t+1} is computed (``g`` of ``training.work``)."""
    return sum(_step_flops(cfg, vocab))


def epoch_flops(cfg: Config, task: Task, phase: str, epochs: int) -> Work | None:
    """The work of one epoch (``training.work``'s count, with LeakGAN's models; g: one
    sampling row-step, ``generator_step_flops``; d: one D row), each generator-training
    phase with its share of the evaluations:

    * an MLE epoch over n rows: the features of every prefix, ``n T f`` (no gradient),
      and the manager and worker forward and backward, ``n T 3 (g - f)`` (training work);
    * a d-step of ``epochs`` epochs: P negatives sampled by the generator, ``P T g``, and
      ``epochs`` passes over 2P rows, ``2P 3d``;
    * a g-step of B rows (``generator.batch_size``): B sampled (``B T g``); the MC search
      of ``leakgan.num_rollouts`` = N completions from each block end L < T (``N B (T -
      L)`` steps each) after reading the prefixes once (``B L_max`` steps without
      logits), ``N B (m - 1) + B`` rows scored by D for m blocks; the update, an MLE
      pass over the B rows;
    * an adversarial epoch: ``adversarial.g_steps`` g-steps, ``adversarial.d_steps``
      d-steps of ``adversarial.k_epochs``, and ``leakgan.mle_epochs`` MLE epochs every
      ``leakgan.mle_every`` epochs (their share per epoch)."""
    T, V, B = task.seq_len, task.vocab_size, cfg.generator.batch_size
    lk, a = cfg.section("leakgan"), cfg.adversarial
    reading, emitting, feature = _step_flops(cfg, V)
    step = reading + emitting + feature
    d_row = discriminator_row_flops(cfg, T)
    rows = cfg.discriminator.num_positives or len(task.train)
    rows = min(rows, len(task.train)) if len(task.train) else rows

    def mle(n: int) -> Work:
        return Work(n * T * feature, training=n * T * 3 * (reading + emitting))

    def d_step(passes: int) -> Work:
        return Work(rows * T * step, passes * 2 * rows * 3 * d_row)

    evaluation = evaluation_share(cfg, task, epochs)
    if phase == "pretrain_discriminator":
        return d_step(cfg.pretrain.discriminator_epochs)
    if phase == parts.PRETRAIN:
        return mle(len(task.train)) + evaluation
    if phase == "adversarial":
        ends = block_lengths(T, lk.step)[:-1]  # the block ends completed by MC search
        completions = lk.num_rollouts * B * sum(T - end for end in ends)
        read = B * max(ends, default=0) * (reading + feature)
        g_step = Work(B * T * step + read + completions * step) + Work(
            0.0, (lk.num_rollouts * B * len(ends) + B) * d_row
        )
        interleaved = Work(0.0)
        if lk.mle_every:
            interleaved = mle(len(task.train)).scaled(lk.mle_epochs / lk.mle_every)
        return (
            (g_step + mle(B)).scaled(a.g_steps)
            + d_step(a.k_epochs).scaled(a.d_steps)
            + interleaved
            + evaluation
        )
    return None


def own_rates(cfg: Config, task: Task, generator: LeakGANGenerator) -> tuple[float, float]:
    """(sampling, training) FLOP/s of ``generator`` (a copy of the run's) at the counts of
    ``epoch_flops``: B = ``generator.batch_size`` rows sampled from the start (``B T g``),
    and one MLE step on B random sequences (``mle_losses`` and their backward pass), whose
    ``B T f`` of features is priced at the sampling rate and the rest, ``B T 3 (g - f)``,
    is the training work; each timed once after a warm-up on a quarter of the rows (an
    LSTM's rate stands for neither: this generator's large products run two to three
    times faster per FLOP, docs/reliability.md)."""
    T, V, B = task.seq_len, task.vocab_size, max(1, cfg.generator.batch_size)
    reading, emitting, feature = _step_flops(cfg, V)
    tokens = torch.randint(0, V, (B, T)).to(task.device)
    generator.eval()

    def sample(rows: int) -> None:
        generator.sample(rows, rows)

    def mle_step(rows: int) -> None:
        with torch.enable_grad():
            generator.zero_grad(set_to_none=True)
            sum(mle_losses(generator, tokens[:rows])).backward()

    rates = []
    for call in (sample, mle_step):
        call(max(1, B // 4))
        rates.append(best_seconds(lambda c=call: c(B), 1, task.device))
    sampling = B * T * (reading + emitting + feature) / rates[0]
    # the features' share at the sampling rate, at most half of the step's time
    training_seconds = max(rates[1] - B * T * feature / sampling, rates[1] / 2)
    return sampling, B * T * 3 * (reading + emitting) / training_seconds


WORK = WorkModel(generator_step_flops, discriminator_row_flops, epoch_flops, own_rates)

ALGORITHM = Algorithm(
    "leakgan",
    build,
    "LeakGAN (Guo et al. 2018): manager/worker over D's leaked features, section [leakgan]",
    config=LeakGANConfig,
    work=WORK,
    **parts.own_generator_fields(build_generator, generator_params),
)
