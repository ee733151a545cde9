"""CPU threads of a process: how many CPUs it may really use, and how its OpenMP threads wait.

* ``available_cpus()``: the CPUs this process can run on, i.e. its affinity mask
  (``os.sched_getaffinity``) capped by a cgroup CPU quota (v2 ``cpu.max``, v1
  ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; the smallest quota on the path from the
  process's cgroup to the root), rounded up, at least 1.  ``os.cpu_count()`` counts the
  machine and ignores both; torch's default follows the mask but not a quota.
* ``thread_plan(run_threads)``: a run's torch thread count and where it comes from:
  ``run.threads`` if set, else ``OMP_NUM_THREADS`` set by the user, else
  ``available_cpus()``.
* ``others_cpu_use()``: how many of this process's CPUs other processes keep busy right
  now: their non-idle time in ``/proc/stat`` over a tenth of a second, less this
  process's own.
* ``prefer_gentle_openmp()``: called when ``seqgan`` is imported, before torch loads
  OpenMP: unless the user chose a wait behaviour (``OMP_WAIT_POLICY`` or
  ``GOMP_SPINCOUNT``), where other processes already keep some of this process's CPUs
  busy (``machine_is_busy``: one CPU of two) a waiting OpenMP thread spins
  ``SPIN_COUNT`` times before it sleeps instead of libgomp's 300,000, so threads that
  lose their core to another process stop burning it; otherwise libgomp's
  default stays (docs/performance.md, "Shared machines").  Spinning changes scheduling,
  never arithmetic: results are bit-identical.
* ``busy_note()``: one line when the machine is oversubscribed at the start of a run
  (said on a terminal; ``summary.json`` records the load average at the start).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# libgomp (torch's OpenMP on Linux) spins this many times before a waiting thread
# sleeps; 300,000 when unset.  On a busy machine seqgan sets 1,000: the fastest beside a
# competing process in benchmarks/contention.py's scan (docs/performance.md).
SPIN_COUNT = 1_000
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
# set beside GOMP_SPINCOUNT when seqgan set it, so that a child process (a ``compare`` or
# Ray run) knows the value is not the user's and chooses again from what it sees
CHOSEN_BY_SEQGAN = "SEQGAN_CHOSE_GOMP_SPINCOUNT"
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
PROC_STAT = Path("/proc/stat")
BUSY_WINDOW = 0.1  # seconds over which others_cpu_use() measures, once per process
# busy: other processes use at least this share of our CPUs (one CPU of two shows as
# 0.9-1.1 in a 0.1 s window of 10 ms ticks; an idle machine as 0.0-0.1)
BUSY_SHARE = 0.4


def _cgroup_dirs(base: Path, path: str) -> list[Path]:
    """``base/path`` and its parents up to ``base`` that exist (a container that mounts
    its own cgroup at ``base`` while /proc names the host's path gets ``base`` alone)."""
    target = base / path.lstrip("/")
    chain = [target, *target.parents]
    stop = chain.index(base) if base in chain else 0
    return [d for d in chain[: stop + 1] if d.is_dir()]


def _v2_limit(folder: Path) -> float | None:
    """CPUs of a cgroup v2 ``cpu.max`` (``"150000 100000"`` -> 1.5; ``"max ..."`` -> None)."""
    try:
        fields = (folder / "cpu.max").read_text().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_limit(folder: Path) -> float | None:
    """CPUs of a cgroup v1 cpu controller (quota -1: no limit -> None)."""
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_limit(root: Path | None = None, proc_cgroup: Path | None = None) -> float | None:
    """CPUs allowed by this process's cgroup CPU quota (a fraction, e.g. 1.5), the
    smallest along its cgroup path; None where there is no quota or no cgroup to read.
    ``root``: where cgroups are mounted (``CGROUP_ROOT``); ``proc_cgroup``: the process's
    cgroup file (``PROC_CGROUP``)."""
    root = CGROUP_ROOT if root is None else root
    proc_cgroup = PROC_CGROUP if proc_cgroup is None else proc_cgroup
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    limits: list[float | None] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":  # v2: one unified hierarchy
            limits += [_v2_limit(d) for d in _cgroup_dirs(Path(root), path)]
        elif "cpu" in controllers.split(","):  # v1: the cpu controller's mount
            for name in (controllers, "cpu", "cpu,cpuacct", "cpuacct,cpu"):
                base = Path(root) / name
                if base.is_dir():
                    limits += [_v1_limit(d) for d in _cgroup_dirs(base, path)]
                    break
    found = [limit for limit in limits if limit]
    return min(found) if found else None


def affinity_cpus() -> int:
    """CPUs in this process's affinity mask (``os.cpu_count()`` where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def available_cpus(root: Path | None = None, proc_cgroup: Path | None = None) -> int:
    """The CPUs this process may use: the affinity mask, capped by the cgroup CPU quota
    rounded up (a quota of 1.5 CPUs -> 2), at least 1."""
    cpus = affinity_cpus()
    quota = cgroup_cpu_limit(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def user_omp_threads() -> int | None:
    """``OMP_NUM_THREADS`` as the user set it (a positive integer), else None.  A list
    (``"4,2"``, nested levels) counts by its first value, as OpenMP reads it."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


@dataclass(frozen=True)
class ThreadPlan:
    threads: int  # torch CPU threads of the run
    source: str  # "run.threads" | "OMP_NUM_THREADS" | "available CPUs"
    cpus: int  # available_cpus() when planned


# what prefer_gentle_openmp() found and did, and the plan apply() set last: summary.json
_openmp_wait = "not set up (seqgan.runtime.threads.prefer_gentle_openmp was not called)"
_applied: ThreadPlan | None = None
_load_at_start: float | None = None  # the 1-minute load average when apply() ran
_others_at_start: float | None = None  # others_cpu_use() when seqgan was imported


def thread_plan(run_threads: int = 0) -> ThreadPlan:
    """The torch thread count of a run: ``run_threads`` (``run.threads``) if set, else
    the user's ``OMP_NUM_THREADS``, else every CPU this process may use."""
    cpus = available_cpus()
    if run_threads:
        return ThreadPlan(run_threads, "run.threads", cpus)
    omp = user_omp_threads()
    if omp:
        return ThreadPlan(omp, "OMP_NUM_THREADS", cpus)
    return ThreadPlan(cpus, "available CPUs", cpus)


def threads_per_run(parallel: int, threads: int = 0, cpus: int | None = None) -> int:
    """torch threads of each of ``parallel`` runs at a time (``compare --jobs``,
    ``--gpus``, Ray): ``threads`` (the user's ``run.threads``) if set, else the user's
    ``OMP_NUM_THREADS``, else ``max(1, cpus // parallel)`` with ``cpus`` =
    ``available_cpus()``, so the runs share the CPUs without oversubscribing them."""
    if threads:
        return threads
    omp = user_omp_threads()
    if omp:
        return omp
    cpus = available_cpus() if cpus is None else cpus
    return max(1, cpus // max(1, parallel))


def apply(run_threads: int = 0) -> ThreadPlan:
    """Set torch's thread count by ``thread_plan(run_threads)`` and return the plan."""
    import torch

    global _applied, _load_at_start
    plan = thread_plan(run_threads)
    if torch.get_num_threads() != plan.threads:
        torch.set_num_threads(plan.threads)
    _applied = plan
    try:
        _load_at_start = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        _load_at_start = None
    return plan


def prefer_gentle_openmp(environ=None, others: float | None = None) -> str:
    """Unless the user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``: where other
    processes keep some of this process's CPUs busy (``machine_is_busy(others)``) set
    ``GOMP_SPINCOUNT = SPIN_COUNT`` in ``environ`` (``os.environ``; child processes
    inherit it, marked ``CHOSEN_BY_SEQGAN``: a seqgan child chooses again), so waiting
    threads soon sleep and leave their core to the other processes; otherwise keep
    libgomp's default (spinning is what makes a run fast alone).  It takes effect only if
    torch has not been imported yet (libgomp reads it when it loads).  Returns what was
    found / done, as ``summary.json`` records it."""
    global _openmp_wait, _others_at_start
    env = os.environ if environ is None else environ
    torch_first = "torch" in sys.modules and environ is None
    parents = env.get(CHOSEN_BY_SEQGAN)
    if parents and parents == env.get("GOMP_SPINCOUNT") and not torch_first:
        del env["GOMP_SPINCOUNT"]  # a seqgan parent's choice, from the machine it saw then
        del env[CHOSEN_BY_SEQGAN]
    chosen = [f"{name}={env[name]}" for name in WAIT_VARIABLES if env.get(name)]
    if chosen and parents and parents == env.get("GOMP_SPINCOUNT"):
        state = f"GOMP_SPINCOUNT={parents} (chosen by the seqgan process that started this one)"
    elif chosen:
        state = f"{', '.join(chosen)} (the user's)"
    elif torch_first:
        state = "libgomp's default (torch was imported before seqgan)"
    else:
        if others is None:
            others = others_cpu_use()
            if environ is None and others is not None:
                _others_at_start = round(others, 2)
        if machine_is_busy(others):
            env["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
            env[CHOSEN_BY_SEQGAN] = str(SPIN_COUNT)
            state = f"GOMP_SPINCOUNT={SPIN_COUNT} (seqgan's default on a busy machine)"
        else:
            state = "libgomp's default (the machine was idle at the start)"
    if environ is None:
        _openmp_wait = state
    return state


def _busy_ticks(stat: str) -> dict[int, int]:
    """Non-idle clock ticks of each CPU in the text of ``/proc/stat``: user + nice +
    system + irq + softirq (guest time is already in user; idle, iowait and steal, the
    time the hypervisor gave other machines, are not), by CPU number."""
    busy = {}
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if not (name.startswith("cpu") and name[3:].isdigit()):
            continue  # the "cpu" line is the total
        fields = [int(x) for x in rest.split()[:7]]
        user, nice, system, _idle, _iowait, irq, softirq = fields + [0] * (7 - len(fields))
        busy[int(name[3:])] = user + nice + system + irq + softirq
    return busy


def others_cpu_use(window: float = BUSY_WINDOW, stat: Path = PROC_STAT) -> float | None:
    """CPUs that other processes keep busy now, among those this process may run on
    (its affinity mask): the CPUs' non-idle time in ``stat`` over ``window`` seconds, less
    this process's own CPU time, per second of the window (0.0 to the mask's size).
    None where ``stat`` cannot be read (not Linux) or does not list the mask's CPUs (a
    container whose ``/proc/stat`` numbers its CPUs afresh).  Unlike the load average,
    which takes about a minute to follow a change, it sees a competitor that started a
    second ago and forgets a run that has ended."""
    try:
        tick = 1.0 / os.sysconf("SC_CLK_TCK")
        before, own_before, wall_before = Path(stat).read_text(), os.times(), time.monotonic()
        time.sleep(window)
        after, own_after, wall_after = Path(stat).read_text(), os.times(), time.monotonic()
    except (AttributeError, OSError, ValueError):
        return None
    busy0, busy1 = _busy_ticks(before), _busy_ticks(after)
    try:
        mask = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        mask = set(busy1)
    cpus = mask & set(busy0) & set(busy1)  # a CPU brought on- or off-line meanwhile: not read
    if not cpus or not mask <= set(busy1):
        return None
    ticks = sum(busy1[c] - busy0[c] for c in cpus)
    own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
    seconds = max(wall_after - wall_before, 1e-3)
    return min(float(len(mask)), max(0.0, (ticks * tick - own) / seconds))


def machine_is_busy(others: float | None) -> bool:
    """Whether other processes already keep ``BUSY_SHARE`` of this process's CPUs
    (``affinity_cpus()``) busy, e.g. one CPU of two: ``others`` CPUs, as
    ``others_cpu_use()`` measured them.  Where that could not be measured (None), the
    1-minute load average against ``os.cpu_count()`` (the load average counts the whole
    machine)."""
    if others is not None:
        return others >= BUSY_SHARE * affinity_cpus()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return load >= 0.5 * (os.cpu_count() or 1)


def record() -> dict:
    """``summary.json``'s thread entries: the plan ``apply`` set last (else torch's
    own count), the CPUs available and the OpenMP wait behaviour."""
    import torch

    plan = _applied or ThreadPlan(torch.get_num_threads(), "torch's default", available_cpus())
    return {
        "threads": plan.threads,
        "threads_from": plan.source,
        "cpus_available": plan.cpus,
        "openmp_wait": _openmp_wait,
        "load_average_at_start": _load_at_start,
        "others_cpus_at_start": _others_at_start,
    }


def busy_note(cpus: int | None = None, load: float | None = None) -> str | None:
    """One line when the machine is oversubscribed at the start of a run: its 1-minute
    load average is above its CPU count.  The load average counts the whole machine
    (also from inside a container), so it is compared with the machine's CPUs
    (``os.cpu_count()``), not this process's share."""
    try:
        load = os.getloadavg()[0] if load is None else load
    except (AttributeError, OSError):
        return None
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    if load <= cpus:
        return None
    return (
        f"note: this machine is busy (load average {load:.1f} on {cpus} CPUs): the run "
        f"will be slower than its estimates; run fewer jobs at once, or give this run "
        f"fewer threads (--set run.threads=1)"
    )
