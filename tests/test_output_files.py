"""Output paths are written for what they really are (``storage.atomic``), and ``generate``
streams its samples batch by batch.

A regular file is replaced atomically (a full disk, a read-only folder or a signal leaves
the old file and no temporary); a FIFO, a character device, a process descriptor and ``-``
are written straight through and stay what they were; a symbolic link stays a link and
its target gets the samples; odd names (empty, 300 characters, not UTF-8) are one line or
a success, never a traceback.
"""

from __future__ import annotations

import copy
import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import tomli_w
import torch

from seqgan.cli import main
from seqgan.data import export
from seqgan.data.paths import data_root
from seqgan.errors import UserError
from seqgan.models.generator import Generator
from seqgan.storage import atomic
from seqgan.storage.folder import tokens_to_text
from seqgan.training.session import load_trained
from tests.conftest import TINY
from tests.helpers import FullDisk, error_line, temporaries_of

BATCH = TINY["generator"]["sample_batch"]  # 128


def _quick(settings: dict) -> dict:
    settings = copy.deepcopy(settings)
    settings["pretrain"].update(generator_epochs=1, discriminator_rounds=1)
    settings["adversarial"]["epochs"] = 1
    settings["run"]["tensorboard"] = False
    return settings


def _train(folder: Path, settings: dict, *extra: str) -> Path:
    config = folder / "config.toml"
    config.write_text(tomli_w.dumps(settings))
    run = folder / "run"
    assert main(["train", "--config", str(config), "--out", str(run), *extra]) == 0
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished tiny synthetic run (one epoch a phase)."""
    return _train(tmp_path_factory.mktemp("oracle"), _quick(TINY))


@pytest.fixture(scope="module")
def music_vae(tmp_path_factory) -> Path:
    """A finished tiny melody VAE (pitch88) on tunes written here."""
    from tests.test_music import _folder
    from tests.test_seqvae import TINY_VAE

    root = tmp_path_factory.mktemp("music")
    _folder(root)
    settings = _quick(TINY_VAE)
    settings["data"] = {"kind": "music", "encoding": "pitch88", "train_file": "tunes", "seq_len": 8}
    return _train(root, settings, "--data-root", str(root), "--set", 'algorithm="vae"')


def _generate(capsys, run: Path, *args: str) -> tuple[int, str, str]:
    code = main(["generate", "--run", str(run), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _reference(run: Path, n: int, seed: int = 0) -> str:
    """What ``generator.sample(n, sample_batch)`` draws with ``seed``, as id lines."""
    cfg, _, models = load_trained(run, data_root(None))
    torch.manual_seed(seed)
    return tokens_to_text(models["generator"].sample(n, cfg.generator.sample_batch))


def _names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


class _Reader(threading.Thread):
    """Reads a FIFO (all of it, or ``lines`` lines and then closes it)."""

    def __init__(self, path: Path, lines: int | None = None):
        super().__init__(daemon=True)
        self.path, self.lines, self.data = path, lines, b""

    def run(self):
        with open(self.path, "rb") as fifo:
            if self.lines is None:
                self.data = fifo.read()
            else:
                self.data = b"".join(fifo.readline() for _ in range(self.lines))

    def finish(self):
        self.join(timeout=60)
        if self.is_alive():  # the writer never came: release the reader, then fail
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            pytest.fail(f"nothing opened {self.path} for writing")


def _fifo(tmp_path: Path, lines: int | None = None) -> tuple[Path, _Reader]:
    path = tmp_path / "samples.fifo"
    os.mkfifo(path)
    reader = _Reader(path, lines)
    reader.start()
    return path, reader


# -- what a path is stays what it is -------------------------------------------------------


def test_fifo_stays_a_fifo_and_its_reader_gets_the_samples(run, tmp_path, capsys):
    fifo, reader = _fifo(tmp_path)
    code, _, err = _generate(capsys, run, "-n", "300", "--out", str(fifo))
    reader.finish()
    assert code == 0 and "wrote 300 sequences" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert reader.data.decode() == _reference(run, 300)
    assert _names(tmp_path) == ["samples.fifo"]  # no regular file, no temporary


def test_fifo_reader_leaving_early_is_one_line(run, tmp_path, capsys):
    fifo, reader = _fifo(tmp_path, lines=1)
    code, _, err = _generate(capsys, run, "-n", "20000", "--out", str(fifo))
    reader.finish()
    assert code == 2 and reader.data.count(b"\n") == 1
    assert "Broken pipe" in error_line(err)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_symlink_stays_a_link_and_its_target_gets_the_samples(run, tmp_path, capsys):
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "real.txt"
    target.write_text("old\n")
    (tmp_path / "hop").symlink_to("data/real.txt")
    link = tmp_path / "link.txt"
    link.symlink_to("hop")  # a chain of two relative links
    assert _generate(capsys, run, "-n", "5", "--out", str(link))[0] == 0
    assert link.is_symlink() and os.readlink(link) == "hop"
    assert (tmp_path / "hop").is_symlink()
    assert target.read_text() == _reference(run, 5)
    assert _names(tmp_path / "data") == ["real.txt"]


def test_dangling_symlink_gets_its_target_and_a_loop_is_refused(run, tmp_path, capsys):
    link = tmp_path / "link.txt"
    link.symlink_to("new.txt")
    assert _generate(capsys, run, "-n", "2", "--out", str(link))[0] == 0
    assert link.is_symlink() and len((tmp_path / "new.txt").read_text().splitlines()) == 2
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    code, _, err = _generate(capsys, run, "-n", "2", "--out", str(loop))
    assert code == 2 and "symbolic links" in error_line(err)
    assert loop.is_symlink() and os.readlink(loop) == "loop"


def test_dev_null_stays_a_character_device(run, capsys):
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # what the test relies on
    code, out, err = _generate(capsys, run, "-n", "300", "--out", "/dev/null")
    assert code == 0 and out == "" and "wrote 300 sequences to /dev/null" in err
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_dev_stdout_is_written_through_not_replaced(run, capfd):
    """Under capfd descriptor 1 is a regular temporary file: replacing it by name (as
    following /dev/stdout to that file and renaming onto it would) would hide the
    samples from the capture."""
    print("before", flush=True)
    assert main(["generate", "--run", str(run), "-n", "4", "--out", "/dev/stdout"]) == 0
    print("after")
    out = capfd.readouterr().out
    assert out == "before\n" + _reference(run, 4) + "after\n"


def test_dash_means_standard_output(run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _generate(capsys, run, "-n", "3", "--out", "-")
    assert code == 0 and out == _reference(run, 3) and err == ""
    assert _generate(capsys, run, "-n", "3")[1] == out  # as without --out
    assert _names(tmp_path) == []  # no file named "-"
    assert _generate(capsys, run, "-n", "3", "--out", "./-")[0] == 0
    assert (tmp_path / "-").read_text() == out  # ./- is a file


def test_folder_is_refused(run, tmp_path, capsys):
    code, _, err = _generate(capsys, run, "--out", str(tmp_path))
    assert code == 2 and error_line(err).endswith("it is a folder")


# -- names ---------------------------------------------------------------------------------


def test_empty_out_is_one_line(run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _generate(capsys, run, "--out", "")
    assert code == 2 and out == ""
    assert error_line(err) == "seqgan: error: --out must not be empty (use - for standard output)"
    assert _names(tmp_path) == []


def test_name_of_300_characters_is_one_line(run, tmp_path, capsys):
    code, _, err = _generate(capsys, run, "--out", str(tmp_path / ("x" * 300)))
    assert code == 2
    line = error_line(err)
    assert "File name too long" in line and len(line) < 250  # the name is cut
    assert _names(tmp_path) == []


def test_name_at_the_limit_is_written(run, tmp_path, capsys):
    """A 255-byte name fits; ``.<name>.<tag>.tmp`` would not, so its name part is cut."""
    path = tmp_path / ("y" * 255)
    assert _generate(capsys, run, "-n", "3", "--out", str(path))[0] == 0
    assert _names(tmp_path) == [path.name] and len(path.read_text().splitlines()) == 3


def test_non_utf8_name_is_written_and_the_message_prints(run, tmp_path, capsys):
    name = os.fsdecode(b"out\xff.txt")  # as argv decodes it
    code, _, err = _generate(capsys, run, "-n", "3", "--out", str(tmp_path / name))
    assert code == 0 and "wrote 3 sequences to" in err and "out\\xff.txt" in err
    assert os.listdir(os.fsencode(tmp_path)) == [b"out\xff.txt"]
    assert (tmp_path / name).read_text() == _reference(run, 3)


def test_non_utf8_name_that_cannot_be_written_is_one_printable_line(run, tmp_path, capsys):
    missing = tmp_path / os.fsdecode(b"no\xfe") / os.fsdecode(b"out\xff.txt")
    code, _, err = _generate(capsys, run, "--out", str(missing))
    line = error_line(err)
    assert code == 2 and "no\\xfe/out\\xff.txt" in line and "No such file" in line
    with pytest.raises(UserError) as info:
        atomic.write_bytes(missing, b"x")
    str(info.value).encode("utf-8")  # printable on a strict UTF-8 stream


def test_real_command_line_with_a_non_utf8_name(run, tmp_path):
    """argv bytes as the shell passes them, through a real process."""
    out = os.fsencode(tmp_path) + b"/gen\xff.txt"
    done = subprocess.run(
        [sys.executable, "-m", "seqgan", "generate", "--run", str(run), "-n", "3", "--out", out],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    assert b"gen\\xff.txt" in done.stderr
    with open(out, "rb") as handle:
        assert handle.read().decode() == _reference(run, 3)


def test_real_command_line_piped_into_head(run):
    """``generate | head -1``: the reader leaves; one line, and no second complaint from
    Python's final flush of standard output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqgan", "generate", "--run", str(run), "-n", "50000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 2 and len(first.split()) == 8
    assert error_line(err) == "seqgan: error: cannot write standard output: Broken pipe"


# -- faults: one line, the old file intact, no temporary left ------------------------------


def test_full_disk_half_way_through_a_streamed_generate(run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "gen.txt"
    out.write_text("old\n")
    seen = temporaries_of("gen.txt", monkeypatch, wrap=lambda h: FullDisk(h, good=2))
    code, _, err = _generate(capsys, run, "-n", "1000", "--out", str(out))
    line = error_line(err)
    assert code == 2 and line == f"seqgan: error: cannot write {out}: No space left on device"
    assert len(seen) == 1 and _names(tmp_path) == ["gen.txt"]
    assert out.read_text() == "old\n"


@pytest.mark.parametrize("where", ["open", "rename"])
def test_read_only_folder_by_fault_injection(run, tmp_path, capsys, monkeypatch, where):
    out = tmp_path / "gen.txt"
    out.write_text("old\n")
    read_only = OSError(errno.EROFS, "Read-only file system")
    if where == "open":
        temporaries_of("gen.txt", monkeypatch, fail_open=read_only)
    else:
        real_replace = os.replace

        def fake_replace(src, dst, *args, **kwargs):
            if Path(dst) == out:
                raise read_only
            return real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(atomic.os, "replace", fake_replace)
    code, _, err = _generate(capsys, run, "-n", "300", "--out", str(out))
    assert code == 2 and error_line(err).endswith(": Read-only file system")
    assert _names(tmp_path) == ["gen.txt"] and out.read_text() == "old\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_for_real(run, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "gen.txt").write_text("old\n")
    folder.chmod(0o555)
    try:
        code, _, err = _generate(capsys, run, "--out", str(folder / "gen.txt"))
    finally:
        folder.chmod(0o755)
    assert code == 2 and error_line(err).endswith(": Permission denied")
    assert _names(folder) == ["gen.txt"] and (folder / "gen.txt").read_text() == "old\n"


def test_signal_during_a_streamed_generate_leaves_the_old_file(run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "gen.txt"
    out.write_text("old\n")
    real_sample, calls = Generator.sample, []

    def sample_then_signal(self, n, *args, **kwargs):
        calls.append(n)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_sample(self, n, *args, **kwargs)

    monkeypatch.setattr(Generator, "sample", sample_then_signal)
    code, _, err = _generate(capsys, run, "-n", "1000", "--out", str(out))
    assert code == 143 and err.strip() == "seqgan: interrupted by SIGTERM"
    assert len(calls) == 3  # stopped there, not at the end
    assert _names(tmp_path) == ["gen.txt"] and out.read_text() == "old\n"


def test_new_file_keeps_the_permissions_of_the_one_it_replaces(run, tmp_path, capsys):
    out = tmp_path / "gen.txt"
    out.write_text("old\n")
    out.chmod(0o640)
    assert _generate(capsys, run, "-n", "2", "--out", str(out))[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_text() != "old\n"


# -- streaming -----------------------------------------------------------------------------


def test_streamed_samples_equal_generator_sample_with_the_same_seed(run, tmp_path, capsys):
    out = tmp_path / "gen.txt"
    for seed in ("0", "7"):
        n = 2 * BATCH + 44  # two full batches and a partial one
        assert _generate(capsys, run, "-n", str(n), "--seed", seed, "--out", str(out))[0] == 0
        assert out.read_text() == _reference(run, n, int(seed))


def test_large_n_is_sampled_and_written_one_batch_at_a_time(run, tmp_path, capsys, monkeypatch):
    events = []
    real_sample = Generator.sample

    def sample(self, n, *args, **kwargs):
        events.append(("sample", n))
        return real_sample(self, n, *args, **kwargs)

    def lines(tokens):
        events.append(("write", len(tokens)))
        return tokens_to_text(tokens)

    monkeypatch.setattr(Generator, "sample", sample)
    monkeypatch.setattr(export, "tokens_to_text", lines)
    out = tmp_path / "gen.txt"
    assert _generate(capsys, run, "-n", "5000", "--out", str(out))[0] == 0
    batches = -(-5000 // BATCH)  # 40
    sizes = [BATCH] * (batches - 1) + [5000 - BATCH * (batches - 1)]
    assert events == [(kind, size) for size in sizes for kind in ("sample", "write")]
    assert len(out.read_text().splitlines()) == 5000


def test_from_prior_streams_and_equals_plain_sampling(music_vae, tmp_path, capsys, monkeypatch):
    """A VAE's plain sampling draws z from the prior too: the same stream."""
    from seqgan.models.vae import LatentGenerator

    sizes, real_decode = [], LatentGenerator.decode

    def decode(self, z, *args, **kwargs):
        sizes.append(len(z))
        return real_decode(self, z, *args, **kwargs)

    monkeypatch.setattr(LatentGenerator, "decode", decode)
    out = tmp_path / "prior.txt"
    n = BATCH + 10
    assert (
        _generate(
            capsys, music_vae, "--from-prior", "-n", str(n), "--format", "ids", "--out", str(out)
        )[0]
        == 0
    )
    assert sizes == [BATCH, 10]
    assert out.read_text() == _reference(music_vae, n)


def test_progress_bar_on_a_terminal_only(run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "gen.txt"
    assert "%|" not in _generate(capsys, run, "-n", "300", "--out", str(out))[2]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    err = _generate(capsys, run, "-n", "300", "--out", str(out))[2]
    assert "%|" in err and "/300" in err and "seq/s" in err  # redrawn every 0.1 s
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # samples on the terminal
    assert "%|" not in _generate(capsys, run, "-n", "300")[2]


def test_midi_files_streamed_each_written_whole(music_vae, tmp_path, capsys):
    from seqgan.music import get_encoding

    folder = tmp_path / "midi"
    code, _, err = _generate(
        capsys,
        music_vae,
        "--from-prior",
        "-n",
        str(BATCH + 3),
        "--format",
        "midi",
        "--out",
        str(folder),
    )
    assert code == 0 and f"wrote {BATCH + 3} MIDI files" in err
    names = _names(folder)
    assert names == [f"sample_{i:03d}.mid" for i in range(BATCH + 3)]
    get_encoding("pitch88").encode_file(folder / names[-1])  # a complete file
    code, _, err = _generate(capsys, music_vae, "--format", "midi", "--out", "-")
    assert code == 2 and "needs --out (a folder)" in error_line(err)


def test_pianoroll_to_a_file_and_to_standard_output(music_vae, tmp_path, capfdbinary):
    png = tmp_path / "roll.png"
    code = main(
        [
            "generate",
            "--run",
            str(music_vae),
            "-n",
            "300",
            "--format",
            "pianoroll",
            "--out",
            str(png),
        ]
    )
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"piano roll of 8 of 300 samples" in capfdbinary.readouterr().err
    assert (
        main(
            ["generate", "--run", str(music_vae), "-n", "3", "--format", "pianoroll", "--out", "-"]
        )
        == 0
    )
    assert capfdbinary.readouterr().out[:8] == b"\x89PNG\r\n\x1a\n"
    assert _names(tmp_path) == ["roll.png"]


def test_pianoroll_on_a_full_disk_leaves_the_old_picture(tmp_path, monkeypatch):
    from seqgan.music import get_encoding, plot_pianoroll

    png = tmp_path / "roll.png"
    png.write_bytes(b"old picture")
    temporaries_of("roll.png", monkeypatch, wrap=lambda h: FullDisk(h, good=0))
    with pytest.raises(UserError, match="roll.png: No space left on device"):
        plot_pianoroll([get_encoding("pitch88").decode(["60", "62"])], png)
    assert _names(tmp_path) == ["roll.png"] and png.read_bytes() == b"old picture"


def test_training_figures_are_written_atomically(tmp_path, monkeypatch):
    from seqgan.training.figures import plot_curves

    png = tmp_path / "figures" / "nll.png"
    rows = [{"epoch": 0, "nll_oracle": 9.0}, {"epoch": 1, "nll_oracle": 8.0}]
    plot_curves({"mle": rows}, None, png)
    old = png.read_bytes()
    assert old[:8] == b"\x89PNG\r\n\x1a\n"
    seen = temporaries_of("nll.png", monkeypatch, wrap=lambda h: FullDisk(h, good=0))
    with pytest.raises(UserError, match="No space left on device"):
        plot_curves({"mle": rows[:1]}, None, png)
    assert len(seen) == 1 and _names(png.parent) == ["nll.png"] and png.read_bytes() == old


# -- write_bytes itself --------------------------------------------------------------------


def test_write_bytes_on_a_fifo(tmp_path):
    fifo, reader = _fifo(tmp_path)
    atomic.write_bytes(fifo, b"through\n")
    reader.finish()
    assert reader.data == b"through\n" and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_write_bytes_on_a_symlink(tmp_path):
    (tmp_path / "target").write_bytes(b"old")
    (tmp_path / "link").symlink_to("target")
    atomic.write_bytes(tmp_path / "link", b"new")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target").read_bytes() == b"new"
    assert _names(tmp_path) == ["link", "target"]


def test_write_bytes_on_a_character_device():
    atomic.write_bytes(Path("/dev/null"), b"gone")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_write_bytes_to_dash_and_to_a_file_named_dash(tmp_path, capsysbinary, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic.write_bytes("-", b"out\n")
    assert capsysbinary.readouterr().out == b"out\n" and _names(tmp_path) == []
    atomic.write_bytes(Path("-"), b"file\n")
    assert (tmp_path / "-").read_bytes() == b"file\n"


def test_write_bytes_refuses_a_socket_and_a_nul(tmp_path):
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(UserError, match="sock: it is not a regular file"):
            atomic.write_bytes(path, b"x")
    with pytest.raises(UserError, match="NUL"):
        atomic.write_bytes("a\0b", b"x")


def test_write_bytes_holds_a_signal_until_the_file_is_in_place(tmp_path, monkeypatch):
    """SIGINT arriving while a short file is written waits for the rename."""
    from seqgan.errors import Interrupted
    from seqgan.runtime.interrupt import handle_signals

    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    class _Signalled:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            os.kill(os.getpid(), signal.SIGINT)
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

    temporaries_of("f.bin", monkeypatch, wrap=_Signalled)
    with handle_signals(), pytest.raises(Interrupted):
        atomic.write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and _names(tmp_path) == ["f.bin"]
