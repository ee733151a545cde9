"""A reader that closes the pipe early (``seqgan presets | head -1``) ends the command
quietly, as it ends a Unix tool: no traceback, status 128 + SIGPIPE."""

import os
import signal
import subprocess
import sys

import pytest

import seqgan


@pytest.mark.parametrize("args", [["presets"], ["data", "inspect", "corpus.txt"]])
def test_a_closed_pipe_ends_the_command_quietly(args, tmp_path):
    (tmp_path / "corpus.txt").write_text("a b c\nb c d\n" * 50)
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(seqgan.__file__))}
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "seqgan", *args],
            check=False,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 128 + signal.SIGPIPE
