"""Seconds per part of one paper-config SeqGAN adversarial epoch, and the discriminator's
achieved GFLOP/s, with reference paths measured in the same run.

Paper config (reference code): 1 g-step = sample 64 sequences, MC search with 16
roll-outs, one policy-gradient update; then 5 d-steps = sample 10,000 negatives and
train the discriminator 3 epochs over 20,000 sequences (batch 64).

By default one d-step is measured and the epoch total counts it 5 times (stated in the
output); --full runs all five.  Reference paths (same run): sampling with
torch.multinomial; a discriminator with one Conv2d per width and bias + ReLU applied
before max-over-time (the TF reference formulation), one epoch.

Also in the same run: the machine's fp32 (and, where native, bf16) GEMM ceiling, each
discriminator formulation's training step (``benchmarks/discriminator_profile.py``) and
its fraction of the fp32 ceiling, and the kernels ``discriminator.kernel = "auto"``
chooses here.  The epoch is measured with the chosen kernels in fp32, and in bf16 where
the CPU has it natively.  The last line is the fp32 epoch's speedup over the reference.

FLOP convention: a multiply-add is 2 FLOPs; training = 3 x forward FLOPs (forward, and
backward to inputs and to weights); embedding look-ups, softmax and the optimizer are
not counted.

Run: python benchmarks/adversarial_epoch.py [--full]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.nn import functional as F

from _common import BATCH, ROLLOUTS, T, V, cpu_flags, gemm_ceiling, machine, paper_models, timed
from discriminator_profile import flops_per_step, step_fn
from seqgan.config import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, build_config
from seqgan.models.discriminator import Highway
from seqgan.models.discriminator_kernels import KERNELS
from seqgan.models.kernel_choice import choose_kernels
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.runtime.device import native_bf16
from seqgan.training.steps import discriminator_epochs, policy_gradient_step

NUM_POSITIVES = 10_000


def discriminator_forward_flops(emb: int = 64) -> float:
    conv = sum(2 * emb * w * f * (T - w + 1) for w, f in zip(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS))
    size = sum(PAPER_NUM_FILTERS)
    return conv + 2 * 2 * size * size + 2 * size * 2


class Conv2dReferenceDiscriminator(nn.Module):
    """TF-reference formulation: Conv2d per width over [T, k], ReLU(conv + b), max-pool."""

    def __init__(self, emb: int = 64):
        super().__init__()
        self.embedding = nn.Embedding(V, emb)
        self.convs = nn.ModuleList(
            nn.Conv2d(1, f, (w, emb)) for w, f in zip(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS)
        )
        size = sum(PAPER_NUM_FILTERS)
        self.highway = Highway(size)
        self.dropout = nn.Dropout(0.25)
        self.output = nn.Linear(size, 2)

    def forward(self, tokens):
        x = self.embedding(tokens).unsqueeze(1)
        pooled = [F.relu(conv(x)).squeeze(3).amax(2) for conv in self.convs]
        return self.output(self.dropout(self.highway(torch.cat(pooled, 1))))

    def output_l2(self):
        return 0.5 * (self.output.weight.square().sum() + self.output.bias.square().sum())


def multinomial_sample(generator, n: int, batch: int = 1024) -> torch.Tensor:
    def sampler(logits, uniforms=None, gen=None):
        return torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)

    out = []
    for start in range(0, n, batch):
        rows = min(batch, n - start)
        empty = torch.empty(rows, 0, dtype=torch.long)
        out.append(generator.continue_from(empty, generator.initial_state(rows), sampler=sampler))
    return torch.cat(out)


def formulation_table(discriminator, fp32_peak: float, precisions: list[str]) -> None:
    """Each kernel's training step (forward, backward, norm check, fused Adam) at each
    precision: milliseconds, GFLOP/s and the fraction of the fp32 GEMM ceiling."""
    flops = flops_per_step(discriminator)
    optimizer = torch.optim.Adam(discriminator.parameters(), 1e-4, fused=True)
    tokens, labels = torch.randint(V, (BATCH, T)), torch.arange(BATCH) % 2
    print(f"D training step, batch {BATCH} ({flops / 1e9:.2f} GFLOP):")
    fp32_ms = {}
    for precision in precisions:
        for kernel in KERNELS:
            discriminator.precision, discriminator.kernel = precision, kernel
            step = step_fn(discriminator, optimizer, tokens, labels)
            for _ in range(3):
                step()
            seconds, _ = timed(step, repeats=15)
            if precision == "fp32":
                fp32_ms[kernel] = seconds
            extra = (
                "" if precision == "fp32" else f", {fp32_ms[kernel] / seconds:.2f}x its fp32 step"
            )
            print(
                f"  {precision} {kernel:7s} {seconds * 1e3:6.1f} ms  "
                f"{flops / seconds / 1e9:5.0f} GFLOP/s  "
                f"{flops / seconds / 1e9 / fp32_peak:4.0%} of the fp32 ceiling{extra}"
            )
    discriminator.precision = "fp32"


def adversarial_epoch(generator, discriminator, oracle, positives, d_steps: int) -> dict:
    """Seconds of the parts of one paper-config epoch (d-steps scaled to 5)."""
    rollout = generator.__class__(V, 32, 32, T)
    rollout.load_state_dict(generator.state_dict())
    reward = DiscriminatorReward(discriminator)
    g_opt = torch.optim.Adam(generator.parameters(), 0.01, fused=True)
    d_opt = torch.optim.Adam(discriminator.parameters(), 1e-4, fused=True)
    g_cfg = build_config(
        {
            "generator": {"batch_size": BATCH, "grad_clip": 5.0},
            "adversarial": {"num_rollouts": ROLLOUTS, "rollout_update_rate": 0.8},
        }
    )
    t_g, _ = timed(lambda: policy_gradient_step(generator, rollout, reward, g_opt, g_cfg))
    t_gen = t_d = 0.0
    for _ in range(d_steps):
        dt, negatives = timed(lambda: generator.sample(NUM_POSITIVES))
        t_gen += dt
        dt, _ = timed(
            lambda negatives=negatives: discriminator_epochs(
                discriminator, d_opt, positives, negatives, 3, BATCH, 0.2
            )
        )
        t_d += dt
    scale = 5 / d_steps
    return {
        "g": t_g,
        "gen": t_gen * scale,
        "d": t_d * scale,
        "d_epoch": t_d / (3 * d_steps),
        "total": t_g + (t_gen + t_d) * scale,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="run all 5 d-steps")
    args = parser.parse_args()
    cpu = torch.device("cpu")
    precisions = ["fp32"] + (["bf16"] if native_bf16(cpu) else [])
    print(f"machine: {machine()}\ncpu flags: {cpu_flags()}")
    fp32_peak = gemm_ceiling(torch.float32)
    print(f"fp32 GEMM ceiling (2048^2): {fp32_peak:.0f} GFLOP/s")
    if "bf16" in precisions:
        print(
            f"bf16 GEMM ceiling (2048^2, native here): {gemm_ceiling(torch.bfloat16):.0f} GFLOP/s"
        )
    else:
        print("bf16: not native on this CPU (no AVX512-BF16 / AMX): fp32 only")
    generator, discriminator, oracle = paper_models()
    formulation_table(discriminator, fp32_peak, precisions)
    positives = oracle.sample(NUM_POSITIVES)
    d_steps = 5 if args.full else 1
    print(
        f"measured d-steps: {d_steps} of 5" + ("" if args.full else " (epoch totals count it 5x)")
    )
    epochs = {}
    for precision in precisions:
        d_cfg = build_config({"discriminator": {"precision": precision}}).discriminator
        discriminator.kernel, discriminator.score_kernel = choose_kernels(d_cfg, V, T, cpu)
        discriminator.precision = precision
        print(
            f"{precision}: kernels chosen by auto: training {discriminator.kernel}, "
            f"scoring {discriminator.score_kernel}"
        )
        g, d, _ = paper_models()  # the same starting weights for each precision
        d.kernel, d.score_kernel, d.precision = (
            discriminator.kernel,
            discriminator.score_kernel,
            precision,
        )
        epochs[precision] = adversarial_epoch(g, d, oracle, positives, d_steps)
    fp32 = epochs["fp32"]
    sequences = 2 * NUM_POSITIVES // BATCH * BATCH
    gflops = 3 * discriminator_forward_flops() * sequences / fp32["d_epoch"] / 1e9

    # reference paths, same run
    t_gen_ref, _ = timed(lambda: multinomial_sample(generator, NUM_POSITIVES))
    ref = Conv2dReferenceDiscriminator()
    ref_opt = torch.optim.Adam(ref.parameters(), 1e-4)
    negatives = generator.sample(NUM_POSITIVES)
    t_d_ref, _ = timed(
        lambda: discriminator_epochs(ref, ref_opt, positives, negatives, 1, BATCH, 0.2)
    )
    total_ref = fp32["g"] + 5 * t_gen_ref + 15 * t_d_ref
    for precision, t in epochs.items():
        print(f"[{precision}] g-step (sample 64 + MC search 64x16x19 + update)  {t['g']:8.2f} s")
        print(
            f"[{precision}] generation, 5 x 10,000 negatives                  {t['gen']:8.2f} s"
            f"   (torch.multinomial: {5 * t_gen_ref:.2f} s)"
        )
        print(
            f"[{precision}] discriminator, 15 epochs over {sequences:,} sequences  "
            f"{t['d']:8.2f} s   ({t['d_epoch']:.2f} s/epoch; Conv2d reference "
            f"{t_d_ref:.2f} s/epoch, {t_d_ref / t['d_epoch']:.2f}x)"
        )
        print(
            f"[{precision}] adversarial epoch total                           "
            f"{t['total']:8.2f} s   (reference sampling and discriminator: {total_ref:.2f} s)"
        )
    print(
        f"fp32 discriminator training throughput: {gflops:.1f} GFLOP/s "
        f"({discriminator_forward_flops() / 1e6:.1f} MFLOP forward per sequence)"
    )
    if "bf16" in epochs:
        print(f"speedup bf16: {total_ref / epochs['bf16']['total']:.2f}")
    print(f"speedup: {total_ref / fp32['total']:.2f}")


if __name__ == "__main__":
    main()
