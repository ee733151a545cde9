"""A training and a test set of fixed-length symbol windows from folders of MIDI files.

``build_music_corpus`` encodes every tune, splits **tunes** (never windows, so no tune
has windows on both sides) into train and test, and cuts each tune into windows with
its encoding's policy.  Tunes an encoding does not use (melody16: not in 4/4) are
counted in ``dropped``, as are tunes too short for one window and, for
``melody_chord``, tunes with rare symbols:

* the count of every symbol over the training tunes is taken; symbols seen at least
  ``min_count`` times (Bjare & Meredith: 10) are kept, in one pass (counts are not
  re-taken after dropping);
* a training tune holding any other symbol is dropped, and so is a test tune holding a
  symbol outside the kept set (it could not be fed to the model);
* ``symbols`` is the kept set, sorted.

For pitch88 and melody16 ``symbols`` is the encoding's fixed symbol list.

A file that cannot be read, or has no melody, is a ``UserError`` naming the file: the
corpus is not built from a folder with broken files.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from seqgan.errors import UserError
from seqgan.music import midi
from seqgan.music.encodings import get_encoding
from seqgan.music.midi import TuneRejected

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass
class MusicCorpus:
    train: list[list[str]]  # windows of exactly seq_len symbols
    test: list[list[str]]
    symbols: list[str]  # the vocabulary, fixed deterministic order
    tunes_train: int  # tunes that gave at least one training window
    tunes_test: int
    dropped: dict[str, int] = field(default_factory=dict)


def list_midi(path: Path) -> list[Path]:
    """``path`` itself if it is a file, else every .mid/.midi file under it (recursive,
    sorted); ``UserError`` if there is none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"MIDI path not found: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)
    if not files:
        raise UserError(f"no .mid or .midi files in {path}")
    return files


def _encode_all(encoding, files: list[Path], dropped: Counter) -> list[list[str]]:
    tunes = []
    for path in files:
        try:
            symbols = encoding.encode_file(path)
        except TuneRejected as e:
            dropped[e.reason] += 1
            continue
        tunes.append(symbols)
    return tunes


def _windows(
    encoding, tunes: list[list[str]], seq_len: int, dropped: Counter, side: str
) -> tuple[list[list[str]], int]:
    windows, used = [], 0
    for symbols in tunes:
        found = encoding.windows(symbols, seq_len)
        if found:
            used += 1
            windows.extend(found)
        else:
            dropped[f"no window of {seq_len} fits ({side})"] += 1
    return windows, used


def build_music_corpus(
    encoding: str,
    train_path: Path,
    test_path: Path | None,
    seq_len: int,
    test_ratio: float = 0.1,
    seed: int = 88,
    min_count: int = 10,
) -> MusicCorpus:
    """Windows of ``seq_len`` symbols for training and test (see the module docstring).

    ``test_path`` None: the tunes of ``train_path`` are shuffled with ``random.Random(seed)``
    and the first ``round(test_ratio * n)`` of them (at least one when ``test_ratio`` > 0)
    are the test tunes; both sides keep the files' sorted order."""
    enc = get_encoding(encoding)
    if seq_len < 1:
        raise UserError(f"seq_len must be >= 1, got {seq_len}")
    if not 0 <= test_ratio < 1:
        raise UserError(f"test_ratio must be in [0, 1), got {test_ratio}")
    dropped: Counter = Counter()
    train_tunes = _encode_all(enc, list_midi(train_path), dropped)
    if test_path is not None:
        test_tunes = _encode_all(enc, list_midi(test_path), dropped)
    else:
        order = list(range(len(train_tunes)))
        random.Random(seed).shuffle(order)
        n_test = round(test_ratio * len(order))
        if test_ratio > 0 and len(order) > 1:
            n_test = min(max(n_test, 1), len(order) - 1)
        test_ids = set(order[:n_test])
        test_tunes = [t for i, t in enumerate(train_tunes) if i in test_ids]
        train_tunes = [t for i, t in enumerate(train_tunes) if i not in test_ids]
    if not train_tunes:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(dropped.items())) or "none read"
        raise UserError(f"no usable tune for {encoding} in {train_path} (dropped: {reasons})")

    fixed = enc.fixed_symbols()
    if fixed is None:
        counts = Counter(s for tune in train_tunes for s in tune)
        kept = {s for s, c in counts.items() if c >= min_count}
        before = len(train_tunes), len(test_tunes)
        train_tunes = [t for t in train_tunes if all(s in kept for s in t)]
        test_tunes = [t for t in test_tunes if all(s in kept for s in t)]
        if before[0] - len(train_tunes):
            dropped[f"symbol seen < {min_count} times (train)"] += before[0] - len(train_tunes)
        if before[1] - len(test_tunes):
            dropped["symbol outside the vocabulary (test)"] += before[1] - len(test_tunes)
        if not train_tunes:
            raise UserError(
                f"all {before[0]} training tunes of {train_path} were dropped by "
                f"the rare-symbol rule (each holds a {encoding} symbol seen fewer "
                f"than data.min_count = {min_count} times); lower data.min_count, "
                f"e.g. --set data.min_count=1"
            )
        symbols = sorted(kept)
    else:
        symbols = list(fixed)

    train, tunes_train = _windows(enc, train_tunes, seq_len, dropped, "train")
    test, tunes_test = _windows(enc, test_tunes, seq_len, dropped, "test")
    if not train:
        rare = dropped.get(f"symbol seen < {min_count} times (train)", 0)
        hint = (
            f"; {rare} tunes were dropped by the rare-symbol rule (data.min_count = {min_count})"
            if rare
            else ""
        )
        raise UserError(
            f"no window of {seq_len} {encoding} symbols fits in any of the "
            f"{len(train_tunes)} training tunes of {train_path}; use a shorter "
            f"data.seq_len{hint}"
        )
    wants_test = test_path is not None or test_ratio > 0
    if wants_test and not test:
        where = test_path if test_path is not None else f"the {test_ratio:g} split of {train_path}"
        raise UserError(
            f"no window of {seq_len} {encoding} symbols fits in any test tune "
            f"of {where}; use a shorter seq_len or more test tunes"
        )
    return MusicCorpus(train, test, symbols, tunes_train, tunes_test, dict(sorted(dropped.items())))


def symbols_to_midi(encoding: str, symbols: list[str], path: Path) -> None:
    """Decode ``symbols`` with ``encoding`` and write a .mid file at ``path`` atomically
    (``storage.atomic``), creating its folder if needed (a folder or file that cannot be made
    is a ``UserError``)."""
    pm = get_encoding(encoding).decode(list(symbols))
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"cannot write MIDI file {path}: cannot create folder {path.parent}: {e.strerror or e}"
        ) from None
    midi.write_midi(pm, path)
