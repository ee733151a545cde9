"""``seqgan runs [FOLDER]``: the run folders under a folder as one table — name,
algorithm, data, status (finished, running, or where an unfinished run stopped), the
headline metric and how long ago the run last wrote.

Only reads: nothing in a run folder is written or locked (a run being trained is told by
the lock its trainer holds, ``storage.lock``, tested without taking it).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import time
from pathlib import Path

import tomllib

from seqgan.errors import UserError
from seqgan.storage.folder import MARKER
from seqgan.storage.lock import LOCK_NAME

HEADER = ("run", "algorithm", "data", "status", "metric", "age")
_METRICS = ("nll_oracle", "nll_test")  # the headline metric, the first a run has


def find_runs(folder: Path) -> list[Path]:
    """Run folders under ``folder`` (``folder`` itself included), in path order: folders
    holding ``config.toml`` and the marker or ``metrics.csv``; a run folder's own
    sub-folders are not searched, a comparison's are."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    found = []
    for root, dirs, files in os.walk(folder, onerror=None):
        if "config.toml" in files and (MARKER in files or "metrics.csv" in files):
            found.append(Path(root))
            dirs.clear()
        else:
            dirs.sort()
    return sorted(found)


def describe(run: Path, now: float | None = None) -> dict[str, str]:
    """One table row of ``run`` (``HEADER``'s keys); what cannot be read shows as ``?``."""
    config = _read_toml(run / "config.toml")
    summary = _read_json(run / "summary.json")
    rows = _read_rows(run / "metrics.csv")
    return {
        "algorithm": str(config.get("algorithm", "?")),
        "data": _data(config),
        "status": _status(run, summary, rows, config),
        "metric": _metric(summary, rows),
        "age": _age(run, time.time() if now is None else now),
    }


def runs_table(folder: Path) -> str:
    """The table of ``find_runs(folder)``: aligned columns, a header line, one line per
    run (its path relative to ``folder``); a line saying so when there is none."""
    runs = find_runs(folder)
    if not runs:
        return f"no seqgan runs under {folder}\n"
    now = time.time()
    lines = [HEADER]
    for run in runs:
        name = str(run.relative_to(folder)) if run != folder else run.name or str(run)
        row = describe(run, now)
        lines.append((name, *(row[key] for key in HEADER[1:])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n"
        for line in lines
    )


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _read_rows(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _data(config: dict) -> str:
    """``oracle V=5000 T=20``, or the training file's name (and a music encoding)."""
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    oracle = config.get("oracle") if isinstance(config.get("oracle"), dict) else {}
    kind = data.get("kind", "oracle")
    if kind == "oracle":
        return f"oracle V={oracle.get('vocab_size', '?')} T={oracle.get('seq_len', '?')}"
    name = Path(str(data.get("train_file") or "?")).name or str(data.get("train_file"))
    return f"{name} ({data['encoding']})" if kind == "music" and data.get("encoding") else name


def _running(run: Path) -> bool:
    """Whether a process holds the run's lock now (tested with a shared, non-blocking
    ``flock`` on a read-only descriptor, released at once; the file is not changed)."""
    try:
        fd = os.open(run / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


# the config key holding the length of a phase, by phase name
_LENGTHS = {
    "pretrain_generator": ("pretrain", "generator_epochs"),
    "pretrain_discriminator": ("pretrain", "discriminator_rounds"),
    "adversarial": ("adversarial", "epochs"),
    "policy_gradient": ("adversarial", "epochs"),
    "scheduled_sampling": ("adversarial", "epochs"),
}


def _status(run: Path, summary: dict, rows: list[dict], config: dict | None = None) -> str:
    if _running(run):
        state = "running"
    elif summary:
        return "finished"
    else:
        state = "stopped"
    last = rows[-1] if rows else {}
    if last.get("phase") in (None, "", "init"):
        return f"{state} (before the first epoch)"
    section, key = _LENGTHS.get(last["phase"], ("", ""))
    part = (config or {}).get(section)
    length = part.get(key) if isinstance(part, dict) else None
    of = f"/{length}" if isinstance(length, int) else ""
    return f"{state} ({last['phase']} epoch {last.get('phase_epoch', '?')}{of})"


def _metric(summary: dict, rows: list[dict]) -> str:
    """``nll_oracle 8.6932`` of the summary (with its first BLEU, if any: ``nll_test
    3.1635, bleu2 0.6124``), else of the last evaluated row."""
    for key in _METRICS:
        value = summary.get(key)
        if isinstance(value, (int, float)):
            bleu = next(
                (
                    k
                    for k in summary
                    if k.startswith("bleu") and isinstance(summary[k], (int, float))
                ),
                None,
            )
            return f"{key} {value:.4f}" + (f", {bleu} {summary[bleu]:.4f}" if bleu else "")
    for row in reversed(rows):
        for key in _METRICS:
            if row.get(key):
                return f"{key} {float(row[key]):.4f} (epoch {row.get('epoch', '?')})"
    return "-"


def _age(run: Path, now: float) -> str:
    """Time since the run last wrote its summary or metrics (``42 s``, ``5 min``, ``3 h``,
    ``2 d``)."""
    times = []
    for name in ("summary.json", "metrics.csv", "config.toml"):
        try:
            times.append((run / name).stat().st_mtime)
        except OSError:
            pass
    if not times:
        return "?"
    seconds = max(0.0, now - max(times))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
