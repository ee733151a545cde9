"""torch.compile of the discriminator's training loss against eager, in the same run.

The paper discriminator at batch 64: one training step (forward, cross-entropy + 0.2 L2
of the output layer, backward, the gradient-norm check and fused Adam, as
``training.steps.update``) eager, then with the loss ``torch.compile``-d (inductor,
default mode), then eager again; median of 15 steps each after two warm-up steps. Prints
the fp32 GEMM ceiling measured here, each step's fraction of it, the compile time and the
ratio eager / compiled (last line ``compiled speed-up: X``). docs/performance.md records
what it showed (a slow-down: not used by seqgan).

Run: python benchmarks/compile_discriminator.py [--kernel conv1d|unfold|conv2d|conv2d_plain]
     [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F

from _common import BATCH, T, V, gemm_ceiling, machine, paper_models, timed
from discriminator_profile import flops_per_step
from seqgan.models.discriminator_kernels import KERNELS
from seqgan.training.steps import update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", default="conv1d", choices=list(KERNELS))
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    _, discriminator, _ = paper_models()
    discriminator.kernel = args.kernel
    optimizer = torch.optim.Adam(discriminator.parameters(), 1e-4, fused=True)
    tokens, labels = torch.randint(V, (BATCH, T)), torch.randint(2, (BATCH,))

    def loss(tokens, labels):
        return F.cross_entropy(discriminator(tokens), labels) + 0.2 * discriminator.output_l2()

    def step_with(loss_fn):
        def step():
            update(discriminator.parameters(), optimizer, loss_fn(tokens, labels), 0.0, "D")

        step(), step()
        return timed(step, repeats=15)[0]

    print(machine())
    peak, flops = gemm_ceiling(torch.float32), flops_per_step(discriminator)
    print(
        f"fp32 GEMM ceiling {peak:.0f} GFLOP/s; kernel {args.kernel}; "
        f"{flops / 1e9:.2f} GFLOP per step"
    )
    eager = step_with(loss)
    started = time.perf_counter()
    compiled_loss = torch.compile(loss)
    update(discriminator.parameters(), optimizer, compiled_loss(tokens, labels), 0.0, "D")
    print(f"compile: {time.perf_counter() - started:.1f} s")
    compiled = step_with(compiled_loss)
    again = step_with(loss)
    for name, seconds in (("eager", eager), ("compiled", compiled), ("eager again", again)):
        print(
            f"{name:12s} {seconds * 1e3:6.1f} ms  {flops / seconds / 1e9 / peak:4.0%} "
            f"of the ceiling"
        )
    print(f"compiled speed-up: {min(eager, again) / compiled:.2f}")


if __name__ == "__main__":
    main()
