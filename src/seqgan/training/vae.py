"""The plain recurrent VAE (SeqVAE's baseline, Gao et al. 2021, Section 3.1), and the VAE
parts SeqVAE (``training.seqvae``) shares with it.

Loss (Eqs. 2-3, negated, per token): for a batch of sequences x with lengths |x|,

    ( sum_x -log p_theta(x | z)  +  sum_x alpha * max(KL(q(z|x) || N(0, I)) - tau, 0) ) / sum_x |x|

with one reparameterised z = mu + sigma * eps ~ q(z|x) per sequence; alpha =
``vae.kl_weight`` and tau = ``vae.kl_threshold`` (Eq. 2 is tau = 0, Eq. 3 alpha = 1).

Algorithm ``vae``: ``pretrain_generator`` (``pretrain.generator_epochs`` epochs of that
loss; SeqVAE's line 2) then ``vae`` (``adversarial.epochs`` more, same optimizer) — the
MLE baseline's protocol, so every curve shares one epoch axis.  The pre-training phase
keeps the trainer's name ``pretrain_generator`` (its end marks "after pre-training") and
is shareable among ``vae``, ``seqvae1`` and ``seqvae2`` runs of the same settings
(``pretrain.generator_from``; the ``[vae]`` section must match too), not with SeqGAN's
MLE pre-training, which trains no encoder.

At every epoch the trainer evaluates, the phases also log the posterior-collapse
diagnostics of ``metrics.posterior`` on the held-out set (the training set if there is
none): ``kl``, ``kl_dim_max``, ``active_units``, ``recon_nll``.
"""

from __future__ import annotations

import torch

from seqgan.config import Config, VAEConfig
from seqgan.data.task import Task
from seqgan.metrics.posterior import diagnostic_sequences, posterior_diagnostics
from seqgan.models.vae import Encoder, LatentGenerator, gaussian_kl
from seqgan.registry import Algorithm
from seqgan.training import parts, steps
from seqgan.training.loop import Phase


def build_latent_generator(cfg: Config, task: Task) -> LatentGenerator:
    """p_theta (sizes from ``[generator]``) with q_lambda attached (``[vae]``)."""
    v = cfg.vae
    encoder = Encoder(
        task.vocab_size, v.encoder_emb_dim, v.encoder_hidden_dim, v.latent_dim, v.encoder_dropout
    )
    generator = LatentGenerator(
        **parts.generator_arguments(cfg, task), latent_dim=v.latent_dim, encoder=encoder
    ).to(task.device)
    return parts.with_output_kernel(cfg, task, generator)


def vae_optimizer(cfg: Config, generator: LatentGenerator) -> torch.optim.Adam:
    """Adam over the decoder (with the z map) at ``generator.lr`` and the encoder at
    ``vae.encoder_lr``."""
    decoder = [p for name, p in generator.named_parameters() if not name.startswith("encoder.")]
    return torch.optim.Adam(
        [
            {"params": decoder, "lr": cfg.generator.lr},
            {"params": list(generator.encoder.parameters()), "lr": cfg.vae.encoder_lr},
        ],
        fused=True,
    )


def kl_penalty(kl: torch.Tensor, v: VAEConfig) -> torch.Tensor:
    """``alpha * max(KL - tau, 0)`` per sequence, ``[n]``, for ``kl [n]`` (nats)."""
    return v.kl_weight * (kl - v.kl_threshold).clamp(min=0.0)


def elbo_loss(generator: LatentGenerator, tokens: torch.Tensor, v: VAEConfig) -> torch.Tensor:
    """The loss of the module docstring for ``tokens [n, T]`` (nats per token)."""
    logp, mu, sigma = generator.reconstruct(tokens)
    penalty = kl_penalty(gaussian_kl(mu, sigma).sum(1), v)
    return (-logp.sum() + penalty.sum()) / generator.token_mask(tokens).sum()


def vae_epoch(
    cfg: Config, generator: LatentGenerator, optimizer: torch.optim.Optimizer, data: torch.Tensor
) -> float:
    """One epoch of ``elbo_loss`` over ``data [n, T]`` in shuffled mini-batches; mean loss."""
    g = cfg.generator
    generator.train()
    losses = []
    for step, idx in enumerate(steps.minibatches(len(data), g.batch_size), start=1):
        loss = elbo_loss(generator, data[idx], cfg.vae)
        losses.append(
            steps.update(
                generator.parameters(), optimizer, loss, g.grad_clip, f"the VAE (batch {step})"
            )
        )
    return sum(losses) / len(losses)


def diagnostics_when_evaluated(
    cfg: Config, task: Task, generator: LatentGenerator, epoch: int, epochs: int
) -> dict:
    """``metrics.posterior`` on its ``diagnostic_sequences`` at the epochs the trainer
    evaluates (every ``eval.every`` and the last of a phase), else nothing."""
    if epoch % cfg.eval.every and epoch != epochs:
        return {}
    return posterior_diagnostics(
        generator, diagnostic_sequences(task, cfg.eval.num_samples), cfg.generator.sample_batch
    )


def vae_phase(
    name: str,
    epochs: int,
    cfg: Config,
    task: Task,
    generator: LatentGenerator,
    optimizer: torch.optim.Optimizer,
    on_end=None,
) -> Phase:
    """``epochs`` epochs of ``vae_epoch`` on the training set (logs ``g_loss`` and, when
    evaluated, the diagnostics)."""

    def run_epoch(epoch: int) -> dict:
        row = {"g_loss": vae_epoch(cfg, generator, optimizer, task.train)}
        return {**row, **diagnostics_when_evaluated(cfg, task, generator, epoch, epochs)}

    return Phase(name, epochs, run_epoch, trains_generator=True, on_end=on_end)


def pretrain_phase(
    cfg: Config,
    task: Task,
    generator: LatentGenerator,
    optimizer: torch.optim.Optimizer,
    rollout: LatentGenerator | None = None,
) -> Phase:
    """Algorithm 1, lines 2-3: ``pretrain.generator_epochs`` VAE epochs; at the end the
    decoder copy, if any, becomes a copy of the VAE (beta <- theta)."""
    on_end = (lambda: rollout.load_state_dict(generator.state_dict())) if rollout else None
    phase = vae_phase(
        parts.PRETRAIN, cfg.pretrain.generator_epochs, cfg, task, generator, optimizer, on_end
    )
    phase.shared_optimizer, phase.shaped_by = "vae", ("vae",)
    return phase


def build(cfg: Config, task: Task):
    """Models, optimizers and phases of the plain VAE."""
    generator = build_latent_generator(cfg, task)
    optimizer = vae_optimizer(cfg, generator)
    phases = [
        pretrain_phase(cfg, task, generator, optimizer),
        vae_phase("vae", cfg.adversarial.epochs, cfg, task, generator, optimizer),
    ]
    return {"generator": generator}, {"vae": optimizer}, phases


ALGORITHM = Algorithm(
    "vae",
    build,
    "recurrent VAE (Bowman et al.), section [vae]",
    generator=build_latent_generator,
    vae=True,
    pretraining="vae",
)
