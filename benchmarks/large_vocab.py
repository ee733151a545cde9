"""Large vocabularies: the output layer + loss, MLE epochs and adversarial epochs at
V = 5,000, 14,000 and 30,000 (T = 30, the paper-size generator: emb 32, hidden 32,
batch 64), with ``generator.output_kernel = "plain"`` (before) and ``"chunked"`` (after,
``models/output_loss.py``), in one run.

Printed, with the CPU model and flags:

* the fp32 GEMM ceiling of this machine (a 2048^2 ``torch.mm``, same run; again
  interleaved with each V's output layer steps, the reference of their shares);
* per V, the output layer + loss of one MLE batch (``64 x T`` rows: forward, loss and
  backward to the hidden states, weight and bias) in GFLOP/s and as a share of that
  ceiling, with its user and system CPU time and minor page faults
  (``resource.getrusage``: the faults are the churn of large buffers the C library maps
  and unmaps on every step, most of the system time on an idle machine; on a loaded
  one, OpenMP threads yielding their core add system time too);
* per V, one MLE epoch over ``--sequences`` sequences and one adversarial epoch (a g-step:
  64 samples, MC search with ``--rollouts`` roll-outs, the policy-gradient update; a
  d-step: ``--sequences`` negatives sampled, one discriminator epoch over them and as many
  real sequences), seconds, user and system time, plain against chunked;
* where the time goes: a ``torch.profiler`` table (operators by self CPU time) of one MLE
  epoch and one adversarial epoch with the chunked kernel at the largest V (``--profile``
  per V instead of the largest only).

FLOP convention: a multiply-add is 2 FLOPs; the output layer + loss of ``N`` rows costs
``3 x 2 N H V`` (the forward product, and the backward products to the hidden states and to
the weight); softmax, bias, the optimizer are not counted.  The data are uniform random
tokens (the time does not depend on them); the discriminator is the paper's (emb 64,
widths 1..20), whose cost does not depend on V beyond its embedding.

``--chunk-mib 0.5,8`` adds rows to the output layer table: the chunked kernel with chunks
of that many MiB of logits instead of the library's ``CHUNK_MIB`` (a scan of
``generator.output_chunk_mib``).

Run: python benchmarks/large_vocab.py [--quick] [--layer-only] [--vocab 5000,14000,30000]
[--sequences 512] [--rollouts 4] [--profile] [--chunk-mib 0.5,8]
(the default schedule is meant to take 2-3 minutes on an idle 2-core machine; --quick is a
smoke test; --layer-only prints the ceiling and the output layer + loss table only)
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch.nn import functional as F

from _common import cpu_flags, gemm_ceiling, machine
from seqgan.config import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, build_config
from seqgan.models import output_loss
from seqgan.models.discriminator import Discriminator, fit_widths
from seqgan.models.generator import Generator
from seqgan.models.output_loss import weighted_nll
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.training.parts import rollout_copy
from seqgan.training.steps import discriminator_epochs, mle_epoch, policy_gradient_step

EMB = HIDDEN = 32
BATCH = 64
KERNELS = ("plain", "chunked")


class Usage:
    """Wall, user and system seconds and minor page faults of a block (``with Usage() as
    u: ...``)."""

    def __enter__(self):
        self._start = (time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF))
        return self

    def __exit__(self, *exc):
        wall, start = self._start
        end = resource.getrusage(resource.RUSAGE_SELF)
        self.wall = time.perf_counter() - wall
        self.user, self.system = end.ru_utime - start.ru_utime, end.ru_stime - start.ru_stime
        self.faults = end.ru_minflt - start.ru_minflt


def output_layer_step(kernel: str, hidden, weight, bias, targets) -> None:
    """Forward, mean cross-entropy and backward of the output layer on ``hidden [N, H]``;
    ``kernel`` "plain", "chunked", or "chunked@M" (chunks of M MiB of logits)."""
    if kernel == "plain":
        loss = F.cross_entropy(F.linear(hidden, weight, bias), targets)
    else:
        mib = float(kernel.split("@")[1]) if "@" in kernel else output_loss.CHUNK_MIB
        weights = torch.full(targets.shape, 1.0 / len(targets))
        loss, _ = weighted_nll(hidden, weight, bias, targets, weights, mib)
    loss.backward()


def output_layer(vocab: int, seq_len: int, repeats: int, kernels=KERNELS) -> dict:
    """Median seconds, GFLOP/s, share of the fp32 GEMM ceiling and CPU times per kernel,
    the two kernels and the ceiling's product (2048^2) interleaved so that load from other
    processes hits all three alike; ``"ceiling"``: that product's median GFLOP/s."""
    torch.manual_seed(0)
    rows = BATCH * seq_len
    hidden = torch.randn(rows, HIDDEN, requires_grad=True)
    weight = (torch.randn(vocab, HIDDEN) * 0.1).requires_grad_()
    bias = torch.zeros(vocab, requires_grad=True)
    targets = torch.randint(vocab, (rows,))
    flops = 3 * 2 * rows * HIDDEN * vocab
    times = {k: [] for k in kernels}
    cpu = {k: [0.0, 0.0, 0.0] for k in kernels}
    for kernel in kernels:  # warm-up
        output_layer_step(kernel, hidden, weight, bias, targets)
    square = torch.randn(2048, 2048)
    ceiling_times = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(square, square)
        ceiling_times.append(time.perf_counter() - started)
        for kernel in kernels:
            with Usage() as u:
                output_layer_step(kernel, hidden, weight, bias, targets)
            times[kernel].append(u.wall)
            cpu[kernel][0] += u.user / repeats
            cpu[kernel][1] += u.system / repeats
            cpu[kernel][2] += u.faults / repeats
    ceiling = 2 * 2048**3 / statistics.median(ceiling_times) / 1e9
    out: dict = {"ceiling": ceiling}
    for kernel in kernels:
        seconds = statistics.median(times[kernel])
        out[kernel] = {
            "seconds": seconds,
            "gflops": flops / seconds / 1e9,
            "share": flops / seconds / 1e9 / ceiling,
            "user": cpu[kernel][0],
            "system": cpu[kernel][1],
            "faults": cpu[kernel][2],
        }
    return out


def models(vocab: int, seq_len: int, kernel: str) -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    generator = Generator(vocab, EMB, HIDDEN, seq_len)
    generator.output_kernel = kernel
    widths, filters = fit_widths(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, seq_len)
    discriminator = Discriminator(
        vocab, seq_len, 64, widths, filters, kernel="unfold", score_kernel="unfold"
    )
    return generator, discriminator


def mle(generator: Generator, data: torch.Tensor) -> Usage:
    optimizer = torch.optim.Adam(generator.parameters(), 0.01, fused=True)
    with Usage() as usage:
        mle_epoch(generator, optimizer, data, BATCH, 5.0)
    return usage


def adversarial(
    generator: Generator, discriminator: Discriminator, data: torch.Tensor, rollouts: int
) -> Usage:
    """One g-step (sample 64, MC search, update; roll-out blend) and one d-step (negatives
    sampled, one discriminator epoch), the parts of an adversarial epoch."""
    cfg = build_config(
        {
            "generator": {"batch_size": BATCH, "grad_clip": 5.0},
            "adversarial": {"num_rollouts": rollouts},
        }
    )
    rollout = rollout_copy(generator)
    g_opt = torch.optim.Adam(generator.parameters(), 0.01, fused=True)
    d_opt = torch.optim.Adam(discriminator.parameters(), 1e-4, fused=True)
    reward = DiscriminatorReward(discriminator)
    with Usage() as usage:
        policy_gradient_step(generator, rollout, reward, g_opt, cfg)
        negatives = generator.sample(len(data))
        discriminator_epochs(discriminator, d_opt, data, negatives, 1, BATCH, 0.2)
    return usage


def profile_table(label: str, fn, rows: int) -> None:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    print(f"\nprofile: {label} (operators by self CPU time)")
    print(
        prof.key_averages().table(
            sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke test: small V, few sequences, 2 roll-outs"
    )
    parser.add_argument("--vocab", default="5000,14000,30000", help="comma-separated V")
    parser.add_argument("--seq-len", type=int, default=30, help="T (default 30)")
    parser.add_argument(
        "--sequences",
        type=int,
        default=512,
        help="sequences of an MLE epoch and negatives of a d-step",
    )
    parser.add_argument(
        "--rollouts",
        type=int,
        default=4,
        help="MC search roll-outs (default 4 to keep the run short; the paper: 16)",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed output layer + loss steps per kernel"
    )
    parser.add_argument(
        "--layer-only",
        action="store_true",
        help="only the ceiling and the output layer + loss table",
    )
    parser.add_argument(
        "--chunk-mib",
        default="",
        help="comma-separated chunk sizes (MiB of logits) to time the chunked kernel at too",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="a profile table at every V (default: the largest only)",
    )
    args = parser.parse_args()
    if args.quick:
        args.vocab, args.sequences, args.rollouts, args.repeats = "500,2000", 128, 2, 2
        args.seq_len = min(args.seq_len, 12)
    vocabs = [int(v) for v in args.vocab.split(",")]
    seq_len = args.seq_len

    print(f"machine: {machine()}\ncpu flags: {cpu_flags()}")
    ceiling = gemm_ceiling(torch.float32)
    print(
        f"fp32 GEMM ceiling (2048^2 torch.mm, this run): {ceiling:.0f} GFLOP/s (the "
        f"shares below are of the ceiling measured interleaved with each V's steps)"
    )
    print(
        f"generator emb {EMB}, hidden {HIDDEN}, T = {seq_len}, batch {BATCH}; MLE epoch "
        f"over {args.sequences} sequences; adversarial epoch: g-step with "
        f"{args.rollouts} roll-outs + d-step over {args.sequences} + {args.sequences}"
    )

    print(
        f"\noutput layer + loss of one batch ({BATCH} x {seq_len} rows, forward + "
        f"backward), median of {args.repeats}:"
    )
    print(
        f"{'V':>7} {'kernel':>12} {'ms':>9} {'GFLOP/s':>8} {'ceiling':>8} {'user s':>7} "
        f"{'sys s':>7} {'faults':>8}"
    )
    layer = {}
    scan = [f"chunked@{m}" for m in args.chunk_mib.split(",") if m]
    print(
        f"(chunked: chunks of {output_loss.CHUNK_MIB:g} MiB of logits, at least "
        f"{output_loss.MIN_ROWS} rows; chunked@M: M MiB)"
    )
    for vocab in vocabs:
        layer[vocab] = output_layer(vocab, seq_len, args.repeats, (*KERNELS, *scan))
        print(f"{vocab:7d} fp32 GEMM ceiling, interleaved: {layer[vocab]['ceiling']:.0f} GFLOP/s")
        for kernel in (*KERNELS, *scan):
            r = layer[vocab][kernel]
            print(
                f"{vocab:7d} {kernel:>12} {r['seconds'] * 1e3:9.1f} {r['gflops']:8.1f} "
                f"{r['share']:8.0%} {r['user']:7.3f} {r['system']:7.3f} "
                f"{r['faults']:8.0f}"
            )
        plain, chunked = layer[vocab]["plain"], layer[vocab]["chunked"]
        print(f"{vocab:7d} speedup {plain['seconds'] / chunked['seconds']:.2f}x")

    if not args.layer_only:
        print(
            "\nepochs (seconds; user and system CPU seconds; minor page faults). In the "
            "adversarial epoch the kernels differ only in the policy-gradient loss (64 x T "
            "rows);\nsampling, MC search and the discriminator are the same work in both."
        )
        print(
            f"{'V':>7} {'phase':>12} {'kernel':>8} {'wall s':>8} {'user s':>8} "
            f"{'sys s':>8} {'faults':>9}"
        )
    for vocab in [] if args.layer_only else vocabs:
        torch.manual_seed(1)
        data = torch.randint(vocab, (args.sequences, seq_len))
        results = {}
        for kernel in KERNELS:
            generator, discriminator = models(vocab, seq_len, kernel)
            mle(generator, data[:BATCH])  # warm-up (allocator, thread pool)
            results[("MLE", kernel)] = mle(generator, data)
            results[("adversarial", kernel)] = adversarial(
                generator, discriminator, data, args.rollouts
            )
        for phase in ("MLE", "adversarial"):
            for kernel in KERNELS:
                u = results[(phase, kernel)]
                print(
                    f"{vocab:7d} {phase:>12} {kernel:>8} {u.wall:8.2f} {u.user:8.2f} "
                    f"{u.system:8.2f} {u.faults:9d}"
                )
            before, after = results[(phase, "plain")], results[(phase, "chunked")]
            print(f"{vocab:7d} {phase:>12} speedup {before.wall / after.wall:.2f}x")
        if args.profile or vocab == vocabs[-1]:
            generator, discriminator = models(vocab, seq_len, "chunked")
            rows = 8 if args.quick else 15
            profile_table(
                f"MLE epoch, V = {vocab}, chunked", lambda g=generator, x=data: mle(g, x), rows
            )
            profile_table(
                f"adversarial epoch, V = {vocab}, chunked",
                lambda g=generator, d=discriminator, x=data: adversarial(g, d, x, args.rollouts),
                rows,
            )

    print("\nsummary: output layer + loss, share of the fp32 GEMM ceiling (plain -> chunked)")
    for vocab in vocabs:
        plain, chunked = layer[vocab]["plain"], layer[vocab]["chunked"]
        print(
            f"  V = {vocab:6d}: {plain['share']:.0%} -> {chunked['share']:.0%} "
            f"({plain['gflops']:.0f} -> {chunked['gflops']:.0f} GFLOP/s; per step: system "
            f"time {plain['system'] * 1e3:.0f} -> {chunked['system'] * 1e3:.0f} ms, minor "
            f"page faults {plain['faults']:.0f} -> {chunked['faults']:.0f})"
        )


if __name__ == "__main__":
    main()
