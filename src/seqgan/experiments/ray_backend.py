"""``seqgan compare --backend ray``: the comparison's runs as Ray tasks (docs/scale-out.md).

The plan, the folder checks and the report are ``experiments.compare``'s, the jobs and their
commands ``experiments.jobs``'s; only the launching differs from the local pool.  Each
planned run is one task (``ray_task.run_training``: a resumable ``seqgan train`` subprocess)
asking ``num_cpus`` = the run's ``run.threads`` (and ``gpu_share`` of a GPU with
``--gpus all``); a run that starts from a shared pre-training gets that task's result as its
argument, so Ray starts it only after the pre-training ended and independent seeds spread
over the nodes.  A training killed with its worker or node is retried (``max_retries``) and
continues from its newest checkpoint.

Where Ray runs: ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else the Ray this
process is already connected to (``ray.init`` called by the caller), else a local
instance started here and stopped after the comparison: node address 127.0.0.1, no
dashboard, token authentication with a fresh token (``start_local``).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import signal
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from seqgan.errors import Interrupted, UserError
from seqgan.experiments.jobs import Job, finished_line, plan_lines, prepare, write_job_config
from seqgan.experiments.ray_task import MARKER, FolderNotVisible, RunDied, TaskSpec, run_training
from seqgan.runtime.console import stderr_line
from seqgan.runtime.interrupt import deferred
from seqgan.runtime.threads import available_cpus
from seqgan.storage.atomic import write_bytes

INSTALL_HINT = "--backend ray needs Ray: pip install 'seqgan[ray]' (or pip install 'ray>=2.9')"
CONNECT_TIMEOUT = 5.0  # seconds to reach a given cluster address
PROBE_TIMEOUT = 120.0  # seconds for every node to answer the shared-folder check
_TOKEN = secrets.token_hex(32)  # the token of the instances this process starts
_SET_BY_START = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED")


def require_ray():
    """The ``ray`` module, or a one-line ``UserError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """A one-line error unless ``HOST:PORT`` (or ``ray://HOST:PORT``) accepts a TCP
    connection within ``timeout`` (``ray.init`` itself would retry for a long time)."""
    text = address.removeprefix("ray://")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(
            f"--ray-address expects HOST:PORT (the head's `ray start --head "
            f"--port`), got '{address}'"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(
            f"cannot reach the Ray cluster at {address}: {reason} (is `ray start "
            f"--head` running there? docs/scale-out.md)"
        ) from None


def cluster_address(address: str | None) -> str | None:
    """The cluster to use: ``address``, else ``$RAY_ADDRESS``, else None (this process's
    Ray or a local instance); a given ``HOST:PORT`` must be reachable (``check_reachable``)."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address != "auto":
        check_reachable(address)
    return address


def _keeping_sigterm(call):
    """``call()`` with this process's SIGTERM handler restored after it (``ray.init``
    installs one that exits at once, which would skip the trainings' checkpoints)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        return call()
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def start_local(num_cpus: int | None = None, **kwargs):
    """Start a Ray instance on this machine only and connect to it: node address
    127.0.0.1, no dashboard, token authentication (``RAY_AUTH_MODE=token`` with a token
    of this process in ``RAY_AUTH_TOKEN``, unless the user set one; nothing is written to
    ``~/.ray``), usage statistics off.  Returns ``ray.init``'s context."""
    ray = require_ray()
    auth = {"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        auth["RAY_AUTH_TOKEN"] = _TOKEN
    os.environ.update(auth)  # kept: the instance's workers and later clients need them
    try:  # Ray caches its settings at import: make this process see token mode too
        from ray._raylet import Config

        Config.initialize("")
    except (ImportError, AttributeError):
        pass
    return _keeping_sigterm(
        lambda: ray.init(
            address="local",
            num_cpus=num_cpus or available_cpus(),
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            log_to_driver=False,
            logging_level="WARNING",
            **kwargs,
        )
    )


@contextmanager
def ray_session(address: str | None, log):
    """Connected to Ray for the block: see the module's docstring for which one."""
    ray = require_ray()
    address = cluster_address(address)
    if address is None and ray.is_initialized():
        yield "this process's Ray"
        return
    if address:
        try:
            _keeping_sigterm(
                lambda: ray.init(address=address, log_to_driver=False, logging_level="WARNING")
            )
        except Exception as exc:  # noqa: BLE001 - Ray's errors are many, one line each
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"cannot connect to the Ray cluster at {address}: {first}") from None
        where = f"the Ray cluster at {address}"
    saved = {k: os.environ.get(k) for k in _SET_BY_START}
    if not address:
        try:
            context = start_local()
        except Exception as exc:  # noqa: BLE001 - e.g. GCS failed to start
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(
                f"cannot start a local Ray instance: {first} (Ray's logs: "
                "/tmp/ray/session_latest/logs)"
            ) from None
        where = (
            f"a local Ray instance at {context.address_info['gcs_address']} "
            "(127.0.0.1 only, token authentication; stopped after the comparison)"
        )
    try:
        log(f"ray: running on {where}")
        yield where
    finally:
        ray.shutdown()
        for key, value in saved.items():  # this process's environment as it was
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait(ray, refs: list, num_returns: int = 1, timeout: float = 0.5):
    """``ray.wait`` with a signal held until it returns (raised inside Ray's C++ wait, our
    ``Interrupted`` would come out as a SystemError)."""
    with deferred():
        return ray.wait(refs, num_returns=min(num_returns, len(refs)), timeout=timeout)


def _nodes(ray) -> dict[str, str]:
    """Alive node id -> ``NAME (node 1a2b3c4d)``."""
    return {
        n["NodeID"]: f"{n.get('NodeName') or n.get('NodeManagerAddress')} (node {n['NodeID'][:8]})"
        for n in ray.nodes()
        if n.get("Alive")
    }


def _probe(out: str, nonce: str) -> str | None:
    """On one node: None if it sees the marker, else the reason."""
    try:
        from seqgan.experiments.ray_task import check_marker

        check_marker(out, nonce)
        return None
    except FolderNotVisible as exc:
        return str(exc)


def check_shared_folder(ray, out: Path, nonce: str, timeout: float = PROBE_TIMEOUT) -> None:
    """One zero-CPU task pinned to each alive node reads the driver's marker; a one-line
    error names the nodes that cannot see it (or do not answer)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0, max_retries=0)(_probe)
    nodes = _nodes(ray)
    refs = {
        probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(
            str(out), nonce
        ): node
        for node in nodes
    }
    ready, late, deadline = [], list(refs), time.monotonic() + timeout
    while late and time.monotonic() < deadline:
        done, late = _wait(ray, late, len(late))
        ready += done
    bad = [reason for reason in ray.get(ready) if reason]
    bad += [f"node {nodes[refs[r]]} did not answer within {timeout:.0f} s" for r in late]
    if bad:
        raise UserError(bad[0] + (f" (and {len(bad) - 1} more node(s))" if len(bad) > 1 else ""))


def _last_metrics(run: Path) -> tuple[str, str] | None:
    """(phase, phase_epoch) of the last row of ``run/metrics.csv``, if any."""
    try:
        with open(run / "metrics.csv", "rb") as handle:
            header = handle.readline().decode()
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = handle.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return None
    if not lines or lines[-1] == header.strip():
        return None
    row = next(csv.DictReader(io.StringIO(header + lines[-1] + "\n")), None)
    if not row or "phase" not in row:
        return None
    return row["phase"], row.get("phase_epoch", "")


def _attempt_node(log: Path, nonce: str) -> str | None:
    """The node named by the newest ``# ray attempt`` line of this session in ``log``."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        if line.startswith("# ray attempt ") and line.endswith(f"session {nonce}"):
            return line.split(" on ", 1)[1].rsplit(", session", 1)[0]
    return None


class RayRunner:
    """Runs the planned jobs as Ray tasks in dependency order (the local ``Runner``'s
    counterpart: same ``run()``, same job statuses, same lines)."""

    def __init__(
        self,
        jobs: list[Job],
        out: Path,
        data_root: Path | None,
        address: str | None = None,
        max_retries: int = 3,
        gpu_share: float = 0.0,
        log=stderr_line,
        progress_every: float = 10.0,
    ):
        self.jobs, self.out, self.data_root, self.address = jobs, out, data_root, address
        self.max_retries, self.gpu_share, self.log = max_retries, gpu_share, log
        self.progress_every = progress_every
        self.nonce = secrets.token_hex(8)
        self.names: dict[str, str] = {}  # node id -> "NAME (node 1a2b3c4d)"

    def _node_name(self, ray, label: str) -> str:
        """A task's ``host (node 1a2b3c4d)`` as ``NODE-NAME (node 1a2b3c4d)`` (the name of
        ``ray start --node-name``; its IP address by default)."""
        short = label.rpartition("(node ")[2].rstrip(")")
        for _ in range(2):
            match = next((n for i, n in self.names.items() if i.startswith(short)), None)
            if match or not short:
                return match or label
            self.names = _nodes(ray)
        return label

    def _spec(self, job: Job) -> TaskSpec:
        return TaskSpec(
            job.name,
            job.seed,
            str(job.run),
            str(job.log),
            str(job.log.with_suffix(".toml")),
            str(self.out),
            self.nonce,
            os.getcwd(),
            str(self.data_root) if self.data_root else None,
            ["--set", "run.device=cuda"] if self.gpu_share else [],
        )

    def run(self) -> None:
        todo = prepare(self.jobs, self.log)
        for line in plan_lines(self.jobs, len(todo) or 1):
            self.log(line.replace(f"{len(todo) or 1} at a time", "as Ray places them", 1))
        if len(self.jobs) > len(todo):
            self.log(f"reusing {len(self.jobs) - len(todo)} finished run(s)")
        if not todo:
            return
        for job in todo:
            if not (job.run / "config.toml").is_file():
                write_job_config(job)
        write_bytes(self.out / MARKER, f"{self.nonce}\n".encode())
        with ray_session(self.address, self.log):
            import ray

            check_shared_folder(ray, self.out, self.nonce)
            self._execute(ray, todo)

    def _submit(self, ray, todo: list[Job]) -> dict:
        task = ray.remote(_train)
        refs: dict = {}
        by_job: dict[int, object] = {}
        for job in todo:  # in launch order: a pre-training before the runs that need it
            options = dict(
                num_cpus=max(1, job.config.run.threads),
                num_gpus=self.gpu_share,
                max_retries=self.max_retries,
                retry_exceptions=[RunDied],
                name=f"seed-{job.seed}-{job.name}",
            )
            after = by_job.get(id(job.needs)) if job.needs is not None else None
            ref = task.options(**options).remote(self._spec(job), after)
            refs[ref] = job
            by_job[id(job)] = ref
        return refs

    def _execute(self, ray, todo: list[Job]) -> None:
        refs = self._submit(ray, todo)
        for job in todo:
            job.status = "waiting"
        finished = len(self.jobs) - len(todo)
        shown: dict[int, tuple] = {}
        last_shown: dict[int, float] = {}
        pending = list(refs)
        try:
            while pending:
                done, pending = _wait(ray, pending)
                self._progress(ray, refs, done, shown, last_shown)  # a start not yet shown
                for ref in done:
                    job = refs[ref]
                    where = self._finish(ray, ref, job) or shown.get(id(job), (None,))[0]
                    finished += 1
                    self.log(
                        finished_line(
                            finished, len(self.jobs), job, f" on {where}" if where else ""
                        )
                    )
                self._progress(ray, refs, pending, shown, last_shown)
        except (Interrupted, UserError):  # a signal, or a node without the folder
            self._cancel(ray, pending, refs)
            raise

    def _finish(self, ray, ref, job: Job) -> str | None:
        """The job's status from its task's result; the node it ended on, if known."""
        try:
            result = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - retries exhausted, or its pre-training's
            job.status = "failed"
            cause = getattr(exc, "cause", None) or exc
            if job.needs is not None and job.needs.status in ("failed", "skipped"):
                job.status = "skipped"  # the error is its pre-training's
            elif isinstance(cause, FolderNotVisible):
                raise UserError(str(cause).splitlines()[0]) from None
            else:
                self.log(
                    f"seed {job.seed} {job.name}: "
                    + (str(cause).strip().splitlines() or [type(cause).__name__])[-1]
                )
            return None
        job.status, job.seconds = result["status"], result["seconds"]
        if result["status"] == "skipped":
            return None
        node = self._node_name(ray, result["node"])
        if result["status"] == "failed":
            self.log(
                f"seed {job.seed} {job.name}: seqgan train exited with code "
                f"{result['code']} on {node} (not retried: its log says why)"
            )
        return node

    def _progress(self, ray, refs: dict, pending: list, shown: dict, last_shown: dict) -> None:
        """One line per running run when its node, phase or epoch changed (at most every
        ``progress_every`` seconds per run, a new node or phase at once)."""
        now = time.monotonic()
        for ref in pending:
            job = refs[ref]
            node = _attempt_node(job.log, self.nonce)
            if node is None:
                continue
            node = self._node_name(ray, node)
            if job.status == "waiting":
                job.status = "running"
                self.log(f"started seed {job.seed} {job.name} on {node}: {job.run}, log {job.log}")
            position = _last_metrics(job.run)
            state = (node, *(position or ("starting", "")))
            old = shown.get(id(job))
            if state == old:
                continue
            urgent = old is None or old[:2] != state[:2]
            if urgent or now - last_shown.get(id(job), 0.0) >= self.progress_every:
                shown[id(job)], last_shown[id(job)] = state, now
                if position:
                    self.log(f"  seed {job.seed} {job.name} on {node}: {state[1]} epoch {state[2]}")

    def _cancel(self, ray, pending: list, refs: dict) -> None:
        """Cancel the unfinished tasks: a running one passes SIGTERM to its training,
        which saves a checkpoint and exits; wait for them (at most 5 minutes)."""
        for ref in pending:
            try:
                ray.cancel(ref)
            except Exception:  # noqa: BLE001 - finished meanwhile
                pass
        deadline = time.monotonic() + 300
        while pending and time.monotonic() < deadline:
            try:
                _, pending = _wait(ray, pending, len(pending))
            except Interrupted:  # a second signal: keep waiting, the trainings are saving
                continue
        for ref in refs:
            if refs[ref].status in ("waiting", "running"):
                refs[ref].status = "skipped"


def _train(spec: TaskSpec, after: dict | None = None) -> dict:
    """The Ray task: ``after`` is the result of the pre-training it starts from (Ray
    runs this task only once that one ended)."""
    if after is not None and after.get("status") != "done":
        return {"status": "skipped", "code": None, "node": "", "attempt": 0, "seconds": 0.0}
    return run_training(spec)
