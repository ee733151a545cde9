"""Scheduled sampling (Bengio et al. 2015), the SeqGAN paper's "SS" baseline.

After MLE pre-training, ``adversarial.epochs`` epochs of training in which every input
token y_{t-1} (t >= 2) is replaced, with probability 1 - omega, by a token sampled from
the model's own prediction at that step; the loss is still the cross-entropy of the true
y_t.  omega = ``ss.omega_start`` in the first epoch and falls by ``ss.omega_decay`` per
epoch (paper: from 1 by 0.002), never below 0.  The coin is flipped independently for
every token of every batch.
"""

from __future__ import annotations

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.registry import Algorithm
from seqgan.training import parts, steps
from seqgan.training.loop import Phase


def omega_at(cfg: Config, epoch: int) -> float:
    """P(feeding the true token) in 1-based ``epoch`` of the scheduled-sampling phase."""
    return max(0.0, cfg.ss.omega_start - cfg.ss.omega_decay * (epoch - 1))


def build(cfg: Config, task: Task):
    generator = parts.build_generator(cfg, task)
    optimizer = parts.adam(generator, cfg.generator.lr)
    g = cfg.generator

    def run_epoch(epoch: int) -> dict:
        omega = omega_at(cfg, epoch)
        loss, replaced = steps.scheduled_sampling_epoch(
            generator, optimizer, task.train, g.batch_size, g.grad_clip, omega
        )
        return {"g_loss": loss, "ss_omega": omega, "ss_replaced": replaced}

    phases = [
        parts.pretrain_phase(cfg, task, generator, optimizer),
        Phase("scheduled_sampling", cfg.adversarial.epochs, run_epoch, trains_generator=True),
    ]
    return {"generator": generator}, {"mle": optimizer}, phases


ALGORITHM = Algorithm("ss", build, "scheduled sampling (Bengio et al. 2015), section [ss]", cost=2)
