"""One evaluation of a generator on its task: every metric the config asks for.

Always: NLL-oracle (oracle tasks, ``metrics.nll``, per token) and NLL-test (held-out data,
per token).  On request: BLEU-n of the samples against the held-out set (or the
training set, ``eval.bleu_references``)
(``eval.bleu``) and Self-BLEU-n among them (``eval.self_bleu``) — on each sequence's
tokens before ``<eos>`` — the GAN diagnostics (``eval.diagnostics``) and, for music
tasks, the encoding's metrics (``metrics.music``: MSE for pitch88, SPB and QN for
melody16).  Each sequence-level metric also keeps its per-sequence values, which the
comparison report t-tests.

BLEU and Self-BLEU are computed under each of ``eval.bleu_conventions``
(``metrics.bleu.CONVENTIONS``); ``signatures`` says how every metric was computed
(``bleu4|rule=nltk-3.2|smooth=none|refs=test:1639|hyps=2000|tok=char``).

Sampling controls (``models.sampling.Sampling``, ``seqgan evaluate --temperature ...``): the
samples are drawn with them, so every sample-based metric (NLL-oracle, BLEU, Self-BLEU,
music) is of the controlled sampler; NLL-test is of the tempered model softmax(logits / tau)
(top-k, top-p and greedy have no finite NLL and do not enter it).  Controls other than
the default are appended to the signatures (``|temperature=0.8|top_p=0.9``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

import seqgan.registry as registry
from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.errors import UserError
from seqgan.metrics.bleu import (
    CONVENTIONS,
    SUFFIXES,
    BleuConvention,
    ReferenceTables,
    bleu,
    self_bleu,
)
from seqgan.metrics.gan_diagnostics import policy_entropy, precision_recall, reward_stats
from seqgan.metrics.nll import per_token_nll, sequence_nll
from seqgan.models.generator import Generator
from seqgan.models.sampling import Sampling

CEILING_ROWS = 5000  # training sequences whose music features give the data's own OA


class Evaluator:
    def __init__(self, cfg: Config, task: Task):
        self.cfg, self.task = cfg, task
        # the built-in families (registry.BUILTIN, in column order), then eval.metrics
        self.metrics = [
            *registry.builtin_metrics(),
            *(registry.metric(name) for name in cfg.eval.metrics),
        ]
        # BLEU tables of the reference set, built once per reference pick
        self._tables: dict[str, ReferenceTables] = {}
        self._real_features: dict[str, np.ndarray] | None = None  # music features of test
        self._ceiling: dict[str, float] = {}  # data_oa_<f>: test vs train

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
    def __call__(
        self,
        generator: Generator,
        discriminator=None,
        samples: torch.Tensor | None = None,
        sampling: Sampling | None = None,
    ) -> tuple[dict, dict, torch.Tensor]:
        """``(means, per_sequence, samples)``: metric -> float, metric -> ``[n]`` array, and
        the ``eval.num_samples`` fresh samples ``[n, T]`` they were computed on, drawn with
        ``sampling`` (default: plain sampling, as in training); NLL-test is then at its
        temperature (``metrics.nll.per_token_nll``)."""
        cfg = self.cfg
        sampling = sampling or Sampling()
        if samples is None:
            extra: dict[str, Any] = {} if sampling.is_default else {"sampling": sampling}
            samples = generator.sample(cfg.eval.num_samples, cfg.generator.sample_batch, **extra)
        means: dict = {}
        per_sequence: dict[str, np.ndarray] = {}
        for metric in self.metrics:
            if metric.evaluate is not None:
                found, values = metric.evaluate(self, samples, generator, discriminator, sampling)
            else:
                found, values = self.plugin_metric(metric, samples)
            means.update(found)
            per_sequence.update(values)
        return means, per_sequence, samples.cpu()  # computed on the device, kept on the CPU

    def nll_oracle(self, samples: torch.Tensor) -> tuple[dict, dict]:
        """NLL-oracle of the samples: per sequence (nats) and its mean per token."""
        if self.task.oracle is None:
            return {}, {}
        values = sequence_nll(self.task.oracle, samples).cpu().numpy()
        return {"nll_oracle": float(values.mean()) / self.task.seq_len}, {"nll_oracle": values}

    def nll_test(self, generator: Generator, sampling: Sampling) -> dict[str, float]:
        """NLL-test per token of the held-out data, at the temperature of ``sampling``."""
        if not len(self.task.test):
            return {}
        return {"nll_test": per_token_nll(generator, self.task.test, sampling.temperature)}

    def plugin_metric(self, metric: registry.Metric, samples: torch.Tensor) -> tuple[dict, dict]:
        """A plug-in metric (``registry.Metric.compute``) of the samples: an ``[n]``
        result is per sequence (its mean is the metric), a number is the metric.  It runs
        on a fork of torch's CPU random state, so a metric cannot change the training."""
        assert metric.compute is not None
        with torch.random.fork_rng(devices=[]):
            value = metric.compute(samples, self.task)
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == len(samples):
            values = value.astype(np.float64)
            return {metric.name: _mean(values)}, {metric.name: values}
        try:
            return {metric.name: float(value)}, {}
        except (TypeError, ValueError):
            raise UserError(
                f"metric '{metric.name}' returned {type(value).__name__}; it must "
                f"return one number, or one per sample ([{len(samples)}])"
            ) from None

    @torch.no_grad()
    def of_samples(self, samples: torch.Tensor) -> tuple[dict, dict]:
        """``(means, per_sequence)`` of the metrics that depend on the samples alone
        (NLL-oracle, BLEU, Self-BLEU, music): those of ``__call__`` less NLL-test and the
        diagnostics, which are the model's.  For samples made elsewhere
        (``seqgan evaluate --samples-file``)."""
        task = self.task
        means: dict = {}
        per_sequence: dict[str, np.ndarray] = {}
        if task.oracle is not None:
            per_sequence["nll_oracle"] = sequence_nll(task.oracle, samples).cpu().numpy()
            means["nll_oracle"] = float(per_sequence["nll_oracle"].mean()) / task.seq_len
        per_sequence.update(self.sequence_metrics(samples))
        for name, values in per_sequence.items():
            if name != "nll_oracle":
                means[name] = float(np.mean(values)) if len(values) else float("nan")
        if task.kind == "music":
            means.update(self.feature_metrics(samples))
        return means, per_sequence

    def sequence_metrics(self, samples: torch.Tensor) -> dict[str, np.ndarray]:
        """(Self-)BLEU per sequence under each convention (of the first ``eval.bleu_samples``
        samples) and the music metrics (of all samples)."""
        return {**self.bleu_metrics(samples), **self.music_metrics(samples)}

    def music_metrics(self, samples: torch.Tensor) -> dict[str, np.ndarray]:
        """The music encoding's metrics per sequence (``metrics.music``)."""
        cfg, task = self.cfg, self.task
        if task.kind != "music":
            return {}
        from seqgan.metrics.music import music_metrics

        return music_metrics(cfg.data.encoding, task.symbols(samples), task.symbols(task.test))

    def bleu_metrics(self, samples: torch.Tensor) -> dict[str, np.ndarray]:
        """(Self-)BLEU per sequence under each convention (of the first
        ``eval.bleu_samples`` samples)."""
        cfg, task = self.cfg, self.task
        hypotheses = task.content(samples[: cfg.eval.bleu_samples or None])
        references = self._bleu_references()
        out: dict[str, np.ndarray] = {}
        for name, convention in self._conventions():
            if cfg.eval.bleu and len(references):
                against = self._with_references(convention)
                tables = self._tables_for(against, references)
                for n in cfg.eval.bleu:
                    out[f"bleu{n}{SUFFIXES[name]}"] = bleu(hypotheses, None, n, against, tables)
            for n in cfg.eval.self_bleu:
                if len(hypotheses) > 1:
                    out[f"self_bleu{n}{SUFFIXES[name]}"] = self_bleu(hypotheses, n, convention)
        return out

    def feature_metrics(self, samples: torch.Tensor) -> dict[str, float]:
        """Music feature metrics of the samples and their distance to the held-out data
        (``music.features``, ``metrics.distribution_overlap.compare_features``): the mean
        of each feature (``feat_<f>``), OA of the two distributions (``feat_oa_<f>``) and
        Yang & Lerch's intra/inter-set comparison (``feat_ii_oa_<f>``, ``feat_ii_kl_<f>``),
        and the ceiling ``data_oa_<f>``: OA of the test set's values with those of (the
        first ``CEILING_ROWS``) training sequences, and the test set's own mean of each
        feature (``data_feat_<f>``).  The data's features are computed once."""
        from seqgan.metrics.distribution_overlap import compare_features, feature_mean
        from seqgan.music.features import features_of_symbols

        task, encoding = self.task, self.cfg.data.encoding
        if not len(task.test):
            return {}
        if self._real_features is None:
            self._real_features = features_of_symbols(encoding, task.symbols(task.test))
            # the ceiling: OA of the held-out data's features with the training data's
            train = features_of_symbols(encoding, task.symbols(task.train[:CEILING_ROWS]))
            data = compare_features(self._real_features, train)
            self._ceiling = {
                f"data_oa_{k[len('feat_oa_') :]}": v
                for k, v in data.items()
                if k.startswith("feat_oa_")
            }
            self._ceiling.update(
                {
                    f"data_feat_{name}": feature_mean(values)
                    for name, values in self._real_features.items()
                }
            )
        return {
            **compare_features(
                features_of_symbols(encoding, task.symbols(samples)), self._real_features
            ),
            **self._ceiling,
        }

    def _conventions(self) -> list[tuple[str, BleuConvention]]:
        return [(name, CONVENTIONS[name]) for name in self.cfg.eval.bleu_conventions]

    def _with_references(self, convention: BleuConvention) -> BleuConvention:
        """``convention`` for BLEU, with ``eval.bleu_reference_count`` references (first,
        or a seeded random draw) unless the convention fixes its own count (Texygen's 500)."""
        e = self.cfg.eval
        if not e.bleu_reference_count or convention.references:
            return convention
        return dataclasses.replace(
            convention,
            references=e.bleu_reference_count,
            subset=e.bleu_reference_subset,
            subset_seed=e.bleu_reference_seed,
        )

    def _bleu_references(self) -> torch.Tensor:
        return self.task.train if self.cfg.eval.bleu_references == "train" else self.task.test

    def _tables_for(self, convention: BleuConvention, references: torch.Tensor) -> ReferenceTables:
        pick = convention.pick_label(len(references), convention.references)
        if pick not in self._tables:
            self._tables[pick] = ReferenceTables(
                self.task.content(references), max(self.cfg.eval.bleu), convention
            )
        return self._tables[pick]

    def signatures(self, num_samples: int, sampling: Sampling | None = None) -> dict[str, str]:
        """How each metric of an evaluation on ``num_samples`` samples is computed:
        metric -> signature (``metrics.bleu.BleuConvention.signature``; NLL and music
        metrics in the same style).  Controls ``sampling`` other than the default are
        appended: all of them to the sample-based metrics, the temperature to NLL-test."""
        out = self._signatures(num_samples)
        if sampling is None or sampling.is_default:
            return out
        controls = sampling.signature()
        for name in out:
            if name != "nll_test":
                out[name] += f"|{controls}"
            elif sampling.temperature != 1.0:
                out[name] += f"|temperature={sampling.temperature!r}"
        return out

    def _signatures(self, num_samples: int) -> dict[str, str]:
        """Every metric's signature: each built-in family's, then each plug-in's
        (``<name>|hyps=<n>|tok=<token>``)."""
        out: dict[str, str] = {}
        for metric in self.metrics:
            if metric.signatures is not None:
                out.update(metric.signatures(self, num_samples))
            elif metric.compute is not None:
                tok = token_label(self.cfg, self.task)
                out[metric.name] = f"{metric.name}|hyps={num_samples}|tok={tok}"
        return out

    def nll_signatures(self, num_samples: int) -> dict[str, str]:
        cfg, task = self.cfg, self.task
        tok = token_label(cfg, task)
        out = {}
        if task.oracle is not None:
            source = cfg.oracle.source + (
                f"@{Path(cfg.oracle.path).name}"
                if cfg.oracle.source == "file"
                else f"@{cfg.oracle.seed}"
            )
            out["nll_oracle"] = f"nll_oracle|samples={num_samples}|oracle={source}"
        if len(task.test):
            out["nll_test"] = f"nll_test|refs=test:{len(task.test)}|tok={tok}"
        return out

    def bleu_signatures(self, num_samples: int) -> dict[str, str]:
        cfg = self.cfg
        tok = token_label(cfg, self.task)
        out = {}
        hyps = min(num_samples, cfg.eval.bleu_samples or num_samples)
        references = self._bleu_references()
        for name, convention in self._conventions():
            suffix = SUFFIXES[name]
            if len(references):
                for n in cfg.eval.bleu:
                    out[f"bleu{n}{suffix}"] = self._with_references(convention).signature(
                        "bleu", n, cfg.eval.bleu_references, len(references), hyps, tok
                    )
            if hyps > 1:
                for n in cfg.eval.self_bleu:
                    out[f"self_bleu{n}{suffix}"] = convention.self_signature(n, hyps, tok)
        return out

    def music_signatures(self, num_samples: int) -> dict[str, str]:
        cfg, task = self.cfg, self.task
        tok = token_label(cfg, task)
        out = {}
        if task.kind == "music":
            from seqgan.metrics.music import METRICS

            for name in METRICS.get(cfg.data.encoding, ()):
                out[name] = f"{name}|hyps={num_samples}|refs=test:{len(task.test)}|tok={tok}"
            if len(task.test):
                from seqgan.music.features import feature_names

                for f in feature_names(cfg.data.encoding):
                    for name in (f"feat_{f}", f"feat_oa_{f}", f"feat_ii_oa_{f}", f"feat_ii_kl_{f}"):
                        out[name] = (
                            f"{name}|hyps={num_samples}|refs=test:{len(task.test)}"
                            f"|kde=gauss-scott|tok={tok}"
                        )
        return out

    def diagnostics(self, generator: Generator, discriminator, samples: torch.Tensor) -> dict:
        """Entropy of the generator and, with a discriminator, the reward statistics and
        D's precision / recall (``metrics.gan_diagnostics``)."""
        out = {"entropy": policy_entropy(generator, samples)}
        if discriminator is not None:
            chunk = self.cfg.discriminator.score_chunk
            fake = discriminator.prob_real(samples, chunk)
            out["eval_reward_mean"], out["eval_reward_std"] = reward_stats(fake)
            if len(self.task.test):  # as many real as generated sequences
                m = min(len(self.task.test), len(samples))
                real = discriminator.prob_real(self.task.test[:m], chunk)
                out["d_precision"], out["d_recall"] = precision_recall(real, fake[:m])
        return out


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def token_label(cfg: Config, task: Task) -> str:
    """What a token is, for signatures: oracle ids, the text tokenizer, the music encoding."""
    if task.kind == "text":
        return cfg.data.tokenizer
    if task.kind == "music":
        return cfg.data.encoding
    return "ids"
