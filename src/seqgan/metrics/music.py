"""Music metrics, one value per sequence (means, and t-tests, are taken by the caller).

* ``pitch88``: MSE (SeqGAN, Table 4), nearest-reference mean squared pitch difference.
* ``melody16``: SPB and QN (SeqVAE, Table 2), statistics of a melody compared with the
  same statistics of the training data.
* ``melody_chord``: none here (BLEU is computed elsewhere).

The exact definitions are in each function's docstring and, with the reasons for them,
in ``docs/music.md``.
"""

from __future__ import annotations

import numpy as np

from seqgan.errors import UserError

STEPS_PER_BAR = 16
_PITCHES = {str(p): p for p in range(21, 109)}  # melody16 note symbols
QN_LENGTHS = (4, 6, 8)
# the metrics ``music_metrics`` computes for each encoding
METRICS = {
    "pitch88": ("mse",),
    "melody16": ("spb", *(f"qn{n}" for n in QN_LENGTHS)),
    "melody_chord": (),
}
_CHUNK_ELEMENTS = 4_000_000  # samples x references x T per block of the MSE


def _pitch88_numbers(sequences: list[list[str]], what: str) -> np.ndarray:
    from seqgan.music.pitch88 import Pitch88

    if not sequences:
        return np.zeros((0, 0))
    lengths = {len(s) for s in sequences}
    if len(lengths) != 1:
        raise UserError(f"MSE needs {what} of one length, got lengths {sorted(lengths)}")
    to_numbers = Pitch88().pitches
    return np.array([to_numbers(list(s)) for s in sequences], dtype=np.float64)


def pitch_mse_per_sequence(
    samples: list[list[str]], references: list[list[str]], encoding: str = "pitch88"
) -> np.ndarray:
    """Nearest-reference mean squared pitch error of each sample (pitch88 symbols).

    With the symbols as numbers x_t (``"0"`` rest = 0, ``"1"``..``"88"`` = piano key =
    MIDI pitch - 20; anything else counts as 0) and the references r^(1..m) (windows
    of the same length T as the samples):

        MSE(x) = min_j (1/T) sum_{t=1..T} (x_t - r^(j)_t)^2        [semitones^2]

    i.e. the mean squared pitch difference to the closest reference window, position by
    position.  Returns an array [n_samples] (float64); the reported MSE is its mean.
    """
    if encoding != "pitch88":
        raise UserError(f"the pitch MSE is defined for the pitch88 encoding, not {encoding!r}")
    if not references:
        raise UserError("the pitch MSE needs at least one reference sequence")
    x = _pitch88_numbers(samples, "samples")
    r = _pitch88_numbers(references, "references")
    if not len(x):
        return np.zeros(0)
    if x.shape[1] != r.shape[1]:
        raise UserError(f"MSE: samples have length {x.shape[1]}, references {r.shape[1]}")
    length = x.shape[1]
    # ||x - r||^2 = ||x||^2 - 2 x.r + ||r||^2, exact in float64 for integers this small
    r_sq = (r * r).sum(axis=1)
    out = np.empty(len(x))
    rows = max(1, _CHUNK_ELEMENTS // max(1, len(r) * max(1, length)))
    for i in range(0, len(x), rows):
        block = x[i : i + rows]
        d = (block * block).sum(axis=1)[:, None] - 2.0 * block @ r.T + r_sq[None, :]
        out[i : i + rows] = d.min(axis=1) / length
    return out


def _note_lengths(symbols: list[str]) -> list[int]:
    """Lengths in steps of the notes of a melody16 sequence: a pitch symbol starts a note,
    ``hold`` extends a sounding note, ``rest`` or the next pitch ends it, and the end of
    the sequence ends the last one (so a note cut by the window counts with the steps
    inside the window)."""
    lengths: list[int] = []
    current = 0
    for symbol in symbols:
        if symbol == "hold":
            if current:
                current += 1
        else:
            if current:
                lengths.append(current)
            current = 1 if symbol in _PITCHES else 0
    if current:
        lengths.append(current)
    return lengths


def spb_per_sequence(sequences: list[list[str]], encoding: str = "melody16") -> np.ndarray:
    """SPB, the mean pitch span per bar of each sequence, in octaves.

    The sequence (melody16 symbols, 16 steps per bar) is cut into bars of 16 steps (a
    last partial bar counts as a bar).  The span of a bar is

        span(bar) = (max p - min p) / 12       over the pitches p that START in the bar

    (notes held over from the previous bar do not count; a bar with fewer than two note
    starts has span 0, an empty bar included), and SPB = mean of span over the bars.
    Units: octaves (12 semitones), which is the unit of SeqVAE's data row (0.37); see
    docs/music.md.  Returns [n_sequences] (float64); an empty sequence gives 0.
    """
    if encoding != "melody16":
        raise UserError(f"SPB is defined for the melody16 encoding, not {encoding!r}")
    out = np.zeros(len(sequences))
    for k, symbols in enumerate(sequences):
        bars = -(-len(symbols) // STEPS_PER_BAR)
        if not bars:
            continue
        total = 0
        for b in range(bars):
            pitches = [
                _PITCHES[s]
                for s in symbols[b * STEPS_PER_BAR : (b + 1) * STEPS_PER_BAR]
                if s in _PITCHES
            ]
            if pitches:
                total += max(pitches) - min(pitches)
        out[k] = total / 12.0 / bars
    return out


def qn_per_sequence(
    sequences: list[list[str]], encoding: str = "melody16", lengths: tuple[int, ...] = QN_LENGTHS
) -> dict[int, np.ndarray]:
    """QN, the share of "qualified" notes of each sequence, for each minimum length L.

    QN_L(x) = #{notes of x lasting >= L sixteenth steps} / #{notes of x}, a fraction in
    [0, 1] (SeqVAE reports it in %).  A note starts at a pitch symbol and lasts until the
    next ``rest`` or pitch symbol or the end of the sequence (``_note_lengths``).  A
    sequence with no note has QN = 0 (as in SeqVAE's evaluation code); it is counted,
    not skipped, so silent samples lower the mean.  Returns {L: [n_sequences]}.
    """
    if encoding != "melody16":
        raise UserError(f"QN is defined for the melody16 encoding, not {encoding!r}")
    out = {length: np.zeros(len(sequences)) for length in lengths}
    for k, symbols in enumerate(sequences):
        notes = np.array(_note_lengths(list(symbols)))
        if not len(notes):
            continue
        for length in lengths:
            out[length][k] = float((notes >= length).sum()) / len(notes)
    return out


def music_metrics(
    encoding: str, samples: list[list[str]], references: list[list[str]]
) -> dict[str, np.ndarray]:
    """Per-sequence metric arrays of ``samples`` for ``encoding``:
    pitch88 -> {"mse"} (against ``references``); melody16 -> {"spb", "qn4", "qn6",
    "qn8"} (``references`` unused: compare with the same metrics of the data);
    melody_chord -> {}."""
    if encoding == "pitch88":
        return {"mse": pitch_mse_per_sequence(samples, references, encoding)}
    if encoding == "melody16":
        out = {"spb": spb_per_sequence(samples, encoding)}
        for length, values in qn_per_sequence(samples, encoding).items():
            out[f"qn{length}"] = values
        return out
    if encoding == "melody_chord":
        return {}
    from seqgan.music.encodings import get_encoding

    get_encoding(encoding)  # raises the "did you mean" error
    return {}
