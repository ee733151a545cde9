"""Feature metrics of symbolic music and the distribution distances, on hand-made tunes
with hand-computed values (seqgan.music.features, seqgan.metrics.distribution_overlap)."""

import math

import numpy as np
import pytest

from seqgan.metrics.distribution_overlap import (
    compare_features,
    intra_inter,
    kl_divergence,
    overlap_area,
)
from seqgan.music import features as F
from tests.test_output_files import music_vae  # noqa: F401  (a fixture)

# C major scale C4..C5 in quarter notes: 8 notes, 7 pitch classes
C_MAJOR = [(float(i), float(i + 1), p) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]
REPEATED = [(float(i), i + 0.5, 67) for i in range(8)]  # G4 eighths on each beat


def test_c_major_scale():
    f = F.features(C_MAJOR)
    assert f["scale_consistency"] == 1.0
    assert f["n_pitch_classes"] == 7
    assert f["pitch_range"] == 12
    # 8 notes, C twice: -(2/8 log2 2/8 + 6 * 1/8 log2 1/8) = 0.5 + 2.25
    assert f["pitch_class_entropy"] == pytest.approx(2.75)
    assert f["polyphony"] == 1.0
    assert f["empty_beat_rate"] == 0.0
    assert f["mean_duration"] == 1.0 and f["mean_ioi"] == 1.0
    assert f["groove_consistency"] == 1.0  # bars 1 and 2 both have onsets on each beat


def test_one_repeated_note():
    f = F.features(REPEATED)
    assert f["pitch_class_entropy"] == 0.0
    assert f["pitch_range"] == 0.0
    assert f["n_pitch_classes"] == 1
    assert f["scale_consistency"] == 1.0
    assert f["mean_duration"] == 0.5 and f["mean_ioi"] == 1.0


def test_chromatic_and_not_in_one_scale():
    chromatic = [(float(i), i + 1.0, 60 + i) for i in range(12)]
    f = F.features(chromatic)
    assert f["n_pitch_classes"] == 12
    assert f["pitch_class_entropy"] == pytest.approx(math.log2(12))
    assert f["scale_consistency"] == pytest.approx(7 / 12)


def test_polyphony_empty_beats_and_groove():
    chord = [(0.0, 1.0, 60), (0.0, 1.0, 64), (0.0, 1.0, 67)]
    assert F.polyphony(chord) == 3.0
    # a chord in beat 0, then silence in beats 1..2, a note in beat 3: 2 of 4 beats empty
    tune = chord + [(3.0, 4.0, 72)]
    assert F.empty_beat_rate(tune) == 0.5
    # bar 1 onsets at beats 0, 1, 2, 3; bar 2 only at beat 0: 3 of 48 grid points differ
    groove = [(float(i), i + 1.0, 60) for i in range(5)]
    assert F.groove_consistency(groove) == pytest.approx(1 - 3 / 48)
    # bars run to the one holding the last onset, not to the last note's end (MusPy's
    # rule): one note held over two bars has one bar, so 1; four quarters ending on the
    # bar line likewise (MusPy: a second, empty bar, 1 - 4/48)
    assert F.groove_consistency([(0.0, 8.0, 60)]) == 1.0
    assert F.groove_consistency([(float(i), i + 1.0, 60) for i in range(4)]) == 1.0


def test_empty_tune():
    f = F.features([])
    assert math.isnan(f["pitch_range"]) and math.isnan(f["mean_ioi"])
    assert f["empty_beat_rate"] == 1.0


def test_features_of_decoded_symbols():
    # melody16: C4 quarter, quarter rest, D4 eighth, E4 eighth (docs/music.md example)
    seq = ["60", "hold", "hold", "hold", "rest", "hold", "hold", "hold", "62", "hold", "64", "hold"]
    values = F.features_of_symbols("melody16", [seq])
    assert "polyphony" not in values
    assert values["pitch_range"][0] == 4
    assert values["n_pitch_classes"][0] == 3
    assert values["mean_duration"][0] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert values["mean_ioi"][0] == pytest.approx((2 + 0.5) / 2)
    assert values["empty_beat_rate"][0] == pytest.approx(1 / 3)  # beat 1 of 3 is silent
    poly = F.features_of_symbols("melody_chord", [["E5|C:maj:3|d12", "G5|C:maj:3|d12"]])
    assert poly["polyphony"][0] > 1


def test_overlap_area_bounds():
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    assert overlap_area(x, x) == pytest.approx(1.0, abs=1e-4)
    assert overlap_area([0, 0, 0, 1], [0, 0, 0, 1]) == pytest.approx(1.0, abs=1e-4)
    assert overlap_area([0.0, 0.5, 1.0], [100.0, 100.5, 101.0]) == pytest.approx(0.0, abs=1e-9)
    assert overlap_area([3, 3, 3], [3, 3]) == pytest.approx(1.0, abs=1e-4)  # constant sets
    # two unit normals one sigma apart: OA = 2 Phi(-1/2) = 0.617 (KDE smooths a little)
    a, b = rng.normal(size=2000), rng.normal(1.0, size=2000)
    assert overlap_area(a, b) == pytest.approx(0.617, abs=0.05)
    assert kl_divergence(x, x) == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(overlap_area([], [1.0]))


def test_intra_inter_and_compare():
    rng = np.random.default_rng(2)
    real = rng.normal(size=400)
    same = intra_inter(rng.normal(size=400), real)
    collapsed = intra_inter(np.full(400, 5.0), real)  # mode collapse, far from the data
    assert same["oa"] > 0.85 and same["kl"] < 0.05
    assert collapsed["oa"] < 0.05 and collapsed["kl"] > 1
    out = compare_features({"pitch_range": real}, {"pitch_range": real, "other": real})
    assert out["feat_oa_pitch_range"] == pytest.approx(1.0, abs=1e-4)
    assert out["feat_pitch_range"] == pytest.approx(real.mean())
    assert set(out) == {
        "feat_pitch_range",
        "feat_oa_pitch_range",
        "feat_ii_oa_pitch_range",
        "feat_ii_kl_pitch_range",
    }


def test_a_music_run_reports_feature_metrics(music_vae, capsys):  # noqa: F811 (fixture)
    """A tiny pitch88 run: summary.json and ``seqgan evaluate`` carry OA per feature, in
    [0, 1], with the data's own OA (test vs train) as the ceiling."""
    import json

    from seqgan.cli import main

    run = music_vae
    summary = json.loads((run / "summary.json").read_text())
    names = F.feature_names("pitch88")
    assert "polyphony" not in names
    for name in names:
        assert 0.0 <= summary[f"feat_oa_{name}"] <= 1.0
        assert 0.0 <= summary[f"data_oa_{name}"] <= 1.0
        assert summary["signatures"][f"feat_oa_{name}"].startswith(f"feat_oa_{name}|")
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(run),
                "--samples",
                "20",
                "--data-root",
                str(run.parent),
                "--out",
                str(run / "evaluation.json"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    evaluation = json.loads((run / "evaluation.json").read_text())
    row = next(line for line in out.splitlines() if line.split()[:1] == ["pitch_range"])
    assert row.split()[1:] == [
        f"{evaluation[k + 'pitch_range']:.3f}"
        for k in ("feat_", "data_feat_", "feat_oa_", "data_oa_")
    ]
    assert 0.0 <= evaluation["feat_oa_scale_consistency"] <= 1.0


def _tensorboard_tags(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "audio": 0})
    events.Reload()
    return events.Tags()


def test_music_samples_in_tensorboard(tmp_path):
    from seqgan.music import audio
    from tests.test_music import _folder
    from tests.test_output_files import _quick, _train
    from tests.test_seqvae import TINY_VAE

    _folder(tmp_path)
    settings = _quick(TINY_VAE)
    settings["run"]["tensorboard"] = True
    settings["data"] = {"kind": "music", "encoding": "pitch88", "train_file": "tunes", "seq_len": 8}
    run = _train(tmp_path, settings, "--data-root", str(tmp_path), "--set", 'algorithm="vae"')
    tags = _tensorboard_tags(run)
    assert "samples/pianoroll" in tags["images"]
    if audio.available():
        assert "samples/audio_0" in tags["audio"]


def test_text_samples_in_tensorboard():
    from seqgan.training.tensorboard_samples import log_samples

    class Task:
        kind = "text"

        def texts(self, tokens):
            return [" ".join(map(str, row)) for row in tokens.tolist()]

    class Writer:
        def __init__(self):
            self.calls = []

        def add_text(self, tag, text, step):
            self.calls.append((tag, text, step))

    import torch

    writer = Writer()
    assert log_samples(writer, Task(), None, torch.tensor([[1, 2], [3, 4]]), 7) is None
    assert writer.calls == [("samples", "1. `1 2`\n2. `3 4`", 7)]
    broken = type("Broken", (), {})()  # no add_text: the warning, once
    assert log_samples(broken, Task(), None, torch.tensor([[1]]), 0).startswith("warning:")
    assert log_samples(broken, Task(), None, torch.tensor([[1]]), 1) is None


def test_comparison_table_has_oa_columns_and_the_data_ceiling(tmp_path):
    from seqgan.experiments.report import build_table, write_table
    from seqgan.storage.folder import RunFolder

    groups = {}
    for label, oa in (("mle", 0.5), ("seqgan", 0.75)):
        run = RunFolder.create(tmp_path / label)
        run.config.write_text("")
        run.write_summary(
            {
                "samples": 10,
                "mse": 1.0,
                "feat_oa_pitch_range": oa,
                "data_oa_pitch_range": 0.9,
                "feat_ii_kl_pitch_range": 0.1,
            }
        )
        groups[label] = [run]
    rows, metrics = build_table(groups)
    assert metrics == ["mse", "feat_oa_pitch_range"]
    lines = write_table(rows, metrics, tmp_path).splitlines()
    assert lines[0] == "| metric | better | mle | seqgan | data (test vs train) |"
    assert lines[2] == "| MSE | ↓ | 1.000 | 1.000 |  |"
    assert lines[3] == "| OA pitch_range | ↑ (data's at most) | 0.500 | 0.750 | 0.900 |"
