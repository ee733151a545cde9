"""One-epoch / one-step training routines shared by every algorithm.

Each function changes the models it is given and returns plain floats to log.
Randomness (shuffling, sampling, roll-outs) comes from torch's global generator, whose
state every checkpoint saves.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from seqgan.config import Config
from seqgan.errors import TrainingDiverged
from seqgan.models.discriminator import REAL, Discriminator
from seqgan.models.generator import Generator
from seqgan.models.sampling import sample_from_logits
from seqgan.rl.estimators import action_values
from seqgan.rl.policy_gradient import policy_gradient_loss
from seqgan.rl.rollout import Reward, update_rollout_policy
from seqgan.runtime import progress
from seqgan.runtime.device import wide_float


def check_finite(value: float, what: str) -> float:
    """``value``, or ``TrainingDiverged`` naming ``what`` if it is NaN or infinite."""
    if not math.isfinite(value):
        raise TrainingDiverged(f"{what} is {value}")
    return value


def minibatches(n: int, batch_size: int, device: torch.device | None = None) -> list[torch.Tensor]:
    """Shuffled index batches of exactly ``batch_size`` (the remainder is dropped, as the
    reference code does); one smaller batch if ``n < batch_size``.  Drawn on ``device``
    (that of the data indexed; its generator)."""
    order = torch.randperm(n, device=device)
    if n < batch_size:
        return [order]
    return list(order[: n - n % batch_size].split(batch_size))


def update(
    params, optimizer: torch.optim.Optimizer, loss: torch.Tensor, clip: float, what: str
) -> float:
    """One optimizer step; ``TrainingDiverged`` (before any parameter changes) if the loss
    or the gradient norm is not finite. Both are read in one host sync, after the
    backward pass, so a GPU runs the forward and backward passes without waiting."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
    else:  # measure only (half the time of clipping at +inf, which rescales by 1)
        norms = [torch.linalg.vector_norm(p.grad) for p in params if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack(norms)) if norms else loss.new_zeros(())
    exact = wide_float(loss.device)
    value, norm_value = torch.stack([loss.detach().to(exact), norm.to(exact)]).tolist()
    check_finite(value, f"the loss of {what}")
    check_finite(norm_value, f"the gradient norm of {what}")
    optimizer.step()
    return value


def token_cross_entropy(
    generator: Generator, logits: torch.Tensor, tokens: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of ``tokens [n, T]`` under ``logits [n, T, V]`` over the positions
    a sequence chooses (all at fixed length; up to and including ``<eos>`` otherwise)."""
    flat_logits, flat_tokens = logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1)
    if generator.eos_token is None:
        return F.cross_entropy(flat_logits, flat_tokens)
    mask = generator.token_mask(tokens).reshape(-1)
    return (F.cross_entropy(flat_logits, flat_tokens, reduction="none") * mask).sum() / mask.sum()


def mle_loss(generator: Generator, tokens: torch.Tensor) -> torch.Tensor:
    """Teacher-forced mean cross-entropy of ``tokens [n, T]`` (``token_cross_entropy``), by
    the generator's ``output_kernel`` (chunked: ``Generator.mean_nll``)."""
    if generator.output_kernel == "chunked":
        return generator.mean_nll(tokens, generator.hidden_states(tokens))
    return token_cross_entropy(generator, generator.logits(tokens), tokens)


def mle_epoch(
    generator: Generator,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    batch_size: int,
    grad_clip: float,
) -> float:
    """One epoch of teacher-forced MLE over ``data [n, T]``; mean NLL per token (nats).
    Each batch is reported as inner progress (``runtime.progress.advance``)."""
    generator.train()
    losses = []
    batches = minibatches(len(data), batch_size, data.device)
    for step, idx in enumerate(batches, start=1):
        progress.advance("batch", step - 1, len(batches))
        batch = data[idx]
        loss = mle_loss(generator, batch)
        losses.append(
            update(generator.parameters(), optimizer, loss, grad_clip, f"MLE (batch {step})")
        )
    return sum(losses) / len(losses)


def discriminator_epochs(
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    epochs: int,
    batch_size: int,
    l2_reg: float,
) -> tuple[float, float]:
    """Train D for ``epochs`` over positives (label real) and negatives (label fake), Eq. 5
    plus ``l2_reg`` times the output layer's L2.  Returns mean loss and accuracy of the
    last epoch (on training batches, dropout on)."""
    tokens = torch.cat([positives, negatives])
    labels = torch.cat(
        [
            torch.full((len(positives),), REAL, device=tokens.device),
            torch.full((len(negatives),), 1 - REAL, device=tokens.device),
        ]
    )
    discriminator.train()
    loss_sum = seen = 0.0
    correct = torch.zeros((), dtype=torch.long, device=tokens.device)
    for epoch in range(1, epochs + 1):
        loss_sum, seen = 0.0, 0.0
        correct = torch.zeros((), dtype=torch.long, device=tokens.device)  # no sync per step
        for step, idx in enumerate(minibatches(len(tokens), batch_size, tokens.device), start=1):
            logits = discriminator(tokens[idx])
            loss = F.cross_entropy(logits, labels[idx]) + l2_reg * discriminator.output_l2()
            loss_sum += update(
                discriminator.parameters(),
                optimizer,
                loss,
                0.0,
                f"the discriminator (epoch {epoch}, batch {step})",
            ) * len(idx)
            correct += (logits.argmax(1) == labels[idx]).sum()
            seen += len(idx)
    return loss_sum / seen, float(correct) / seen


def reporting_calls(reward: Reward, label: str, total: int) -> Reward:
    """``reward``, reporting each call as inner progress (``runtime.progress.advance``:
    ``label`` i of ``total``), so that a long MC search shows how far it is."""
    calls = 0

    def counted(tokens: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        progress.advance(label, calls, total)
        out = reward(tokens)
        calls += 1
        progress.advance(label, calls, total)
        return out

    return counted


def policy_gradient_step(
    generator: Generator,
    rollout: Generator,
    reward: Reward,
    optimizer: torch.optim.Optimizer,
    cfg: Config,
) -> tuple[float, float]:
    """One g-step of Algorithm 1: sample ``generator.batch_size`` sequences Y ~ G_theta,
    action values Q by ``generator.estimator`` (``rl.estimators``; SeqGAN: MC search with
    G_beta and ``adversarial.num_rollouts`` roll-outs, Eq. 4), update theta by Eq. 8
    (clipped at ``generator.grad_clip``), then beta <- r beta + (1 - r) theta with r =
    ``adversarial.rollout_update_rate``.  Returns (loss, mean terminal reward)."""
    g, a = cfg.generator, cfg.adversarial
    samples = generator.sample(g.batch_size, g.batch_size)
    generator.train()
    log_probs = generator.log_prob(samples)
    mask = generator.token_mask(samples)
    if g.estimator == "mc_search":  # one reward call per prefix length: T in all
        reward = reporting_calls(reward, "MC search prefix", samples.shape[1])
    q, rewards = action_values(
        g.estimator, samples, log_probs, reward, rollout, a.num_rollouts, g.merl_alpha, mask
    )
    check_finite(float(q.sum()), f"the sum of the action values Q ({g.estimator})")
    loss = policy_gradient_loss(log_probs, q)
    value = update(generator.parameters(), optimizer, loss, g.grad_clip, "the policy gradient")
    if g.estimator == "mc_search":
        update_rollout_policy(rollout, generator, a.rollout_update_rate)
    return value, float(rewards.mean())


def scheduled_inputs(
    true_tokens: torch.Tensor, model_tokens: torch.Tensor, omega: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scheduled sampling's next inputs ``[n]``: each true token kept with probability
    ``omega``, else replaced by the model's own token; also the replaced mask ``[n]``."""
    replaced = torch.rand(true_tokens.shape, device=true_tokens.device) >= omega
    return torch.where(replaced, model_tokens, true_tokens), replaced


def scheduled_sampling_epoch(
    generator: Generator,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    batch_size: int,
    grad_clip: float,
    omega: float,
) -> tuple[float, float]:
    """One epoch of scheduled sampling over ``data [n, T]``: step by step, the input after
    the start token is the true y_{t-1} with probability ``omega``, else a token sampled
    from the model's own logits at step t-1 (no gradient through the sample); the loss is
    the mean cross-entropy of the true tokens (``output_kernel = "chunked"``: from the
    stacked hidden states, ``Generator.mean_nll``).  Returns (mean loss, fraction replaced)."""
    generator.train()
    losses, replaced_count = [], 0
    replaced_sum = torch.zeros((), dtype=torch.long, device=data.device)  # no sync per token
    chunked = generator.output_kernel == "chunked"
    for step, idx in enumerate(minibatches(len(data), batch_size, data.device), start=1):
        batch = data[idx]
        n, length = batch.shape
        state = generator.initial_state(n)
        token = generator.start_tokens(n)
        step_outputs = []  # logits [n, V] per step, or (chunked) the LSTM outputs [n, H]
        for t in range(length):
            if chunked:  # the loss from the hidden states; logits only to sample from
                hidden, state = generator.step_hidden(token, state)
                step_outputs.append(hidden)
                with torch.no_grad():
                    logits = generator._out(hidden)
            else:
                logits, state = generator.step(token, state)
                step_outputs.append(logits)
            if t + 1 < length:
                own = sample_from_logits(logits.detach())
                token, replaced = scheduled_inputs(batch[:, t], own, omega)
                replaced_sum += replaced.sum()
                replaced_count += n
        if chunked:
            loss = generator.mean_nll(batch, torch.stack(step_outputs, dim=1))
        else:
            loss = token_cross_entropy(generator, torch.stack(step_outputs, dim=1), batch)
        losses.append(
            update(
                generator.parameters(),
                optimizer,
                loss,
                grad_clip,
                f"scheduled sampling (batch {step})",
            )
        )
    return sum(losses) / len(losses), float(replaced_sum) / max(1, replaced_count)
