"""Thread count from the CPUs a process may use (affinity mask, cgroup quota), the user's
settings winning, and OpenMP's wait behaviour set before torch loads (runtime.threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from seqgan.runtime import threads
from tests.conftest import REPO, TINY


def _cgroup_v2(tmp_path, path: str, limits: dict[str, str]):
    """A fake cgroup v2 tree: ``limits`` maps a folder under the root to its cpu.max."""
    root = tmp_path / "cgroup"
    for folder, text in limits.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(text + "\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text(f"0::{path}\n")
    return root, proc


def test_cgroup_v2_quota_is_the_smallest_on_the_path(tmp_path):
    root, proc = _cgroup_v2(
        tmp_path, "/a/b", {"": "max 100000", "a": "150000 100000", "a/b": "300000 100000"}
    )
    assert threads.cgroup_cpu_limit(root, proc) == pytest.approx(1.5)
    root, proc = _cgroup_v2(tmp_path / "none", "/a", {"a": "max 100000"})
    assert threads.cgroup_cpu_limit(root, proc) is None


def test_cgroup_v1_quota_and_a_container_that_mounts_its_own_cgroup(tmp_path):
    root = tmp_path / "cgroup"
    own = root / "cpu,cpuacct"  # the container's cgroup mounted at the controller's root
    own.mkdir(parents=True)
    (own / "cpu.cfs_quota_us").write_text("50000\n")
    (own / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text("5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    assert threads.cgroup_cpu_limit(root, proc) == pytest.approx(0.5)
    assert threads.available_cpus(root, proc) == 1  # rounded up, at least 1
    (own / "cpu.cfs_quota_us").write_text("-1\n")  # no quota
    assert threads.cgroup_cpu_limit(root, proc) is None
    assert threads.available_cpus(root, proc) == threads.affinity_cpus()


def test_no_cgroup_file_means_no_quota(tmp_path):
    assert threads.cgroup_cpu_limit(tmp_path, tmp_path / "missing") is None


def test_a_run_takes_its_threads_from_a_cgroup_quota(tmp_path, monkeypatch):
    """A run with run.threads = 0 under a 1-CPU quota uses 1 thread and says so in
    summary.json (torch's own default ignores the quota)."""
    import seqgan

    root, proc = _cgroup_v2(tmp_path, "/job", {"job": "100000 100000"})
    monkeypatch.setattr(threads, "CGROUP_ROOT", root)
    monkeypatch.setattr(threads, "PROC_CGROUP", proc)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        run = seqgan.train(
            TINY,
            out=tmp_path / "run",
            run__threads=0,
            adversarial__epochs=0,
            pretrain__discriminator_rounds=0,
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert run.summary["threads"] == 1
    assert run.summary["threads_from"] == "available CPUs"
    assert run.summary["cpus_available"] == 1
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["threads"] == 1 and "openmp_wait" in saved
    assert saved["load_average_at_start"] >= 0
    assert "others_cpus_at_start" in saved  # None where torch was imported before seqgan


def _child(code: str, env: dict | None = None, cpus: set | None = None) -> str:
    """stdout of ``python -c code`` with ``env`` changes (None removes a variable) and,
    if given, the affinity mask ``cpus``."""
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    }
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    full["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), full.get("PYTHONPATH", "")])
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=full,
        preexec_fn=preexec,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


PLAN = (
    "import seqgan, torch; from seqgan.runtime import threads as t; "
    "p = t.apply(RUN); print(p.threads, p.source, t.threads_per_run(1), "
    "torch.get_num_threads())"
)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no affinity masks here")
def test_the_thread_count_follows_a_restricted_affinity_mask():
    one = {min(os.sched_getaffinity(0))}
    assert _child(PLAN.replace("RUN", "0"), cpus=one) == "1 available CPUs 1 1"


def test_the_users_run_threads_and_omp_num_threads_win():
    assert _child(PLAN.replace("RUN", "0"), {"OMP_NUM_THREADS": "3"}) == "3 OMP_NUM_THREADS 3 3"
    assert _child(PLAN.replace("RUN", "2"), {"OMP_NUM_THREADS": "3"}) == "2 run.threads 3 2"


WAIT = (
    "import os, seqgan; from seqgan.runtime import threads as t; "
    "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'), "
    "'|', t._openmp_wait)"
)


def test_openmp_waits_briefly_on_a_busy_machine_and_keeps_libgomps_default_alone():
    cpus = threads.affinity_cpus()
    busy: dict[str, str] = {}
    assert threads.prefer_gentle_openmp(busy, others=float(cpus)).startswith(
        f"GOMP_SPINCOUNT={threads.SPIN_COUNT}"
    )
    spin = str(threads.SPIN_COUNT)
    assert busy == {"GOMP_SPINCOUNT": spin, threads.CHOSEN_BY_SEQGAN: spin}
    idle: dict[str, str] = {}
    assert "idle" in threads.prefer_gentle_openmp(idle, others=0.0)
    assert idle == {}  # alone, libgomp's own spinning stays: no time lost
    # a child of a run that saw a busy machine (compare, Ray) chooses again from its own
    inherited = dict(busy)
    assert "idle" in threads.prefer_gentle_openmp(inherited, others=0.0)
    assert inherited == {}
    # whatever the machine does now, importing seqgan records what it did
    state = _child(WAIT).split(" | ")[1]
    assert state.startswith((f"GOMP_SPINCOUNT={threads.SPIN_COUNT}", "libgomp's default"))


STAT = """cpu  900 10 300 5000 40 5 5 70 0 0
cpu0 100 0 50 2000 20 1 1 30 0 0
cpu1 300 10 100 1000 10 2 2 20 0 0
cpu2 500 0 150 2000 10 2 2 20 0 0
intr 12345 0 0
"""


def test_cpu_ticks_are_read_per_cpu_from_proc_stat():
    # non-idle = user + nice + system + irq + softirq; idle, iowait, steal and the total
    # "cpu" line are not counted
    assert threads._busy_ticks(STAT) == {0: 152, 1: 414, 2: 654}
    assert threads._busy_ticks("cpu0 1 2\n") == {0: 3}  # short lines: missing fields 0


def test_others_cpu_use_of_a_stat_without_the_masks_cpus_is_unknown(tmp_path):
    # a container's /proc/stat that numbers its CPUs afresh cannot be matched to the mask
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 0 1 1 0 0 0 0\ncpu999 1 0 1 1 0 0 0 0\n")
    assert threads.others_cpu_use(0.01, stat) is None


def test_others_cpu_use_of_an_unreadable_stat_is_unknown(tmp_path):
    assert threads.others_cpu_use(0.01, tmp_path / "missing") is None
    assert threads.machine_is_busy(0.0) is False
    assert threads.machine_is_busy(float(threads.affinity_cpus())) is True


USE = (
    "import threading, time; from seqgan.runtime import threads as t; "
    "SPIN; print(round(t.others_cpu_use(0.5), 2))"
)
# a Python-level loop (the GIL is handed back to the sleeping thread) that keeps nothing
SPIN_OWN = "threading.Thread(target=lambda: [0 for _ in iter(int, 1) if 0], daemon=True).start()"


@pytest.mark.skipif(
    not (hasattr(os, "sched_setaffinity") and os.path.exists("/proc/stat")),
    reason="no affinity masks or /proc/stat here",
)
def test_others_cpu_use_sees_a_competitor_at_once_and_not_the_process_itself():
    one = {min(os.sched_getaffinity(0))}
    pin = lambda: os.sched_setaffinity(0, one)  # noqa: E731
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=pin)
    try:
        time.sleep(0.3)  # the busy loop runs: a load average would take a minute to show it
        assert float(_child(USE.replace("SPIN", "pass"), cpus=one)) >= threads.BUSY_SHARE
        waited = _child(WAIT, cpus=one).split(" | ")
        assert waited == [f"None {threads.SPIN_COUNT}", waited[1]]
        assert waited[1].startswith(f"GOMP_SPINCOUNT={threads.SPIN_COUNT}")
    finally:
        loop.kill()
        loop.wait()
    # the process's own busy thread is not another process: without the subtraction its
    # CPU would read about 1.0 busy; beside unrelated processes pinned there too (the
    # other test worker's) it reads their share, 0.5 with one, 0.67 with two
    assert float(_child(USE.replace("SPIN", SPIN_OWN), cpus=one)) < 0.9


def test_a_users_wait_behaviour_is_never_overridden():
    assert _child(WAIT, {"OMP_WAIT_POLICY": "ACTIVE"}) == (
        "ACTIVE None | OMP_WAIT_POLICY=ACTIVE (the user's)"
    )
    assert _child(WAIT, {"GOMP_SPINCOUNT": "5"}) == "None 5 | GOMP_SPINCOUNT=5 (the user's)"
    user = {"OMP_WAIT_POLICY": "PASSIVE"}
    threads.prefer_gentle_openmp(user, others=100.0)
    assert user == {"OMP_WAIT_POLICY": "PASSIVE"}
    # seqgan's value set by the user (no mark), or a marked value the user changed since
    for user in (
        {"GOMP_SPINCOUNT": "1000"},
        {"GOMP_SPINCOUNT": "7", threads.CHOSEN_BY_SEQGAN: "1000"},
    ):
        before = user["GOMP_SPINCOUNT"]
        assert threads.prefer_gentle_openmp(user, others=0.0).endswith("(the user's)")
        assert user["GOMP_SPINCOUNT"] == before
    # torch loaded first: libgomp has read its settings already; nothing is pretended
    assert _child("import torch; " + WAIT) == (
        "None None | libgomp's default (torch was imported before seqgan)"
    )


def test_a_child_of_a_seqgan_process_chooses_its_wait_again():
    parent = {"GOMP_SPINCOUNT": str(threads.SPIN_COUNT), threads.CHOSEN_BY_SEQGAN: "1000"}
    state = _child(WAIT, parent).split(" | ")[1]
    assert state.startswith((f"GOMP_SPINCOUNT={threads.SPIN_COUNT} (seqgan's", "libgomp's"))
    # torch first: libgomp has read the parent's value, and the record says whose it is
    assert _child("import torch; " + WAIT, parent) == (
        f"None {threads.SPIN_COUNT} | GOMP_SPINCOUNT={threads.SPIN_COUNT} "
        "(chosen by the seqgan process that started this one)"
    )
    # ... and its own children still know the value as seqgan's, not the user's
    mark = f"import torch, os, seqgan; print(os.environ.get('{threads.CHOSEN_BY_SEQGAN}'))"
    assert _child(mark, parent) == "1000"


def test_a_busy_machine_is_said_in_one_line():
    note = threads.busy_note(cpus=2, load=5.3)
    assert "load average 5.3 on 2 CPUs" in note and "run.threads=1" in note
    assert "\n" not in note
    assert threads.busy_note(cpus=2, load=1.9) is None
