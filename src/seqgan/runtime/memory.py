"""The peak resident memory of this process, for ``summary.json`` and the benchmarks."""

from __future__ import annotations

import resource
import sys


def status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``); None without ``/proc``."""
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            return next(
                (int(line.split()[1]) for line in handle if line.startswith(f"{field}:")), None
            )
    except OSError:
        return None


def peak_resident_mib() -> float:
    """This process's peak resident memory so far, MiB (2^20 bytes): the kernel's
    high-water mark ``VmHWM``, which a process started by exec begins afresh; elsewhere
    ``getrusage``'s ``ru_maxrss`` (KiB on Linux, bytes on macOS), which in a child keeps
    the high-water mark of the parent it was forked from."""
    hwm = status_kib("VmHWM")
    if hwm is not None:
        return hwm / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def reset_peak() -> bool:
    """Start the kernel's high-water mark ``VmHWM`` afresh (``/proc/self/clear_refs``),
    so that ``peak_resident_mib`` measures from now; False where Linux does not allow it
    (the peak then keeps what came before)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True
