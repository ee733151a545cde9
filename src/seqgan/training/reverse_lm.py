"""The reverse-LM score, a quality-diversity metric (``metrics.quality_diversity``,
definitions in docs/metrics.md) that trains a language model: hence here, in the training
layer, above the metrics.

**Reverse-LM score** (Semeniuta et al. 2018, "On Accurate Evaluation of GANs for Language
Generation"; used as a diversity measure by Caccia et al. 2020).  A fresh LSTM language
model (the project's ``Generator``) is trained by teacher-forced MLE on the generated
samples only, with a fixed schedule (``epochs`` epochs of ``training.steps.mle_epoch``, Adam
with learning rate ``lr``, batches of ``batch_size``, gradient-norm clip ``grad_clip``),
from parameters drawn under ``seed``; the score is its NLL per token on the test set::

    reverse_lm_nll = sum_j [ -sum_{t <= L_j} log q(x_t^(j) | x_{<t}^(j)) ] / sum_j L_j

(nats per token; L_j counts the tokens up to and including ``<eos>``, T at fixed length;
``metrics.nll.per_token_nll``).  Lower is better: the samples cover the data
distribution.  A collapsed generator gives a reverse LM that assigns the test set a low
likelihood (high NLL).  It is deterministic for a seed, and the caller's torch RNG state
is left as it was (``torch.random.fork_rng``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from seqgan.metrics.nll import per_token_nll, sequence_nll
from seqgan.metrics.quality_diversity import signature_label
from seqgan.models.generator import Generator
from seqgan.training.steps import mle_epoch


@dataclass
class ReverseLMScore:
    """The reverse-LM score of one sample set.

    ``nll``: NLL per token of the test set under the LM trained on the samples (nats per
    token, lower is better); ``per_sequence``: ``[n_test]`` float64, each test sequence's
    summed NLL (nats); ``tokens``: the number of test tokens counted (sum of L_j);
    ``train_losses``: the mean training loss of each epoch (nats per token, on the
    samples); ``model``: the trained LM (eval mode)."""

    nll: float
    per_sequence: np.ndarray
    tokens: int
    train_losses: list[float]
    signature: str
    model: Generator


def reverse_lm_score(
    samples: torch.Tensor,
    test: torch.Tensor,
    make_model: Callable[[], Generator],
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.01,
    grad_clip: float = 5.0,
    seed: int = 0,
    tok: str = "ids",
    refs_label: str = "test",
) -> ReverseLMScore:
    """Train ``make_model()`` (a fresh ``Generator``; called under ``seed``, so its initial
    parameters are seeded) for ``epochs`` MLE epochs on ``samples`` and score ``test``.

    ``samples`` ``[n, T]`` / ``test`` ``[m, T]`` ``torch.long``: whole rows as
    ``Generator.sample`` gives them and ``Task.test`` holds them (with ``<eos>`` and the
    ``<pad>`` after it on text: the model's ``eos_token`` masks the padding out of the loss
    and the NLL).  Each epoch is ``training.steps.mle_epoch`` (shuffled batches of exactly
    ``batch_size``, the remainder dropped; one batch when n < batch_size), with
    ``torch.optim.Adam(lr)``.  Runs under ``torch.random.fork_rng`` seeded by ``seed``: the
    result depends only on the arguments and the caller's RNG state is unchanged."""
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(
            f"need epochs >= 0, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}"
        )
    if not len(samples) or not len(test):
        raise ValueError("the reverse-LM score needs samples to train on and test sequences")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_model()
        device = next(model.parameters()).device  # the run's device (samples: on the CPU)
        samples, test = torch.as_tensor(samples).to(device), torch.as_tensor(test).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        losses = [
            mle_epoch(model, optimizer, samples, batch_size, grad_clip) for _ in range(epochs)
        ]
        model.eval()
        per_sequence = sequence_nll(model, test).cpu().numpy()
        nll = per_token_nll(model, test)
        tokens = int(model.token_mask(test).sum())
    signature = (
        f"reverse_lm_nll|train=samples:{len(samples)}"
        f"|refs={signature_label(refs_label)}:{len(test)}"
        f"|epochs={epochs}|batch={batch_size}|lr={lr:g}|clip={grad_clip:g}"
        f"|seed={seed}|emb={model.emb_dim}|hidden={model.hidden_dim}"
        f"|tok={signature_label(tok)}"
    )
    return ReverseLMScore(nll, per_sequence, tokens, losses, signature, model)


def task_language_model(
    task, cfg=None, *, emb_dim: int = 32, hidden_dim: int = 32, init_std: float = 0.1
) -> Callable[[], Generator]:
    """A ``make_model`` for ``reverse_lm_score``: the task's generator as
    ``training.parts.build_generator(cfg, task)`` builds it when ``cfg`` is given, else the
    same ``Generator`` with these sizes (the config's defaults)."""
    if cfg is not None:

        def build() -> Generator:
            from seqgan.training.parts import build_generator

            return build_generator(cfg, task)

        return build

    def make() -> Generator:
        return Generator(
            task.vocab_size,
            emb_dim,
            hidden_dim,
            task.seq_len,
            init_std=init_std,
            **task.special_tokens(),
        )

    return make
