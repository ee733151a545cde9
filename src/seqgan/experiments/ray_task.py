"""What one Ray task of ``seqgan compare --backend ray`` does on its node: check that the
comparison folder is the driver's, wait until no other process writes the run, launch
``seqgan train`` (``--resume`` once the run folder exists) with its output appended to
the run's log, and turn the exit code into a result or a retry.

Exit codes: 0 is ``done``; 1 (a crash), 2 (a user error such as a bad config) and 3 (a
diverged run) are final ``failed`` results — retrying would repeat them.  A training
killed by a signal (negative code, or 128 + n when it caught it and saved a checkpoint)
raises ``RunDied``, which the task's ``retry_exceptions`` turns into a retry that continues
from the newest checkpoint.  This module needs no Ray to import (it is tested without).
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from seqgan.experiments.jobs import die_with_parent, train_command
from seqgan.storage.lock import LOCK_NAME

MARKER = ".seqgan-shared-check"  # written by the driver into the comparison folder
FINAL_CODES = (1, 2, 3)


class RunDied(Exception):
    """The training process was killed (by a signal, or its node went away): retried."""


class FolderNotVisible(Exception):
    """This node does not see the driver's comparison folder (no shared filesystem)."""


@dataclass
class TaskSpec:
    """Everything a task needs, picklable: paths are the driver's (a shared filesystem)."""

    name: str
    seed: int
    run: str
    log: str
    config: str  # the run's config file in logs/ (used unless the run folder exists)
    out: str  # the comparison folder
    nonce: str  # the marker's content: this driver's session
    cwd: str
    data_root: str | None = None
    extra: list[str] = field(default_factory=list)
    lock_wait: float = 120.0  # seconds to wait for a previous attempt to let go of the run


def node_label() -> str:
    """``host (node 1a2b3c4d)``: this task's node, as the driver's lines name it."""
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()[:8]
    except Exception:  # outside Ray (tests)  # noqa: BLE001
        node = "-"
    return f"{socket.gethostname()} (node {node})"


def check_marker(out: str, nonce: str) -> None:
    """Raise ``FolderNotVisible`` unless ``out/MARKER`` holds ``nonce``."""
    try:
        seen = (Path(out) / MARKER).read_text().strip()
        why = "" if seen == nonce else "another folder of that name is there"
    except OSError as exc:
        why = f"{MARKER}: {exc.strerror}"
    if why:
        raise FolderNotVisible(
            f"node {node_label()} cannot see the comparison folder {out} "
            f"({why}); it must be on a filesystem shared by every node "
            "(docs/scale-out.md)"
        )


def wait_for_run_lock(run: Path, timeout: float) -> None:
    """Until no process holds the run's lock (a previous attempt still saving its
    checkpoint after SIGTERM), at most ``timeout`` seconds; then let ``seqgan train``
    report it."""
    path = run / LOCK_NAME
    if not path.exists():
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                return
        finally:
            os.close(fd)  # also releases a lock taken here
        time.sleep(0.2)


def attempt_number(log: Path, nonce: str) -> int:
    """1 + the attempts of this driver session already written to ``log``."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 1
    return 1 + sum(
        1
        for line in text.splitlines()
        if line.startswith("# ray attempt ") and line.endswith(f"session {nonce}")
    )


def run_training(spec: TaskSpec) -> dict:
    """Run the training of ``spec`` to its end; a result dict, or ``RunDied``."""
    check_marker(spec.out, spec.nonce)
    run, log = Path(spec.run), Path(spec.log)
    wait_for_run_lock(run, spec.lock_wait)
    command = train_command(
        run, Path(spec.config), Path(spec.data_root) if spec.data_root else None, spec.extra
    )
    attempt = attempt_number(log, spec.nonce)
    where = node_label()
    cwd = spec.cwd if os.path.isdir(spec.cwd) else spec.out
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(
            f"# ray attempt {attempt} on {where}, session {spec.nonce}\n$ {' '.join(command)}\n"
        )
        handle.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            preexec_fn=die_with_parent,
        )
        try:
            while proc.poll() is None:  # polled: Ray's cancel interrupts between polls
                time.sleep(0.1)
        except BaseException:  # cancelled (KeyboardInterrupt) or the worker's SIGTERM
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the training saves a checkpoint
                try:
                    proc.wait(timeout=300)
                except BaseException:  # noqa: BLE001
                    proc.kill()
            raise
    code = proc.returncode
    result = {
        "status": "done" if code == 0 else "failed",
        "code": code,
        "node": where,
        "attempt": attempt,
        "seconds": time.perf_counter() - start,
    }
    if code == 0 or code in FINAL_CODES:
        return result
    raise RunDied(
        f"seed {spec.seed} {spec.name}: seqgan train ended with code {code} on "
        f"{where} (attempt {attempt}); retrying continues it with --resume"
    )
