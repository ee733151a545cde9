"""One evaluation of a generator on its task: every metric the config asks for.

Always: NLL-oracle (oracle tasks, ``metrics.nll``, per token) and NLL-test (held-out data,
per token).  On request: BLEU-n of the samples against the held-out set (or the
training set, ``eval.bleu_references``)
(``eval.bleu``) and Self-BLEU-n among them (``eval.self_bleu``) — on each sequence's
tokens before ``<eos>`` — the GAN diagnostics (``eval.diagnostics``) and, for music
tasks, the encoding's metrics (``metrics.music``: MSE for pitch88, SPB and QN for
melody16).  Each sequence-level metric also keeps its per-sequence values, which the
comparison report t-tests.
"""

from __future__ import annotations

import numpy as np
import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.metrics.bleu import ReferenceTables, bleu, self_bleu
from seqgan.metrics.gan_diagnostics import policy_entropy, precision_recall, reward_stats
from seqgan.metrics.nll import per_token_nll, sequence_nll
from seqgan.models.generator import Generator


class Evaluator:
    def __init__(self, cfg: Config, task: Task):
        self.cfg, self.task = cfg, task
        self._tables: ReferenceTables | None = None  # BLEU tables of the test set, built once

    @property
    def primary(self) -> str:
        """The metric of learning curves and the progress bar: NLL-oracle on the oracle,
        else NLL-test, else the first BLEU order."""
        if self.task.oracle is not None:
            return "nll_oracle"
        if len(self.task.test):
            return "nll_test"
        return f"bleu{self.cfg.eval.bleu[0]}" if self.cfg.eval.bleu else "nll_test"

    @torch.no_grad()
    def __call__(self, generator: Generator, discriminator=None,
                 samples: torch.Tensor | None = None) -> tuple[dict, dict, torch.Tensor]:
        """``(means, per_sequence, samples)``: metric -> float, metric -> ``[n]`` array, and
        the ``eval.num_samples`` fresh samples ``[n, T]`` they were computed on."""
        cfg, task = self.cfg, self.task
        if samples is None:
            samples = generator.sample(cfg.eval.num_samples, cfg.generator.sample_batch)
        means: dict = {}
        per_sequence: dict[str, np.ndarray] = {}
        if task.oracle is not None:
            per_sequence["nll_oracle"] = sequence_nll(task.oracle, samples).numpy()
            means["nll_oracle"] = float(per_sequence["nll_oracle"].mean()) / task.seq_len
        if len(task.test):
            means["nll_test"] = per_token_nll(generator, task.test)
        if cfg.eval.diagnostics:
            means.update(self.diagnostics(generator, discriminator, samples))
        per_sequence.update(self.sequence_metrics(samples))
        for name, values in per_sequence.items():
            if name != "nll_oracle":
                means[name] = float(np.mean(values)) if len(values) else float("nan")
        return means, per_sequence, samples

    def sequence_metrics(self, samples: torch.Tensor) -> dict[str, np.ndarray]:
        """(Self-)BLEU and music metrics per sequence (``eval.bleu_samples`` of them)."""
        cfg, task = self.cfg, self.task
        if cfg.eval.bleu_samples:
            samples = samples[:cfg.eval.bleu_samples]
        out: dict[str, np.ndarray] = {}
        hypotheses = task.content(samples)
        references = task.train if cfg.eval.bleu_references == "train" else task.test
        if cfg.eval.bleu and len(references):
            if self._tables is None:
                self._tables = ReferenceTables(task.content(references), max(cfg.eval.bleu))
            for n in cfg.eval.bleu:
                out[f"bleu{n}"] = bleu(hypotheses, None, n, tables=self._tables)
        for n in cfg.eval.self_bleu:
            if len(hypotheses) > 1:
                out[f"self_bleu{n}"] = self_bleu(hypotheses, n)
        if task.kind == "music":
            from seqgan.metrics.music import music_metrics
            out.update(music_metrics(cfg.data.encoding, task.symbols(samples),
                                     task.symbols(task.test)))
        return out

    def diagnostics(self, generator: Generator, discriminator, samples: torch.Tensor) -> dict:
        """Entropy of the generator and, with a discriminator, the reward statistics and
        D's precision / recall (``metrics.gan_diagnostics``)."""
        out = {"entropy": policy_entropy(generator, samples)}
        if discriminator is not None:
            chunk = self.cfg.discriminator.score_chunk
            fake = discriminator.prob_real(samples, chunk)
            out["eval_reward_mean"], out["eval_reward_std"] = reward_stats(fake)
            if len(self.task.test):
                real = discriminator.prob_real(self.task.test, chunk)
                out["d_precision"], out["d_recall"] = precision_recall(
                    real, fake[:len(self.task.test)])
        return out
