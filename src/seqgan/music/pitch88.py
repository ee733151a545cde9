"""``pitch88`` — the melody sampled every 0.4 s as piano keys (SeqGAN's music task).

Yu et al. (2017): "We study the solo track of each music.  In our work, we use 88
numbers to represent 88 pitches, which correspond to the 88 keys on the piano.  With the
pitch sampling for every 0.4s, we transform the midi files into sequences of numbers from
1 to 88 with the length 32."  This module makes that precise:

* **Track.** The melody part of the tune (``midi.load_tune``: the first track with
  non-drum notes — the "solo" track of the Nottingham files).
* **Sampling.** Sample ``k`` is the melody at time ``t_k = 0.4 k`` seconds, ``k = 0, 1,
  ...``, times taken from the file's own tempo map (pretty_midi).  A note sounds at
  ``t`` when ``start <= t < end`` (with a tolerance of 1 µs, so a note starting exactly
  on a sample time is seen there).  Sampling starts at time 0 (leading silence is kept as
  rests) and stops at the last sample where a melody note sounds (no trailing rests, even
  when the last note falls between two samples).
* **Symbols.** ``"0"`` = rest (no melody note sounds), ``"1"`` .. ``"88"`` = MIDI pitch
  − 20, i.e. the piano keys A0 (21) .. C8 (108).  Notes outside the piano range are
  ignored.  If several melody notes sound at a sample time (rolled chords in a handful of
  Nottingham melodies) the **highest** is taken — the top line is the melody.
* **Windows.** Consecutive, non-overlapping windows of ``seq_len`` (32) samples from
  the start of the tune; the remainder shorter than ``seq_len`` is dropped.  With 0.4 s
  per sample a window is 12.8 s of music.
* **Decoding.** Each run of equal symbols becomes one note (a merged run, so a held
  pitch is one note, not re-struck every 0.4 s) from ``0.4 i`` to ``0.4 j`` seconds at
  120 quarter notes per minute; rests and unknown symbols (``"<bos>"``, ``"89"`` ...)
  are silence.  Re-sampling a decoded file gives the same symbols back, as long as the
  sequence ends with a note, which an encoded tune always does (trailing rests cannot be
  written to a MIDI file).  Sampling loses the notes between sample times and repeated
  notes, so decoding is the inverse of encoding on symbol sequences, not on the original
  tune.
"""

from __future__ import annotations

import math
from pathlib import Path

import pretty_midi

from seqgan.music import midi

STEP_SECONDS = 0.4
TOLERANCE = 1e-6
OFFSET = 20  # symbol = MIDI pitch - 20
REST = "0"
KEYS = {str(k): k for k in range(1, 89)}


class Pitch88:
    name = "pitch88"
    default_seq_len = 32

    def fixed_symbols(self) -> list[str]:
        return [str(i) for i in range(89)]

    def encode_tune(self, tune: midi.Tune) -> list[str]:
        spans = [
            (tune.seconds(n.start), tune.seconds(n.end), n.pitch)
            for n in tune.melody.notes
            if midi.PIANO_LOW <= n.pitch <= midi.PIANO_HIGH
        ]
        if not spans:
            return []
        end = max(e for _, e, _ in spans)
        count = max(0, math.ceil(end / STEP_SECONDS - TOLERANCE))
        keys = [0] * count
        for start, stop, pitch in spans:
            first = max(0, math.ceil((start - TOLERANCE) / STEP_SECONDS))
            last = min(count, math.ceil((stop - TOLERANCE) / STEP_SECONDS))
            for k in range(first, last):
                keys[k] = max(keys[k], pitch - OFFSET)
        while keys and keys[-1] == 0:  # a last note between two samples
            keys.pop()
        return [str(k) for k in keys]

    def encode_file(self, path: Path) -> list[str]:
        return self.encode_tune(midi.load_tune(path))

    @staticmethod
    def _key(symbol: str) -> int:
        """Symbol -> 1..88, or 0 for a rest and for anything that is not a key number."""
        return KEYS.get(symbol, 0)

    def decode(self, symbols: list[str]) -> pretty_midi.PrettyMIDI:
        pm = midi.new_midi()
        melody = pretty_midi.Instrument(program=0, name="melody")
        keys = [self._key(s) for s in symbols]
        i = 0
        while i < len(keys):
            j = i + 1
            while j < len(keys) and keys[j] == keys[i]:
                j += 1
            if keys[i]:
                melody.notes.append(
                    pretty_midi.Note(
                        velocity=90,
                        pitch=keys[i] + OFFSET,
                        start=i * STEP_SECONDS,
                        end=j * STEP_SECONDS,
                    )
                )
            i = j
        pm.instruments.append(melody)
        return pm

    def windows(self, symbols: list[str], seq_len: int) -> list[list[str]]:
        return [symbols[i : i + seq_len] for i in range(0, len(symbols) - seq_len + 1, seq_len)]

    def pitches(self, symbols: list[str]) -> list[int]:
        """Symbols as numbers for the MSE metric: 0 for a rest (or unknown), 1..88 keys."""
        return [self._key(s) for s in symbols]
