"""The device a run computes on (``run.device``) and its determinism (``run.deterministic``).

``resolve_device(name)``: ``auto`` (CUDA if available, else Apple ``mps`` if available,
else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` as a ``torch.device``; a device
that is not available here is a one-line ``UserError`` naming those that are.
``saved_device(name, what)``: the device of a finished run's saved setting, the CPU (with
one note) when it is not available here (``generate`` / ``evaluate`` of a run trained
elsewhere).  ``device_name``: what the device is (GPU model, CPU model), for
``summary.json``.  ``configure_determinism``: ``run.deterministic`` on CUDA.
``native_bf16`` / ``check_precision``: whether bf16 has hardware support here
(``discriminator.precision``).
See docs/devices.md.
"""

from __future__ import annotations

import os
import platform
import re

import torch

from seqgan.errors import UserError
from seqgan.runtime.console import stderr_line

CHOICES = "auto, cpu, cuda, cuda:N, mps"
_NAME = re.compile(r"^(auto|cpu|mps|cuda(?::(\d+))?)$")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The device names usable here: ``cpu``, then ``cuda:0`` .. ``cuda:N-1``, ``mps``."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return names


def check_device_name(name: str) -> None:
    """A one-line ``UserError`` unless ``name`` is one of ``CHOICES`` (availability aside)."""
    if not isinstance(name, str) or not _NAME.match(name):
        import difflib

        close = difflib.get_close_matches(str(name), ["auto", "cpu", "cuda", "mps"], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise UserError(f"run.device = {name!r} is not a device (choose from {CHOICES}){hint}")


def resolve_device(name: str) -> torch.device:
    """``name`` (``run.device``) as a ``torch.device`` available here, ``auto`` being CUDA,
    else ``mps``, else the CPU; otherwise a one-line ``UserError`` naming what is available."""
    check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    available = available_devices()
    unavailable = UserError(
        f"run.device = {name!r} is not available here (available: {', '.join(available)})"
    )
    if name == "mps":
        if not _mps_available():
            raise unavailable
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise unavailable
    index = int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise unavailable
    return torch.device("cuda", index)


def saved_device(name: str, what: str, override: str | None = None) -> torch.device:
    """The device to load a finished run on: ``override`` (``--device``; strict, as
    ``resolve_device``), else the run's saved ``run.device`` if available here, else the
    CPU, said in one note on stderr (``what`` names the run)."""
    if override is not None:
        return resolve_device(override)
    try:
        return resolve_device(name)
    except UserError:
        stderr_line(
            f"note: {what} was trained with run.device = {name!r}, which is not available "
            f"here; using the cpu (choose with --device)"
        )
        return torch.device("cpu")


def device_name(device: torch.device) -> str:
    """What ``device`` is: the GPU model (``NVIDIA A100-SXM4-40GB``), ``mps`` (Apple GPU) or
    ``cpu`` with the processor model when it can be read."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "mps (Apple GPU)"
    model = _cpu_model()
    return f"cpu ({model})" if model else "cpu"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def wide_float(device: torch.device | str) -> torch.dtype:
    """The wide float of sums and probabilities: float64, except on Apple's ``mps``, which
    has none (float32 there)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def native_bf16(device: torch.device) -> bool:
    """bf16 arithmetic in hardware: a CPU with AVX512-BF16 or AMX (as oneDNN reports it),
    a CUDA GPU that supports it, or an Apple GPU."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "mps":
        return True
    return bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def check_precision(precision: str, device: torch.device) -> None:
    """One note when bf16 is asked for where it is emulated (correct, but slower)."""
    if precision == "bf16" and not native_bf16(device):
        stderr_line(
            f"note: discriminator.precision = bf16 has no hardware support on "
            f"{device_name(device)}: it is emulated and slower than fp32"
        )


def configure_determinism(device: torch.device, deterministic: bool) -> None:
    """``run.deterministic`` on CUDA: deterministic algorithms only (an operation without
    one raises), cuBLAS with a fixed workspace (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, set
    before cuBLAS starts unless the user set it), cuDNN deterministic and not benchmarking.
    On the CPU (and ``mps``) nothing is changed: the CPU kernels used are deterministic for
    a fixed thread count."""
    if not deterministic or device.type != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
