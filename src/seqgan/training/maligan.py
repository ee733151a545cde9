"""MaliGAN (Che et al. 2017) as phases: SeqGAN's loop with the generator trained on
normalised importance weights instead of the raw reward (docs/algorithms/maligan.md).

1. ``pretrain_generator``: MLE on S (shared with every MLE-pre-trained algorithm).
2. ``pretrain_discriminator``: as SeqGAN's.
3. ``adversarial``: each epoch ``adversarial.g_steps`` g-steps (``maligan_step``) and
   ``adversarial.d_steps`` d-steps as SeqGAN's.

A g-step (``[maligan]`` knobs): m = ``generator.batch_size`` samples Y_i ~ G_theta, D's
log-odds z_i, weights w_i = r_D(Y_i) / sum_j r_D(Y_j) - b (``rl.maligan``), loss
-sum_i w_i log G_theta(Y_i) / T.  Variants: per-token weights by MC search
(``maligan.estimator = "mc_search"``), and mixed MLE (``maligan.mixed_mle``: the first N
tokens of data sequences are kept and trained by MLE, ``maligan.completions`` samples
complete each, normalised among themselves; N falls by K every few epochs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqgan.config import Config, knob
from seqgan.data.task import Task
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.registry import Algorithm
from seqgan.rl.maligan import (
    data_tokens,
    normalised_weights,
    ratio_scores,
    weighted_likelihood_loss,
)
from seqgan.rl.rollout import mc_search_q, update_rollout_policy
from seqgan.runtime import progress
from seqgan.training import parts, steps


@dataclass
class MaliGANConfig:
    """MaliGAN (Che et al. 2017; docs/algorithms/maligan.md): the generator's weights are
    the normalised importance weights r_D(Y) / sum r_D - b over the minibatch."""

    weight: str = knob(
        "ratio", choices=("ratio", "probability")
    )  # r_D = D / (1 - D) (the paper, TextGAN-PyTorch), or D itself (Texygen's MaliganReward)
    baseline: str = knob(
        "mean", choices=("mean", "none")
    )  # b: mean = 1/m, the mean normalised weight (Texygen, TextGAN-PyTorch); none = 0
    estimator: str = knob(
        "sequence", choices=("sequence", "mc_search")
    )  # sequence: one weight per sample (the paper's Algorithm 1); mc_search: per-token weights by MC search with adversarial.num_rollouts (the paper's first variance reduction)
    mixed_mle: bool = False  # the paper's Algorithm 2: the first N tokens come from the data (MLE on them), the rest are sampled and weighted
    data_tokens: int = knob(0, low=0)  # mixed_mle: N in the first adversarial epoch (0 = T)
    data_tokens_step: int = knob(
        5, low=1
    )  # mixed_mle: K, N falls by K ... (the paper's sentence experiment: 5)
    data_tokens_every: int = knob(
        1, low=1
    )  # mixed_mle: ... every this many adversarial epochs (the paper: every iteration)
    completions: int = knob(
        8, low=1
    )  # mixed_mle: samples per data prefix, normalised among themselves (generator.batch_size // completions prefixes per g-step)


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of MaliGAN for ``cfg`` on ``task``."""
    by_search = cfg.section("maligan").estimator == "mc_search"
    models, optimizers = parts.adversarial_models(cfg, task, rollout=by_search)
    generator, discriminator = models["generator"], models["discriminator"]
    rollout = models.get("rollout")
    _, d_step = parts.discriminator_parts(
        cfg, task, generator, discriminator, optimizers["discriminator"]
    )

    def g_updates(epoch: int) -> dict:
        row: dict = {}
        for _ in progress.steps("g-step", cfg.adversarial.g_steps):
            row.update(
                maligan_step(
                    cfg, task, generator, rollout, discriminator, optimizers["policy"], epoch
                )
            )
        return row

    phases = parts.gan_phases(cfg, task, generator, optimizers, rollout, d_step, g_updates)
    return models, optimizers, phases


@torch.no_grad()
def complete_prefixes(
    generator: Generator, data: torch.Tensor, kept: int, copies: int
) -> torch.Tensor:
    """``copies`` completions by G of the first ``kept`` tokens of each row of
    ``data [n, T]`` (0 <= kept < T), ``[n * copies, T]``, the copies of a row together."""
    n = data.shape[0]
    prefix = data[:, :kept].repeat_interleave(copies, dim=0)
    if kept == 0:
        return generator.continue_from(prefix, generator.initial_state(n * copies))
    h, c = generator.prefix_states(data)[kept - 1]  # before feeding y_kept
    state = (h.repeat_interleave(copies, dim=0), c.repeat_interleave(copies, dim=0))
    return generator.continue_from(prefix, state)


def _data_rows(task: Task, count: int) -> torch.Tensor:
    """``count`` random rows of the training set (all of it if it has fewer)."""
    order = torch.randperm(len(task.train), device=task.train.device)
    return task.train[order[:count]]


def maligan_step(
    cfg: Config,
    task: Task,
    generator: Generator,
    rollout: Generator | None,
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    epoch: int,
) -> dict:
    """One MaliGAN g-step in adversarial epoch ``epoch``; logs ``g_loss``, ``reward_mean``
    (mean D of the samples) and, with mixed MLE, ``data_tokens`` (N)."""
    g, m, a = cfg.generator, cfg.section("maligan"), cfg.adversarial
    length = task.seq_len
    row: dict = {}
    if m.mixed_mle:
        kept = data_tokens(epoch, length, m.data_tokens, m.data_tokens_step, m.data_tokens_every)
        data = _data_rows(task, max(1, g.batch_size // m.completions))
        groups = len(data)
        samples = complete_prefixes(generator, data, kept, m.completions) if kept < length else None
        row["data_tokens"] = float(kept)
    else:
        kept, data, groups = 0, None, 1
        samples = generator.sample(g.batch_size, g.batch_size)
    generator.train()
    loss = torch.zeros((), device=task.train.device)
    if samples is not None:
        log_probs = generator.log_prob(samples)
        weights, d_mean = _weights(cfg, samples, kept, groups, rollout, discriminator)
        sampled = (torch.arange(length, device=samples.device) >= kept).float()
        loss = loss + weighted_likelihood_loss(
            log_probs, weights * generator.token_mask(samples) * sampled, groups
        )
        row["reward_mean"] = d_mean
    if kept > 0:  # MLE on the data's first N tokens: -(1/n) sum_i sum_{t <= N} log p / T
        data_log_probs = generator.log_prob(data)[:, :kept]
        loss = loss - data_log_probs.sum(dim=1).mean() / length
    row["g_loss"] = steps.update(
        generator.parameters(), optimizer, loss, g.grad_clip, "the MaliGAN update"
    )
    if rollout is not None:
        update_rollout_policy(rollout, generator, a.rollout_update_rate)
    return row


def _weights(
    cfg: Config,
    samples: torch.Tensor,
    kept: int,
    groups: int,
    rollout: Generator | None,
    discriminator: Discriminator,
) -> tuple[torch.Tensor, float]:
    """Normalised weights ``[n, T]`` of ``samples`` (tokens before ``kept`` get whatever;
    the caller masks them) and the samples' mean D."""
    m, chunk = cfg.section("maligan"), cfg.discriminator.score_chunk
    n, length = samples.shape
    log_odds = discriminator.log_odds(samples, chunk)
    d_mean = float(torch.sigmoid(log_odds).mean())
    if m.estimator == "mc_search":

        def score(tokens: torch.Tensor) -> torch.Tensor:
            return ratio_scores(discriminator.log_odds(tokens, chunk), m.weight)

        prefix_lengths = torch.arange(kept + 1, length + 1)
        scores = samples.new_zeros((n, length), dtype=torch.float32)
        scores[:, kept:] = mc_search_q(
            rollout, samples, score, cfg.adversarial.num_rollouts, lengths=prefix_lengths
        )
        scores[:, :kept] = 1.0  # not trained by this term; keeps the normalisation finite
        return normalised_weights(scores, groups, m.baseline), d_mean
    if m.weight == "ratio":  # r_D / sum r_D = softmax of the log-odds: exact
        weights = normalised_weights(log_odds, groups, m.baseline, log_space=True)
    else:
        weights = normalised_weights(ratio_scores(log_odds, m.weight), groups, m.baseline)
    return weights.unsqueeze(1).expand(-1, length), d_mean


ALGORITHM = Algorithm(
    "maligan",
    build,
    "MaliGAN (Che et al. 2017): normalised importance weights from D, section [maligan]",
    config=MaliGANConfig,
    discriminator=True,
    rollout=True,
    cost=2,
)
