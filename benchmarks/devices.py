"""Seconds of the parts of one paper-config adversarial epoch and of one NLL-oracle
evaluation on the CPU and on every accelerator torch sees (cuda devices, mps), measured in
the same run, with each accelerator's speed ratio to the CPU.

Parts (paper config, models of the default config; a random oracle of the paper's sizes,
V = 5000, emb 32, hidden 32, T = 20):

* MC search of one batch: Q-values of 64 sequences with 16 roll-outs per prefix
  (``rl.rollout.mc_search_q``), the discriminator's score as reward
  (``rl.rewards.DiscriminatorReward``);
* sampling 10,000 sequences (``Generator.sample``, the negatives of one d-step);
* one discriminator epoch over 20,000 sequences (10,000 oracle samples + 10,000 negatives,
  batch 64; ``training.steps.discriminator_epochs``);
* one NLL-oracle evaluation: the oracle's NLL of 10,000 generator samples
  (``metrics.nll.sequence_nll``; the sampling is not counted).

The adversarial epoch of the paper is 1 g-step and 5 d-steps of 3 epochs each: its
estimate is MC search + 5 x sampling + 15 x discriminator epoch (the policy-gradient
update itself is small and not measured here).  Each part runs once on each device after
a small warm-up on that device; accelerators are synchronized before the clock stops.

Then rows per inference pass (``models.pass_rows``): sampling 10,000 sequences, the
oracle's NLL of them and the discriminator's scores of them, in passes of 1,024 rows, of
8,192 rows and of the rows the device's default chooses (``sample_batch`` /
``score_chunk`` = 0), each device's seconds side by side: whether the default is the
faster choice there.

With no accelerator the output says so and shows the CPU figures.  ``--quick`` uses small
sizes (a smoke test of a few seconds), ``--threads N`` sets torch's CPU threads.

Run: python benchmarks/devices.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass

import torch

from seqgan.config import Config
from seqgan.data.oracle import random_oracle
from seqgan.metrics.nll import sequence_nll
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.pass_rows import nll_rows, sample_rows, score_rows
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.rl.rollout import mc_search_q
from seqgan.training.steps import discriminator_epochs


@dataclass
class Sizes:
    name: str
    vocab: int = 5000
    seq_len: int = 20
    mc_batch: int = 64
    rollouts: int = 16
    samples: int = 10_000  # sampled negatives of one d-step
    positives: int = 10_000  # the discriminator epoch sees positives + negatives
    nll_samples: int = 10_000


FULL = Sizes("full (paper config)")
QUICK = Sizes(
    "quick (--quick: smoke-test sizes)",
    vocab=500,
    mc_batch=4,
    rollouts=2,
    samples=64,
    positives=64,
    nll_samples=128,
)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    """avx2 / avx512f / amx (amx_tile, amx_bf16, amx_int8) as listed in /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as handle:
            text = handle.read()
    except OSError:
        return "flags: unknown (no /proc/cpuinfo)"
    match = re.search(r"^flags\s*:(.*)$", text, re.M)
    flags = set(match.group(1).split()) if match else set()
    amx = sorted(f for f in flags if f.startswith("amx"))
    return (
        f"avx2 {'yes' if 'avx2' in flags else 'no'}, "
        f"avx512f {'yes' if 'avx512f' in flags else 'no'}, "
        f"amx {' '.join(amx) if amx else 'no'}"
    )


def cpu_capability() -> str:
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        return "unknown"


def accelerators() -> list[str]:
    found = []
    try:
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver  # noqa: BLE001
        pass
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(device: torch.device, fn) -> tuple[float, object]:
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def build_models(device: torch.device, sizes: Sizes):
    """Generator, discriminator and oracle of the default config at ``sizes``, built on the
    CPU from the same seed, then moved, so every device computes with the same weights."""
    cfg = Config()
    g, d = cfg.generator, cfg.discriminator
    torch.manual_seed(0)
    generator = Generator(
        sizes.vocab, g.emb_dim, g.hidden_dim, sizes.seq_len, init_std=g.init_std
    ).to(device)
    discriminator = Discriminator(
        sizes.vocab, sizes.seq_len, d.emb_dim, d.filter_sizes, d.num_filters, d.dropout
    ).to(device)
    oracle = random_oracle(
        1, sizes.vocab, cfg.oracle.emb_dim, cfg.oracle.hidden_dim, sizes.seq_len
    ).to(device)
    return generator, discriminator, oracle


def measure(name: str, sizes: Sizes) -> dict[str, float]:
    """Seconds of each part on device ``name`` (``build_models``)."""
    device = torch.device(name)
    d = Config().discriminator
    generator, discriminator, oracle = build_models(device, sizes)
    reward = DiscriminatorReward(discriminator, d.score_chunk)
    optimizer = torch.optim.Adam(discriminator.parameters(), d.lr)
    torch.manual_seed(1)
    # warm-up on this device (kernel selection, allocator, lazy initialization)
    warm = generator.sample(d.batch_size)
    mc_search_q(generator, warm[:2], reward, 1)
    discriminator_epochs(discriminator, optimizer, warm, warm, 1, d.batch_size, d.l2_reg)
    sequence_nll(oracle, warm)
    synchronize(device)

    out = {}
    batch = generator.sample(sizes.mc_batch)
    out["mc"], _ = timed(device, lambda: mc_search_q(generator, batch, reward, sizes.rollouts))
    out["sample"], negatives = timed(device, lambda: generator.sample(sizes.samples))
    positives = oracle.sample(sizes.positives)
    out["disc"], _ = timed(
        device,
        lambda: discriminator_epochs(
            discriminator, optimizer, positives, negatives, 1, d.batch_size, d.l2_reg
        ),
    )
    samples = generator.sample(sizes.nll_samples)
    out["nll"], _ = timed(device, lambda: sequence_nll(oracle, samples).mean().item())
    out["epoch"] = out["mc"] + 5 * out["sample"] + 15 * out["disc"]
    return out


PASS_ROWS = (1024, 8192, 0)  # 0: the device's default


def measure_pass_rows(name: str, sizes: Sizes) -> dict[tuple[str, int], float]:
    """Seconds of sampling ``sizes.samples`` sequences, their NLL under the oracle and
    their discriminator scores, per rows-per-pass setting in ``PASS_ROWS``."""
    device = torch.device(name)
    generator, discriminator, oracle = build_models(device, sizes)
    samples = generator.sample(sizes.samples)  # warm-up of each part on this device
    sequence_nll(oracle, samples[:64])
    discriminator.prob_real(samples[:64])
    out = {}
    for rows in PASS_ROWS:
        out["sample", rows], _ = timed(
            device, lambda rows=rows: generator.sample(sizes.samples, rows)
        )
        out["nll", rows], _ = timed(device, lambda rows=rows: sequence_nll(oracle, samples, rows))
        out["score", rows], _ = timed(
            device, lambda rows=rows: discriminator.prob_real(samples, rows)
        )
    out["chosen"] = (
        sample_rows(0, generator),
        nll_rows(oracle, sizes.seq_len),
        score_rows(0, discriminator, sizes.seq_len, device),
    )
    return out


def print_pass_rows(results: dict[str, dict], sizes: Sizes) -> None:
    for name, out in results.items():
        chosen = out["chosen"]
        print(
            f"rows per pass on {name} (default chooses: sampling {chosen[0]:,}, NLL "
            f"{chosen[1]:,}, scoring {chosen[2]:,}):"
        )
        print(
            f"{'part':<40}" + "".join(f"{f'{r:,} rows' if r else 'default':>14}" for r in PASS_ROWS)
        )
        for key, label in (
            ("sample", f"sampling {sizes.samples:,}"),
            ("nll", f"NLL-oracle of {sizes.samples:,}"),
            ("score", f"D scores of {sizes.samples:,}"),
        ):
            print(f"{label:<40}" + "".join(f"{out[key, r]:>12.3f} s" for r in PASS_ROWS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = QUICK if args.quick else FULL
    found = accelerators()
    print(
        f"CPU: {cpu_model()} ({platform.machine()}, {os.cpu_count()} logical CPUs); {cpu_flags()}"
    )
    print(
        f"torch {torch.__version__} (CPU capability {cpu_capability()}), "
        f"{torch.get_num_threads()} CPU thread(s)"
    )
    print(
        f"sizes: {sizes.name}: V={sizes.vocab}, T={sizes.seq_len}; MC search "
        f"{sizes.mc_batch} x {sizes.rollouts} roll-outs; sampling {sizes.samples:,}; "
        f"discriminator epoch over {sizes.samples + sizes.positives:,}; NLL-oracle of "
        f"{sizes.nll_samples:,}"
    )
    if found:
        print(f"accelerators: {', '.join(found)}")
    else:
        print("accelerators: none (no CUDA device, no MPS): CPU figures only")
    results: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for name in ["cpu", *found]:
        try:
            results[name] = measure(name, sizes)
        except Exception as exc:  # noqa: BLE001 - report the device, measure the others
            errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    rows = [
        ("mc", f"MC search, {sizes.mc_batch} x {sizes.rollouts} roll-outs"),
        ("sample", f"sampling {sizes.samples:,} sequences"),
        ("disc", f"discriminator epoch, {sizes.samples + sizes.positives:,} seqs"),
        ("nll", f"NLL-oracle of {sizes.nll_samples:,} samples"),
        ("epoch", "adversarial epoch (MC + 5 x sampling + 15 x D epoch)"),
    ]
    names = list(results)
    header = (
        f"{'part':<55}"
        + "".join(f"{n:>12}" for n in names)
        + "".join(f"{'cpu/' + n:>14}" for n in names if n != "cpu")
    )
    print(header)
    for key, label in rows:
        line = f"{label:<55}" + "".join(f"{results[n][key]:>10.3f} s" for n in names)
        if "cpu" in results:
            line += "".join(
                f"{results['cpu'][key] / results[n][key]:>13.1f}x" for n in names if n != "cpu"
            )
        print(line)
    for name, message in errors.items():
        print(f"{name}: failed: {message}")
    print_pass_rows({name: measure_pass_rows(name, sizes) for name in results}, sizes)
    if "cpu" in results:
        cpu = results["cpu"]
        print(
            f"CPU: MC search {cpu['mc']:.3f} s, sampling {cpu['sample']:.3f} s, "
            f"discriminator epoch {cpu['disc']:.3f} s, NLL-oracle {cpu['nll']:.3f} s, "
            f"adversarial epoch estimate {cpu['epoch']:.1f} s"
        )


if __name__ == "__main__":
    main()
