"""``seqgan compare``: train several algorithms (and SeqGAN training strategies) over
seeds, sharing one pre-training per seed and family, then write the comparison report:
one MLE pre-training for the SeqGAN family and the baselines, one VAE pre-training
(encoder and decoder, Eq. 2/3) for ``vae``, ``seqvae1`` and ``seqvae2``.

Layout of the comparison folder ``OUT``::

    compare.toml                  what is compared (checked when the command is re-run)
    seed-<s>/pretrain/            MLE pre-training shared by the MLE family of seed s
    seed-<s>/pretrain-vae/        VAE pre-training shared by the VAE family of seed s
    seed-<s>/<algorithm>/         one ordinary run folder per algorithm ...
    seed-<s>/seqgan-g<g>-d<d>-k<k>/  ... and per training strategy
    seed-<s>/<algorithm>-<knob>-<v>/  ... and per value of a swept knob (``--sweep``)
    seed-<s>/pretrain-<algorithm>/  the own pre-training shared by a sweep's runs
    logs/seed-<s>-<name>.log      each run's output
    table.md, table.csv, figures/ the report (``experiments.report``)

Each run is a ``seqgan train`` subprocess (``--jobs`` at a time, each with
``available CPUs // jobs`` threads unless ``run.threads`` or ``OMP_NUM_THREADS`` is set;
``runtime.threads``).  With GPUs (``--gpus 0,1``,
``--runs-per-gpu K``) ``len(gpus) * K`` run at a time: the runs to do are placed
round-robin over the GPUs in launch order (``place``), each subprocess sees only its GPU
(``CUDA_VISIBLE_DEVICES``, so it is ``cuda:0`` there) and gets ``--set run.device=cuda``,
a GPU never runs more than K at a time, and the threads are ``available CPUs // (len(gpus) * K)``
unless ``run.threads`` is set (docs/devices.md, "Several runs per GPU").  Re-running the same
command continues: finished runs are reused, interrupted ones resumed from their
checkpoints.  SIGINT / SIGTERM are passed on to the running trainings, which save a
checkpoint before they exit.

Backends: the plan (``plan``), the folder checks, the jobs (``experiments.jobs``:
``prepare``, ``train_command``) and the report are shared; ``Runner`` (``--backend local``,
the default) launches the runs as a pool of subprocesses here,
``experiments.ray_backend.RayRunner`` (``--backend ray``) as Ray tasks on a cluster
(docs/scale-out.md).  Both mark each job done / failed / skipped.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import tomli_w

import seqgan.registry as registry
from seqgan.config import (
    Config,
    build_config,
    changed_keys,
    read_toml,
    validate,
)
from seqgan.errors import Interrupted, RunsFailed, UserError, unknown_name
from seqgan.experiments.jobs import (
    Job,
    Placement,
    die_with_parent,
    finished_line,
    plan_lines,
    prepare,
    train_command,
    write_job_config,
)
from seqgan.experiments.report import build_table, write_figures, write_table
from seqgan.models.pass_rows import SETTINGS as PASS_ROW_SETTINGS
from seqgan.runtime.console import stderr_line
from seqgan.runtime.interrupt import handle_signals
from seqgan.runtime.threads import threads_per_run
from seqgan.storage.atomic import write_bytes
from seqgan.storage.folder import RunFolder, is_empty
from seqgan.storage.lock import FolderLock
from seqgan.storage.tensorboard_path import is_utf8

PRETRAINING_JOBS = {"mle": "pretrain", "vae": "pretrain-vae"}  # pre-training -> job name
OWN = registry.OWN_PRETRAINING  # an algorithm's own pre-training: shared by its sweep's runs


def parse_strategies(text: str | None) -> list[tuple[int, int, int]]:
    """``"1,5,3;1,1,1"`` -> ``[(1, 5, 3), (1, 1, 1)]`` (g-steps, d-steps, k epochs)."""
    if not text:
        return []
    out = []
    for part in text.split(";"):
        try:
            g, d, k = (int(v) for v in part.split(","))
        except ValueError:
            raise UserError(
                f"--strategies expects 'g,d,k;g,d,k;...' of integers, got '{part}'"
            ) from None
        if g < 0 or d < 0 or k < 1:
            raise UserError(f"--strategies: need g >= 0, d >= 0, k >= 1, got '{part}'")
        out.append((g, d, k))
    return out


def _section_of(algorithm: str) -> str | None:
    return registry.algorithm(algorithm).section


@dataclass(frozen=True)
class Sweep:
    """One knob of one algorithm's own config section over several values (``--sweep
    relgan.beta_max=1,10,100``): that algorithm's run is replaced by one run per value,
    named ``<algorithm>-<knob>-<value>`` (``relgan-beta_max-100``), which share its
    pre-training (for an algorithm with ``pretraining="own"``, a ``pretrain-<algorithm>``
    run per seed)."""

    algorithm: str
    knob: str  # the key inside the section: "beta_max"
    values: tuple[str, ...]  # as written, each a valid value of the knob

    @property
    def key(self) -> str:
        """The full key, ``relgan.beta_max`` (``--set`` spelling)."""
        return f"{registry.section_name(self.algorithm)}.{self.knob}"

    def run_name(self, value: str) -> str:
        return f"{self.algorithm}-{self.knob}-{value}"

    def to_list(self) -> list[str]:
        """As recorded in ``compare.toml``: ``[key, value, ...]``."""
        return [self.key, *self.values]

    @classmethod
    def from_list(cls, listed, algorithms: list[str]) -> Sweep | None:
        """The sweep ``to_list`` recorded for a comparison of ``algorithms``; None for
        anything else (no sweep, a damaged entry)."""
        if not isinstance(listed, list) or len(listed) < 3:
            return None
        if not all(isinstance(v, str) for v in listed) or "." not in listed[0]:
            return None
        section, knob = listed[0].split(".", 1)
        owners = [a for a in algorithms if registry.section_name(a) == section]
        return cls(owners[0], knob, tuple(listed[1:])) if owners else None


def parse_sweep(text: str | None, algorithms: list[str], option: str = "--sweep") -> Sweep | None:
    """``"relgan.beta_max=1,10,100"`` -> a ``Sweep`` of an algorithm among ``algorithms``
    whose own section holds the knob; each value checked as ``--set`` checks it; one-line
    errors otherwise."""
    if text is None:
        return None
    key, sep, listed = text.partition("=")
    key = key.strip()
    values = [v.strip() for v in listed.split(",") if v.strip()]
    if not sep or "." not in key or not values:
        raise UserError(f"{option} expects SECTION.KNOB=V1,V2,... (e.g. relgan.beta_max=1,10,100)")
    section, knob_name = key.split(".", 1)
    owners = [a for a in algorithms if registry.is_algorithm(a) and _section_of(a) == section]
    if not owners:
        own = [a.name for a in registry.algorithms() if a.section is not None]
        raise UserError(
            f"{option}: [{section}] is not the own section of an algorithm in "
            f"--algorithms ({', '.join(algorithms)}); a sweep varies one knob of "
            f"{', '.join(own)}, listed in --algorithms"
        )
    if len(values) < 2 or len(set(values)) != len(values):
        raise UserError(f"{option} needs at least two different values of {key}")
    for value in values:
        if not re.fullmatch(r"[\w.+-]+", value):
            raise UserError(
                f"{option}: value {value!r} of {key} cannot name a run folder "
                "(letters, digits, '.', '+', '-')"
            )
        try:
            build_config(None, [f"{key}={value}"], complete=False)
        except UserError as exc:
            raise UserError(f"{option}: {exc}") from None
    return Sweep(owners[0], knob_name, tuple(values))


# names accepted besides the algorithms: SeqGAN with another policy-gradient estimator
ESTIMATOR_VARIANTS = ("ordinary", "baseline", "merl")


def parse_algorithms(text: str, option: str = "--algorithms") -> list[str]:
    """The comma-separated algorithm names of ``option`` (as the caller spells it: the
    CLI's ``--algorithms``, the API's ``algorithms=``); an unknown one is a one-line
    error with the closest known name."""
    names = [a.strip() for a in text.split(",") if a.strip()]
    known = [*registry.algorithm_names(), *ESTIMATOR_VARIANTS]
    if not names:
        raise UserError(f"{option} names no algorithm; choose from {', '.join(known)}")
    for name in names:
        if name not in known:
            raise UserError(f"{option}: {unknown_name('algorithm', name, known)}")
        if name not in ESTIMATOR_VARIANTS:
            registry.algorithm(name)  # one line now if its package cannot be loaded
    if len(set(names)) != len(names):
        raise UserError(f"{option} lists an algorithm twice")
    return names


def _cuda_device_count() -> int:
    """torch's number of visible CUDA devices (0 without CUDA or a driver)."""
    import torch

    try:
        return torch.cuda.device_count()
    except Exception:  # a broken driver: no usable GPU  # noqa: BLE001
        return 0


def visible_gpus(count: int | None = None, environ=None) -> list[str]:
    """The GPUs this process sees, as the values a subprocess's ``CUDA_VISIBLE_DEVICES``
    takes to see only that one: ``"0"`` ... ``"count-1"``, or, when
    ``CUDA_VISIBLE_DEVICES`` is set here, its first ``count`` entries (``cuda:i`` of this
    process is its i-th entry).  ``count`` defaults to ``torch.cuda.device_count()``."""
    environ = os.environ if environ is None else environ
    count = _cuda_device_count() if count is None else count
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(count)]
    return [e.strip() for e in listed.split(",") if e.strip()][:count]


def parse_gpus(text: str, visible: list[str]) -> list[str]:
    """``--gpus``: ``"all"`` or ``"0,1"`` (indices of ``visible``, i.e. torch's
    ``cuda:i`` here) -> the ``CUDA_VISIBLE_DEVICES`` value of each GPU to use."""
    if not visible:
        raise UserError(
            "--gpus: no GPU is visible (torch.cuda.device_count() is 0"
            + (
                f", CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']!r}"
                if "CUDA_VISIBLE_DEVICES" in os.environ
                else ""
            )
            + "); drop --gpus to train on the CPU (--jobs N)"
        )
    if text.strip() == "all":
        return list(visible)
    try:
        ids = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--gpus expects 'all' or GPU numbers like '0,1', got '{text}'") from None
    if not ids:
        raise UserError(f"--gpus expects 'all' or GPU numbers like '0,1', got '{text}'")
    if len(set(ids)) != len(ids):
        raise UserError("--gpus lists a GPU twice (for several runs on one GPU: --runs-per-gpu K)")
    missing = [i for i in ids if not 0 <= i < len(visible)]
    if missing:
        raise UserError(
            f"--gpus: GPU {missing[0]} is not visible ({len(visible)} visible: "
            f"{','.join(map(str, range(len(visible))))})"
        )
    return [visible[i] for i in ids]


def place(jobs: list[Job], gpus: list[str], runs_per_gpu: int = 1) -> list[Placement]:
    """The placement of ``jobs`` (the runs to do, in launch order): round-robin over
    ``gpus`` (job i on ``gpus[i % len(gpus)]``), each subprocess with
    ``CUDA_VISIBLE_DEVICES`` = its GPU and ``--set run.device=cuda``; the Runner starts at
    most ``runs_per_gpu`` at a time on one GPU.  Without ``gpus``: the CPU, nothing added
    (the command and environment of a plain ``seqgan compare``)."""
    if runs_per_gpu < 1:
        raise UserError(f"--runs-per-gpu must be positive, got {runs_per_gpu}")
    if not gpus:
        return [Placement(threads=job.config.run.threads) for job in jobs]
    return [
        Placement(
            gpu, {"CUDA_VISIBLE_DEVICES": gpu}, ["--set", "run.device=cuda"], job.config.run.threads
        )
        for job, gpu in zip(jobs, (gpus[i % len(gpus)] for i in range(len(jobs))))
    ]


def _with(base: dict, **sections) -> Config:
    """``base`` (a config dict) with ``sections`` merged in (dicts key by key)."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in sections.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return build_config(data)


def _algorithm_of(name: str) -> str:
    """The algorithm of a listed name (an estimator variant runs SeqGAN)."""
    return name if registry.is_algorithm(name) else "seqgan"


def _pretraining_of(algorithm: str) -> str | None:
    """The shared pre-training an algorithm starts from: ``mle``, ``vae`` or None
    (``registry.Algorithm.pretraining``)."""
    return registry.algorithm(algorithm).pretraining


def plan(
    base: Config,
    algorithms: list[str],
    strategies: list[tuple[int, int, int]],
    seeds: int,
    out: Path,
    jobs: int,
    sweep: Sweep | None = None,
) -> list[Job]:
    """Every run of the comparison, pre-training runs first."""
    data = base.to_dict()
    data["run"]["threads"] = threads_per_run(jobs, base.run.threads)
    share = base.pretrain.generator_epochs > 0
    planned: list[Job] = []
    runs: list[tuple[str, str, str, dict]] = []  # (name, label, algorithm, sections to merge)
    for a in algorithms:
        if sweep is not None and a == sweep.algorithm:
            runs += [
                (sweep.run_name(v), f"{a} {sweep.knob}={v}", a, _swept(data, sweep, v))
                for v in sweep.values
            ]
        else:
            runs.append((a, a, _algorithm_of(a), {}))
    runs += [
        (
            f"seqgan-g{g}-d{d}-k{k}",
            f"g={g}, d={d}, k={k}",
            "seqgan",
            {"adversarial": {"g_steps": g, "d_steps": d, "k_epochs": k}},
        )
        for g, d, k in strategies
    ]
    kinds = sorted({_pretraining_of(a) for _, _, a, _ in runs} - {None, OWN})
    own = (
        sweep.algorithm
        if sweep is not None and share and _pretraining_of(sweep.algorithm) == OWN
        else None
    )
    for i in range(seeds):
        seed = base.seed + i
        folder = out / f"seed-{seed}"
        pretrain: dict[str, Job] = {}
        for kind in kinds if share else ():
            cfg = _with(data, seed=seed, algorithm=kind, adversarial={"epochs": 0})
            pretrain[kind] = Job(PRETRAINING_JOBS[kind], seed, cfg, folder / PRETRAINING_JOBS[kind])
            planned.append(pretrain[kind])
        if own is not None:  # the sweep's own pre-training, at the base config's knob
            cfg = _with(data, seed=seed, algorithm=own, adversarial={"epochs": 0})
            name = f"pretrain-{own}"
            pretrain[OWN] = Job(name, seed, cfg, folder / name)
            planned.append(pretrain[OWN])
        for name, label, algorithm, sections in runs:
            generator = {"estimator": name} if name in ESTIMATOR_VARIANTS else {}
            kind = _pretraining_of(algorithm)
            source = pretrain.get(kind) if kind != OWN or algorithm == own else None
            cfg = _with(
                data,
                seed=seed,
                algorithm=algorithm,
                **{"generator": generator, **sections},
                pretrain={"generator_from": str(source.run) if source else ""},
            )
            planned.append(Job(name, seed, cfg, folder / name, source, label))
    for job in planned:
        job.log = out / "logs" / f"seed-{job.seed}-{job.name}.log"
    # longest first (pre-training before what needs it), so parallel slots end together
    return sorted(
        planned, key=lambda j: (j.needs is not None, -registry.algorithm(j.config.algorithm).cost)
    )


def _swept(data: dict, sweep: Sweep, value: str) -> dict:
    """The config sections of one run of ``sweep``: its section with the knob at
    ``value`` (parsed as ``--set`` parses it)."""
    section = registry.section_name(sweep.algorithm)
    parsed = build_config(data, [f"{sweep.key}={value}"]).to_dict()
    return {section: {sweep.knob: parsed[section][sweep.knob]}}


def _check_folder(out: Path, settings: dict) -> None:
    """``out`` must be new, or a comparison of exactly the same settings (to continue)."""
    marker = out / "compare.toml"
    if marker.is_file():
        previous = read_toml(marker)
        if isinstance(previous.get("config"), dict):
            # a folder written before a setting existed holds that setting's default
            try:
                previous["config"] = build_config(previous["config"]).to_dict()
            except UserError:  # a setting since removed: a different comparison
                pass
        if _identity(previous) != _identity(settings):
            differ = _differences(_identity(previous), _identity(settings))
            raise UserError(
                f"{out} holds a different comparison ({differ}); choose another "
                "--out (or repeat the command that made it to continue it)"
            )
    elif out.exists() and not is_empty(out):
        raise UserError(f"output folder {out} exists and is not a comparison folder")


def _identity(settings: dict) -> dict:
    """A comparison's settings without the pass sizes (``models.pass_rows.SETTINGS``: the
    device's choice; a comparison made when they defaulted to 1024 continues with 0)."""
    out = copy.deepcopy(settings)
    config = out.get("config")
    for section, key in PASS_ROW_SETTINGS:
        if isinstance(config, dict) and isinstance(config.get(section), dict):
            config[section].pop(key, None)
    return out


def _differences(previous: dict, settings: dict) -> str:
    """The first few settings in which two comparisons differ, for a one-line message."""
    keys = changed_keys(previous, settings)
    return "differs in " + ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")


class Runner:
    """Runs jobs as ``seqgan train`` subprocesses, ``jobs`` at a time, in dependency order."""

    def __init__(
        self,
        jobs: list[Job],
        parallel: int,
        data_root: Path | None,
        log=stderr_line,
        gpus: list[str] = (),
        runs_per_gpu: int = 1,
    ):
        self.jobs, self.parallel, self.data_root, self.log = jobs, parallel, data_root, log
        self.gpus, self.runs_per_gpu = list(gpus), runs_per_gpu
        if self.gpus:
            self.parallel = len(self.gpus) * runs_per_gpu
        self.placements: dict[int, Placement] = {}  # id(job) -> where it runs
        self.procs: dict[int, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stopping = False

    def placement(self, job: Job) -> Placement:
        return self.placements.get(id(job)) or Placement(threads=job.config.run.threads)

    def _command(self, job: Job) -> list[str]:
        if not (job.run / "config.toml").is_file():
            write_job_config(job)
        return train_command(
            job.run, job.log.with_suffix(".toml"), self.data_root, self.placement(job).args
        )

    def environment(self, job: Job) -> dict[str, str] | None:
        """The subprocess's environment: None (inherited) on the CPU."""
        env = self.placement(job).env
        return {**os.environ, **env} if env else None

    def _run(self, job: Job) -> Job:
        with self.lock:
            if self.stopping:
                job.status = "skipped"
                return job
            job.status = "running"
            command = self._command(job)
            added = self.placement(job).env
            handle = _open_log(job.log)
            handle.write(
                "$ "
                + "".join(f"{k}={shlex.quote(v)} " for k, v in added.items())
                + f"{shlex.join(command)}\n"
            )
            handle.flush()
            proc = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
                env=self.environment(job),
            )
            self.procs[id(job)] = proc
        gpu = self.placement(job).gpu
        self.log(
            f"started seed {job.seed} {job.name}: {job.run}, log {job.log}"
            + (f", GPU {gpu}" if gpu is not None else "")
        )
        start = time.perf_counter()
        code = proc.wait()
        handle.close()
        with self.lock:
            self.procs.pop(id(job), None)
        job.seconds = time.perf_counter() - start
        job.status = "done" if code == 0 else "failed"
        return job

    def stop(self, signum: int) -> None:
        """Stop launching and pass ``signum`` on to the running trainings.  SIGINT usually
        comes from Ctrl-C, which reaches the whole process group: the trainings get one
        second to react to it themselves before it is passed on."""
        with self.lock:
            self.stopping = True
            procs = list(self.procs.values())
        grace = 1.0 if signum == signal.SIGINT else 0.0
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.05)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    def run(self) -> None:
        todo = prepare(self.jobs, self.log)
        reused = len(self.jobs) - len(todo)
        self.placements = {
            id(j): p for j, p in zip(todo, place(todo, self.gpus, self.runs_per_gpu))
        }
        for line in plan_lines(self.jobs, self.parallel, self.placements, self.runs_per_gpu):
            self.log(line)
        if reused:
            self.log(f"reusing {reused} finished run(s)")
        pool = ThreadPoolExecutor(max_workers=self.parallel)
        running: dict[Future, Job] = {}
        busy: dict[str, int] = {}  # GPU -> runs on it now
        finished = reused
        try:
            while todo or running:
                for job in list(todo):
                    gpu = self.placement(job).gpu
                    if job.needs is not None and job.needs.status in ("failed", "skipped"):
                        job.status = "skipped"
                        todo.remove(job)
                    elif (
                        (job.needs is None or job.needs.status == "done")
                        and len(running) < self.parallel
                        and (gpu is None or busy.get(gpu, 0) < self.runs_per_gpu)
                    ):
                        running[pool.submit(self._run, job)] = job
                        todo.remove(job)
                        if gpu is not None:
                            busy[gpu] = busy.get(gpu, 0) + 1
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    gpu = self.placement(job).gpu
                    if gpu is not None:
                        busy[gpu] -= 1
                    future.result()
                    finished += 1
                    self.log(finished_line(finished, len(self.jobs), job))
        except Interrupted as exc:
            self.stop(exc.signum)
            for future in running:  # each training saves a checkpoint and exits
                future.result()
            raise
        finally:
            pool.shutdown(wait=True)


def run_compare(
    base: Config,
    algorithms: list[str],
    strategies: list[tuple[int, int, int]],
    seeds: int,
    jobs: int,
    out: Path,
    data_root: Path | None,
    gpus: list[str] | None = None,
    runs_per_gpu: int = 1,
    backend: str = "local",
    ray_address: str | None = None,
    max_retries: int = 3,
    sweep: Sweep | None = None,
) -> str:
    """Plan, run (or continue) and report a comparison; returns the markdown table.
    ``sweep`` replaces its algorithm's run by one run per value of its knob (``Sweep``).
    ``gpus`` (``CUDA_VISIBLE_DEVICES`` values, ``parse_gpus``) replace ``jobs`` by
    ``len(gpus) * runs_per_gpu`` runs at a time (``place``).  ``backend``: ``local`` (a
    pool of subprocesses, ``Runner``) or ``ray`` (the same runs as Ray tasks,
    ``experiments.ray_backend``: ``ray_address``, ``max_retries``; ``gpus`` is then ``["all"]``,
    each run taking ``1 / runs_per_gpu`` of a GPU that Ray chooses)."""
    validate(base)  # also a Config built or changed in Python
    if backend not in ("local", "ray"):
        raise UserError(f"--backend: unknown '{backend}'; choose from local, ray")
    if backend == "ray":
        from seqgan.experiments.ray_backend import cluster_address, require_ray

        require_ray()
        ray_address = cluster_address(ray_address)  # unreachable: one line, nothing written
        if max_retries < 0:
            raise UserError(f"--max-retries must be >= 0, got {max_retries}")
    ray_gpus = backend == "ray" and bool(gpus)
    gpus = list(gpus or [])
    if gpus:
        if runs_per_gpu < 1:
            raise UserError(f"--runs-per-gpu must be positive, got {runs_per_gpu}")
        try:  # the run.device setting the GPU runs are launched with
            build_config(base.to_dict(), ["run.device=cuda"])
        except UserError as exc:
            raise UserError(
                f"--gpus launches runs with --set run.device=cuda, refused by this config: {exc}"
            ) from None
        jobs = jobs if ray_gpus else len(gpus) * runs_per_gpu
    if seeds < 1 or jobs < 1:
        raise UserError("--seeds and --jobs must be positive")
    settings = {
        "config": base.to_dict(),
        "algorithms": algorithms,
        "strategies": [list(s) for s in strategies],
        "seeds": seeds,
    }
    if sweep is not None:  # absent otherwise: a comparison made before sweeps continues
        settings["sweep"] = sweep.to_list()
    if not is_utf8(out):  # the runs' config.toml (UTF-8 TOML) name their shared pre-training
        raise UserError(
            f"comparison folder {out}: its name is not UTF-8, which the runs' "
            f"config.toml files cannot record; choose a UTF-8 name"
        )
    _check_folder(out, settings)
    planned = plan(base, algorithms, strategies, seeds, out, jobs, sweep)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create comparison folder {out}: {exc.strerror}") from None
    with FolderLock(out, "comparison folder"):
        write_bytes(out / "compare.toml", tomli_w.dumps(settings).encode())
        if backend == "ray":
            from seqgan.experiments.ray_backend import RayRunner

            runner = RayRunner(
                planned,
                out,
                data_root,
                address=ray_address,
                max_retries=max_retries,
                gpu_share=1 / runs_per_gpu if ray_gpus else 0.0,
            )
        else:
            runner = Runner(planned, jobs, data_root, gpus=gpus, runs_per_gpu=runs_per_gpu)
        with handle_signals():
            runner.run()
        return _report(base, algorithms, planned, out, sweep)


def _row_names(algorithms: list[str], sweep: Sweep | None) -> list[str]:
    """The runs of the table's rows: each algorithm, a swept one as its runs."""
    out = []
    for a in algorithms:
        if sweep is not None and a == sweep.algorithm:
            out += [sweep.run_name(v) for v in sweep.values]
        else:
            out.append(a)
    return out


def _report(
    base: Config, algorithms: list[str], planned: list[Job], out: Path, sweep: Sweep | None = None
) -> str:
    """``table.md``, ``table.csv`` and the figures of finished jobs; the markdown table."""
    failed = [j for j in planned if j.status != "done"]
    if failed:
        names = ", ".join(f"seed {j.seed} {j.name} ({j.status})" for j in failed)
        raise RunsFailed(f"{len(failed)} run(s) did not finish: {names}; see {out / 'logs'}")
    groups: dict[str, list[RunFolder]] = {}  # the table's rows: the algorithms, a sweep's runs
    strategy_groups: dict[str, list[RunFolder]] = {}
    for name in dict.fromkeys(_row_names(algorithms, sweep)):
        groups[name] = [RunFolder(j.run) for j in planned if j.name == name]
    for job in planned:
        if job.name.startswith("seqgan-g"):
            strategy_groups.setdefault(job.label, []).append(RunFolder(job.run))
    pretrain_end = float(base.pretrain.generator_epochs) if base.pretrain.generator_epochs else None
    table = write_table(*build_table(groups), out)
    write_figures(groups, strategy_groups, pretrain_end, out, base.name)
    return table


def _open_log(path: Path):
    try:
        return open(path, "a", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
