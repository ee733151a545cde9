"""``melody16`` — 4/4 melodies on a sixteenth-note grid, Magenta's melody encoding as
used by SeqVAE (Gao et al. 2021, "4/4 beat melodies with a fixed length of 16 bars ...
the length of the generated sequence is 256 ... The way we encode our melodies is
borrowed from magenta").

* **Track.** The melody part (``midi.load_tune``).
* **Which tunes.** Only tunes whose every time signature is 4/4 (a file without a time
  signature event is 4/4, the MIDI default).  Others raise ``TuneRejected`` with reason
  ``"time signature not 4/4"`` and are counted, not used, by the corpus builder.  2/4
  and 2/2 tunes are not re-barred into 4/4.
* **Grid.** Sixteenth-note steps counted in ticks from the start of the file: step ``s``
  is tick ``s * resolution / 4``, where ``resolution`` is the file's ticks per quarter
  note — the beat map, independent of tempo.  Note starts and ends are rounded to the
  nearest step; a note shorter than a step lasts one step.  Bars are 16 steps from step
  0 (the file's own bar grid; a pick-up is not re-aligned).
* **Monophony.** Of notes starting on the same step the highest is kept; a note still
  sounding when the next starts is cut there (``midi.monophonic``).  Pitches outside
  21..108 are ignored.
* **Symbols** (90): ``"21"`` .. ``"108"`` = a note starts on this step (MIDI pitch);
  ``"rest"`` = the sounding note stops on this step (Magenta's NOTE_OFF); ``"hold"`` =
  nothing happens on this step (Magenta's NO_EVENT): a sounding note goes on sounding,
  silence stays silent.  So a quarter note C4 followed by a quarter rest is
  ``60 hold hold hold rest hold hold hold``.  The sequence runs from step 0 (leading
  silence is ``hold``) to the end of the last note.
* **Windows.** As MusicVAE's ``OneHotMelodyConverter(slice_bars=16, gap_bars=1)``,
  which SeqVAE's data pipeline uses: the tune is cut into melodies at every silence of a
  bar or more (16 steps from a note's end to the next start); a melody starts at the bar
  line before its first note and is padded to a whole bar (a ``rest`` ending its last
  note, then ``hold``); windows of ``seq_len`` steps start on every bar line of a melody
  that leaves room for them (hop of one bar); identical windows of one tune are kept once;
  of the remaining windows of a tune at most ``MAX_WINDOWS_PER_TUNE`` = 5 are kept,
  evenly spaced over the tune (first and last included) — MusicVAE keeps 5 at random
  per tune and epoch (``max_tensors_per_notesequence=5``); here the choice is fixed so
  that the data set is.  A window that starts while a note sounds begins with ``hold``,
  which decodes as silence: the tail of that note is lost, as in MusicVAE.
* **Decoding.** A pitch starts a note, ``rest`` ends it, ``hold`` continues; a note
  still sounding at the end ends with the sequence; unknown symbols act as ``rest``.
  Steps are 0.125 s (120 quarter notes per minute) and the file says 4/4.  Encoding a
  decoded sequence gives it back exactly if it ends with a note (an encoded tune always
  does; leading ``hold``s are kept because steps count from time 0).
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi

from seqgan.music import midi
from seqgan.music.midi import TuneRejected

__all__ = ["Melody16", "TuneRejected", "is_four_four"]

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
HOLD, REST = "hold", "rest"
MAX_WINDOWS_PER_TUNE = 5
PITCHES = {str(p): p for p in range(midi.PIANO_LOW, midi.PIANO_HIGH + 1)}
GAP_STEPS = STEPS_PER_BAR  # a silence this long or longer ends a melody


def is_four_four(tune: midi.Tune) -> bool:
    return all((num, den) == (4, 4) for _, num, den in tune.time_signatures)


class Melody16:
    name = "melody16"
    default_seq_len = 256

    def fixed_symbols(self) -> list[str]:
        return [HOLD, REST] + [str(p) for p in range(midi.PIANO_LOW, midi.PIANO_HIGH + 1)]

    # -- encoding -----------------------------------------------------------------------

    @staticmethod
    def encode_notes(notes: list[midi.Note], resolution: int) -> list[str]:
        """Notes of one part (ticks) -> step symbols; no meter check."""
        steps = midi.monophonic(notes, resolution, STEPS_PER_QUARTER)
        if not steps:
            return []
        length = steps[-1][1]
        symbols = [HOLD] * length
        for _, end, _ in steps:
            if end < length:
                symbols[end] = REST
        for start, _, pitch in steps:
            symbols[start] = str(pitch)
        return symbols

    def encode_tune(self, tune: midi.Tune) -> list[str]:
        if not is_four_four(tune):
            meters = sorted({f"{n}/{d}" for _, n, d in tune.time_signatures})
            raise TuneRejected(
                f"{tune.path}: melody16 needs 4/4 tunes, this one is in {', '.join(meters)}",
                "time signature not 4/4",
            )
        return self.encode_notes(tune.melody.notes, tune.resolution)

    def encode_file(self, path: Path) -> list[str]:
        return self.encode_tune(midi.load_tune(path))

    # -- decoding -----------------------------------------------------------------------

    @staticmethod
    def note_spans(symbols: list[str]) -> list[tuple[int, int, int]]:
        """Symbols -> (start step, end step, pitch) of the notes they describe."""
        spans: list[tuple[int, int, int]] = []
        current: tuple[int, int] | None = None  # (start, pitch)
        for i, symbol in enumerate(symbols):
            if symbol == HOLD:
                continue
            if current is not None:
                spans.append((current[0], i, current[1]))
                current = None
            if symbol in PITCHES:
                current = (i, PITCHES[symbol])
        if current is not None:
            spans.append((current[0], len(symbols), current[1]))
        return spans

    def decode(self, symbols: list[str]) -> pretty_midi.PrettyMIDI:
        pm = midi.new_midi()
        pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
        seconds = 60.0 / midi.WRITE_TEMPO / STEPS_PER_QUARTER
        melody = pretty_midi.Instrument(program=0, name="melody")
        for start, end, pitch in self.note_spans(symbols):
            melody.notes.append(
                pretty_midi.Note(velocity=90, pitch=pitch, start=start * seconds, end=end * seconds)
            )
        pm.instruments.append(melody)
        return pm

    # -- windows ------------------------------------------------------------------------

    @staticmethod
    def melodies(symbols: list[str]) -> list[list[str]]:
        """The tune cut at silences of a bar or more; each piece starts on a bar line and
        is padded to whole bars."""
        spans = Melody16.note_spans(symbols)
        pieces: list[list[tuple[int, int, int]]] = []
        for span in spans:
            if pieces and span[0] - pieces[-1][-1][1] < GAP_STEPS:
                pieces[-1].append(span)
            else:
                pieces.append([span])
        out = []
        for piece in pieces:
            first = piece[0][0] // STEPS_PER_BAR * STEPS_PER_BAR
            last = piece[-1][1]
            bars = -(-(last - first) // STEPS_PER_BAR)
            segment = [HOLD] * (bars * STEPS_PER_BAR)
            for _, end, _ in piece:
                if end - first < len(segment):
                    segment[end - first] = REST
            for start, _, pitch in piece:
                segment[start - first] = str(pitch)
            out.append(segment)
        return out

    def windows(self, symbols: list[str], seq_len: int) -> list[list[str]]:
        found: list[list[str]] = []
        seen: set[tuple[str, ...]] = set()
        for segment in self.melodies(symbols):
            for start in range(0, len(segment) - seq_len + 1, STEPS_PER_BAR):
                window = segment[start : start + seq_len]
                key = tuple(window)
                if key not in seen:
                    seen.add(key)
                    found.append(window)
        if len(found) <= MAX_WINDOWS_PER_TUNE:
            return found
        n = len(found) - 1
        picks = [
            (i * n + (MAX_WINDOWS_PER_TUNE - 1) // 2) // (MAX_WINDOWS_PER_TUNE - 1)
            for i in range(MAX_WINDOWS_PER_TUNE)
        ]
        return [found[i] for i in picks]
