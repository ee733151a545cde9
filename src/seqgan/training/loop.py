"""The trainer: runs an algorithm's phases epoch by epoch, evaluates, logs, checkpoints.

An algorithm (e.g. ``training.seqgan``) supplies models, optimizers and a list of
``Phase``s; this loop owns everything around them:

* evaluation (``metrics.evaluation``: NLL-oracle or NLL-test, BLEU, ...) at epoch 0, every
  ``eval.every`` epochs of a generator phase and at its last epoch;
* ``metrics.csv`` / ``timing.csv`` rows (appended), TensorBoard scalars at one global step
  (the serial epoch) and, at the end, the hyper-parameters with the final metrics;
* progress (``runtime.progress``): a bar on a terminal, timestamped lines otherwise;
  samples at each phase end;
* checkpoints every ``run.checkpoint_every`` epochs and at each phase end, holding
  models, optimizers, RNG states, the position, all metric rows and the last evaluation,
  from which ``resume`` continues bit-for-bit (a finished run keeps only its final one,
  and ``end-<phase>.pt``: the generator's state where another run may start from).  The
  state after every epoch is also kept in memory (serialized), so SIGINT/SIGTERM or a
  diverging loss — which abandon the current epoch — first write that last consistent
  state to disk;
* the final figure, ``model.pt`` and ``summary.json`` (with the reproducibility record of
  ``runtime.progress.run_record``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from seqgan._version import __version__
from seqgan.config import Config, build_config, changed_keys, with_recorded_output_kernel
from seqgan.data.export import write_music_examples
from seqgan.data.task import Task
from seqgan.errors import Interrupted, TrainingDiverged, UserError
from seqgan.metrics.evaluation import Evaluator
from seqgan.metrics.posterior import diagnostic_sequences, posterior_diagnostics
from seqgan.models.pass_rows import SETTINGS as PASS_ROW_SETTINGS
from seqgan.models.pass_rows import chosen_rows
from seqgan.models.vae import LatentGenerator
from seqgan.runtime import console, progress, threads
from seqgan.runtime.interrupt import deferred, handle_signals
from seqgan.storage.atomic import write_bytes
from seqgan.storage.checkpoint import (
    WITHOUT_STATE,
    check_rng,
    check_state,
    keep_only_newest,
    load_checkpoint,
    load_latest_checkpoint,
    load_state_checked,
    rng_state,
    save_checkpoint,
    serialize,
    set_rng_state,
)
from seqgan.storage.folder import RunFolder
from seqgan.training import work
from seqgan.training.figures import (
    drawn_metrics,
    plot_curves,
    plot_metric_panels,
    plot_posterior,
    plot_training,
)

# the checkpoint key of an evaluation made only because a phase ended (``Trainer.
# _undo_end_only_evaluation``)
END_ONLY_EVALUATION = "end_only_evaluation"
DIAGNOSTICS = ("entropy", "eval_reward_mean", "eval_reward_std", "d_precision", "d_recall")
EVALUATED = "_evaluated"  # marks a metrics row that holds an evaluation (not written to CSV)


@dataclass
class Phase:
    name: str
    epochs: int
    run_epoch: Callable[[int], dict]  # 1-based epoch of this phase -> metrics to log
    trains_generator: bool  # advances the global epoch axis and is evaluated
    on_end: Callable[[], None] | None = None  # runs once after the last epoch
    # the name of the one optimizer it trains models["generator"] with, if its end state
    # may be shared: kept as checkpoints/end-<name>.pt, which another run of the same
    # settings may start from (``pretrain.generator_from``)
    shared_optimizer: str | None = None
    # config sections besides SHARED_SECTIONS that shape it (e.g. "vae"), or single keys
    # of one ("relgan.mem_slots")
    shaped_by: tuple[str, ...] = ()

    @property
    def shareable(self) -> bool:
        return self.shared_optimizer is not None


class Trainer:
    def __init__(
        self,
        cfg: Config,
        run: RunFolder,
        task: Task,
        models: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        phases: list[Phase],
        log: Callable[[str], None] | None = None,
    ):
        self.cfg, self.run, self.task = cfg, run, task
        self.models, self.optimizers, self.phases = models, optimizers, phases
        self.log = log or console.stderr_line  # through tqdm.write: never garbles a bar
        self.rows: list[dict] = []
        self.phase_index, self.phase_epoch, self.global_epoch = 0, 0, 0
        self.phase_seconds = {p.name: 0.0 for p in phases}
        self.marks: dict[str, float] = {}
        self._last_eval: dict = {}
        self._writer = None
        self._progress: progress.Progress | None = None
        self.started = progress.utc_now()  # when the run first started training (UTC)
        # seconds since the run started, summed over sessions: the total at the last row
        # of an earlier session (from the checkpoint) plus this session's clock
        self._wall_base, self._session_start = 0.0, time.monotonic()
        # the newest consistent state (between two epochs), serialized; written to disk
        # when due, or when the run is interrupted or diverges before it was due
        self._snapshot: bytes | None = None
        self._snapshot_serial = -1
        self._snapshot_phase_end: Path | None = None  # set when it is a shareable phase's end
        self._snapshot_end_bytes: bytes | None = None  # what is written there
        self._keep_fallbacks = False  # (``_keep_final_checkpoint``)
        # the RNG states before, and the keys of, an evaluation of the current epoch that
        # ran only because its phase ended there (``_undo_end_only_evaluation``)
        self._end_only_evaluation: dict | None = None
        self._saved_serial = -1
        self._saved_path: Path | None = None
        self._current = ("init", 0, 0)  # (phase, epoch, epochs) being run, for messages
        self.evaluator = Evaluator(cfg, task)
        self.metric = self.evaluator.primary  # of the progress bar and the learning curve

    # -- checkpoints ----------------------------------------------------------------
    @property
    def serial(self) -> int:
        """Epochs completed over all phases: names the checkpoint of the current state."""
        return self._serial_at(self.phase_index, self.phase_epoch)

    def _serial_at(self, phase_index: int, phase_epoch: int) -> int:
        """Epochs completed over all phases at epoch ``phase_epoch`` of phase
        ``phase_index`` (``len(phases), 0``: all of them)."""
        return sum(p.epochs for p in self.phases[:phase_index]) + phase_epoch

    @property
    def total_epochs(self) -> int:
        return self._serial_at(len(self.phases), 0)

    def _payload(
        self, models: list[str] | None = None, optimizers: list[str] | None = None
    ) -> dict:
        """The training state; every model and optimizer whole (the final checkpoint too,
        so that a finished run extended with ``--resume --set`` trains on from it), or
        only the named ``models`` and ``optimizers`` (an ``end-<phase>.pt``)."""
        models = list(self.models) if models is None else models
        optimizers = list(self.optimizers) if optimizers is None else optimizers
        return {
            "version": __version__,
            "torch": str(torch.__version__),
            "config": self.cfg.to_dict(),
            "models": {k: self.models[k].state_dict() for k in models},
            "optimizers": {k: self.optimizers[k].state_dict() for k in optimizers},
            "rng": rng_state(),
            "device": self.task.device.type,
            "rows": self.rows,
            "marks": self.marks,
            "position": [self.phase_index, self.phase_epoch, self.global_epoch],
            "phase_seconds": self.phase_seconds,
            "last_eval": self._last_eval,
            "started": self.started,
            **(
                {END_ONLY_EVALUATION: self._end_only_evaluation}
                if self._end_only_evaluation is not None
                else {}
            ),
        }

    def _take_snapshot(self) -> None:
        snapshot, serial, phase_end = (
            serialize(self._payload()),
            self.serial,
            self._shareable_phase_end(),
        )
        end_bytes = snapshot if phase_end is None else self._end_bytes(snapshot)
        with deferred():  # the four belong together (see _save_snapshot)
            self._snapshot, self._snapshot_serial = snapshot, serial
            self._snapshot_phase_end, self._snapshot_end_bytes = phase_end, end_bytes

    def _end_bytes(self, snapshot: bytes) -> bytes:
        """``end-<phase>.pt`` of the shareable phase ending now: what a run adopting it
        applies (``_adopt_first_phase``: the generator and the phase's optimizer, with the
        RNG states, rows and position), not the other models (the discriminator's
        untrained weights, most of the file); ``snapshot`` itself when that is all of it."""
        phase = self.phases[self.phase_index]
        keep = [phase.shared_optimizer]
        if list(self.models) == ["generator"] and list(self.optimizers) == keep:
            return snapshot
        return serialize(self._payload(["generator"], keep))

    def _shareable_phase_end(self) -> Path | None:
        """``checkpoints/end-<phase>.pt`` if the current position is the end of a
        shareable phase (the state another run may start from), else None."""
        if self.phase_index < len(self.phases):
            phase = self.phases[self.phase_index]
            if phase.shareable and self.phase_epoch == phase.epochs:
                return self.run.checkpoints / f"end-{phase.name}.pt"
        return None

    def _save_snapshot(self) -> Path | None:
        """Write the newest snapshot unless it is already on disk; its path (or None).
        At the end of a shareable phase its ``end-<phase>.pt`` is written first, in the
        same signal-deferred step: a checkpoint past that point implies the file."""
        if self._snapshot is not None and self._saved_serial != self._snapshot_serial:
            with deferred():
                if self._snapshot_phase_end is not None:
                    write_bytes(self._snapshot_phase_end, self._snapshot_end_bytes)
                self._saved_path = save_checkpoint(
                    self.run.checkpoints,
                    self._snapshot_serial,
                    self._snapshot,
                    self.cfg.run.keep_checkpoints,
                )
                self._saved_serial = self._snapshot_serial
        return self._saved_path

    def restore(self) -> bool:
        """Load the newest good checkpoint of the run folder; False if there is none."""
        found = load_latest_checkpoint(self.run.checkpoints, warn=self.log)
        if found is None:
            return False
        path, state = found
        idle = state.get(WITHOUT_STATE) or []  # a final checkpoint of an older release
        # whose whole predecessor stays while the run is only re-finished from it (it may
        # be extended later; ``_keep_final_checkpoint``)
        self._keep_fallbacks = bool(idle)
        if idle:  # well-formed first (else one line naming what is wrong)
            check_state(state, path, self.phases, self.models, self.optimizers)
        if idle and self._serial_at(*state["position"][:2]) < self.total_epochs:
            # a finished run of an older release extended (``--resume --set
            # adversarial.epochs=N``): its final checkpoint has no state of optimizer(s)
            # ``idle``; the previous one is whole, and re-running the epochs after it
            # reproduces them bit for bit
            earlier = load_latest_checkpoint(self.run.checkpoints, warn=self.log, before=path)
            if earlier is None:
                raise UserError(
                    f"{path} is the final checkpoint of a finished run: it holds "
                    f"no state of optimizer {', '.join(idle)}, and no earlier "
                    f"checkpoint is left to train on from"
                )
            self.log(
                f"note: {path} holds no state of optimizer {', '.join(idle)} (final "
                f"checkpoints leave it out); training on from {earlier[0]}, re-running "
                f"the epochs after it"
            )
            path, state = earlier
            self._keep_fallbacks = False  # the new final checkpoint will be whole
        self._apply_state(state, path, list(self.models), list(self.optimizers))
        self._undo_end_only_evaluation(state, path)
        saved_device = state.get("device", "cpu")
        if saved_device != self.task.device.type:
            self.log(
                f"note: {path} was written on {saved_device}, this session runs on "
                f"{self.task.device.type}: the continued run is not bit-identical to an "
                f"uninterrupted one"
            )
        started = state.get("started")
        self.started = started if isinstance(started, str) else self.started
        changed = [
            key
            for key in changed_keys(_current_keys(state.get("config", {})), self.cfg.to_dict())
            if key != "run.device"
        ]
        if changed:
            self.log(
                f"warning: config.toml differs from the checkpoint's settings in "
                f"{', '.join(changed)}; continuing with config.toml"
            )
        self._snapshot_serial = self._saved_serial = self.serial
        self._saved_path = path
        phase_end = self._shareable_phase_end()
        if phase_end is not None and not phase_end.is_file():  # lost with an older release
            # made from the restored state, as at the phase end (``_end_bytes``)
            write_bytes(phase_end, self._end_bytes(path.read_bytes()))
            self.log(f"re-wrote {phase_end} from {path}")
        where = "after the last phase"
        if self.phase_index < len(self.phases):
            phase = self.phases[self.phase_index]
            where = f"{phase.name}, epoch {self.phase_epoch} of {phase.epochs}"
        self.log(f"resuming from {path} ({where})")
        self.run.write_metrics(self.rows)
        return True

    def _apply_state(
        self, state: dict, path: Path, models: list[str], optimizers: list[str]
    ) -> None:
        """Load the named models and optimizers, the RNG states, metric rows, marks,
        position, phase times and last evaluation of checkpoint ``state`` (from ``path``),
        after ``check_state`` found them all well-formed (else one line, nothing changed)."""
        check_state(
            state,
            path,
            self.phases,
            {key: self.models[key] for key in models},
            {key: self.optimizers[key] for key in optimizers},
        )
        try:
            for key in models:
                load_state_checked(self.models[key], state["models"][key], path)
            for key in optimizers:
                self.optimizers[key].load_state_dict(state["optimizers"][key])
            note = set_rng_state(state["rng"])
            if note:
                self.log(note)
            self.rows, self.marks = list(state["rows"]), dict(state["marks"])
            self.phase_index, self.phase_epoch, self.global_epoch = state["position"]
            self.phase_seconds.update(
                {k: v for k, v in state["phase_seconds"].items() if k in self.phase_seconds}
            )
            self._last_eval = dict(state["last_eval"])
            self._end_only_evaluation = state.get(END_ONLY_EVALUATION)
            self._continue_clock()
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise UserError(
                f"{path} does not fit this run ({type(exc).__name__}: {first})"
            ) from None

    def _undo_end_only_evaluation(self, state: dict, path: Path) -> None:
        """A phase extended (``--resume --set adversarial.epochs=N``) past the epoch it
        ended at, which was evaluated only because the phase ended there: that evaluation
        is taken back (its metrics out of the last row, the RNG states from before it),
        so the run goes on exactly as one trained with the longer phase from the start."""
        saved = state.get(END_ONLY_EVALUATION)
        if saved is None or self.phase_index >= len(self.phases):
            return
        if self.phase_epoch >= self.phases[self.phase_index].epochs:
            return
        try:
            keys = saved["keys"]
            if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
                raise TypeError("keys are not a list of names")
            check_rng(saved["rng"])
            set_rng_state(saved["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise UserError(
                f"{path} does not fit this run ({END_ONLY_EVALUATION}: {exc})"
            ) from None
        self.rows[-1] = {k: v for k, v in self.rows[-1].items() if k not in keys}
        self._end_only_evaluation = None

    def _continue_clock(self) -> None:
        """Count wall-clock seconds on from the last row's (a checkpoint's rows written
        before ``timing.csv`` existed: from the seconds spent in the phases)."""
        wall = self.rows[-1].get("_wall_seconds", sum(self.phase_seconds.values()))
        self._wall_base, self._session_start = float(wall), time.monotonic()

    def _adopt_first_phase(self, source_run: Path) -> None:
        """Start after the first phase, taking its end state from another run's
        ``checkpoints/end-<phase>.pt`` (the settings that shape it must be equal)."""
        phase = self.phases[0] if self.phases else None
        path, state = shared_phase_state(self.cfg, self.phases)
        self._apply_state(state, path, ["generator"], [phase.shared_optimizer])
        if [self.phase_index, self.phase_epoch] != [0, phase.epochs]:
            raise UserError(f"{path} is not the end of {phase.name}")
        if phase.on_end is not None:
            phase.on_end()
        self.run.write_metrics(self.rows)
        self.log(f"took {phase.name} ({phase.epochs} epochs) from {source_run}")

    # -- evaluation and logging ------------------------------------------------------
    def evaluate(self) -> dict:
        """Every metric of ``metrics.evaluation`` on fresh samples (NLL-oracle, NLL-test,
        BLEU, diagnostics, music metrics, as configured); marks the row as an evaluation."""
        means, per_sequence, samples = self.evaluator(
            self.models["generator"], self.models.get("discriminator")
        )
        self._last_eval = {
            "samples": samples,
            "per_sequence": {k: torch.as_tensor(v) for k, v in per_sequence.items()},
        }
        return {EVALUATED: 1, **means}

    def _record(self, row: dict) -> None:
        """Add ``row`` (its wall-clock time and UTC time stamped on) to the rows,
        ``metrics.csv``/``timing.csv`` (appended) and TensorBoard."""
        row["_wall_seconds"], row["_utc"] = self._wall_seconds(), progress.utc_now()
        self.rows.append(row)
        self.run.append_metrics(self.rows)
        if self.cfg.run.tensorboard:
            step = self._step(row)
            writer = self._tensorboard(step)
            for key, value in row.items():
                if isinstance(value, float) and not key.startswith("_"):
                    writer.add_scalar(f"{row['phase']}/{key}", value, step)
            if self.metric in row:
                writer.add_scalar(self.metric, row[self.metric], step)
            if row.get(EVALUATED) and self._last_eval.get("samples") is not None:
                from seqgan.training.tensorboard_samples import log_samples

                warning = log_samples(
                    writer, self.task, self.cfg.data.encoding, self._last_eval["samples"], step
                )
                if warning:
                    self.log(warning)

    def _wall_seconds(self) -> float:
        """Seconds since the run started, summed over its sessions (to the millisecond)."""
        return round(self._wall_base + time.monotonic() - self._session_start, 3)

    def _step(self, row: dict) -> int:
        """TensorBoard's one global step of ``row``: epochs completed over all phases
        after it (0 for the initial evaluation), increasing across phases."""
        return self._serial_at(self.phase_index, row["phase_epoch"])

    def _tensorboard(self, step: int):
        """The ``SummaryWriter``, opened at the first use, ``step`` being the first this
        session writes: when the folder holds events of an earlier session, those from
        ``step`` on (epochs re-run after the checkpoint) are purged."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            from seqgan.storage.tensorboard_path import TensorBoardPath

            earlier = self.run.tensorboard.is_dir() and any(
                self.run.tensorboard.glob("events.out.tfevents.*")
            )
            self._writer_path = TensorBoardPath(self.run.tensorboard)  # any folder name
            self._writer = SummaryWriter(
                self._writer_path.path, purge_step=step if earlier else None
            )
            signatures = self.evaluator.signatures(self.cfg.eval.num_samples)
            self._writer.add_text(
                "signatures",
                "\n\n".join(
                    f"`{metric}`: `{signature}`" for metric, signature in signatures.items()
                ),
            )
        return self._writer

    def _write_hparams(self) -> None:
        """TensorBoard's hparams dashboard: the config's scalar settings (flattened keys)
        with the final evaluation's metrics, at the last global step; once per run (not
        again when a finished run is re-finished)."""
        if not self.cfg.run.tensorboard or self.run.finished():
            return
        final = [r for r in self.rows if r.get(EVALUATED)][-1]
        metrics = {
            k: v
            for k, v in final.items()
            if isinstance(v, float)
            and k not in _ROW_KEYS
            and not k.startswith("_")
            and math.isfinite(v)
        }
        step = self.total_epochs  # nothing earlier is re-written
        progress.write_hparams(self._tensorboard(step + 1), self.cfg.to_dict(), metrics, step)

    # -- the loop ---------------------------------------------------------------------
    def train(self, resume: bool = False) -> dict:
        """Run (or, with ``resume``, continue) every phase, then write the final outputs.

        SIGINT/SIGTERM raise ``Interrupted`` and a non-finite quantity ``TrainingDiverged``;
        both leave the last consistent state on disk as a checkpoint first."""
        self.run.take_lock()  # again, if an earlier train() of this trainer released it
        with handle_signals():
            try:
                return self._train(resume)
            except Interrupted as exc:
                path = self._save_after_failure()
                exc.checkpoint, exc.position = path, self._current
                raise
            except TrainingDiverged as exc:
                path = self._save_after_failure()
                name, epoch, epochs = self._current
                where = f"in {name}, epoch {epoch} of {epochs}"
                kept = f"the last good state is {path}" if path else "no checkpoint was written"
                raise TrainingDiverged(f"training stopped: {exc} {where}; {kept}") from None
            finally:
                self.run.unlock()

    def _save_after_failure(self) -> Path | None:
        try:
            return self._save_snapshot()
        except Interrupted:  # a second signal while saving: the save has finished anyway
            return self._saved_path

    def _train(self, resume: bool) -> dict:
        self._session_start = time.monotonic()
        restored = resume and self.restore()  # a refused checkpoint: its one line only
        for line in progress.start_lines(
            self.run.root, self.task, self.run.tensorboard if self.cfg.run.tensorboard else None
        ):
            self.log(line)
        if not restored:
            if resume:
                self.log("no checkpoint yet: starting the run from the beginning")
            self.started, self._wall_base = progress.utc_now(), 0.0
            if self.cfg.pretrain.generator_from:
                self._adopt_first_phase(Path(self.cfg.pretrain.generator_from))
            else:
                self._record({"phase": "init", "phase_epoch": 0, "epoch": 0, **self.evaluate()})
            self._take_snapshot()
        plan = [(p.name, p.epochs) for p in self.phases]
        predicted = self._predicted_epoch_seconds()
        warning = work.long_run_warning(self.cfg, plan, predicted, self.serial)
        if warning:
            self.log(warning)
        self._progress = progress.Progress(
            plan, self.metric, self.log, console.is_terminal(), predicted=predicted
        )
        self._progress.open(self.serial)
        try:
            with progress.reporting(self._progress):
                while self.phase_index < len(self.phases):
                    self._run_phase(self.phases[self.phase_index])
                    self.phase_index, self.phase_epoch = self.phase_index + 1, 0
            self._write_hparams()
        finally:
            self._progress.close()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
                self._writer_path.close()
        return self._finish()

    def _predicted_epoch_seconds(self) -> list[float | None]:
        """Seconds per epoch of each phase from its work at speeds measured now
        (``training.work``; copies of the models, a forked RNG: nothing of the run
        changes); all None when nothing is left to run or the measurement fails."""
        unknown: list[float | None] = [None] * len(self.phases)
        if self.serial >= self.total_epochs:
            return unknown
        try:
            rates = work.measure_rates(self.cfg, self.task, self.models)
        except (RuntimeError, ValueError, TypeError, AttributeError) as exc:
            self.log(f"note: no time estimate ({type(exc).__name__}: {exc})")
            return unknown
        return work.predicted_epoch_seconds(self.cfg, self.task, self.phases, self.models, rates)

    def _run_phase(self, phase: Phase) -> None:
        for epoch in range(self.phase_epoch + 1, phase.epochs + 1):
            self._current = (phase.name, epoch, phase.epochs)
            self._progress.begin_epoch(self.phase_index, epoch, self.phase_seconds)
            start = time.perf_counter()
            row = {"phase": phase.name, "phase_epoch": epoch, **phase.run_epoch(epoch)}
            self._end_only_evaluation = None
            if phase.trains_generator:
                self.global_epoch += 1
                if epoch % self.cfg.eval.every == 0 or epoch == phase.epochs:
                    if epoch % self.cfg.eval.every:  # only because the phase ends here
                        self._end_only_evaluation = {"rng": rng_state(), "keys": []}
                    evaluation = self.evaluate()
                    if self._end_only_evaluation is not None:
                        self._end_only_evaluation["keys"] = [k for k in evaluation if k not in row]
                    row.update(evaluation)
            row["epoch"] = self.global_epoch
            seconds = time.perf_counter() - start
            self.phase_seconds[phase.name] += seconds
            row["_seconds"] = round(seconds, 3)
            self._record(row)
            self.phase_epoch = epoch
            self._progress.end_epoch(row, seconds)
            if epoch == phase.epochs:
                self._end_phase(phase)
            self._take_snapshot()
            if epoch % self.cfg.run.checkpoint_every == 0 or epoch == phase.epochs:
                self._save_snapshot()

    def _end_phase(self, phase: Phase) -> None:
        if phase.on_end is not None:
            phase.on_end()
        last = self.rows[-1]
        if phase.trains_generator and self._last_eval:
            self.run.write_samples(phase.name, self._last_eval["samples"], self.task)
            for key in ("nll_oracle", "nll_test"):
                if key in last:
                    self.marks[f"{key}_end_of_{phase.name}"] = last[key]
            self.marks[f"epoch_end_of_{phase.name}"] = float(self.global_epoch)
        self.log(
            f"{phase.name}: {phase.epochs} epochs in "
            f"{self.phase_seconds[phase.name]:.1f} s"
            + (f", {self.metric} {last[self.metric]:.4f}" if self.metric in last else "")
        )

    def _finish(self) -> dict:
        evaluated = [r for r in self.rows if r.get(EVALUATED)]
        final = evaluated[-1]
        per_sequence = self._last_eval["per_sequence"]
        self.run.write_samples("final", self._last_eval["samples"], self.task)
        for name, values in per_sequence.items():
            self.run.write_array(f"{name}_per_sequence", values.cpu().numpy())
        write_bytes(
            self.run.root / "model.pt",
            serialize({k: m.state_dict() for k, m in self.models.items()}),
        )
        pretrain_end = self.marks.get("epoch_end_of_pretrain_generator")
        plot_curves(
            {self.cfg.algorithm: evaluated},
            pretrain_end,
            self.run.figures / f"{self.metric}.png",
            title=f"{self.cfg.name}, {self.cfg.algorithm}",
            metric=self.metric,
        )
        self._plot_every_metric(evaluated, pretrain_end)
        if self.task.kind == "music":
            write_music_examples(
                self._last_eval["samples"],
                self.task,
                self.cfg.data.encoding,
                self.run.samples,
                self.run.figures / "pianoroll.png",
                f"{self.cfg.name}, {self.cfg.algorithm}",
            )
        if isinstance(self.models["generator"], LatentGenerator):
            self._write_posterior(evaluated)
        summary = {
            "algorithm": self.cfg.algorithm,
            "preset": self.cfg.name,
            "seed": self.cfg.seed,
            "task": self.task.kind,
            "seq_len": self.task.seq_len,
            "vocab_size": self.task.vocab_size,
            "samples": len(self._last_eval["samples"]),
            **{k: v for k, v in final.items() if k not in _ROW_KEYS and not k.startswith("_")},
        }
        if "nll_oracle" in per_sequence:
            seq_nll = per_sequence["nll_oracle"]
            summary.update(
                {
                    "nll_oracle_std": float(seq_nll.std()) / self.task.seq_len,
                    "nll_oracle_samples": len(seq_nll),
                    "nll_oracle_initial": evaluated[0]["nll_oracle"],
                    "nll_oracle_after_pretraining": self.marks.get(
                        "nll_oracle_end_of_pretrain_generator", evaluated[0]["nll_oracle"]
                    ),
                }
            )
        if "nll_test" in final:
            summary["nll_test_after_pretraining"] = self.marks.get(
                "nll_test_end_of_pretrain_generator", evaluated[0]["nll_test"]
            )
        summary.update(
            {
                "signatures": self.evaluator.signatures(len(self._last_eval["samples"])),
                "data": self.task.notes,
                "epochs": self.global_epoch,
                "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
                "total_seconds": round(sum(self.phase_seconds.values()), 3),
                **threads.record(),
                "pass_rows": chosen_rows(
                    self.cfg,
                    self.models["generator"],
                    self.task.seq_len,
                    self.task.oracle,
                    "discriminator" in self.models,
                ),
                **progress.run_record(self.task, self.started),
            }
        )
        self.run.write_summary(summary)
        self._keep_final_checkpoint()
        return summary

    def _plot_every_metric(self, evaluated: list[dict], pretrain_end: float | None) -> None:
        """``figures/evaluations.png``: every evaluated metric (NLL, BLEU, music metrics
        and feature OA beside the data's own, diagnostics) vs epoch; ``figures/training.png``:
        losses, D accuracy and rewards of every training epoch (``training.figures``)."""
        title = f"{self.cfg.name}, {self.cfg.algorithm}"
        metrics = drawn_metrics(evaluated, evaluated=True)
        if metrics:
            final = evaluated[-1]
            data = {
                m: final[f"data_oa_{m[len('feat_oa_') :]}"]
                for m in metrics
                if m.startswith("feat_oa_") and f"data_oa_{m[len('feat_oa_') :]}" in final
            }
            plot_metric_panels(
                {self.cfg.algorithm: evaluated},
                metrics,
                pretrain_end,
                self.run.figures / "evaluations.png",
                title,
                data,
            )
        training = drawn_metrics(self.rows, evaluated=False)
        if training:
            plot_training(self.rows, training, self.run.figures / "training.png", title)

    def _keep_final_checkpoint(self) -> None:
        """A finished run keeps its final checkpoint (whole: extending the run trains on
        from it) and its ``end-<phase>.pt`` files; the earlier checkpoints, kept while
        training as fall-backs, are removed (``storage.checkpoint.keep_only_newest``)."""
        if (
            self._saved_path is not None
            and self._saved_serial == self.total_epochs
            and not self._keep_fallbacks
        ):
            keep_only_newest(self.run.checkpoints, self._saved_path)

    def _write_posterior(self, evaluated: list[dict]) -> None:
        """A VAE's final KL per unit of z (``samples/kl_per_dimension.npy``) and
        ``figures/posterior.png`` (``metrics.posterior``)."""
        sequences = diagnostic_sequences(self.task, self.cfg.eval.num_samples)
        final = posterior_diagnostics(
            self.models["generator"], sequences, self.cfg.generator.sample_batch, per_dimension=True
        )
        per_dim = final["kl_per_dimension"]
        self.run.write_array("kl_per_dimension", torch.tensor(per_dim).numpy())
        plot_posterior(
            per_dim,
            evaluated,
            self.run.figures / "posterior.png",
            f"{self.cfg.name}, {self.cfg.algorithm}: posterior",
        )


_ROW_KEYS = (
    "phase",
    "phase_epoch",
    "epoch",
    EVALUATED,
    "g_loss",
    "d_loss",
    "d_accuracy",
    "reward_mean",
    "ss_omega",
    "ss_replaced",
    "data_tokens",
    "manager_loss",
    "worker_loss",
    "mle_loss",
)


SHARED_SECTIONS = ("seed", "oracle", "data", "generator", "eval")


def _shared_settings(config: dict, phase: Phase) -> dict:
    """The parts of a config that shape a shareable first phase (MLE or VAE pre-training)
    and its logged evaluations."""
    out = {k: config.get(k) for k in (*SHARED_SECTIONS, *phase.shaped_by) if "." not in k}
    for key in (k for k in phase.shaped_by if "." in k):  # one key of a section
        section, name = key.split(".", 1)
        out[key] = (config.get(section) or {}).get(name)
    ignored = {(section, key) for section, key in PASS_ROW_SETTINGS}  # the device's choice
    ignored |= {("generator", "estimator"), ("generator", "merl_alpha")}  # act after it
    for section, value in out.items():
        if isinstance(value, dict):
            out[section] = {k: v for k, v in value.items() if (section, k) not in ignored}
    out["pretrain.generator_epochs"] = config.get("pretrain", {}).get("generator_epochs")
    return out


def _current_keys(config: dict) -> dict:
    """A checkpoint's config with the keys added since it was written at their defaults
    (as ``compare`` reads an older comparison's settings; ``generator.output_kernel``:
    ``plain``, what those releases computed); as it is if it no longer builds."""
    try:
        return build_config(with_recorded_output_kernel(copy.deepcopy(config))).to_dict()
    except UserError:
        return config


def shared_phase_state(cfg: Config, phases: list[Phase]) -> tuple[Path, dict]:
    """The checkpoint named by ``pretrain.generator_from`` (``RUN/checkpoints/end-<first
    phase>.pt``) and its state, after checking that this run's first phase is shareable
    and that the settings shaping it are equal; one-line ``UserError``s otherwise."""
    source_run = Path(cfg.pretrain.generator_from)
    phase = phases[0] if phases else None
    if phase is None or not phase.shareable:
        raise UserError(
            f"pretrain.generator_from is set, but algorithm "
            f"'{cfg.algorithm}' has no pre-training to take"
        )
    path = source_run / "checkpoints" / f"end-{phase.name}.pt"
    if not path.is_file():
        raise UserError(
            f"pretrain.generator_from: {path} not found (has that run "
            f"finished its {phase.name} phase?)"
        )
    state = load_checkpoint(path)
    if not isinstance(state.get("config"), dict):
        raise UserError(f"{path} does not fit this run (it holds no config table)")
    changed = changed_keys(
        _shared_settings(_current_keys(state["config"]), phase),
        _shared_settings(cfg.to_dict(), phase),
    )
    if changed:
        raise UserError(
            f"pretrain.generator_from: {source_run} was pre-trained with "
            f"other settings ({', '.join(changed)})"
        )
    return path, state
