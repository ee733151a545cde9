"""Candidate changes to the paper discriminator's training step, timed against today's.

Each variant is one training step on a batch of 64 (forward, cross-entropy + output L2,
backward, gradient-norm check, fused Adam) of the paper discriminator with the ``unfold``
kernel in fp32, on its own copy of the same initial weights.  The variants are timed
interleaved (one step of each in turn, ``--rounds`` rounds, median), so a change in the
machine's load hits all of them alike; the fp32 GEMM ceiling is measured before and after.

* ``today``        — ``training.steps.update`` as it is.
* ``foreach_norm`` — the norm check as one ``torch._foreach_norm`` call instead of one
  ``vector_norm`` per parameter.
* ``keep_grads``   — ``zero_grad(set_to_none=False)``: gradient buffers reused, zeroed
  each step, instead of allocated by every backward pass.
* ``fused_highway`` — the highway's gate and transform as one ``[2F, F]`` GEMM instead of
  two ``[F, F]`` ones (a different parameter layout; the same function).
* ``one_thread``   — today's step with ``torch.set_num_threads(1)`` (thread scaling).
* ``shared_unfold`` — the ``shared_unfold`` kernel instead of ``unfold``
  (``models.discriminator_kernels``).

Run: python benchmarks/discriminator_step_variants.py [--rounds 21]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

from _common import BATCH, T, V, cpu_flags, gemm_ceiling, machine, paper_models
from discriminator_profile import flops_per_step
from seqgan.training.steps import update


class FusedHighway(nn.Module):
    """The highway layer of ``models.discriminator.Highway`` with one stacked weight."""

    def __init__(self, highway: nn.Module):
        super().__init__()
        self.weight = nn.Parameter(
            torch.cat([highway.gate.weight.detach(), highway.transform.weight.detach()])
        )
        self.bias = nn.Parameter(
            torch.cat([highway.gate.bias.detach(), highway.transform.bias.detach()])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, transform = F.linear(x, self.weight, self.bias).chunk(2, dim=1)
        gate = torch.sigmoid(gate)
        return gate * F.relu(transform) + (1.0 - gate) * x


def update_variant(params, optimizer, loss, set_to_none: bool, foreach: bool) -> None:
    """``training.steps.update`` with the gradients kept (``set_to_none=False``) or the
    norm measured by one ``_foreach_norm`` call (``foreach``), one change at a time."""
    optimizer.zero_grad(set_to_none=set_to_none)
    loss.backward()
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch._foreach_norm(grads) if foreach else [torch.linalg.vector_norm(g) for g in grads]
    norm = torch.linalg.vector_norm(torch.stack(norms))
    torch.stack([loss.detach().double(), norm.double()]).tolist()  # the same one sync
    optimizer.step()


def make_step(base, variant: str, tokens, labels, threads: int):
    discriminator = copy.deepcopy(base)
    if variant == "shared_unfold":
        discriminator.kernel = "shared_unfold"
    if variant == "fused_highway":
        discriminator.highway = FusedHighway(discriminator.highway)
    params = list(discriminator.parameters())
    optimizer = torch.optim.Adam(params, 1e-4, fused=True)

    def step() -> None:
        torch.set_num_threads(1 if variant == "one_thread" else threads)
        logits = discriminator(tokens)
        loss = F.cross_entropy(logits, labels) + 0.2 * discriminator.output_l2()
        if variant in ("foreach_norm", "keep_grads"):
            update_variant(
                params,
                optimizer,
                loss,
                set_to_none=variant == "foreach_norm",
                foreach=variant == "foreach_norm",
            )
        else:
            update(params, optimizer, loss, 0.0, "the discriminator")

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"machine: {machine()}\ncpu flags: {cpu_flags()}")
    before = gemm_ceiling(torch.float32)
    _, base, _ = paper_models()
    base.kernel = base.score_kernel = "unfold"
    flops = flops_per_step(base)
    tokens = torch.randint(V, (BATCH, T))
    labels = torch.arange(BATCH) % 2
    variants = (
        "today",
        "foreach_norm",
        "keep_grads",
        "fused_highway",
        "one_thread",
        "shared_unfold",
    )
    steps = {v: make_step(base, v, tokens, labels, threads) for v in variants}
    for step in steps.values():
        for _ in range(3):
            step()
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for variant, step in steps.items():
            start = time.perf_counter()
            step()
            times[variant].append(time.perf_counter() - start)
    torch.set_num_threads(threads)
    after = gemm_ceiling(torch.float32)
    print(f"fp32 GEMM ceiling (2048^2): {before:.0f} before, {after:.0f} GFLOP/s after")
    reference = statistics.median(times["today"])
    for variant in variants:
        seconds = statistics.median(times[variant])
        print(
            f"{variant:14s} {seconds * 1e3:6.1f} ms  {flops / seconds / 1e9:4.0f} GFLOP/s  "
            f"{flops / seconds / 1e9 / max(before, after):4.0%} of the ceiling  "
            f"{reference / seconds:.2f}x today"
        )


if __name__ == "__main__":
    main()
