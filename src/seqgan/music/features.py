"""Feature metrics of symbolic music, computed on note lists (data and samples alike).

A tune is a list of notes ``(start, end, pitch)`` with times in **quarter notes**
(``notes_of`` reads them from a decoded ``PrettyMIDI``, whatever the encoding, through its
tempo map).  Each feature is one number per tune; ``docs/music.md`` ("Feature metrics")
gives the same definitions with their sources:

* ``pitch_range``: max pitch - min pitch, in semitones (Dong et al. 2020, MusPy
  "pitch range"; Yang & Lerch 2018 "PR").
* ``n_pitch_classes``: the number of distinct pitch classes (pitch mod 12) used
  (MusPy "number of pitch classes used"; Yang & Lerch "PC", taken over the whole tune).
* ``pitch_class_entropy``: Shannon entropy in bits of the pitch-class histogram of the
  notes (each note counted once), ``-sum_c p_c log2 p_c`` (MusPy "pitch class entropy").
* ``scale_consistency``: the largest fraction of notes whose pitch class lies in one
  major or natural-minor scale, over the 24 scales (Mogren 2016, C-RNN-GAN; MusPy).
* ``polyphony``: the mean number of distinct pitches sounding, over the grid points at
  which at least one sounds (MusPy "polyphony"); a monophonic melody has 1.  A note
  covers the points ``round(12 s) .. round(12 e) - 1``, at least one.
* ``empty_beat_rate``: the fraction of beats (quarter notes, from 0 to the end of the
  last note rounded up to a whole beat) during which no note sounds (MusPy "empty beat
  rate"; sounding, not only starting).
* ``groove_consistency``: ``1 - mean_i hamming(o_i, o_{i+1}) / Q`` over consecutive
  bars, where ``o_i`` is the binary onset vector of bar ``i`` on a grid of ``Q`` points
  (Wu & Yang 2020, used by MusPy).  Bars are 4 quarter notes of the decoded file, the grid
  12 points per quarter (Q = 48, onsets rounded to it), counted from the first bar to the
  one holding the last onset; a tune whose last onset lies in its first bar has 1.
  (MusPy counts bars to the end of the last note: ``benchmarks/muspy_crosscheck.py``.)
* ``mean_duration``: mean note duration, in quarter notes (Yang & Lerch "NL" as a mean).
* ``mean_ioi``: mean inter-onset interval between consecutive distinct onset times, in
  quarter notes (Yang & Lerch "IOI"); NaN with fewer than two onsets.

A tune without notes has NaN for every pitch feature, ``mean_duration`` and ``mean_ioi``,
and empty-beat rate 1; NaN values are left out of means and distributions.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

GRID = 12  # grid points per quarter note (polyphony, groove)
BAR_QUARTERS = 4  # quarters per bar for groove consistency
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
SCALES = tuple(
    frozenset((root + step) % 12 for step in scale)
    for scale in (MAJOR, MINOR)
    for root in range(12)
)
FEATURES = (
    "pitch_range",
    "n_pitch_classes",
    "pitch_class_entropy",
    "scale_consistency",
    "polyphony",
    "empty_beat_rate",
    "groove_consistency",
    "mean_duration",
    "mean_ioi",
)
# features that say nothing for an encoding: pitch88 and melody16 are monophonic
MONOPHONIC = {"pitch88", "melody16"}

Notes = list[tuple[float, float, int]]  # (start, end, pitch), quarter notes


def notes_of(pm) -> Notes:
    """The non-drum notes of a PrettyMIDI as ``(start, end, pitch)`` in quarter notes."""

    def quarters(t: float) -> float:
        return pm.time_to_tick(t) / pm.resolution

    out = [
        (quarters(n.start), quarters(n.end), int(n.pitch))
        for inst in pm.instruments
        if not inst.is_drum
        for n in inst.notes
    ]
    return sorted(out)


def pitch_range(notes: Notes) -> float:
    return float(max(p for *_, p in notes) - min(p for *_, p in notes)) if notes else math.nan


def n_pitch_classes(notes: Notes) -> float:
    return float(len({p % 12 for *_, p in notes})) if notes else math.nan


def pitch_class_entropy(notes: Notes) -> float:
    if not notes:
        return math.nan
    counts = np.array(list(Counter(p % 12 for *_, p in notes).values()), dtype=float)
    prob = counts / counts.sum()
    return float(-(prob * np.log2(prob)).sum()) + 0.0  # +0.0: no "-0.0"


def scale_consistency(notes: Notes) -> float:
    if not notes:
        return math.nan
    classes = [p % 12 for *_, p in notes]
    return max(sum(c in scale for c in classes) for scale in SCALES) / len(classes)


def _grid(t: float) -> int:
    return int(round(t * GRID))


def polyphony(notes: Notes) -> float:
    if not notes:
        return math.nan
    end = max(_grid(e) for _, e, _ in notes)
    sounding = [set() for _ in range(end + 1)]
    for s, e, p in notes:
        for k in range(_grid(s), max(_grid(e), _grid(s) + 1)):
            sounding[k].add(p)
    counts = [len(x) for x in sounding if x]
    return float(np.mean(counts)) if counts else math.nan


def empty_beat_rate(notes: Notes) -> float:
    if not notes:
        return 1.0
    beats = max(1, math.ceil(max(e for _, e, _ in notes) - 1e-9))
    full = np.zeros(beats, dtype=bool)
    for s, e, _ in notes:
        first = int(math.floor(s + 1e-9))
        last = int(math.ceil(e - 1e-9))  # beats [first, last) overlap the note
        full[first : max(last, first + 1)] = True
    return float(1.0 - full.mean())


def groove_consistency(notes: Notes) -> float:
    if not notes:
        return math.nan
    q = GRID * BAR_QUARTERS
    onsets = {_grid(s) for s, _, _ in notes}
    bars = max(onsets) // q + 1
    if bars < 2:
        return 1.0
    vectors = np.zeros((bars, q), dtype=bool)
    for k in onsets:
        vectors[k // q, k % q] = True
    hamming = (vectors[1:] != vectors[:-1]).sum(axis=1)
    return float(1.0 - hamming.mean() / q)


def mean_duration(notes: Notes) -> float:
    return float(np.mean([e - s for s, e, _ in notes])) if notes else math.nan


def mean_ioi(notes: Notes) -> float:
    onsets = sorted({round(s, 9) for s, _, _ in notes})
    return float(np.mean(np.diff(onsets))) if len(onsets) > 1 else math.nan


_FUNCTIONS = {name: globals()[name] for name in FEATURES}


def features(notes: Notes, names: tuple[str, ...] = FEATURES) -> dict[str, float]:
    """The features ``names`` of one tune (note list)."""
    return {name: _FUNCTIONS[name](notes) for name in names}


def feature_names(encoding: str) -> tuple[str, ...]:
    """The features reported for ``encoding`` (polyphony only where it can exceed 1)."""
    return tuple(f for f in FEATURES if not (f == "polyphony" and encoding in MONOPHONIC))


def features_of_symbols(encoding: str, sequences: list[list[str]]) -> dict[str, np.ndarray]:
    """Feature -> ``[n_sequences]`` values of symbol sequences of ``encoding``, each decoded
    with the encoding's own decoder (``Encoding.decode``)."""
    from seqgan.music.encodings import get_encoding

    enc = get_encoding(encoding)
    names = feature_names(encoding)
    rows = [features(notes_of(enc.decode(list(s))), names) for s in sequences]
    return {name: np.array([r[name] for r in rows], dtype=np.float64) for name in names}
