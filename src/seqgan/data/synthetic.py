"""The synthetic-oracle task: the oracle, its training set S and a held-out test set."""

from __future__ import annotations

from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data import paths
from seqgan.data.oracle import load_oracle, random_oracle
from seqgan.data.task import Task
from seqgan.data.tokens import read_token_file
from seqgan.models.generator import Generator
from seqgan.models.pass_rows import CPU_ROWS


def build_oracle(cfg: Config, root: Path) -> Generator:
    o = cfg.oracle
    if o.source == "file":
        path = paths.resolve(o.path, root)
        o.path = paths.recorded(o.path, path)
        return load_oracle(path, o.seq_len, o.start_token)
    return random_oracle(o.seed, o.vocab_size, o.emb_dim, o.hidden_dim, o.seq_len, o.start_token)


def build_synthetic_task(cfg: Config, root: Path) -> Task:
    """Oracle, then S and the test set sampled from it with a generator seeded by ``cfg.seed``
    (so the data do not depend on the training RNG), or S read from ``data.train_file``."""
    oracle = build_oracle(cfg, root)
    files = [paths.resolve(cfg.oracle.path, root)] if cfg.oracle.source == "file" else []
    rng = torch.Generator().manual_seed(cfg.seed)
    rows = cfg.generator.sample_batch or CPU_ROWS  # on the CPU whatever run.device is
    if cfg.data.train_file:
        files.append(paths.resolve(cfg.data.train_file, root))
        cfg.data.train_file = paths.recorded(cfg.data.train_file, files[-1])
        train = read_token_file(files[-1], oracle.max_len, oracle.vocab_size)
    else:
        train = oracle.sample(cfg.data.num_train, rows, rng)
    test = oracle.sample(cfg.data.num_test, rows, rng)
    o = cfg.oracle  # a parameter file fixes the oracle's sizes: record them in the config
    o.vocab_size, o.emb_dim, o.hidden_dim = oracle.vocab_size, oracle.emb_dim, oracle.hidden_dim
    return Task(
        train,
        test,
        oracle.vocab_size,
        oracle.max_len,
        oracle.start_token,
        oracle=oracle,
        files=files,
    )
