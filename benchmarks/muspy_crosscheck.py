"""Our feature metrics (seqgan.music.features) against MusPy's (``muspy``), on hand-made
tunes and on the first Nottingham training tunes.

Each tune is a ``pretty_midi.PrettyMIDI`` (the hand-made ones are written to MIDI bytes
and read back, as a decoded sample is). Ours: ``features(notes_of(pm))``. MusPy's:
``muspy.from_pretty_midi(pm, resolution=R)`` and then its metric. ``R = 12`` per quarter,
our grid, for polyphony, empty-beat rate and groove consistency
(``measure_resolution = 48``, our 4-quarter bar), so resolution cannot cause a difference
there. MusPy has no mean duration or mean IOI, so those two are computed from the notes
of the ``muspy.Music`` at ``R = pm.resolution`` (ticks per quarter of the file). This
checks the quarter-note time base: MusPy maps seconds through the tempo, we map them
through the file's ticks. MusPy 0.5.0's ``from_pretty_midi`` leaves ``Music.resolution``
at 24 whatever ``resolution`` it converts to; it is set by hand here (see ``to_music``),
and the output shows what ``empty_beat_rate`` gives without that.

Two values agree when both are NaN or they differ by at most 1e-9. Where a feature
differs, the output gives the definition difference found in MusPy 0.5.0's source
(``muspy/metrics/metrics.py``). It also gives how many tunes MusPy's rule, re-implemented
here on our note list, reproduces MusPy's value on: the check that the stated reason is
the whole difference.

Data: ``nottingham/midi_boulanger/train/*.mid`` under the data root (``--data-root``,
else ``$SEQGAN_DATA``, else ``./data``), sorted by name, the first ``--tunes`` (200).
All non-drum tracks are read, melody and chords, so polyphony is above 1.

MusPy is not a dependency of the project (it pulls in music21, pypianoroll, miditoolkit
and more). Run it from a separate environment:

    python3 -m venv /tmp/muspy-venv && /tmp/muspy-venv/bin/pip install -e . muspy
    /tmp/muspy-venv/bin/python benchmarks/muspy_crosscheck.py [--data-root DIR] [--tunes N]
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pretty_midi

from seqgan.data.paths import data_root
from seqgan.music import features as F

try:
    import muspy
except ImportError:  # reported in main()
    muspy = None

TOL = 1e-9
GRID = F.GRID  # 12 steps per quarter, muspy resolution for grid features
BAR = F.GRID * F.BAR_QUARTERS  # 48 steps per bar: groove measure_resolution
NOTTINGHAM = "nottingham/midi_boulanger/train"

# Why a feature differs, from muspy 0.5.0 muspy/metrics/metrics.py (function named).
REASONS = {
    "pitch_range": "pitch_range(): a music without notes gives 0 (ours NaN); "
    "otherwise max - min, the same",
    "n_pitch_classes": "n_pitch_classes_used(): a music without notes gives 0 (ours NaN); "
    "otherwise the same count",
    "pitch_class_entropy": "pitch_class_entropy(): histogram of note counts per pitch "
    "class, log2, the same",
    "scale_consistency": "scale_consistency()/_get_scale(): the same 24 major/natural-minor "
    "scales over note counts",
    "polyphony": "polyphony()/_get_pianoroll(): pianoroll[time:end] at the Music's "
    "resolution, so a note that rounds to zero length counts at no step "
    "(ours gives it one grid point)",
    "empty_beat_rate": "empty_beat_rate(): n_beats = end // resolution + 1, and a note "
    "fills beats start//res .. end//res INCLUSIVE, so a note ending on "
    "a beat line also fills the next beat, and a tune ending on a beat "
    "line has one beat more; NaN (ours 1) without notes; drum tracks "
    "count too",
    "groove_consistency": "groove_consistency(): n_measures = end // measure_resolution + 1 "
    "from the last note END (ours: bars up to the last ONSET), so a "
    "tune ending on a bar line gets one more, empty, bar; NaN (ours 1) "
    "with fewer than two measures; same 1 - hamming/(Q (T-1))",
    "mean_duration": "no muspy metric; from muspy.Music note durations / resolution",
    "mean_ioi": "no muspy metric; from muspy.Music distinct onsets / resolution",
}


# --- hand-made tunes, times in quarter notes ------------------------------------------


def _scale():
    return [(float(i), i + 1.0, p) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]


def hand_made() -> list[tuple[str, float, list[list[tuple[float, float, int]]]]]:
    """(name, bpm, voices): each voice a list of (start, end, pitch) in quarters."""
    rest_bar = [(float(i), i + 1.0, p) for i, p in enumerate((60, 62, 64, 65))] + [
        (8.0 + i, 9.0 + i, p) for i, p in enumerate((67, 69, 71, 72))
    ]
    upper = [(float(i), i + 1.0, p) for i, p in enumerate((72, 74, 76, 77, 79, 77, 76, 74))]
    lower = [(0.0, 3.0, 48), (2.0, 5.0, 43), (4.0, 8.0, 48), (0.0, 1.0, 72)]  # 72 in both
    bar = [(0.0, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, 4.0)]  # quarter, two eighths, half
    groove = [(s + 4 * b, e + 4 * b, 67) for b in range(2) for s, e in bar] + [
        (8.0, 9.5, 69),
        (9.5, 10.0, 71),
        (10.0, 12.0, 72),
    ]  # bar 3: other rhythm
    chord_rest = [(0.0, 1.0, 60), (0.0, 1.0, 64), (0.0, 1.0, 67), (3.0, 4.0, 72)]
    five = [(float(i), i + 1.0, 60) for i in range(5)]
    held = [(0.0, 8.0, 60)]  # one note over two bars
    short = [(0.0, 1.0, 60), (1.0, 1.02, 62), (1.02, 2.0, 64)]  # 0.02 q: rounds to 0 steps
    return [
        ("c_major_scale", 120, [_scale()]),
        ("c_major_scale", 90, [_scale()]),
        ("repeated_note", 120, [[(float(i), i + 0.5, 67) for i in range(8)]]),
        ("rest_of_a_bar", 120, [rest_bar]),
        ("two_voices", 120, [upper, lower]),
        ("groove_2same_1other", 120, [groove]),
        ("groove_2same_1other", 90, [groove]),
        ("chord_then_rest", 120, [chord_rest]),
        ("five_quarters", 120, [five]),
        ("one_note_two_bars", 120, [held]),
        ("very_short_note", 120, [short]),
        ("no_notes", 120, [[]]),
    ]


def to_midi(bpm: float, voices) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI at ``bpm`` with one instrument per voice, written to MIDI bytes and read
    back (so the tempo is the file's tempo event)."""
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=bpm)
    sec = 60.0 / bpm
    for voice in voices:
        inst = pretty_midi.Instrument(program=0)
        inst.notes = [
            pretty_midi.Note(velocity=90, pitch=p, start=s * sec, end=e * sec) for s, e, p in voice
        ]
        pm.instruments.append(inst)
    buffer = io.BytesIO()
    pm.write(buffer)
    buffer.seek(0)
    return pretty_midi.PrettyMIDI(buffer)


# --- muspy's values --------------------------------------------------------------------


def _notes(music):
    return [n for t in music.tracks if not t.is_drum for n in t.notes]


def to_music(pm: pretty_midi.PrettyMIDI, resolution: int, fix: bool = True):
    """``muspy.from_pretty_midi(pm, resolution)``. muspy 0.5.0 converts the times to
    ``resolution`` steps per quarter but builds its ``Music`` without passing it on, so
    ``music.resolution`` stays 24 (``muspy/inputs/midi.py``, ``from_pretty_midi``);
    ``empty_beat_rate`` takes ``music.resolution`` steps as a beat. ``fix`` sets it."""
    music = muspy.from_pretty_midi(pm, resolution=resolution)
    if fix:
        music.resolution = resolution
    return music


def muspy_features(pm: pretty_midi.PrettyMIDI) -> dict[str, float]:
    grid = to_music(pm, GRID)
    fine = to_music(pm, pm.resolution)
    has_track = bool(grid.tracks)
    notes = _notes(fine)
    onsets = sorted({n.time for n in notes})
    return {
        "pitch_range": float(muspy.pitch_range(grid)),
        "n_pitch_classes": float(muspy.n_pitch_classes_used(grid)),
        "pitch_class_entropy": float(muspy.pitch_class_entropy(grid)),
        "scale_consistency": float(muspy.scale_consistency(grid)),
        "polyphony": float(muspy.polyphony(grid)) if has_track else math.nan,
        "empty_beat_rate": float(muspy.empty_beat_rate(grid)) if has_track else math.nan,
        "groove_consistency": (
            float(muspy.groove_consistency(grid, measure_resolution=BAR)) if has_track else math.nan
        ),
        "mean_duration": (
            float(np.mean([n.duration for n in notes])) / fine.resolution if notes else math.nan
        ),
        "mean_ioi": (
            float(np.mean(np.diff(onsets))) / fine.resolution if len(onsets) > 1 else math.nan
        ),
    }


# --- muspy's rules re-implemented on our note list (to confirm the stated reasons) -----


def _steps(notes):
    return [(int(round(s * GRID)), int(round(e * GRID)), p) for s, e, p in notes]


def rule_empty_beat_rate(notes) -> float:
    steps = _steps(notes)
    if not steps or max(e for _, e, _ in steps) < 1:
        return math.nan
    n_beats = max(e for _, e, _ in steps) // GRID + 1
    full = np.zeros(n_beats, dtype=bool)
    for s, e, _ in steps:
        full[s // GRID : e // GRID + 1] = True  # end beat inclusive
    return float(1.0 - full.mean())


def rule_groove_consistency(notes) -> float:
    steps = _steps(notes)
    length = max((e for _, e, _ in steps), default=0)
    n = length // BAR + 1  # from the last END
    if n < 2:
        return math.nan
    vectors = np.zeros((n, BAR), dtype=bool)
    for s, _, _ in steps:
        vectors[s // BAR, s % BAR] = True
    return float(1.0 - (vectors[1:] != vectors[:-1]).sum() / (BAR * (n - 1)))


def rule_polyphony(notes) -> float:
    steps = _steps(notes)
    if not steps:
        return math.nan
    roll = np.zeros((max(e for _, e, _ in steps), 128), dtype=bool)
    for s, e, p in steps:
        roll[s:e, p] = True  # zero-length: no step
    on = roll.any(axis=1)
    return float(roll.sum() / on.sum()) if on.any() else math.nan


def rule_empty_zero(fn):
    return lambda notes: 0.0 if not notes else fn(notes)


RULES = {
    "pitch_range": rule_empty_zero(F.pitch_range),
    "n_pitch_classes": rule_empty_zero(F.n_pitch_classes),
    "polyphony": rule_polyphony,
    "empty_beat_rate": rule_empty_beat_rate,
    "groove_consistency": rule_groove_consistency,
}


# --- comparison --------------------------------------------------------------------------


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        not math.isnan(a) and not math.isnan(b) and abs(a - b) <= TOL
    )


def absdiff(a: float, b: float) -> float:
    if math.isnan(a) and math.isnan(b):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b)


class Tally:
    """Per feature: tunes compared, tunes agreeing, largest |difference|, first example of
    a difference, and tunes where muspy's re-implemented rule gives muspy's value."""

    def __init__(self):
        self.n = 0
        self.agree = {f: 0 for f in F.FEATURES}
        self.maxdiff = {f: 0.0 for f in F.FEATURES}
        self.example = {}
        self.rule_ok = {f: 0 for f in RULES}

    def add(self, name, notes, ours, theirs):
        self.n += 1
        for f in F.FEATURES:
            d = absdiff(ours[f], theirs[f])
            if same(ours[f], theirs[f]):
                self.agree[f] += 1
            else:
                self.example.setdefault(f, (name, ours[f], theirs[f]))
            self.maxdiff[f] = max(self.maxdiff[f], d)
            if f in RULES and same(RULES[f](notes), theirs[f]):
                self.rule_ok[f] += 1


def compare_hand_made(tally: Tally) -> None:
    print("[hand-made tunes]  ours | muspy   (* = differs)")
    for name, bpm, voices in hand_made():
        pm = to_midi(bpm, voices)
        notes = F.notes_of(pm)
        ours, theirs = F.features(notes), muspy_features(pm)
        label = f"{name}@{bpm}"
        tally.add(label, notes, ours, theirs)
        print(f"  {label}: {len(notes)} notes, end {pm.get_end_time():.3f} s")
        for f in F.FEATURES:
            mark = " " if same(ours[f], theirs[f]) else "*"
            print(f"   {mark} {f:20s} {ours[f]:10.6f} | {theirs[f]:10.6f}")


def compare_nottingham(root: Path, count: int, tally: Tally) -> bool:
    folder = root / NOTTINGHAM
    files = sorted(folder.glob("*.mid"))[:count]
    if not files:
        print(
            f"[nottingham] no MIDI files in {folder}: skipped (set --data-root or "
            f"SEQGAN_DATA to the folder that holds nottingham/)"
        )
        return False
    tempo_changes = 0
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # signatures off track 0
            pm = pretty_midi.PrettyMIDI(str(path))
        tempo_changes += len(pm.get_tempo_changes()[1]) > 1
        notes = F.notes_of(pm)
        tally.add(path.name, notes, F.features(notes), muspy_features(pm))
    print(
        f"[nottingham] {folder}: first {len(files)} files by name, all non-drum tracks; "
        f"{tempo_changes} with more than one tempo"
    )
    return True


def print_tally(title: str, tally: Tally) -> None:
    print(
        f"[{title}: {tally.n} tunes] feature: agree (|diff| <= 1e-9) / tunes, largest "
        f"|diff|; muspy's rule on our note list = muspy"
    )
    for f in F.FEATURES:
        rule = (
            f"; muspy's rule on our notes = muspy on {tally.rule_ok[f]}/{tally.n}"
            if f in RULES
            else ""
        )
        example = ""
        if f in tally.example:
            name, a, b = tally.example[f]
            example = f"; e.g. {name}: ours {a:.6f}, muspy {b:.6f}"
        print(f"  {f:20s} {tally.agree[f]:4d}/{tally.n}  max {tally.maxdiff[f]:.3g}{rule}{example}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root", help="folder holding nottingham/ (default: $SEQGAN_DATA, else ./data)"
    )
    parser.add_argument("--tunes", type=int, default=200, help="Nottingham files to compare")
    args = parser.parse_args()
    if muspy is None:
        print(
            "muspy is not installed: pip install muspy, in a separate environment "
            "(it is not a dependency of seqgan); skipped"
        )
        return 0
    print(
        f"muspy {muspy.__version__}, pretty_midi {pretty_midi.__version__}, numpy "
        f"{np.__version__}; muspy resolution {GRID}/quarter, measure_resolution {BAR}"
    )

    name, bpm, voices = hand_made()[3]
    pm = to_midi(bpm, voices)
    raw = to_music(pm, GRID, fix=False)
    print(
        f"muspy.from_pretty_midi(pm, resolution={GRID}).resolution = {raw.resolution} "
        f"(not {GRID}): muspy.empty_beat_rate then takes {raw.resolution} steps "
        f"= {raw.resolution / GRID:g} quarters as a beat, e.g. {name}@{bpm}: "
        f"{muspy.empty_beat_rate(raw):.6f}; set to {GRID} by hand: "
        f"{muspy.empty_beat_rate(to_music(pm, GRID)):.6f}. Below it is set by hand."
    )

    hand, real = Tally(), Tally()
    compare_hand_made(hand)
    print_tally("hand-made", hand)
    have_real = compare_nottingham(data_root(args.data_root), args.tunes, real)
    if have_real:
        print_tally("nottingham", real)

    print("[verdict] per feature, over all tunes compared")
    for f in F.FEATURES:
        agree = hand.agree[f] + real.agree[f]
        total = hand.n + real.n
        verdict = "agrees" if agree == total else "differs"
        print(f"  {f:20s} {verdict:7s} {agree}/{total}: {REASONS[f]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
