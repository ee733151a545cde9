"""Is this process in a network namespace that has only the loopback interface?

On our machines every test, benchmark and manual run that starts Ray must run in one
(``unshare -n sh -c 'ip link set lo up; exec CMD'``, docs/scale-out.md): Ray listens on
more than 127.0.0.1 and probes an outside address, and only such a namespace guarantees
that no Ray traffic reaches anything but this process's own loopback.
"""

from __future__ import annotations

import socket

HOW = "unshare -n sh -c 'ip link set lo up; exec CMD'"
REFUSAL = f"Ray tests run only in a loopback-only network namespace (see docs/scale-out.md): {HOW}"


def interfaces() -> list[str]:
    """The network interfaces of this process's network namespace (the socket API asks
    the kernel; ``/sys/class/net`` would show the namespace sysfs was mounted in, which
    after a bare ``unshare -n`` is still the machine's)."""
    try:
        return sorted(name for _, name in socket.if_nameindex())
    except OSError:  # no interface at all (not even lo)
        return []


def non_loopback(names: list[str] | None = None) -> list[str]:
    """The interfaces other than ``lo`` (``names`` defaults to ``interfaces()``); also
    ``lo`` when it is missing, since then the namespace is not the one we want either."""
    names = interfaces() if names is None else names
    others = [n for n in names if n != "lo"]
    return others if "lo" in names else [*others, "(no lo)"]


def loopback_only(names: list[str] | None = None) -> bool:
    return not non_loopback(names)
