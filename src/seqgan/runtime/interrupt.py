"""SIGINT / SIGTERM / SIGHUP as an ``Interrupted`` exception, with critical sections that
defer it.

Inside ``handle_signals()`` any of these signals raises ``errors.Interrupted`` in the main
thread at the next Python bytecode, abandoning the current epoch; the trainer then
writes the last consistent state (see ``training.loop``).  Inside ``deferred()`` — used
around file writes — a signal is remembered and raised when the block ends, so a file is
never abandoned half-way by our own handler.  Only the first signal is raised: the
command is then ending, and later ones (five Ctrl-C in a row) are ignored, so they
cannot break the saving of the state or the one line that reports it.  A SIGHUP that the
process was started ignoring (``nohup seqgan train …``) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from seqgan.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# depth: nesting of handle_signals; raised: an Interrupted was raised in the outermost one;
# hangup_ignored: SIGHUP came ignored from the parent (nohup), None until known
_state = {"defer_depth": 0, "pending": None, "depth": 0, "raised": False, "hangup_ignored": None}


def note_inherited_hangup() -> None:
    """At process start (before anything changes it): remember whether SIGHUP came ignored."""
    _state["hangup_ignored"] = signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def _handled() -> tuple[int, ...]:
    ignored = _state["hangup_ignored"]
    if ignored is None:  # not started through cli.run: what SIGHUP is now tells
        ignored = signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    return tuple(s for s in HANDLED if not (s == signal.SIGHUP and ignored))


def _handler(signum, frame):
    if _state["raised"]:
        return  # the command is already ending
    if _state["defer_depth"]:
        _state["pending"] = signum
        return
    _state["raised"] = True
    raise Interrupted(signum)


@contextmanager
def handle_signals():
    """Install the handlers for the duration of the block (main thread only; elsewhere a
    no-op), restoring the previous ones afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _state["depth"] == 0:
        _state["raised"] = False
    _state["depth"] += 1
    previous = {s: signal.signal(s, _handler) for s in _handled()}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        _state["depth"] -= 1


@contextmanager
def deferred():
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends, then raise ``Interrupted`` if one came
    (unless the block itself failed: its exception goes on instead).  Outside the main
    thread, where no signal is delivered, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state["defer_depth"] += 1
    try:
        yield
    except BaseException:
        _state["defer_depth"] -= 1
        if _state["defer_depth"] == 0:
            _state["pending"] = None
        raise
    _state["defer_depth"] -= 1
    pending = _state["pending"]
    if pending is not None and _state["defer_depth"] == 0:
        _state["pending"] = None
        _state["raised"] = True
        raise Interrupted(pending)
