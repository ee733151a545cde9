"""Helpers shared by the benchmark scripts: timing and the paper-sized models."""

from __future__ import annotations

import os
import platform
import statistics
import time

import torch

from seqgan.config import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS
from seqgan.data.oracle import random_oracle
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator

V, T, BATCH, ROLLOUTS = 5000, 20, 64, 16


def paper_models(seed: int = 0) -> tuple[Generator, Discriminator, Generator]:
    """Generator (emb 32, hidden 32), discriminator (paper filters, emb 64), and an oracle."""
    torch.manual_seed(seed)
    generator = Generator(V, 32, 32, T)
    discriminator = Discriminator(V, T, 64, PAPER_FILTER_SIZES, PAPER_NUM_FILTERS)
    return generator, discriminator, random_oracle(seed + 1)


def timed(fn, repeats: int = 1) -> tuple[float, object]:
    """Median wall-clock seconds of ``repeats`` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def machine() -> str:
    return (f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")
