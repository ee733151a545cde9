"""``melody_chord`` — one symbol per melody event combining the melody note, the chord
under it and the duration (Lee et al. 2017 as used by Bjare & Meredith: "tokens are
created by combining melody pitch-class, melody octave, chord pitch-class, chord root
octave and duration ... Music containing tokens appearing less than 10 times in the data
set was removed ... The tokenized pieces are split into sequences of length 100").

* **Grid.** Times in ticks are rounded to a grid of 12 points per quarter note, which
  holds sixteenths (3), eighth-note triplets (4), eighths (6), quarters (12) and dotted
  values exactly; a note shorter than one grid unit lasts one unit.
* **Melody events.** The melody part (``midi.load_tune``) made monophonic
  (``midi.monophonic``: the highest of notes starting together, a note cut where the next
  starts; pitches outside 21..108 ignored).  Each note is an event; each silence between
  notes (and before the first note, if the tune does not start at 0) is a rest event.
  Nothing follows the last note.
* **Chords.** From the accompaniment part (the second part of the file: in
  ``midi_boulanger`` the chord track, bass and chord channels together).  Its notes are
  grouped by rounded start; a group with at least two distinct pitch classes is a chord
  change.  Single notes (the alternating bass notes of an "oom-pah" accompaniment) do not
  change the chord.  The chord of an event is the last chord change at or before the
  event's start — a chord holds until the next one, as on a lead sheet, also across
  pauses of the accompaniment; before the first chord, and in tunes without an
  accompaniment (14 type-0 files of ``midi_boulanger``), the chord is ``N``.
* **Chord classes.** The group's pitch classes are matched against interval sets above
  a root: maj {0,4,7}, min {0,3,7}, dim {0,3,6}, aug {0,4,8}, sus2 {0,2,7}, sus4
  {0,5,7}, 5 {0,7}, 6 {0,4,7,9}, min6 {0,3,7,9}, 7 {0,4,7,10}, maj7 {0,4,7,11}, min7
  {0,3,7,10}, m7b5 {0,3,6,10}, dim7 {0,3,6,9}, 7sus4 {0,5,7,10}, 9 {0,2,4,7,10}.  The
  candidate roots are tried lowest note first, then the other pitch classes from low to
  high, and the first exact match wins (so C-E-G-A with C at the bottom is C:6, with A
  at the bottom A:min7; inversions such as E-G-C are C:maj).  A set matching no class is
  kept as it is: root = the lowest note, class ``x`` + its intervals (``x4.10`` for
  C-E-B♭).  The **chord octave** is the octave of the lowest note that has the root's
  pitch class (MIDI octave numbers: 60 = C4).
* **Symbols.** ``MELODY|CHORD|dDUR``: MELODY is the note name with octave (sharps:
  ``C#5``) or ``R`` for a rest; CHORD is ``ROOT:CLASS:OCTAVE`` (``D:7:3``) or ``N``;
  DUR is the duration in twelfths of a quarter note (``d6`` an eighth, ``d12`` a quarter,
  ``d18`` a dotted quarter).  Example: ``E5|C:maj:3|d6``.  The vocabulary is data-derived
  (``fixed_symbols()`` is None): the corpus builder keeps symbols seen at least 10 times
  in the training tunes and drops tunes with any other symbol.
* **Windows.** Consecutive, non-overlapping windows of ``seq_len`` (100) events from the
  start of the tune; the remainder is dropped.
* **Decoding.** Events are laid end to end at 120 quarter notes per minute.  The melody
  is one instrument; each run of consecutive events with the same chord becomes one block
  chord (root at its octave, the class's intervals above it) held from the first event's
  start to the last event's end, on a second instrument; ``N`` plays nothing.  Malformed
  symbols (``"<bos>"``) are skipped and take no time.  Encoding a decoded sequence gives
  it back exactly when no ``N`` follows a chord (never the case for an encoded tune).
"""

from __future__ import annotations

import re
from pathlib import Path

import pretty_midi

from seqgan.music import midi

GRID_PER_QUARTER = 12
NO_CHORD = "N"
REST = "R"

CHORD_CLASSES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "5": (0, 7),
    "6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "7sus4": (0, 5, 7, 10),
    "9": (0, 2, 4, 7, 10),
}
_BY_INTERVALS = {frozenset(v): k for k, v in CHORD_CLASSES.items()}
_NOTE_RE = re.compile(r"^([A-G]#?)(-?\d+)$")
_PC = {name: i for i, name in enumerate(midi.PITCH_NAMES)}


def classify_chord(pitches: list[int]) -> str | None:
    """MIDI pitches sounding together -> ``ROOT:CLASS:OCTAVE``, or None for fewer than two
    pitch classes."""
    ordered = sorted(set(pitches))
    classes = {p % 12 for p in ordered}
    if len(classes) < 2:
        return None
    candidates: list[int] = []
    for p in ordered:
        if p % 12 not in candidates:
            candidates.append(p % 12)
    root, quality = candidates[0], None
    for candidate in candidates:
        name = _BY_INTERVALS.get(frozenset((c - candidate) % 12 for c in classes))
        if name is not None:
            root, quality = candidate, name
            break
    if quality is None:
        quality = "x" + ".".join(str(i) for i in sorted((c - root) % 12 for c in classes) if i)
    octave = next(p for p in ordered if p % 12 == root) // 12 - 1
    return f"{midi.PITCH_NAMES[root]}:{quality}:{octave}"


def chord_pitches(label: str) -> list[int]:
    """``ROOT:CLASS:OCTAVE`` -> MIDI pitches of its root-position voicing ([] if invalid)."""
    parts = label.split(":")
    if len(parts) != 3 or parts[0] not in _PC:
        return []
    root_name, quality, octave = parts
    if quality in CHORD_CLASSES:
        intervals = CHORD_CLASSES[quality]
    elif quality.startswith("x") and re.fullmatch(r"x\d+(\.\d+)*", quality):
        intervals = (0,) + tuple(int(i) for i in quality[1:].split("."))
        if any(not 0 < i < 12 for i in intervals[1:]):
            return []
    else:
        return []
    try:
        root = 12 * (int(octave) + 1) + _PC[root_name]
    except ValueError:
        return []
    pitches = [root + i for i in intervals]
    return pitches if all(0 <= p <= 127 for p in pitches) else []


def parse_symbol(symbol: str) -> tuple[int | None, str, int] | None:
    """``MELODY|CHORD|dDUR`` -> (MIDI pitch or None for a rest, chord label, duration in
    grid units), or None for a malformed symbol."""
    parts = symbol.split("|")
    if len(parts) != 3 or not re.fullmatch(r"d[1-9]\d*", parts[2]):
        return None
    melody, chord, duration = parts
    if melody == REST:
        pitch = None
    else:
        m = _NOTE_RE.match(melody)
        if not m:
            return None
        pitch = 12 * (int(m.group(2)) + 1) + _PC[m.group(1)]
        if not midi.PIANO_LOW <= pitch <= midi.PIANO_HIGH:
            return None
    if chord != NO_CHORD and not chord_pitches(chord):
        return None
    return pitch, chord, int(duration[1:])


class MelodyChord:
    name = "melody_chord"
    default_seq_len = 100

    def fixed_symbols(self) -> None:
        return None

    @staticmethod
    def chord_changes(tune: midi.Tune) -> list[tuple[int, str]]:
        """(grid time, chord label) of every chord change of the accompaniment."""
        part = tune.accompaniment
        if part is None:
            return []
        groups: dict[int, list[int]] = {}
        for n in part.notes:
            groups.setdefault(
                midi.grid_index(n.start, tune.resolution, GRID_PER_QUARTER), []
            ).append(n.pitch)
        changes = []
        for t in sorted(groups):
            label = classify_chord(groups[t])
            if label is not None:
                changes.append((t, label))
        return changes

    def encode_tune(self, tune: midi.Tune) -> list[str]:
        notes = midi.monophonic(tune.melody.notes, tune.resolution, GRID_PER_QUARTER)
        events: list[tuple[int, int, int | None]] = []  # (start, duration, pitch)
        now = 0
        for start, end, pitch in notes:
            if start > now:
                events.append((now, start - now, None))
            events.append((start, end - start, pitch))
            now = end
        changes = self.chord_changes(tune)
        symbols, k, chord = [], 0, NO_CHORD
        for start, duration, pitch in events:
            while k < len(changes) and changes[k][0] <= start:
                chord = changes[k][1]
                k += 1
            melody = REST if pitch is None else midi.pitch_name(pitch)
            symbols.append(f"{melody}|{chord}|d{duration}")
        return symbols

    def encode_file(self, path: Path) -> list[str]:
        return self.encode_tune(midi.load_tune(path))

    def decode(self, symbols: list[str]) -> pretty_midi.PrettyMIDI:
        pm = midi.new_midi()
        unit = 60.0 / midi.WRITE_TEMPO / GRID_PER_QUARTER
        melody = pretty_midi.Instrument(program=0, name="melody")
        chords = pretty_midi.Instrument(program=0, name="chords")
        now = 0
        runs: list[list] = []  # [label, start, end]
        for symbol in symbols:
            parsed = parse_symbol(symbol)
            if parsed is None:
                continue
            pitch, label, duration = parsed
            if pitch is not None:
                melody.notes.append(
                    pretty_midi.Note(
                        velocity=90, pitch=pitch, start=now * unit, end=(now + duration) * unit
                    )
                )
            if runs and runs[-1][0] == label:
                runs[-1][2] = now + duration
            else:
                runs.append([label, now, now + duration])
            now += duration
        for label, start, end in runs:
            if label == NO_CHORD:
                continue
            for p in chord_pitches(label):
                chords.notes.append(
                    pretty_midi.Note(velocity=70, pitch=p, start=start * unit, end=end * unit)
                )
        pm.instruments.append(melody)
        if chords.notes:
            pm.instruments.append(chords)
        return pm

    def windows(self, symbols: list[str], seq_len: int) -> list[list[str]]:
        return [symbols[i : i + seq_len] for i in range(0, len(symbols) - seq_len + 1, seq_len)]
