"""The synthetic-oracle task: the oracle, its training set and a held-out test set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data import paths
from seqgan.data.oracle import load_oracle, random_oracle
from seqgan.data.tokens import read_token_file
from seqgan.models.generator import Generator


@dataclass
class SyntheticTask:
    oracle: Generator  # G_oracle, frozen
    train: torch.Tensor  # [num_train, T] training set S
    test: torch.Tensor  # [num_test, T] held-out oracle samples (NLL-test)


def build_oracle(cfg: Config, root: Path) -> Generator:
    o = cfg.oracle
    if o.source == "file":
        return load_oracle(paths.resolve(o.path, root), o.seq_len, o.start_token)
    return random_oracle(o.seed, o.vocab_size, o.emb_dim, o.hidden_dim, o.seq_len, o.start_token)


def build_synthetic_task(cfg: Config, root: Path) -> SyntheticTask:
    """Oracle, then S and the test set sampled from it with a generator seeded by ``cfg.seed``
    (so the data do not depend on the training RNG), or S read from ``data.train_file``."""
    oracle = build_oracle(cfg, root)
    rng = torch.Generator().manual_seed(cfg.seed)
    if cfg.data.train_file:
        train = read_token_file(paths.resolve(cfg.data.train_file, root),
                                oracle.max_len, oracle.vocab_size)
    else:
        train = oracle.sample(cfg.data.num_train, cfg.generator.sample_batch, rng)
    test = oracle.sample(cfg.data.num_test, cfg.generator.sample_batch, rng)
    return SyntheticTask(oracle, train, test)
