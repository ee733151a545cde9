"""The stable imports of a plug-in package (docs/extending.md): everything an algorithm,
a reward or a metric of another package composes, under one name that stays put when
seqgan's own modules move.

    from seqgan.extend import Algorithm, Metric, Phase, knob, parts

Registering (entry points, ``registry``): ``Algorithm``, ``Metric``.
Configuration (``config``): ``Config`` (a plug-in's section: ``cfg.section(name)``),
``knob`` (a typed, range-checked field), ``UserError`` (a one-line error for the user).
Data and models: ``Task``, ``Generator``, ``Discriminator``, ``LatentGenerator``.
The shared parts (``training.parts``, ``training.steps``): ``parts`` and ``steps``
(modules), ``Phase``, ``PRETRAIN``.
Rewards and estimators (``rl``): ``Reward``, ``DiscriminatorReward``, ``BleuReward``,
``action_values``, ``mc_search_q``, ``policy_gradient_loss``, ``update_rollout_policy``.
Evaluation, runs and comparisons: ``Evaluator``, ``train``, ``compare``, ``Run``,
``build_table``, ``write_table``.

Nothing inside seqgan imports this module (it sits above every layer).
"""

from __future__ import annotations

from seqgan.api import Run, compare, train
from seqgan.config import Config, knob
from seqgan.data.task import Task
from seqgan.errors import UserError
from seqgan.experiments.report import build_table, write_table
from seqgan.metrics.evaluation import Evaluator
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.vae import LatentGenerator
from seqgan.registry import Algorithm, Metric, section_name
from seqgan.rl.estimators import action_values
from seqgan.rl.policy_gradient import policy_gradient_loss
from seqgan.rl.rewards import BleuReward, DiscriminatorReward
from seqgan.rl.rollout import Reward, mc_search_q, update_rollout_policy
from seqgan.training import parts, steps
from seqgan.training.loop import Phase
from seqgan.training.parts import PRETRAIN

__all__ = [
    "PRETRAIN",
    "Algorithm",
    "BleuReward",
    "Config",
    "Discriminator",
    "DiscriminatorReward",
    "Evaluator",
    "Generator",
    "LatentGenerator",
    "Metric",
    "Phase",
    "Reward",
    "Run",
    "Task",
    "UserError",
    "action_values",
    "build_table",
    "compare",
    "knob",
    "mc_search_q",
    "parts",
    "policy_gradient_loss",
    "section_name",
    "steps",
    "train",
    "update_rollout_policy",
    "write_table",
]
