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
from seqgan.runtime.device import device_name

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
    """CPU model, cores, torch version and threads, for every printed figure."""
    return (
        f"{device_name(torch.device('cpu'))}, {platform.machine()} {os.cpu_count()} "
        f"cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )


def cpu_flags() -> str:
    """The SIMD / matrix flags of /proc/cpuinfo that decide kernel speed."""
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next(
                (line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), []
            )
    except OSError:
        return "unknown"
    return " ".join(f for f in wanted if f in flags) or "none of " + " ".join(wanted)


def gemm_ceiling(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a square ``size`` matrix product in ``dtype`` (the machine's ceiling)."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    seconds, _ = timed(lambda: a @ b, repeats=repeats)
    return 2 * size**3 / seconds / 1e9
