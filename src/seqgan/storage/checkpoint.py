"""Atomic, verified, safely loadable checkpoints.

A checkpoint is one ``torch.save`` of plain containers, tensors and numbers (no pickled
classes), written by ``storage.atomic.write_bytes`` (temporary file, fsync, rename), so a
crash leaves either the old or the new file, never half of one.  Loading uses
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects.

**Integrity.**  A ``torch.save`` file is a zip archive of records (the pickle, one record
per tensor storage, a few small ones), each stored with the CRC-32 of its bytes, which
``torch.save`` computes while writing.  ``torch.load`` never checks them, so a flipped bit
inside a tensor loads silently.  ``load_checkpoint`` checks every record against its
CRC-32 first; a mismatch is the one-line ``UserError`` "<path> is corrupt (CRC-32 mismatch
in record …)", which ``load_latest_checkpoint`` falls back past like any unreadable file.
Why this, rather than a SHA-256 stored by seqgan (a wrapper ``{"sha256", "payload":
<uint8 tensor of the inner torch.save bytes>}`` was built and measured):

* nothing is added to writing, which happens after every epoch: on the paper's payload
  (94 MB with the Adam moments) the wrapper made ``serialize`` 0.47 s (×3) slower and
  doubled its peak memory, while checking the CRC-32s costs 0.1 s once per load;
* it needs no new format: every file ``torch.save`` ever wrote for seqgan, including
  those of runs started before this check, is verified, and stays a plain
  ``torch.load(weights_only=True)`` file for other tools;
* the checksums are in the file they describe, written by the same atomic rename.

CRC-32 detects every error burst up to 32 bits and misses random damage with probability
2**-32 per record; like a SHA-256 stored beside the data, it guards against accidents,
not against someone who rewrites the file.  A record without a CRC-32 (``torch.save``
with ``torch.utils.serialization.config.save.compute_crc32`` off, which seqgan never
sets) is not checked.

**Size.**  Every tensor is stored once, as it is (the records add up to the file less
~23 KB of zip headers).  In a SeqGAN checkpoint the discriminator's Adam moments are 60%
(56 of 93 MB in the default quick run; its weights 28 MB, the generator's parts 8 MB).
Every checkpoint is whole, the final one too: a finished run extended with ``--resume
--set adversarial.epochs=N`` trains on from it.  What bounds a finished run's folder is
how many it keeps: ``keep_only_newest`` removes the earlier ones (fall-backs while it
trains) once the run has finished.  A final checkpoint of an older release leaves the
discriminator's moments out (listed under ``optimizers_without_state``); extending such
a run goes back to the whole checkpoint before it.

**Structure.**  ``check_state`` checks, before anything is applied, that the generic parts
of a loaded training state (RNG states, position, rows, marks, phase times, last
evaluation, optimizer states) can be this run's; a misfit is one line naming the part.
"""

from __future__ import annotations

import io
import math
import random
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from seqgan.errors import UserError
from seqgan.storage.atomic import write_bytes

_NAME = re.compile(r"^ckpt-(\d+)\.pt$")
_ZIP_MAGIC = b"PK\x03\x04"
_MT_WORDS = 624  # the key words of a NumPy MT19937 state
# the key of a final checkpoint naming the optimizers whose states it leaves out
WITHOUT_STATE = "optimizers_without_state"


# -- RNG states ----------------------------------------------------------------------
def rng_state() -> dict:
    """Torch (CPU), NumPy and Python random states as weights_only-loadable values, and
    under ``"cuda"`` the state of every CUDA device's generator when CUDA is in use (a
    list of uint8 tensors, ``torch.cuda.get_rng_state_all``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.random.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_tuple(value) -> tuple:
    """``rng_state()["numpy"]`` in the form ``set_state`` takes."""
    name, keys, pos, has_gauss, cached = value
    if not (
        isinstance(keys, torch.Tensor) and keys.shape == (_MT_WORDS,) and keys.dtype == torch.int64
    ):
        raise TypeError(f"keys must be a tensor of {_MT_WORDS} int64 words, not {_show(keys)}")
    return name, keys.numpy().astype(np.uint32), pos, has_gauss, cached


def _python_tuple(value) -> tuple:
    """``rng_state()["python"]`` in the form ``random.setstate`` takes."""
    version, internal, gauss = value
    if gauss is not None and not isinstance(gauss, float):
        raise TypeError(f"gauss_next must be None or a float, not {_show(gauss)}")
    return version, tuple(internal), gauss


def set_rng_state(state: dict) -> str | None:
    """Apply ``rng_state()``'s ``state``; the CUDA generators' states when the same number
    of CUDA devices is present.  Returns a one-line note when saved CUDA states could not
    be applied (another number of devices, or none), else None."""
    torch.random.set_rng_state(state["torch"])
    np.random.set_state(_numpy_tuple(state["numpy"]))
    random.setstate(_python_tuple(state["python"]))
    saved = state.get("cuda")
    if not saved:
        return None
    present = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if present != len(saved):
        return (
            f"note: the checkpoint holds the random states of {len(saved)} CUDA "
            f"device(s), {present} are present here; their random numbers start afresh"
        )
    torch.cuda.set_rng_state_all(saved)
    return None


# -- writing ---------------------------------------------------------------------------
def serialize(payload: dict) -> bytes:
    """``torch.save`` of ``payload`` into bytes (with the CRC-32 of every record): a
    snapshot, later changes do not reach it.  The bytes of ``ckpt-*.pt``,
    ``end-<phase>.pt`` and ``model.pt``."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_checkpoint(folder: Path, index: int, data: bytes, keep: int) -> Path:
    """Write serialized ``data`` to ``folder/ckpt-<index>.pt`` atomically; keep it and the
    ``keep - 1`` newest before it.  Older files are removed only after the new one is
    safely in place; files past ``index`` (damaged ones a resume fell back from) are not
    counted, so the good ones before the new file survive."""
    path = folder / f"ckpt-{index:08d}.pt"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)
        before = [p for p in list_checkpoints(folder) if _index(p) < index]
        for old in before[: max(0, len(before) - (keep - 1))]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def keep_only_newest(folder: Path, newest: Path) -> None:
    """Remove the checkpoints of ``folder`` before ``newest`` (the final one of a
    finished run, already in place); one that cannot be removed stays."""
    for old in list_checkpoints(folder):
        if _index(old) < _index(newest):
            try:
                old.unlink()
            except OSError:
                pass


def _index(path: Path) -> int:
    return int(_NAME.match(path.name).group(1))


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(_index(p), p) for p in folder.iterdir() if _NAME.match(p.name)]
    return [p for _, p in sorted(found)]


# -- loading ---------------------------------------------------------------------------
def load_checkpoint(path: Path) -> dict:
    """The payload ``dict`` of one checkpoint, its records' CRC-32s verified, loaded with
    ``weights_only=True``; a missing, unreadable, corrupt or foreign file is a one-line
    ``UserError``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"checkpoint not found: {path}") from None
    except OSError as exc:
        raise UserError(f"{path} is unreadable ({exc.strerror or exc})") from None
    _check_records(data, path)
    try:
        with warnings.catch_warnings():  # e.g. about a foreign pickle protocol: the
            warnings.simplefilter("ignore")  # error says it in one line
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{path} is unreadable ({_reason(exc, data[:4])})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path} is not a seqgan checkpoint (it holds {_show(state)})")
    return state


_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


def _check_records(data: bytes, path: Path) -> None:
    """Raise "<path> is corrupt (...)" unless every record of the archive ``data`` matches
    its CRC-32.  What is no readable archive at all (a truncated file, a plain pickle) is
    left to ``torch.load`` to describe."""
    if not data.startswith(_ZIP_MAGIC):
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS:
        return
    with archive:
        for info in archive.infolist():
            if info.CRC == 0:  # written without one
                continue
            try:
                with archive.open(info) as handle:  # raises at the end on a bad CRC-32
                    while handle.read(1 << 22):
                        pass
            except _ZIP_ERRORS as exc:
                what = (
                    f"CRC-32 mismatch in record {info.filename}"
                    if "CRC" in str(exc)
                    else f"record {info.filename}: {_first_line(exc)}"
                )
                raise UserError(f"{path} is corrupt ({what})") from None


def _reason(exc: Exception, head: bytes) -> str:
    """One concise line for a ``torch.load`` failure of a file starting with ``head``."""
    if not head.startswith(_ZIP_MAGIC):
        return (
            "a plain pickle, not a torch.save file"
            if head[:1] == b"\x80"
            else "not a torch.save file"
        )
    text = str(exc).strip()
    if text.startswith("Weights only load failed"):
        return "refused: " + _refusal(text)
    return _sentence(text.splitlines()[0]) if text else type(exc).__name__


def _refusal(text: str) -> str:
    """What a weights_only refusal refused (the refused global or opcode), out of the
    several layouts of torch's long message."""
    parts = text.split("WeightsUnpickler error:", 1)
    rest = parts[1] if len(parts) == 2 else text.split("\n", 1)[-1]
    for line in rest.splitlines():
        line = line.strip()
        if line and not line.startswith(
            ("Please file an issue", "Check the documentation", "(1)", "(2)")
        ):
            return _sentence(line)
    return "not plain tensors and containers"


def _sentence(line: str) -> str:
    return line.split(". ", 1)[0].rstrip(".")


def load_latest_checkpoint(
    folder: Path, warn=print, before: Path | None = None
) -> tuple[Path, dict] | None:
    """The newest readable checkpoint in ``folder`` (older than ``before``, if given) as
    ``(path, state)``, falling back past damaged ones (each named through ``warn``); None
    if the folder holds no such checkpoint.  Raises a one-line ``UserError`` if there are
    checkpoints but none is readable."""
    found = list_checkpoints(folder)
    if before is not None:
        found = [p for p in found if _index(p) < _index(before)]
    damaged: list[UserError] = []
    for path in reversed(found):
        try:
            state = load_checkpoint(path)
        except UserError as exc:
            damaged.append(exc)
            continue
        for exc in damaged:
            warn(f"warning: {exc}; falling back to the previous checkpoint")
        return path, state
    if found:
        raise UserError(
            f"no readable checkpoint in {folder}: all {len(found)} are damaged "
            f"(newest: {damaged[0]}); start the run afresh with --overwrite"
        )
    return None


# -- structure -----------------------------------------------------------------------
class _Misfit(Exception):
    """A part of a loaded state that cannot be this run's (the message names it)."""


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise _Misfit(message)


def _show(value, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_state(
    state: dict,
    path: Path,
    phases: Sequence,
    models: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
) -> None:
    """Raise a one-line ``UserError`` unless training ``state`` can be applied to a run of
    ``phases`` (objects with ``name``, ``epochs`` and ``trains_generator``) with these
    ``models`` and ``optimizers``: weights of the models' shapes (``check_weights``),
    optimizer states of their parameters' shapes, and well-formed RNG states, position,
    rows, marks, phase times and last evaluation ("<path> does not fit this run (...)").
    Nothing is changed, so a misfit leaves the trainer as it was."""
    try:
        _need(isinstance(state.get("config", {}), dict), "its config is not a table")
        saved_models = _entry(state, "models", dict)
        for name, module in models.items():
            _need(name in saved_models, f"it has no '{name}' model")
            check_weights(module, saved_models[name], path)
        saved_optimizers = _entry(state, "optimizers", dict)
        for name, optimizer in optimizers.items():
            _need(name in saved_optimizers, f"it has no '{name}' optimizer")
            _check_optimizer(name, saved_optimizers[name], optimizer)
        _check_rng(_entry(state, "rng", dict))
        _check_position(_entry(state, "position", (list, tuple)), phases)
        _check_rows(_entry(state, "rows", list))
        _check_numbers("marks", _entry(state, "marks", dict), minimum=-math.inf)
        _check_numbers("phase_seconds", _entry(state, "phase_seconds", dict), minimum=0.0)
        _check_last_eval(_entry(state, "last_eval", dict))
        device = state.get("device", "cpu")  # optional: the device type it was written on
        _need(isinstance(device, str), f"device is {_show(device)}, not a device type")
        without = state.get(WITHOUT_STATE, [])
        _need(
            isinstance(without, list) and all(isinstance(n, str) for n in without),
            f"{WITHOUT_STATE} is {_show(without)}, not a list of names",
        )
    except _Misfit as exc:
        raise UserError(f"{path} does not fit this run ({exc})") from None


def _entry(state: dict, key: str, kind):
    _need(key in state, f"it has no '{key}'")
    value = state[key]
    names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
    _need(isinstance(value, kind), f"{key} is {_show(value)}, not a {names}")
    return value


_RNG_TRIALS = {  # each applies a state to a scratch generator: validates, changes nothing
    "torch": lambda value: torch.Generator().set_state(value),
    "numpy": lambda value: np.random.RandomState().set_state(_numpy_tuple(value)),
    "python": lambda value: random.Random().setstate(_python_tuple(value)),
}


def check_rng(rng) -> None:
    """A ``ValueError`` naming the misfit unless ``rng`` is a well-formed ``rng_state()``
    (each part tried on a scratch generator: the global states are untouched)."""
    try:
        _need(isinstance(rng, dict), f"rng is {_show(rng)}, not a table")
        _check_rng(rng)
    except _Misfit as exc:
        raise ValueError(str(exc)) from None


def _check_rng(rng: dict) -> None:
    cuda = rng.get("cuda", [])  # optional: only written when CUDA was in use
    _need(
        isinstance(cuda, (list, tuple))
        and all(
            isinstance(s, torch.Tensor) and s.dtype == torch.uint8 and s.dim() == 1 for s in cuda
        ),
        f"rng cuda state is {_show(cuda)}, not a list of byte tensors",
    )
    for name, trial in _RNG_TRIALS.items():
        _need(name in rng, f"rng has no {name} state")
        try:
            trial(rng[name])
        except (
            TypeError,
            ValueError,
            IndexError,
            RuntimeError,
            AttributeError,
            OverflowError,
        ) as exc:
            raise _Misfit(f"rng {name} state: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_position(position, phases: Sequence) -> None:
    _need(
        len(position) == 3 and all(_is_int(v) for v in position),
        f"position {_show(list(position))} is not 3 integers",
    )
    index, epoch, global_epoch = position
    _need(0 <= index <= len(phases), f"phase index {index} is outside 0..{len(phases)}")
    current = phases[index] if index < len(phases) else None
    length = current.epochs if current else 0
    where = f"phase {current.name}" if current else "after the last phase"
    _need(0 <= epoch <= length, f"epoch {epoch} is outside 0..{length} of {where}")
    most = sum(p.epochs for p in phases[:index] if p.trains_generator) + (
        epoch if current and current.trains_generator else 0
    )
    _need(0 <= global_epoch <= most, f"generator epoch {global_epoch} is outside 0..{most}")


_ROW_FIELDS = {"phase": str, "phase_epoch": int, "epoch": int}


def _check_rows(rows: list) -> None:
    _need(bool(rows), "it has no metric rows")
    for number, row in enumerate(rows):
        _need(
            isinstance(row, dict)
            and all(isinstance(k, str) for k in row)
            and all(isinstance(v, (int, float, str)) for v in row.values()),
            f"row {number} is {_show(row)}, not a dict of metric values",
        )
        for key, kind in _ROW_FIELDS.items():
            _need(isinstance(row.get(key), kind), f"row {number} has no {kind.__name__} '{key}'")
    _need(rows[0]["phase"] == "init", "its first row is not the initial evaluation")


def _check_numbers(name: str, values: dict, minimum: float) -> None:
    for key, value in values.items():
        _need(
            isinstance(key, str) and _is_number(value) and minimum <= value < math.inf,
            f"{name} has {_show(key)}: {_show(value)}",
        )


def _check_last_eval(last: dict) -> None:
    samples, per_sequence = last.get("samples"), last.get("per_sequence")
    _need(
        isinstance(samples, torch.Tensor)
        and samples.dim() == 2
        and not samples.is_floating_point(),
        f"last_eval samples are {_show(samples)}, not a 2-D integer tensor",
    )
    _need(
        isinstance(per_sequence, dict)
        and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) and v.dim() == 1
            for k, v in per_sequence.items()
        ),
        "last_eval per_sequence is not a dict of 1-D tensors",
    )


def _check_optimizer(name: str, saved, optimizer: torch.optim.Optimizer) -> None:
    """Groups of the same sizes, numeric settings where the optimizer has numbers, and
    per-parameter state tensors of the parameters' shapes."""
    what = f"optimizer '{name}'"
    _need(
        isinstance(saved, dict)
        and isinstance(saved.get("state"), dict)
        and isinstance(saved.get("param_groups"), list)
        and len(saved["param_groups"]) == len(optimizer.param_groups),
        f"{what} has another structure",
    )
    for group, live in zip(saved["param_groups"], optimizer.param_groups):
        _need(
            isinstance(group, dict)
            and isinstance(group.get("params"), list)
            and len(group["params"]) == len(live["params"])
            and all(_is_int(ident) for ident in group["params"]),
            f"{what} has other parameter groups",
        )
        for key, value in live.items():  # settings a newer torch added may be missing
            if key in group and _is_number(value):
                _need(_is_number(group[key]), f"{what} has {key} = {_show(group[key])}")
        for ident, param in zip(group["params"], live["params"]):
            _check_param_state(what, saved["state"].get(ident, {}), param)


def _check_param_state(what: str, state, param: torch.Tensor) -> None:
    _need(isinstance(state, dict), f"{what} has a parameter state {_show(state)}")
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            _need(
                value.shape == param.shape,
                f"{what} '{key}' is {tuple(value.shape)} for a parameter of {tuple(param.shape)}",
            )


def load_state_checked(module: torch.nn.Module, state: dict, source: Path | str) -> None:
    """``module.load_state_dict(state)`` after ``check_weights``."""
    check_weights(module, state, source)
    module.load_state_dict(state)


def check_weights(module: torch.nn.Module, state, source: Path | str) -> None:
    """A one-line ``UserError`` naming the first missing, unexpected or differently shaped
    tensor of ``state`` for ``module`` (e.g. another vocabulary size), if there is one."""
    own = module.state_dict()
    if not isinstance(state, dict):
        raise UserError(f"{source} does not hold weights for {type(module).__name__}")
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        what = f"lacks '{missing[0]}'" if missing else f"has unexpected '{extra[0]}'"
        raise UserError(f"{source} does not fit this config's {type(module).__name__}: it {what}")
    for key, tensor in own.items():
        theirs = state[key]
        if not isinstance(theirs, torch.Tensor) or theirs.shape != tensor.shape:
            shape = (
                tuple(theirs.shape) if isinstance(theirs, torch.Tensor) else type(theirs).__name__
            )
            raise UserError(
                f"{source} does not fit this config's {type(module).__name__}: "
                f"'{key}' is {shape} there but {tuple(tensor.shape)} here "
                "(different vocabulary or model sizes?)"
            )
