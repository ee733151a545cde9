"""Music is visible: the console says which tunes the encoding kept and dropped (and warns
about a tiny test set), a finished music run leaves MIDI files, symbols and a piano roll
in its folder and shows the data's feature values beside the model's, ``generate``
prints symbols, and ``data inspect`` writes a piano roll only where asked."""

from __future__ import annotations

import contextlib
import io
import json
import os

import pretty_midi
import pytest
import tomli_w

from seqgan.cli import main
from seqgan.data.vocab import Vocabulary
from seqgan.storage.folder import RunFolder
from tests.test_music import beats, write_tune

TUNES = 6


def _tunes(folder):
    """Six 4/4 melodies of eight bars (quarter and eighth notes) and one 3/4 waltz, which
    melody16 drops."""
    for k in range(TUNES):
        notes, t = [], 0.0
        for i in range(24):
            length = 1.0 if (i + k) % 3 else 0.5
            notes.append((60 + (i * (k + 2)) % 12, t, t + length))
            t += length
        write_tune(folder / f"tune{k}.mid", [("melody", beats(notes))])
    write_tune(folder / "waltz.mid", [("melody", beats([(60, 0, 3), (64, 3, 6)]))], meter=(3, 4))
    return folder


SETTINGS = {
    "name": "tunes",
    "seed": 3,
    "algorithm": "seqgan",
    "data": {
        "kind": "music",
        "train_file": "tunes",
        "encoding": "melody16",
        "seq_len": 16,
        "test_ratio": 0.2,
    },
    "generator": {"emb_dim": 8, "hidden_dim": 8, "batch_size": 16, "sample_batch": 64},
    "discriminator": {
        "emb_dim": 8,
        "filter_sizes": [1, 2],
        "num_filters": [4, 4],
        "batch_size": 16,
    },
    "pretrain": {"generator_epochs": 1, "discriminator_rounds": 1, "discriminator_epochs": 1},
    "adversarial": {"epochs": 1, "num_rollouts": 2},
    "eval": {"every": 1, "num_samples": 16},
    "run": {"tensorboard": False, "threads": 1},
}


@pytest.fixture(scope="module")
def music_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("visible")
    _tunes(root / "tunes")
    (root / "c.toml").write_text(tomli_w.dumps(SETTINGS))
    return root


@pytest.fixture(scope="module")
def trained(music_run):
    """The run trained once through the CLI: (folder, stdout, stderr)."""
    out = music_run / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(
            [
                "train",
                "--config",
                str(music_run / "c.toml"),
                "--out",
                str(out),
                "--data-root",
                str(music_run),
            ]
        )
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


def test_the_console_says_what_the_encoding_kept_and_dropped_and_warns_of_a_tiny_test_set(trained):
    _, _, err = trained
    summary = json.loads((trained[0] / "summary.json").read_text())
    notes = summary["data"]
    assert notes["tunes_dropped"] == {"time signature not 4/4": 1}
    lines = err.splitlines()
    kept = next(line for line in lines if line.startswith("tunes: "))
    assert kept == (
        f"tunes: {TUNES} of {TUNES + 1} kept — {notes['tunes_train']} for training "
        f"({notes['windows_train']} windows), {notes['tunes_test']} for test "
        f"({notes['windows_test']} windows)"
    )
    assert "tunes dropped: 1 — time signature not 4/4: 1" in lines
    warning = next(line for line in lines if line.startswith("warning: the test set is"))
    assert f"is {notes['tunes_test']} tune(s)" in warning and "data.test_ratio" in warning


def test_a_finished_music_run_leaves_midi_symbols_and_a_piano_roll(trained):
    out, _, _ = trained
    run = RunFolder(out)
    vocab = Vocabulary.load(run.vocab)
    ids = [
        list(map(int, line.split()))
        for line in (run.samples / "final.txt").read_text().splitlines()
    ]
    symbols = [
        line.split() for line in (run.samples / "final.symbols.txt").read_text().splitlines()
    ]
    assert symbols == [vocab.decode(row) for row in ids] and len(symbols) == 16
    assert all(s == "hold" or s == "rest" or 21 <= int(s) <= 108 for row in symbols for s in row)
    midis = sorted(p.name for p in run.samples.glob("*.mid"))
    assert midis == ["final_000.mid", "final_001.mid", "final_002.mid", "final_003.mid"]
    for name in midis:
        pretty_midi.PrettyMIDI(str(run.samples / name))  # a readable MIDI file
    assert (run.figures / "pianoroll.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.foreign_entry() is None  # --overwrite still knows them all
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_the_result_table_shows_the_datas_feature_values_beside_the_models(trained):
    out, stdout, _ = trained
    summary = json.loads((out / "summary.json").read_text())
    lines = stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("music features")))
    assert lines[header + 1].split() == ["feature", "mean", "data", "mean", "OA", "data", "OA"]
    row = next(line for line in lines[header:] if line.split()[0] == "pitch_range").split()
    assert row[1:] == [
        f"{summary[k + 'pitch_range']:.3f}" for k in ("feat_", "data_feat_", "feat_oa_", "data_oa_")
    ]
    assert summary["data_feat_pitch_range"] > 0


def test_generate_prints_symbols_on_a_music_run(trained, capsys):
    out, _, _ = trained
    vocab = Vocabulary.load(out / "vocab.json")
    capsys.readouterr()
    assert main(["generate", "--run", str(out), "-n", "3"]) == 0
    shown = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert main(["generate", "--run", str(out), "-n", "3", "--format", "ids"]) == 0
    ids = [list(map(int, line.split())) for line in capsys.readouterr().out.splitlines()]
    assert shown == [vocab.decode(row) for row in ids] and len(shown) == 3
    assert shown != [[str(i) for i in row] for row in ids]


def test_data_inspect_writes_a_piano_roll_only_where_asked(
    music_run, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "data",
                "inspect",
                str(music_run / "tunes"),
                "--encoding",
                "melody16",
                "--seq-len",
                "16",
            ]
        )
        == 0
    )
    assert "add --out FILE.png" in capsys.readouterr().out
    assert os.listdir(tmp_path) == []
    assert (
        main(
            [
                "data",
                "inspect",
                str(music_run / "tunes"),
                "--encoding",
                "melody16",
                "--seq-len",
                "16",
                "--out",
                "roll.png",
            ]
        )
        == 0
    )
    assert "piano roll of an example: roll.png" in capsys.readouterr().out
    assert os.listdir(tmp_path) == ["roll.png"]


def test_data_inspect_of_midi_files_says_what_each_encoding_keeps_and_drops(music_run, capsys):
    assert main(["data", "inspect", str(music_run / "tunes")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"MIDI files under {music_run / 'tunes'}: {TUNES + 1};")
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(by_name) == {"pitch88", "melody16", "melody_chord"}
    # melody16 (T = 256 = 16 bars): the waltz is not in 4/4, the 8-bar tunes are too short
    assert by_name["melody16"].split(maxsplit=1)[1] == (
        f"T = 256  0 of {TUNES + 1} tunes kept, 0 windows; dropped: no window of 256 fits: "
        f"{TUNES}, time signature not 4/4: 1"
    )
    for line in by_name.values():  # every file kept or dropped, once
        kept = int(line.split(" of ")[0].split()[-1])
        dropped = (
            sum(int(part.rsplit(": ", 1)[1]) for part in line.split("; dropped: ")[1].split(", "))
            if "dropped" in line
            else 0
        )
        assert kept + dropped == TUNES + 1, line
