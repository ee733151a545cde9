"""The runs of a comparison as jobs, shared by its backends (``experiments.compare``'s
``Runner`` here, ``experiments.ray_backend`` on a Ray cluster): a planned run (``Job``) and
where it runs (``Placement``), its config file and ``seqgan train`` command, the jobs left
to do (``prepare``), and the lines printed for the plan and for each run's end."""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seqgan.config import Config
from seqgan.errors import UserError
from seqgan.storage.atomic import write_bytes
from seqgan.storage.folder import RunFolder


@dataclass
class Placement:
    """Where one run of the comparison runs: what its subprocess gets besides the plain
    ``seqgan train`` command (nothing on the CPU)."""

    gpu: str | None = None  # the run's CUDA_VISIBLE_DEVICES value; None: the CPU
    env: dict[str, str] = field(default_factory=dict)  # variables set for the subprocess
    args: list[str] = field(default_factory=list)  # options added to `seqgan train`
    threads: int = 0  # the run's torch CPU threads (run.threads of its config)


@dataclass
class Job:
    name: str  # "pretrain", "pretrain-vae", an algorithm, or "seqgan-g1-d5-k3"
    seed: int
    config: Config
    run: Path
    needs: Job | None = None
    label: str = ""  # row of the table / panel of the strategies figure
    status: str = "waiting"  # waiting | running | done | failed | skipped
    seconds: float = 0.0
    log: Path = field(default=Path())


def train_command(
    run: Path, config: Path, data_root: Path | None, extra: list[str] = ()
) -> list[str]:
    """The ``seqgan train`` command of a run: ``--resume RUN`` once the run folder has its
    ``config.toml`` (decided when the run is launched, so a retried or re-run job
    continues), else ``--config CONFIG --out RUN``; ``extra`` are the placement's options."""
    base = [sys.executable, "-m", "seqgan", "train"]
    if data_root is not None:
        base += ["--data-root", str(data_root)]
    extra = list(extra)
    if (run / "config.toml").is_file():
        # a resumed run keeps its config.toml's device unless --resume --set may
        # change it (a run started with --gpus has run.device = "cuda" there)
        if extra:
            from seqgan.training.session import EXTENDABLE

            extra = extra if "run.device" in EXTENDABLE else []
        return base + ["--resume", str(run)] + extra
    return base + ["--config", str(config), "--out", str(run)] + extra


def write_job_config(job: Job) -> Path:
    """The job's config as ``logs/seed-<s>-<name>.toml`` (what ``train_command`` passes)."""
    config = job.log.with_suffix(".toml")
    write_bytes(config, job.config.to_toml().encode())
    return config


def prepare(jobs: list[Job], log) -> list[Job]:
    """Before any backend launches a run: the logs folder, finished runs marked ``done``
    (reused), a damaged ``summary.json`` reported; returns the jobs to do."""
    for job in jobs:
        try:
            job.log.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {job.log.parent}: {exc.strerror}") from None
        if RunFolder(job.run).finished():
            job.status = "done"
        elif job.run.joinpath("summary.json").exists():
            log(f"warning: {job.run}/summary.json is damaged; re-making it with --resume")
    return [j for j in jobs if j.status != "done"]


def finished_line(finished: int, total: int, job: Job, where: str = "") -> str:
    """``[3/8] seed 3 seqgan: done (12 s), log …`` — a run's end, as every backend prints it."""
    return (
        f"[{finished}/{total}] seed {job.seed} {job.name}{where}: {job.status} "
        f"({job.seconds:.0f} s), " + ("log " if job.status == "done" else "see ") + str(job.log)
    )


def plan_lines(
    jobs: list[Job],
    parallel: int,
    placements: dict[int, Placement] | None = None,
    runs_per_gpu: int = 1,
) -> list[str]:
    """The plan as printed before the first run starts: one line per run, in launch
    order, with its folder and what it waits for (or that it is finished already); with
    GPUs also the placement (``CUDA_VISIBLE_DEVICES`` of each run) and the threads."""
    if not jobs:
        return []
    placements = placements or {}
    gpus = list(dict.fromkeys(p.gpu for p in placements.values() if p.gpu is not None))
    header = f"plan: {len(jobs)} run(s), {parallel} at a time"
    if gpus:
        threads = next(p.threads for p in placements.values() if p.gpu is not None)
        header += (
            f" ({len(gpus)} GPU(s) x {runs_per_gpu} run(s) each, CUDA_VISIBLE_DEVICES "
            f"{','.join(gpus)}; each run sees its GPU as cuda:0 and uses "
            f"{threads or 'torch default'} CPU thread(s))"
        )
    lines = [f"{header}; each run's output in {jobs[0].log.parent}/"]
    for job in jobs:
        note = (
            " (finished: reused)"
            if job.status == "done"
            else (f" (after seed {job.needs.seed} {job.needs.name})" if job.needs else "")
        )
        placed = placements.get(id(job))
        where = f" on GPU {placed.gpu}" if placed is not None and placed.gpu is not None else ""
        lines.append(f"  seed {job.seed} {job.name}: {job.run}{where}{note}")
    return lines


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM if this process dies (so a
    killed ``compare`` leaves no orphan trainings; they checkpoint and exit)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
