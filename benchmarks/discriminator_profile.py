"""Where the time of one paper-config discriminator training step goes.

One step = forward of a batch of 64 sequences (T = 20, V = 5000, paper filters, emb 64),
cross-entropy + output L2, backward, the gradient-norm check and fused Adam — exactly
``training.steps.update``.  For each kernel and precision: the step's median time, its
fraction of the fp32 GEMM ceiling measured here, and (torch.profiler, ``--ops``) the
self time of the ATen operators grouped by what they do, and the ATen calls per step.

Run: python benchmarks/discriminator_profile.py [--kernels unfold,conv1d] [--ops]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile

from _common import BATCH, T, V, cpu_flags, gemm_ceiling, machine, paper_models, timed
from seqgan.models.discriminator_kernels import KERNELS
from seqgan.runtime.device import native_bf16
from seqgan.training.steps import update

# ATen operators by the part of the step they belong to (self time, not nested)
GROUPS = {
    "GEMM (conv / highway / output, fwd + bwd)": (
        "aten::mm",
        "aten::addmm",
        "aten::addmm_",
        "aten::bmm",
        "aten::mkldnn_convolution",
        "aten::convolution_backward",
        "aten::_convolution",
        "aten::linear",
    ),
    "Adam (fused)": ("aten::_fused_adam_",),
    "gradient-norm check": ("aten::linalg_vector_norm", "aten::stack"),
    "im2col / col2im copies, casts": (
        "aten::copy_",
        "aten::unfold_backward",
        "aten::_to_copy",
        "aten::clone",
    ),
    "max over time (fwd + bwd)": (
        "aten::amax",
        "aten::max",
        "aten::eq",
        "aten::scatter_",
        "aten::sum",
        "aten::div",
    ),
    "dropout": ("aten::bernoulli_",),
    "highway elementwise, ReLU, sigmoid": (
        "aten::mul",
        "aten::mul_",
        "aten::add",
        "aten::add_",
        "aten::sigmoid",
        "aten::relu",
        "aten::rsub",
        "aten::threshold_backward",
        "aten::sigmoid_backward",
        "aten::sub",
    ),
}


def step_fn(discriminator, optimizer, tokens, labels):
    def step():
        logits = discriminator(tokens)
        loss = F.cross_entropy(logits, labels) + 0.2 * discriminator.output_l2()
        update(discriminator.parameters(), optimizer, loss, 0.0, "the discriminator")

    return step


def flops_per_step(discriminator) -> float:
    """Training FLOPs of one batch: 3 x forward (2 per multiply-add; convolutions at every
    valid position, the two highway matrices, the output layer)."""
    k = discriminator.embedding.embedding_dim
    conv = sum(
        2 * k * w * f * (T - w + 1)
        for w, f in zip(discriminator.filter_sizes, discriminator.num_filters)
    )
    size = sum(discriminator.num_filters)
    return 3 * BATCH * (conv + 2 * 2 * size * size + 2 * size * 2)


def breakdown(step, steps: int = 10) -> tuple[dict[str, float], int, list[tuple[str, float, int]]]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    groups: dict[str, float] = defaultdict(float)
    calls, rows = 0, []
    for event in prof.key_averages():
        if not event.key.startswith("aten::"):
            continue
        ms = event.self_cpu_time_total / 1e3 / steps
        calls += event.count
        rows.append((event.key, ms, event.count // steps))
        group = next((g for g, names in GROUPS.items() if event.key in names), "other")
        groups[group] += ms
    return dict(groups), calls // steps, sorted(rows, key=lambda r: -r[1])[:12]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kernels", default=",".join(KERNELS))
    parser.add_argument("--ops", action="store_true", help="profile each step's operators")
    args = parser.parse_args()
    precisions = ["fp32"] + (["bf16"] if native_bf16(torch.device("cpu")) else [])
    fp32_peak = gemm_ceiling(torch.float32)
    print(f"machine: {machine()}\ncpu flags: {cpu_flags()}")
    print(f"fp32 GEMM ceiling (2048^2): {fp32_peak:.0f} GFLOP/s")
    if "bf16" in precisions:
        print(f"bf16 GEMM ceiling (2048^2): {gemm_ceiling(torch.bfloat16):.0f} GFLOP/s")
    _, discriminator, _ = paper_models()
    flops = flops_per_step(discriminator)
    floor = flops / fp32_peak / 1e9 * 1e3
    print(f"step: {flops / 1e9:.2f} GFLOP, fp32 floor {floor:.1f} ms")
    optimizer = torch.optim.Adam(discriminator.parameters(), 1e-4, fused=True)
    tokens = torch.randint(V, (BATCH, T))
    labels = torch.arange(BATCH) % 2
    for precision in precisions:
        for kernel in args.kernels.split(","):
            discriminator.precision, discriminator.kernel = precision, kernel
            step = step_fn(discriminator, optimizer, tokens, labels)
            for _ in range(3):
                step()
            seconds, _ = timed(step, repeats=20)
            print(
                f"\n{precision} {kernel:7s} step {seconds * 1e3:6.1f} ms = "
                f"{flops / seconds / 1e9:5.0f} GFLOP/s, {floor / (seconds * 1e3):.0%} of the "
                f"fp32 ceiling"
            )
            if args.ops:
                groups, calls, top = breakdown(step)
                total = sum(groups.values())
                print(f"  ATen calls per step: {calls}; profiled self time {total:.1f} ms")
                for group, ms in sorted(groups.items(), key=lambda kv: -kv[1]):
                    print(f"  {ms:6.2f} ms {ms / total:5.1%}  {group}")
                print("  top operators (ms per step, calls per step):")
                for name, ms, count in top:
                    print(f"    {ms:6.2f} ms {count:4d}x  {name}")


if __name__ == "__main__":
    main()
