"""What the process prints for the person watching it: one line on stderr that never
garbles a progress bar (``stderr_line``), and whether stderr is a terminal
(``is_terminal``: a bar is drawn only there; ``runtime.progress`` draws them)."""

from __future__ import annotations

import sys

from tqdm import tqdm

from seqgan.runtime.interrupt import deferred


def stderr_line(message: str) -> None:
    """Print one line on stderr through ``tqdm.write``, so that a progress bar on the
    terminal is cleared first and redrawn after it (never garbled). The text and its
    newline go out in one write with signals held, so an interruption note printed
    after it always starts a line of its own."""
    with deferred():
        tqdm.write(message + "\n", file=sys.stderr, end="")


def is_terminal(stream=None) -> bool:
    """Whether ``stream`` (default: stderr) is a terminal: a bar is drawn only there."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
