"""What a run reports while it trains and leaves behind about itself (``runtime.progress``):
redirected-output lines, the progress bar's messages, the phase-weighted ETA, appended
``metrics.csv`` / ``timing.csv``, the ``summary.json`` record and TensorBoard's steps."""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import os
import re
import sys
from pathlib import Path

import pytest
import tomli_w

from seqgan.cli import main
from seqgan.config import build_config
from seqgan.errors import Interrupted
from seqgan.runtime import console, progress
from seqgan.runtime.progress import Progress, eta_seconds, sha256_of
from seqgan.training.session import open_session
from tests.conftest import TINY
from tests.helpers import read_csv

EPOCHS = [("pretrain_generator", 3), ("pretrain_discriminator", 2), ("adversarial", 3)]
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
EPOCH_LINE = re.compile(
    rf"^({STAMP}) (\w+) (\d+)/(\d+) \[(\d+)/(\d+)\] (\d+\.\d) s, "
    rf"ETA (\S+), (\w+) (-?\d+\.\d{{4}})$"
)


def _toml(path: Path, settings: dict) -> Path:
    path.write_text(tomli_w.dumps(settings))
    return path


def _quick(**run) -> dict:
    """TINY with one epoch a phase (the options of ``run`` in ``[run]``)."""
    settings = copy.deepcopy(TINY)
    settings["pretrain"].update(generator_epochs=1, discriminator_rounds=1)
    settings["adversarial"]["epochs"] = 1
    settings["run"].update(run)
    return settings


@pytest.fixture(scope="module")
def redirected(tmp_path_factory) -> tuple[Path, str]:
    """A finished TINY run whose stderr was a file-like object, not a terminal."""
    folder = tmp_path_factory.mktemp("redirected")
    config, out, err = _toml(folder / "tiny.toml", TINY), folder / "run", io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--config", str(config), "--out", str(out)]) == 0
    return out, err.getvalue()


# -- 9. redirected output ---------------------------------------------------------------


def test_redirected_run_logs_a_timestamped_line_per_epoch(redirected):
    out, err = redirected
    lines = err.splitlines()
    first = lines.index(f"run folder: {out}")
    assert lines[first : first + 4] == [
        f"run folder: {out}",
        "task: oracle, 256 training / 64 test sequences, V = 40, T = 8",
        "device: cpu",
        f"tensorboard: tensorboard --logdir {out / 'tensorboard'}",
    ]
    epochs = [EPOCH_LINE.match(line) for line in lines if re.match(STAMP, line)]
    assert all(epochs), lines
    expected = [(name, epoch, total) for name, total in EPOCHS for epoch in range(1, total + 1)]
    assert [(m[2], int(m[3]), int(m[4])) for m in epochs] == expected
    assert [int(m[5]) for m in epochs] == list(range(1, 9)) and {m[6] for m in epochs} == {"8"}
    rows = read_csv(out / "metrics.csv")[1:]
    for match, row in zip(epochs, rows):
        shown = match[9]
        assert shown == (
            "nll_oracle" if row["nll_oracle"] else "g_loss" if row["g_loss"] else "d_loss"
        )
        assert float(match[10]) == pytest.approx(float(row[shown]), abs=1e-4)
    assert epochs[-1][8] == "0s" and "%|" not in err  # no bar when not on a terminal
    assert "pretrain_generator: 3 epochs in" in err  # the phase-end lines stay


def test_inside_a_long_epoch_a_line_at_most_every_interval():
    now = [0.0]
    lines: list[str] = []
    report = Progress(
        [("pretrain_generator", 2), ("adversarial", 4)],
        "nll_oracle",
        lines.append,
        terminal=False,
        clock=lambda: now[0],
    )
    report.open(serial=2)
    seconds = {"pretrain_generator": 10.0, "adversarial": 0.0}  # the trainer's, updated
    report.begin_epoch(1, 1, seconds)
    for t, done in [(30, 1), (61, 2), (90, 3), (125, 4)]:
        now[0] = t
        report.advance("d-step", done, 5)
    assert len(lines) == 2, lines
    assert re.fullmatch(
        rf"{STAMP} adversarial 1/4 \[2/6\] d-step 2/5, 61 s so far, ETA \S+", lines[0]
    )
    assert "d-step 4/5, 125 s so far" in lines[1]
    now[0], seconds["adversarial"] = 130, 130.0
    report.end_epoch({"phase": "adversarial", "g_loss": 1.5}, seconds=130.0)
    assert re.fullmatch(
        rf"{STAMP} adversarial 1/4 \[3/6\] 130\.0 s, ETA 6m30s, g_loss 1\.5000", lines[2]
    )  # the adversarial rate: 3 epochs x 130 s


def test_inner_progress_outside_a_trainer_does_nothing():
    assert list(progress.steps("d-step", 3)) == [0, 1, 2]
    seen = []

    class Recorder:
        def advance(self, label, done, total):
            seen.append((label, done, total))

    with progress.reporting(Recorder()):
        list(progress.steps("g-step", 2))
    assert seen == [("g-step", 0, 2), ("g-step", 1, 2), ("g-step", 2, 2)]
    list(progress.steps("d-step", 1))
    assert len(seen) == 3


def test_a_signal_during_a_line_lets_the_line_end_before_it_is_raised(monkeypatch):
    """The CI failure of stop 23: SIGINT landed between a progress line and its newline,
    so the interruption note was glued to the line."""
    import signal

    from seqgan.runtime.interrupt import handle_signals

    class SignalOnFirstWrite(io.StringIO):
        def write(self, text):
            written = super().write(text)
            if written and not getattr(self, "sent", False):
                self.sent = True
                os.kill(os.getpid(), signal.SIGINT)
            return written

    stream = SignalOnFirstWrite()
    monkeypatch.setattr(sys, "stderr", stream)
    with pytest.raises(Interrupted), handle_signals():
        console.stderr_line("adversarial 1/6 [13/18] 0.1 s, ETA 0s, g_loss 1.4141")
        for _ in range(1000):  # the handler runs at the next bytecode boundary
            pass
    assert stream.getvalue() == "adversarial 1/6 [13/18] 0.1 s, ETA 0s, g_loss 1.4141\n"


# -- 10. the progress bar and the ETA ----------------------------------------------------


def test_phase_end_messages_go_through_tqdm_write_when_a_bar_is_shown(
    tmp_path, capsys, monkeypatch
):
    written, real_write = [], progress.tqdm.write

    def spy(message, file=None, end="\n", nolock=False):
        written.append(message)
        real_write(message, file=file, end=end, nolock=nolock)

    monkeypatch.setattr(progress.tqdm, "write", spy)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    config = _toml(tmp_path / "quick.toml", _quick(tensorboard=False))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "%|" in err and "ETA" in err  # the bar
    ends = [m for m in written if " epochs in " in m]
    assert [m.split(":")[0] for m in ends] == [name for name, _ in EPOCHS]
    assert not [m for m in written if re.match(STAMP, m)]  # no epoch lines under a bar


def test_eta_weights_each_phase_by_its_measured_seconds_per_epoch():
    plan = [("pretrain_generator", 10), ("pretrain_discriminator", 5), ("adversarial", 10)]
    # during MLE: the later phases are not measured, so they go at the current rate
    assert eta_seconds(plan, (0, 5), {"pretrain_generator": 10.0}) == pytest.approx(40.0)
    # 2 s per MLE epoch, 6 s per D round, 240 s per adversarial epoch: 8 x 240 left,
    # where one rate for all 17 epochs done would give 8 x (20 + 30 + 480) / 17 = 249
    seconds = {"pretrain_generator": 20.0, "pretrain_discriminator": 30.0, "adversarial": 480.0}
    assert eta_seconds(plan, (2, 2), seconds) == pytest.approx(1920.0)
    # the first adversarial epoch not measured yet: the last measured phase's rate
    assert eta_seconds(plan, (2, 0), {**seconds, "adversarial": 0.0}) == pytest.approx(60.0)
    assert eta_seconds(plan, (0, 0), {}) is None  # nothing measured
    assert eta_seconds(plan, (3, 0), seconds) == 0.0  # done
    assert progress.format_duration(1920.0) == "32m00s"
    assert progress.format_duration(5 * 3600 + 9 * 60) == "5h09m"


# -- 11. metrics.csv appended, and rewritten on resume ------------------------------------


def test_metrics_are_appended_and_a_resume_rewrites_them_to_the_checkpoint(tmp_path, capsys):
    trainer = open_session(build_config(TINY), tmp_path / "run", None)
    metrics = trainer.run.metrics
    seen: list[tuple[int, bytes]] = []  # (inode, bytes) of metrics.csv before each epoch
    for phase in trainer.phases:

        def watched(epoch, run_epoch=phase.run_epoch, name=phase.name):
            seen.append((os.stat(metrics).st_ino, metrics.read_bytes()))
            if name == "adversarial" and epoch == 2:
                raise Interrupted(15)
            return run_epoch(epoch)

        phase.run_epoch = watched
    with pytest.raises(Interrupted):
        trainer.train()
    assert len({inode for inode, _ in seen}) == 1  # never replaced: ``tail -f`` follows it
    for (_, earlier), (_, later) in zip(seen, seen[1:]):
        assert later.startswith(earlier) and later.count(b"\n") == earlier.count(b"\n") + 1
    kept = metrics.read_bytes()  # the rows of the checkpoint written at the interruption
    timing = trainer.run.timing.read_bytes()
    assert kept.count(b"\n") == timing.count(b"\n") == 1 + 1 + 3 + 2 + 1
    # a process killed later would have written rows past its checkpoint, the last torn
    with open(metrics, "ab") as handle:
        handle.write(b"adversarial,2,5,99.000000,,,,,,,,,,,,\nadversarial,3,6,9")
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run")]) == 0
    assert "resuming from" in capsys.readouterr().err
    final = metrics.read_bytes()
    assert final.startswith(kept) and b"99.000000" not in final
    rows = list(csv.DictReader(io.StringIO(final.decode())))
    assert [(r["phase"], r["phase_epoch"]) for r in rows][-3:] == [
        ("adversarial", "1"),
        ("adversarial", "2"),
        ("adversarial", "3"),
    ]
    assert all(None not in r and None not in r.values() for r in rows)  # no torn line
    times = read_csv(trainer.run.timing)
    assert [(r["phase"], r["phase_epoch"]) for r in times] == [
        (r["phase"], r["phase_epoch"]) for r in rows
    ]
    walls = [float(r["wall_seconds"]) for r in times]
    assert walls == sorted(walls) and all(float(r["seconds"]) >= 0 for r in times[1:])
    assert all(re.fullmatch(STAMP, r["utc"]) for r in times)


# -- 14. the reproducibility record and TensorBoard --------------------------------------


def test_summary_holds_the_reproducibility_record(redirected):
    out, _ = redirected
    summary = json.loads((out / "summary.json").read_text())
    import platform

    import numpy
    import torch

    from seqgan import __version__

    assert (summary["version"], summary["torch"], summary["numpy"], summary["python"]) == (
        __version__,
        str(torch.__version__),
        numpy.__version__,
        platform.python_version(),
    )
    assert summary["command"] == sys.argv and summary["host"] and summary["device"] == "cpu"
    assert re.fullmatch(STAMP, summary["started_utc"]) and re.fullmatch(STAMP, summary["ended_utc"])
    assert summary["started_utc"] <= summary["ended_utc"]
    assert (summary["num_train"], summary["num_test"]) == (256, 64)
    assert summary["data_files"] == {}  # a random oracle's task reads no file
    # the run was made in this process: its peak then is at most this process's peak now,
    # and a process with torch loaded holds more than 100 MiB
    from seqgan.runtime.memory import peak_resident_mib

    # recorded to 0.1 MiB: rounded to nearest, it may exceed the mark by half of that
    assert 100 < summary["peak_resident_mib"] <= peak_resident_mib() + 0.05


def test_summary_hashes_the_data_files_and_a_resume_keeps_the_start(tmp_path, capsys):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("the cat sat on the mat\na dog ran in the park\n" * 12)
    test.write_text("the dog sat on the mat\n" * 6)
    settings = _quick(tensorboard=False)
    settings["data"] = {
        "kind": "text",
        "train_file": str(train),
        "test_file": str(test),
        "seq_len": 9,
    }
    config = _toml(tmp_path / "text.toml", settings)
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert sorted(summary["data_files"].values()) == sorted(
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (train, test)
    )
    assert {Path(p).name for p in summary["data_files"]} == {"train.txt", "test.txt"}
    assert (summary["num_train"], summary["num_test"]) == (24, 6)
    started = summary["started_utc"]
    (run / "summary.json").unlink()  # re-finished from the last checkpoint
    assert main(["train", "--resume", str(run)]) == 0
    assert json.loads((run / "summary.json").read_text())["started_utc"] == started


def test_a_folder_hash_covers_names_and_contents(tmp_path):
    folder = tmp_path / "midi"
    (folder / "b").mkdir(parents=True)
    (folder / "a.mid").write_bytes(b"one")
    (folder / "b" / "c.mid").write_bytes(b"two")
    digest = hashlib.sha256()
    for name, data in (("a.mid", b"one"), ("b/c.mid", b"two")):
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    assert sha256_of(folder) == digest.hexdigest()
    (folder / "b" / "c.mid").rename(folder / "b" / "d.mid")
    assert sha256_of(folder) != digest.hexdigest()
    assert sha256_of(tmp_path / "missing") is None


def test_tensorboard_has_one_increasing_step_and_the_hparams(redirected):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is not installed",
    )
    out, _ = redirected
    events = accumulator.EventAccumulator(
        str(out / "tensorboard"), size_guidance={accumulator.SCALARS: 0}
    )
    events.Reload()
    steps = {tag: [e.step for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    assert steps["init/nll_oracle"] == [0]
    assert steps["pretrain_generator/g_loss"] == [1, 2, 3]
    assert steps["pretrain_discriminator/d_loss"] == [4, 5]  # not 1, 2 again
    assert steps["adversarial/g_loss"] == [6, 7, 8]
    assert steps["nll_oracle"] == [0, 2, 3, 7, 8]
    assert steps["hparam/nll_oracle"] == [8]
    final = json.loads((out / "summary.json").read_text())["nll_oracle"]
    assert events.Scalars("hparam/nll_oracle")[0].value == pytest.approx(final)
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["generator.lr"].number_value == pytest.approx(
        build_config(TINY).generator.lr
    )
    assert start.hparams["algorithm"].string_value == "seqgan"
    assert "discriminator.filter_sizes" not in start.hparams  # a list: not a scalar
    assert [p.name for p in (out / "tensorboard").iterdir() if p.is_dir()] == []
