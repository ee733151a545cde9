"""Which discriminator formulation computes what wrongly on this device, and when.

Not a timing: a diagnosis for the device check of ``models.kernel_choice`` (a kernel whose
logits or gradients differ from ``conv1d``'s there is left out of ``auto``).  For each
precision and shape it prints, per kernel, the relative difference and where it is
(logits or which parameter's gradient), and for ``conv2d_plain`` the same with cuDNN
off, with TF32 off, and in float64 — so a fault of the device's convolution library
(cuDNN picks an algorithm per shape) is told apart from a wrong formulation (which
would disagree everywhere, the CPU included: ``tests/test_discriminator_kernels.py``
compares every kernel in float64 to 1e-10).

    python benchmarks/kernel_agreement.py [--device cuda]
"""

from __future__ import annotations

import argparse
import contextlib

import torch

from seqgan.config import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS
from seqgan.models.discriminator import Discriminator, fit_widths
from seqgan.models.kernel_choice import CHECK_ROWS, kernel_differences
from seqgan.runtime.device import device_name

SHAPES = [(5000, 20, 64), (100, 32, 64), (90, 256, 64), (30, 8, 16)]  # V, T, k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(parser.parse_args().device)
    print(
        f"device: {device_name(device)}, torch {torch.__version__}, cuDNN "
        f"{torch.backends.cudnn.version() if device.type == 'cuda' else '-'}"
    )
    for precision in ("fp32", "bf16"):
        for vocab, length, k in SHAPES:
            widths, counts = fit_widths(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, length)
            torch.manual_seed(0)
            model = Discriminator(vocab, length, k, widths, counts, precision=precision).to(device)
            tokens = torch.randint(vocab, (CHECK_ROWS, length), device=device)
            for name, (gap, where) in kernel_differences(model, tokens).items():
                print(f"{precision} V={vocab} T={length} k={k} {name:14s} {gap:9.2g}  {where}")
            for label, setting in _variants(device, precision):
                with setting:
                    copy = model.double() if label == "float64" else model
                    gap, where = kernel_differences(copy, tokens, ["conv2d_plain"])["conv2d_plain"]
                    model.float()
                print(
                    f"{precision} V={vocab} T={length} k={k} conv2d_plain[{label}] "
                    f"{gap:9.2g}  {where}"
                )


def _variants(device: torch.device, precision: str):
    if device.type != "cuda":
        return []
    out = [
        ("cudnn off", torch.backends.cudnn.flags(enabled=False)),
        ("tf32 off", torch.backends.cudnn.flags(enabled=True, allow_tf32=False)),
    ]
    return out + ([("float64", contextlib.nullcontext())] if precision == "fp32" else [])


if __name__ == "__main__":
    main()
