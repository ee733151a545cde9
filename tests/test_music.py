"""Music encodings, corpus, metrics and plots on MIDI files written in the tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from seqgan.errors import UserError
from seqgan.metrics.music import (
    music_metrics,
    pitch_mse_per_sequence,
    qn_per_sequence,
    spb_per_sequence,
)
from seqgan.music import (
    ENCODINGS,
    build_music_corpus,
    get_encoding,
    inspect_music,
    list_midi,
    plot_pianoroll,
    symbols_to_midi,
)
from seqgan.music.melody16 import TuneRejected
from seqgan.music.melody_chord import chord_pitches, classify_chord
from seqgan.music.midi import load_tune

# -- MIDI files made in the tests ----------------------------------------------------------


def write_tune(path: Path, parts, tempo: float = 120.0, meter=(4, 4)) -> Path:
    """parts: [(name, [(pitch, start_s, end_s), ...])] or (name, notes, is_drum)."""
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=tempo)
    if meter is not None:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(*meter, 0.0))
    for part in parts:
        name, notes = part[0], part[1]
        inst = pretty_midi.Instrument(program=0, is_drum=len(part) > 2 and part[2], name=name)
        inst.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for p, s, e in notes]
        pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def beats(notes, beat=0.5):
    """(pitch, start_beat, end_beat) -> seconds at 120 quarter notes per minute."""
    return [(p, s * beat, e * beat) for p, s, e in notes]


def reencode(encoding: str, symbols: list[str], tmp: Path) -> list[str]:
    path = tmp / f"decoded-{encoding}.mid"
    symbols_to_midi(encoding, symbols, path)
    return get_encoding(encoding).encode_file(path)


MELODY = beats(
    [
        (60, 0, 1),
        (62, 1, 1.5),
        (64, 1.5, 2),
        (65, 2, 2.25),
        (67, 2.25, 2.5),
        (67, 2.5, 3),
        (69, 3.02, 3.98),  # slightly off the grid
        (72, 5, 7),  # after a rest of a beat
        (71, 7, 7 + 1 / 3),
        (69, 7 + 1 / 3, 7 + 2 / 3),
        (67, 7 + 2 / 3, 8),  # triplet
        (64, 8, 9),
        (76, 8, 8.5),  # two notes at once: highest
        (60, 9, 10),
        (60, 10, 12),
    ]
)


# -- pitch88 --------------------------------------------------------------------------------


def test_pitch88_hand_example(tmp_path):
    notes = [(60, 0.0, 1.0), (64, 1.2, 2.0), (67, 1.2, 1.6), (62, 2.3, 2.8), (65, 2.9, 3.1)]
    symbols = get_encoding("pitch88").encode_file(write_tune(tmp_path / "a.mid", [("m", notes)]))
    # samples at 0 .4 .8 (60) | 1.2 (67 over 64) | 1.6 (64) | 2.0 rest | 2.4 (62);
    # the note at 2.9-3.1 s falls between two samples: no trailing rest for it
    assert symbols == ["40", "40", "40", "47", "44", "0", "42"]
    assert reencode("pitch88", symbols, tmp_path) == symbols


def test_pitch88_uses_the_tempo_map(tmp_path):
    # type-0 file, 60 quarter notes per minute: a quarter note lasts 1 s
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    track.append(mido.Message("note_on", note=69, velocity=80, time=0))
    track.append(mido.Message("note_off", note=69, velocity=0, time=480))
    track.append(mido.Message("note_on", note=81, velocity=80, time=0))
    track.append(mido.Message("note_off", note=81, velocity=0, time=480))
    midi.tracks.append(track)
    midi.save(tmp_path / "slow.mid")
    symbols = get_encoding("pitch88").encode_file(tmp_path / "slow.mid")
    assert symbols == ["49", "49", "49", "61", "61"]  # 0 .4 .8 | 1.2 1.6 (< 2.0)


def test_pitch88_round_trip(tmp_path):
    path = write_tune(tmp_path / "t.mid", [("melody", MELODY), ("chords", beats([(48, 0, 12)]))])
    symbols = get_encoding("pitch88").encode_file(path)
    assert symbols[0] == "40" and len(symbols) == 15  # 12 beats = 6 s = 15 samples
    assert reencode("pitch88", symbols, tmp_path) == symbols
    decoded = get_encoding("pitch88").decode(symbols)
    # equal consecutive samples are one note
    assert len(decoded.instruments[0].notes) < len(symbols)


# -- melody16 -------------------------------------------------------------------------------


def test_melody16_hand_example(tmp_path):
    notes = beats([(60, 0, 1), (62, 2, 2.5), (64, 2.5, 3)])
    symbols = get_encoding("melody16").encode_file(write_tune(tmp_path / "a.mid", [("m", notes)]))
    assert symbols == [
        "60",
        "hold",
        "hold",
        "hold",
        "rest",
        "hold",
        "hold",
        "hold",
        "62",
        "hold",
        "64",
        "hold",
    ]


def test_melody16_round_trip(tmp_path):
    path = write_tune(tmp_path / "t.mid", [("melody", MELODY)])
    symbols = get_encoding("melody16").encode_file(path)
    assert len(symbols) == 48
    assert symbols[12] == "69" and symbols[16] == "rest"  # rounded onto the grid
    assert symbols[32] == "76"  # highest of two
    assert reencode("melody16", symbols, tmp_path) == symbols


def test_melody16_leading_silence_round_trip(tmp_path):
    path = write_tune(tmp_path / "t.mid", [("m", beats([(70, 1.5, 2), (72, 2, 4)]))])
    symbols = get_encoding("melody16").encode_file(path)
    assert symbols[:6] == ["hold"] * 6 and symbols[6] == "70"
    assert reencode("melody16", symbols, tmp_path) == symbols


def test_melody16_only_four_four(tmp_path):
    path = write_tune(tmp_path / "waltz.mid", [("m", beats([(60, 0, 3)]))], meter=(3, 4))
    with pytest.raises(TuneRejected, match="4/4") as info:
        get_encoding("melody16").encode_file(path)
    assert info.value.reason == "time signature not 4/4"
    assert isinstance(info.value, UserError)
    # no time signature at all: 4/4, the MIDI default
    path = write_tune(tmp_path / "none.mid", [("m", beats([(60, 0, 3)]))], meter=None)
    assert get_encoding("melody16").encode_file(path)[0] == "60"


def _nottingham_like(path: Path, meter0=(4, 4), meter1=(6, 8)) -> Path:
    """Type 1: track 0 meta, track 1 melody with its own time signature, track 2 chords on
    two channels (bass, chord) — the layout of midi_boulanger."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    meta = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),
            mido.MetaMessage("time_signature", numerator=meter0[0], denominator=meter0[1], time=0),
        ]
    )
    melody = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name="A Tune", time=0),
            mido.MetaMessage("time_signature", numerator=meter1[0], denominator=meter1[1], time=0),
        ]
    )
    for i, pitch in enumerate([72, 74, 76, 77, 79, 81]):
        melody.append(mido.Message("note_on", note=pitch, velocity=100, time=1 if i else 0))
        melody.append(mido.Message("note_off", note=pitch, velocity=0, time=239))
    chords = mido.MidiTrack()
    chords.append(mido.Message("note_on", channel=1, note=48, velocity=80, time=0))
    chords.append(mido.Message("note_off", channel=1, note=48, velocity=0, time=240))
    for p in (55, 59, 62):  # G major triad one eighth later
        chords.append(mido.Message("note_on", channel=2, note=p, velocity=80, time=0))
    chords.append(mido.Message("note_off", channel=2, note=55, velocity=0, time=480))
    chords.append(mido.Message("note_off", channel=2, note=59, velocity=0, time=0))
    chords.append(mido.Message("note_off", channel=2, note=62, velocity=0, time=0))
    midi.tracks.extend([meta, melody, chords])
    midi.save(path)
    return path


def test_meter_of_the_melody_track_wins_and_no_warning_escapes(tmp_path):
    path = _nottingham_like(tmp_path / "jig.mid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the test
        tune = load_tune(path)
    assert tune.time_signatures == [(0, 6, 8)]
    assert [p.track for p in tune.parts] == [1, 2]
    assert len(tune.accompaniment.notes) == 4  # bass and chord channels together
    with pytest.raises(TuneRejected):
        get_encoding("melody16").encode_file(path)
    symbols = get_encoding("melody_chord").encode_file(path)
    assert symbols[0] == "C5|N|d6" and symbols[1] == "D5|G:maj:3|d6"


# -- melody_chord ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pitches, label",
    [
        ([48, 52, 55], "C:maj:3"),
        ([52, 55, 60], "C:maj:4"),
        ([45, 48, 52, 55], "A:min7:2"),
        ([48, 52, 55, 57], "C:6:3"),
        ([47, 50, 53, 55], "G:7:3"),
        ([50, 53, 56], "D:dim:3"),
        ([48, 50, 52], "C:x2.4:3"),
        ([36, 48, 52, 55], "C:maj:2"),
        ([60, 72], None),
        ([60], None),
    ],
)
def test_chord_classes(pitches, label):
    assert classify_chord(pitches) == label
    if label is not None:
        assert classify_chord(chord_pitches(label)) == label


CHORDS = beats(
    [
        (36, 0.5, 1),  # bass only: ignored
        (48, 1, 4),
        (52, 1, 4),
        (55, 1, 4),  # C
        (43, 4, 4.5),  # bass
        (47, 5, 8),
        (50, 5, 8),
        (53, 5, 8),
        (55, 5, 8),  # G7 inverted
        (57, 8, 10),
        (60, 8, 10),
        (64, 8, 10),  # Am
        (48, 10, 11),
        (50, 10, 11),
        (52, 10, 11),
    ]
)  # cluster


def test_melody_chord_hand_example_and_round_trip(tmp_path):
    path = write_tune(tmp_path / "t.mid", [("melody", MELODY), ("chords", CHORDS)])
    enc = get_encoding("melody_chord")
    symbols = enc.encode_file(path)
    assert symbols == [
        "C4|N|d12",  # before the first chord
        "D4|C:maj:3|d6",
        "E4|C:maj:3|d6",
        "F4|C:maj:3|d3",
        "G4|C:maj:3|d3",
        "G4|C:maj:3|d6",
        "A4|C:maj:3|d12",  # 3.02-3.98 beats, rounded
        "R|C:maj:3|d12",  # the rest; the bass does not count
        "C5|G:7:3|d24",
        "B4|G:7:3|d4",
        "A4|G:7:3|d4",
        "G4|G:7:3|d4",  # triplet
        "E5|A:min:3|d6",
        "R|A:min:3|d6",  # E5 over E4, then silence
        "C4|A:min:3|d12",
        "C4|C:x2.4:3|d24",
    ]
    assert reencode("melody_chord", symbols, tmp_path) == symbols
    decoded = enc.decode(symbols)
    assert [i.name for i in decoded.instruments] == ["melody", "chords"]


def test_melody_chord_without_accompaniment(tmp_path):
    path = write_tune(tmp_path / "solo.mid", [("melody", MELODY)])
    symbols = get_encoding("melody_chord").encode_file(path)
    assert all(s.split("|")[1] == "N" for s in symbols)
    assert reencode("melody_chord", symbols, tmp_path) == symbols


def test_decoders_ignore_unknown_symbols():
    for name, junk in [
        ("pitch88", ["<bos>", "40", "89", "x"]),
        ("melody16", ["<bos>", "60", "hold", "200", "rest"]),
        ("melody_chord", ["<bos>", "C4|C:maj:3|d6", "Q9|C:maj:3|d6", "C4|N|d0"]),
    ]:
        pm = get_encoding(name).decode(junk)
        assert [len(i.notes) for i in pm.instruments][0] == 1


# -- windows --------------------------------------------------------------------------------


def test_fixed_windows_are_consecutive():
    symbols = [str(i % 88 + 1) for i in range(100)]
    for name in ("pitch88", "melody_chord"):
        windows = get_encoding(name).windows(symbols, 32)
        assert len(windows) == 3 and windows[1] == symbols[32:64]


def _melody16_symbols(bars: int, base: int = 40) -> list[str]:
    """Distinct bars: bar b holds pitches base+b .. base+b+3 as quarter notes."""
    out = []
    for b in range(bars):
        for q in range(4):
            out += [str(base + b + q), "hold", "hold", "hold"]
    return out


def test_melody16_windows_hop_one_bar_keep_five():
    enc = get_encoding("melody16")
    symbols = _melody16_symbols(40)
    windows = enc.windows(symbols, 256)
    starts = [int(w[0]) - 40 for w in windows]  # bar index of each window
    assert starts == [0, 6, 12, 18, 24]  # 25 windows, 5 evenly spaced
    assert all(len(w) == 256 for w in windows)
    assert len(enc.windows(_melody16_symbols(18), 256)) == 3  # bars 0, 1, 2
    assert enc.windows(_melody16_symbols(15), 256) == []


def test_melody16_windows_split_at_a_bar_of_silence():
    enc = get_encoding("melody16")
    first, second = _melody16_symbols(16), _melody16_symbols(16, base=50)
    gap = ["rest"] + ["hold"] * 31  # two silent bars
    windows = enc.windows(first + gap + second, 256)
    assert windows == [first, second]  # none across the gap
    # half a bar of silence does not split: 9 + 0.5 + 9 bars, padded to 19 -> 4 windows
    symbols = _melody16_symbols(9) + ["rest"] + ["hold"] * 7 + _melody16_symbols(9, base=60)
    assert len(enc.windows(symbols, 256)) == 4


# -- metrics --------------------------------------------------------------------------------


def test_pitch_mse_hand_values():
    refs = [["40", "40"], ["41", "43"]]
    got = pitch_mse_per_sequence([["40", "42"], ["0", "40"], ["<bos>", "40"]], refs, "pitch88")
    # [40,42]: to ref 1 (0+4)/2 = 2, to ref 2 (1+1)/2 = 1 -> 1;  rest = 0: (40^2 + 0)/2
    np.testing.assert_allclose(got, [1.0, 800.0, 800.0])
    with pytest.raises(UserError):
        pitch_mse_per_sequence([["40"]], refs, "pitch88")


def test_spb_hand_values():
    two_bars = ["60", "hold", "67", "hold", "64"] + ["hold"] * 11 + ["hold"] * 16
    octave = ["72"] + ["hold"] * 7 + ["60"] + ["hold"] * 7
    held = ["60"] + ["hold"] * 15 + ["hold"] * 15 + ["62"]  # held note does not count
    got = spb_per_sequence([two_bars, octave, held, []])
    np.testing.assert_allclose(got, [7 / 12 / 2, 1.0, 0.0, 0.0])


def test_qn_hand_values():
    seq = ["60", "hold", "hold", "hold", "62", "hold", "rest", "hold"] + ["64"] + ["hold"] * 7
    silent = ["hold"] * 8 + ["rest"] * 8
    cut = ["hold"] * 12 + ["65", "hold", "hold", "hold"]  # 4 steps, cut by the end
    got = qn_per_sequence([seq, silent, cut])
    np.testing.assert_allclose(got[4], [2 / 3, 0.0, 1.0])
    np.testing.assert_allclose(got[6], [1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(got[8], [1 / 3, 0.0, 0.0])


def test_music_metrics_keys():
    assert set(music_metrics("pitch88", [["40"]], [["41"]])) == {"mse"}
    assert set(music_metrics("melody16", [["60"] * 16], [])) == {"spb", "qn4", "qn6", "qn8"}
    assert music_metrics("melody_chord", [["C4|N|d6"]], []) == {}
    with pytest.raises(UserError, match="did you mean"):
        music_metrics("melody-16", [], [])


# -- corpus, plots, report ------------------------------------------------------------------


def _folder(tmp: Path, n: int = 10) -> Path:
    for i in range(n):
        notes = [(60 + (i + k) % 12, 0.25 * k, 0.25 * k + 0.25) for k in range(40 + 8 * i)]
        write_tune(tmp / "tunes" / f"sub{i % 2}" / f"t{i:02d}.mid", [("m", notes)])
    return tmp / "tunes"


def test_corpus_splits_tunes_with_a_seed(tmp_path):
    folder = _folder(tmp_path)
    assert len(list_midi(folder)) == 10
    a = build_music_corpus("pitch88", folder, None, seq_len=8, test_ratio=0.2, seed=1)
    b = build_music_corpus("pitch88", folder, None, seq_len=8, test_ratio=0.2, seed=1)
    assert (a.train, a.test) == (b.train, b.test)
    assert (a.tunes_train, a.tunes_test) == (8, 2)
    assert a.symbols == [str(i) for i in range(89)]
    assert all(len(w) == 8 for w in a.train + a.test)
    # tunes, not windows, are split: the test set is all the windows of two tunes
    enc = get_encoding("pitch88")
    per_tune = [enc.windows(enc.encode_file(p), 8) for p in list_midi(folder)]
    test_tunes = [w for w in per_tune if w[0] in a.test]
    assert len(test_tunes) == 2 and sorted(sum(test_tunes, [])) == sorted(a.test)
    assert len(a.train) + len(a.test) == sum(len(w) for w in per_tune)
    c = build_music_corpus("pitch88", folder, None, seq_len=8, test_ratio=0.2, seed=2)
    assert c.test != a.test


def test_corpus_melody_chord_drops_rare_symbols(tmp_path):
    common = [(60, 0.5 * k, 0.5 * k + 0.5) for k in range(12)]
    for i in range(3):
        write_tune(tmp_path / "train" / f"c{i}.mid", [("m", common)])
    write_tune(tmp_path / "train" / "rare.mid", [("m", common + [(90, 6.0, 6.5)])])
    write_tune(tmp_path / "test" / "ok.mid", [("m", common)])
    write_tune(
        tmp_path / "test" / "odd.mid", [("m", [(61, 0.5 * k, 0.5 * k + 0.5) for k in range(12)])]
    )
    corpus = build_music_corpus(
        "melody_chord", tmp_path / "train", tmp_path / "test", seq_len=10, min_count=10
    )
    assert corpus.symbols == ["C4|N|d12"]
    assert corpus.tunes_train == 3 and corpus.tunes_test == 1
    assert corpus.dropped == {
        "symbol outside the vocabulary (test)": 1,
        "symbol seen < 10 times (train)": 1,
    }
    assert len(corpus.train) == 3 and corpus.train[0] == ["C4|N|d12"] * 10


def test_plot_and_inspect(tmp_path):
    folder = _folder(tmp_path, n=3)
    write_tune(folder / "waltz.mid", [("m", beats([(60, 0, 3)]))], meter=(3, 4))
    png = tmp_path / "roll.png"
    text = inspect_music(folder, "melody16", png, seq_len=16)
    assert "files read: 4; tunes encoded: 3" in text
    assert "dropped (time signature not 4/4): 1" in text
    assert "windows of 16:" in text and "vocabulary" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rolls = [
        get_encoding("melody_chord").decode(["C5|C:maj:3|d12", "R|G:7:3|d6"]),
        get_encoding("pitch88").decode([]),
    ]
    plot_pianoroll(rolls, tmp_path / "two.png", ["chords", "empty"])
    assert (tmp_path / "two.png").stat().st_size > 1000


# -- bad input ------------------------------------------------------------------------------


def test_garbage_and_truncated_files(tmp_path):
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"this is not a MIDI file at all" * 10)
    good = write_tune(tmp_path / "good.mid", [("m", MELODY)])
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(good.read_bytes()[:40])
    for path in (garbage, truncated, tmp_path / "missing.mid"):
        for name in ENCODINGS:
            with pytest.raises(UserError, match=path.name) as info:
                get_encoding(name).encode_file(path)
            assert "\n" not in str(info.value)


def test_no_notes_and_drums_only(tmp_path):
    empty = write_tune(tmp_path / "empty.mid", [])
    drums = write_tune(tmp_path / "drums.mid", [("kit", beats([(36, 0, 1), (38, 1, 2)]), True)])
    for path in (empty, drums):
        with pytest.raises(UserError, match=f"no melody.*{path.name}"):
            get_encoding("pitch88").encode_file(path)


def test_unknown_encoding_and_empty_folder(tmp_path):
    with pytest.raises(UserError, match="did you mean 'melody_chord'"):
        get_encoding("melody_chords")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no MIDI here")
    with pytest.raises(UserError, match="no .mid or .midi files"):
        list_midi(tmp_path / "empty")
    with pytest.raises(UserError, match="not found"):
        build_music_corpus("pitch88", tmp_path / "nowhere", None, 32)


def test_no_window_fits(tmp_path):
    folder = _folder(tmp_path, n=2)
    with pytest.raises(UserError, match="no window of 500"):
        build_music_corpus("pitch88", folder, None, seq_len=500)


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write MIDI"):
        symbols_to_midi("pitch88", ["40"], blocker / "sub" / "x.mid")


@pytest.mark.parametrize("seed", range(6))
def test_round_trip_random_tunes(tmp_path, seed):
    """Random, unquantised, overlapping notes and chords: every encoding's symbols survive
    decode -> write -> read -> encode unchanged."""
    rng = np.random.default_rng(seed)
    melody, t = [], float(rng.uniform(0, 1))
    for _ in range(60):
        length = float(rng.choice([0.13, 0.25, 0.5, 0.75, 1.0, 1.5]) * rng.uniform(0.9, 1.1))
        melody.append((int(rng.integers(50, 90)), t, t + length))
        t += length * float(rng.choice([0.7, 1.0, 1.0, 1.3]))
    chords, t = [], 0.0
    while t < melody[-1][2]:
        root = int(rng.integers(40, 52))
        shape = [(0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 6), (0, 2, 5)][int(rng.integers(5))]
        length = float(rng.choice([0.5, 1.0, 2.0]))
        chords += [(root + i, t, t + length) for i in shape]
        if rng.random() < 0.5:
            chords.append((root - 12, t + length, t + length * 1.5))  # a lone bass note
        t += length * 1.5
    path = write_tune(tmp_path / "random.mid", [("melody", melody), ("chords", chords)])
    for name in ENCODINGS:
        symbols = get_encoding(name).encode_file(path)
        assert len(symbols) > 20
        assert reencode(name, symbols, tmp_path) == symbols, name
