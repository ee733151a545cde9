"""SeqVAE, Algorithm 1 of Gao et al. (2021), as phases: SeqVAE_1 (policy-gradient loss of
Eq. 8, SeqGAN's) and SeqVAE_2 (Eq. 14); they differ only in that loss.

1. ``pretrain_generator``: encoder and decoder by Eq. 2/3 (``training.vae``; line 2); at its
   end beta <- theta (line 3: the decoder copy p_beta starts as a copy).
2. ``pretrain_discriminator``: ``pretrain.discriminator_rounds`` rounds, each with fresh
   negatives decoded from z ~ N(0, I), ``pretrain.discriminator_epochs`` epochs (lines 4-5).
3. ``adversarial``, ``adversarial.epochs`` epochs of:

   * ``g_steps`` g-steps (lines 7-12), on a random batch x of the training set:
     a. encode x, update the encoder by the KL term alpha * max(KL - tau, 0) alone
        (lines 8-9; optimizer ``encoder``);
     b. encode x again, z = mu + sigma * eps, decode y ~ p_theta(.|z) (no gradient);
     c. MC search with p_beta given the same z, completions scored by d_phi (Eqs. 6-7,
        ``rl.rollout.mc_search_q`` through ``LatentGenerator.given``, or its values at the
        prefix lengths of SeqVAE_2's decodings, ``rl.seqvae_loss``; line 10);
     d. the loss on log p_theta(y | z) — Eq. 8 with Q (SeqVAE_1), or Eq. 14 with the
        rewards of the m decodings (SeqVAE_2, ``rl.seqvae_loss``) — plus
        ``vae.gstep_reconstruction`` times the reconstruction loss of x (Algorithm 1:
        0); one update of the decoder and, with ``vae.pg_to_encoder`` (line 11), of the
        encoder through z (optimizer ``policy``);
   * ``d_steps`` d-steps: fresh negatives from the prior, ``k_epochs`` epochs (lines 13-16);
   * beta <- r beta + (1 - r) theta, r = ``adversarial.rollout_update_rate`` (line 17).
     The paper's Eq. 4 writes (1 - r) beta + r theta: its r is 1 - ours.  The authors'
     code (INotWant/seqvae, ``dec_update_rate = 0.8``) blends as here, so 0.8 is the
     same setting in both.

The discriminator is initialised from its own seed (``seed + 1``) without touching the
training random stream, so ``vae``, ``seqvae1`` and ``seqvae2`` runs of one seed share a
bit-identical pre-training.
"""

from __future__ import annotations

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.errors import UserError
from seqgan.models.discriminator import Discriminator
from seqgan.models.vae import Conditioned, LatentGenerator, gaussian_kl
from seqgan.registry import Algorithm
from seqgan.rl.estimators import action_values
from seqgan.rl.policy_gradient import policy_gradient_loss
from seqgan.rl.rollout import Reward, mc_search_q, update_rollout_policy
from seqgan.rl.seqvae_loss import decoding_loss, prefix_lengths
from seqgan.training import parts, steps, vae
from seqgan.training.loop import Phase


def mc_search_loss(
    cfg: Config, samples: torch.Tensor, log_probs: torch.Tensor, policy: Conditioned, reward: Reward
) -> tuple[torch.Tensor, torch.Tensor]:
    """SeqVAE_1: Eq. 8 with Q from MC search (Eq. 7); returns (loss, rewards D(y) ``[n]``)."""
    mask = policy.decoder.token_mask(samples)
    q, rewards = action_values(
        "mc_search", samples, log_probs, reward, policy, cfg.adversarial.num_rollouts, mask=mask
    )
    return policy_gradient_loss(log_probs, q), rewards


def decodings_loss(
    cfg: Config, samples: torch.Tensor, log_probs: torch.Tensor, policy: Conditioned, reward: Reward
) -> tuple[torch.Tensor, torch.Tensor]:
    """SeqVAE_2: Eq. 14 over m decodings of prefix lengths i * step; (loss, D(y) ``[n]``)."""
    length = samples.shape[1]
    lengths = prefix_lengths(length, cfg.vae.step, cfg.vae.decodings)
    rewards = mc_search_q(policy, samples, reward, cfg.adversarial.num_rollouts, lengths=lengths)
    final = rewards[:, -1] if lengths[-1] == length else reward(samples)
    return decoding_loss(log_probs, rewards, lengths), final


def g_step(
    cfg: Config,
    task: Task,
    generator: LatentGenerator,
    rollout: LatentGenerator,
    reward: Reward,
    optimizers: dict,
    loss_fn,
) -> dict:
    """One g-step (steps a-d of the module docstring); logs ``g_loss`` and ``reward_mean``."""
    v, g = cfg.vae, cfg.generator
    x = task.train[torch.randperm(len(task.train), device=task.train.device)[: g.batch_size]]
    count = generator.token_mask(x).sum()
    generator.train()
    mu, sigma = generator.encode(x)
    kl_loss = vae.kl_penalty(gaussian_kl(mu, sigma).sum(1), v).sum() / count
    steps.update(
        generator.encoder.parameters(), optimizers["encoder"], kl_loss, g.grad_clip, "the KL step"
    )
    mu, sigma = generator.encode(x)
    z = mu + sigma * torch.randn_like(mu)
    if not v.pg_to_encoder:
        z = z.detach()
    samples = generator.decode(z.detach())
    state = generator.state_from(z)
    log_probs = generator.log_prob(samples, state)
    loss, rewards = loss_fn(cfg, samples, log_probs, rollout.given(z.detach()), reward)
    steps.check_finite(float(rewards.sum()), "the rewards")
    if v.gstep_reconstruction:
        loss = loss - v.gstep_reconstruction * generator.log_prob(x, state).sum() / count
    value = steps.update(
        generator.parameters(), optimizers["policy"], loss, g.grad_clip, "the policy gradient"
    )
    return {"g_loss": value, "reward_mean": float(rewards.mean())}


def _own_seed_discriminator(cfg: Config, task: Task) -> Discriminator:
    """d_phi initialised from ``seed + 1``, the global random state left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 1)
        return parts.build_discriminator(cfg, task)


def build(cfg: Config, task: Task, loss_fn):
    """Models, optimizers and phases of SeqVAE with the policy-gradient loss ``loss_fn``."""
    try:
        prefix_lengths(task.seq_len, cfg.vae.step, cfg.vae.decodings)
    except ValueError as exc:
        raise UserError(f"vae.step / vae.decodings: {exc}") from None
    generator = vae.build_latent_generator(cfg, task)
    rollout = parts.rollout_copy(generator)
    discriminator = _own_seed_discriminator(cfg, task)
    models = {"generator": generator, "rollout": rollout, "discriminator": discriminator}
    optimizers = {
        "vae": vae.vae_optimizer(cfg, generator),
        "encoder": torch.optim.Adam(
            generator.encoder.parameters(), lr=cfg.vae.encoder_lr, fused=True
        ),
        "policy": vae.vae_optimizer(cfg, generator),
        "discriminator": parts.adam(discriminator, cfg.discriminator.lr),
    }
    a = cfg.adversarial
    reward, d_step = parts.discriminator_parts(
        cfg, task, generator, discriminator, optimizers["discriminator"]
    )

    def adversarial(epoch: int) -> dict:
        row: dict = {}
        for _ in range(a.g_steps):
            row.update(g_step(cfg, task, generator, rollout, reward, optimizers, loss_fn))
        row.update(parts.discriminator_updates(cfg, d_step))
        update_rollout_policy(rollout, generator, a.rollout_update_rate)
        return {**row, **vae.diagnostics_when_evaluated(cfg, task, generator, epoch, a.epochs)}

    phases = [
        vae.pretrain_phase(cfg, task, generator, optimizers["vae"], rollout),
        parts.discriminator_pretrain_phase(cfg, d_step),
        Phase("adversarial", a.epochs, adversarial, trains_generator=True),
    ]
    return models, optimizers, phases


def build_seqvae1(cfg: Config, task: Task):
    """SeqVAE_1 (Section 3.3): SeqGAN's policy gradient on the VAE's decoder."""
    return build(cfg, task, mc_search_loss)


def build_seqvae2(cfg: Config, task: Task):
    """SeqVAE_2 (Section 3.4): the whole-sequence rewards of m decodings, Eq. 14."""
    return build(cfg, task, decodings_loss)


def _algorithm(name: str, build_fn, summary: str) -> Algorithm:
    """A SeqVAE variant: a VAE generator, SeqGAN's D and roll-outs, VAE pre-training."""
    return Algorithm(
        name,
        build_fn,
        summary,
        generator=vae.build_latent_generator,
        vae=True,
        discriminator=True,
        rollout=True,
        pretraining="vae",
        cost=3,
    )


SEQVAE1 = _algorithm(
    "seqvae1",
    build_seqvae1,
    "SeqVAE_1 (Gao et al.): a VAE trained by SeqGAN's MC search, section [vae]",
)
SEQVAE2 = _algorithm(
    "seqvae2",
    build_seqvae2,
    "SeqVAE_2 (Gao et al.): a VAE trained on m teacher-forced decodings, section [vae]",
)
