"""Errors the CLI turns into one line on stderr and an exit code (a traceback only with
``--debug``):

* ``UserError`` (exit 2): a mistake in the user's input — config, files, arguments.
* ``TrainingDiverged`` (exit 3): a loss, gradient or reward became NaN or infinite.
* ``RunsFailed`` (exit 1): runs of a comparison failed; their logs say why.
* ``Interrupted`` (exit 128 + signal number: 130 for SIGINT, 143 for SIGTERM).
"""


class UserError(Exception):
    """A mistake in the user's input (config, files, arguments); the message is one line."""

    exit_code = 2


class TrainingDiverged(Exception):
    """A non-finite loss, gradient or reward; the message names the quantity (and, once the
    trainer adds it, the phase, epoch and the checkpoint to go back to)."""

    exit_code = 3


class RunsFailed(Exception):
    """Some runs of a ``seqgan compare`` did not finish (their logs say why)."""

    exit_code = 1


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; raised in the main thread by ``runtime.interrupt``.

    A ``BaseException`` (like ``KeyboardInterrupt``) so ``except Exception`` blocks in
    library code do not swallow it."""

    def __init__(self, signum: int, message: str = ""):
        import signal

        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(message or f"interrupted by {self.signal_name}")


def unknown_name(what: str, name: object, known) -> UserError:
    """The one-line error for a name that is not one of ``known`` (``unknown metric
    'nll_tset'; did you mean 'nll_test'?``): the closest known name, else the list of
    them (the first 12)."""
    import difflib

    known = [str(k) for k in known]
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean '{close[0]}'?"
    else:
        hint = "choose from " + ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return UserError(f"unknown {what} {str(name)!r}; {hint}")
