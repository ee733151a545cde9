"""Reading MIDI files into tunes (melody part, accompaniment part, meter, tempo map) and
writing decoded MIDI — shared by the three music encodings.

Reading
-------
A file is parsed once with ``mido``; the same parsed object then gives ``pretty_midi``
its tempo map, which converts ticks to seconds (``Tune.seconds``).  Any failure of either
library (not a MIDI file, truncated data, absurd tick values) becomes a one-line
``UserError`` naming the file; pretty_midi's ``RuntimeWarning`` about tempo, key or time
signature events on tracks other than track 0 is silenced (every Nottingham file in
``midi_boulanger`` repeats its time signature in the melody and chord tracks).

Parts.  Notes are grouped by MIDI track, not by channel or program: in
``midi_boulanger`` the melody track of one tune (``jigs_simple_chords_111``) changes
program half-way and the chord track plays the bass on channel 1 and the chords on
channel 2 — both belong together.  A type-0 file (one track holding everything) is split
by channel instead, since channels are what separate instruments there.  Notes on the
drum channel (channel 10, index 9) are ignored.  The parts that keep at least one note,
in file order, are ``Tune.parts``; the **melody** is the first of them and the
**accompaniment** (the chords, used by ``melody_chord``) the second.  A file without
any non-drum note has no melody: ``UserError``.

Notes are paired first-in first-out per (channel, pitch): a note-off (or a note-on with
velocity 0) closes the oldest open note of that key that started before it; a note-off
at the very tick its note started is ignored (the note stays open), and a note never
closed ends at the last tick of its track.  Notes outside the track's tick range or of
zero length are dropped.

Meter.  pretty_midi reads time signatures from track 0 only, but in ``midi_boulanger``
track 0 holds just the first signature, sometimes a wrong one (``jigs_simple_chords_1``:
4/4 in track 0, 6/8 in the melody track, and the notes are in 6/8), and the changes of
mixed-meter tunes are only in the melody track.  ``Tune.time_signatures`` is therefore
the union of the time-signature events of track 0 and of the melody's track; at a tick
where both have one, the melody track's wins.

Writing
-------
``new_midi`` makes a PrettyMIDI at 120 quarter notes per minute with 480 ticks per
quarter, so that the decoders' grids (0.4 s, a sixteenth, a twelfth of a quarter) are
whole numbers of ticks and a written file reads back onto exactly the same grid.
"""

from __future__ import annotations

import io
import warnings
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import mido
import pretty_midi

from seqgan.errors import UserError
from seqgan.storage.atomic import write_bytes

DRUM_CHANNEL = 9
PIANO_LOW, PIANO_HIGH = 21, 108  # A0 .. C8, the 88 piano keys
WRITE_RESOLUTION = 480  # ticks per quarter note of written files
WRITE_TEMPO = 120.0  # quarter notes per minute of written files
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class Note:
    start: int  # tick of the note-on
    end: int  # tick of the note-off (> start)
    pitch: int  # MIDI pitch 0..127
    velocity: int


@dataclass
class Part:
    """The notes of one MIDI track (or, in a type-0 file, of one channel)."""

    track: int
    channel: int | None  # None: every channel of the track
    name: str
    notes: list[Note] = field(default_factory=list)


@dataclass
class Tune:
    path: Path
    resolution: int  # ticks per quarter note
    parts: list[Part]  # non-drum parts with notes, file order
    time_signatures: list[tuple[int, int, int]]  # (tick, numerator, denominator), sorted
    midi_type: int
    _pm: pretty_midi.PrettyMIDI = field(repr=False)

    @property
    def melody(self) -> Part:
        return self.parts[0]

    @property
    def accompaniment(self) -> Part | None:
        return self.parts[1] if len(self.parts) > 1 else None

    def seconds(self, tick: int) -> float:
        """Time in seconds of ``tick`` from the file's own tempo map (pretty_midi)."""
        return float(self._pm.tick_to_time(int(tick)))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


class TuneRejected(UserError):
    """A well-formed tune that an encoding does not use (melody16: not in 4/4); ``reason``
    is a short key under which the corpus builder counts it instead of stopping."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _paired_notes(messages: list[tuple[int, object]], last_tick: int) -> dict[int, list[Note]]:
    """(absolute tick, message) pairs of one track -> notes per channel."""
    open_notes: dict[tuple[int, int], deque] = defaultdict(deque)
    notes: dict[int, list[Note]] = defaultdict(list)
    for tick, msg in messages:
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            open_notes[(msg.channel, msg.note)].append((tick, msg.velocity))
        elif kind == "note_off" or (kind == "note_on" and msg.velocity == 0):
            queue = open_notes.get((msg.channel, msg.note))
            if queue and queue[0][0] < tick:
                start, velocity = queue.popleft()
                notes[msg.channel].append(Note(start, tick, msg.note, velocity))
    for (channel, pitch), queue in open_notes.items():
        for start, velocity in queue:
            if last_tick > start:
                notes[channel].append(Note(start, last_tick, pitch, velocity))
    for channel in notes:
        notes[channel].sort(key=lambda n: (n.start, n.pitch, n.end))
    return notes


def load_tune(path: Path) -> Tune:
    """Read ``path`` into a Tune; ``UserError`` (one line, naming the file) if it cannot be
    read or holds no non-drum note."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read MIDI file {path}: {e.strerror or _one_line(e)}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = mido.MidiFile(file=io.BytesIO(data))
            tracks, ends = [], []
            signatures: list[list[tuple[int, int, int]]] = []
            for track in midi.tracks:
                tick, messages, sigs = 0, [], []
                for msg in track:
                    tick += msg.time
                    if msg.type == "time_signature":
                        sigs.append((tick, msg.numerator, msg.denominator))
                    elif not msg.is_meta:
                        messages.append((tick, msg))
                tracks.append(messages)
                ends.append(tick)
                signatures.append(sigs)
            names = [next((m.name for m in t if m.type == "track_name"), "") for t in midi.tracks]
            # pretty_midi converts the parsed events' times in place: read them first
            pm = pretty_midi.PrettyMIDI(mido_object=midi)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # mido/pretty_midi raise many kinds of errors on bad data
        raise UserError(f"cannot read MIDI file {path}: {_one_line(e)}") from None
    if midi.ticks_per_beat <= 0:
        raise UserError(f"cannot read MIDI file {path}: SMPTE time division is not supported")

    parts: list[Part] = []
    for index, messages in enumerate(tracks):
        by_channel = _paired_notes(messages, ends[index])
        by_channel.pop(DRUM_CHANNEL, None)
        if not by_channel:
            continue
        if midi.type == 0 and len(tracks) == 1:
            for channel in sorted(by_channel):
                parts.append(Part(index, channel, names[index], by_channel[channel]))
        else:
            merged = sorted(
                (n for notes in by_channel.values() for n in notes),
                key=lambda n: (n.start, n.pitch, n.end),
            )
            parts.append(Part(index, None, names[index], merged))
    if not parts:
        raise UserError(f"no melody in MIDI file {path}: it has no notes outside the drum channel")

    merged_sigs = {tick: (tick, num, den) for tick, num, den in signatures[0]} if signatures else {}
    melody_track = parts[0].track
    if melody_track != 0:
        merged_sigs.update({tick: (tick, num, den) for tick, num, den in signatures[melody_track]})
    time_signatures = [merged_sigs[t] for t in sorted(merged_sigs)]
    return Tune(path, midi.ticks_per_beat, parts, time_signatures, midi.type, pm)


def grid_index(tick: int, resolution: int, per_quarter: int) -> int:
    """``tick`` rounded to the nearest point of a grid of ``per_quarter`` points per quarter
    note (halves round up), with integer arithmetic only."""
    return (2 * tick * per_quarter + resolution) // (2 * resolution)


def monophonic(
    notes: list[Note],
    resolution: int,
    per_quarter: int,
    low: int = PIANO_LOW,
    high: int = PIANO_HIGH,
) -> list[tuple[int, int, int]]:
    """Notes on a grid as (start, end, pitch) in grid units, one at a time.

    Pitches outside [low, high] are ignored.  Starts and ends are rounded to the grid; a
    note shorter than one grid unit after rounding lasts one unit.  Of notes starting at
    the same grid point the highest is kept; a note still sounding when the next one starts
    is cut there.
    """
    onsets: dict[int, tuple[int, int]] = {}
    for n in notes:
        if not low <= n.pitch <= high:
            continue
        start = grid_index(n.start, resolution, per_quarter)
        end = max(grid_index(n.end, resolution, per_quarter), start + 1)
        best = onsets.get(start)
        if best is None or n.pitch > best[1] or (n.pitch == best[1] and end > best[0]):
            onsets[start] = (end, n.pitch)
    out: list[tuple[int, int, int]] = []
    for start in sorted(onsets):
        end, pitch = onsets[start]
        if out and out[-1][1] > start:
            prev = out[-1]
            out[-1] = (prev[0], start, prev[2])
        out.append((start, end, pitch))
    return out


def new_midi() -> pretty_midi.PrettyMIDI:
    """An empty PrettyMIDI at 120 quarter notes per minute, 480 ticks per quarter note."""
    return pretty_midi.PrettyMIDI(resolution=WRITE_RESOLUTION, initial_tempo=WRITE_TEMPO)


def write_midi(pm: pretty_midi.PrettyMIDI, path: Path) -> None:
    """Write ``pm`` to ``path`` atomically (``storage.atomic``; pretty_midi's warnings
    silenced); a one-line ``UserError`` if the file cannot be written."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm.write(buffer)
    write_bytes(path, buffer.getvalue())


def pitch_name(pitch: int) -> str:
    """MIDI pitch -> name with octave, sharps only: 60 -> 'C4', 76 -> 'E5'."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"
