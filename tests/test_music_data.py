"""The music encodings on the real Nottingham files (marker ``data``): every file loads,
and the counts and data rows reported in docs/music.md are what the code gives."""

from __future__ import annotations

import numpy as np
import pytest

from seqgan.metrics.music import music_metrics
from seqgan.music import build_music_corpus, list_midi
from seqgan.music.midi import load_tune

pytestmark = pytest.mark.data


@pytest.fixture
def nottingham(data_root):
    folder = data_root / "nottingham"
    if not (folder / "midi_boulanger").is_dir():
        pytest.fail(f"{folder}/midi_boulanger not found under the data root")
    return folder


def test_pitch88_on_the_boulanger_split(nottingham):
    boulanger = nottingham / "midi_boulanger"
    assert [len(list_midi(boulanger / s)) for s in ("train", "valid", "test")] == [694, 173, 170]
    # every file of the three splits loads (train and test through the corpus below)
    valid = [load_tune(p) for p in list_midi(boulanger / "valid")]
    assert sum(len(t.parts) == 2 for t in valid) == 171  # 2 type-0 files: melody only
    corpus = build_music_corpus("pitch88", boulanger / "train", boulanger / "test", 32)
    assert len(corpus.train) == 3160 and corpus.tunes_train == 692
    assert len(corpus.test) == 796 and corpus.tunes_test == 170
    assert corpus.dropped == {"no window of 32 fits (train)": 2}
    mse = music_metrics("pitch88", corpus.test, corpus.train)["mse"]
    assert mse.shape == (796,) and mse.mean() == pytest.approx(9.288, abs=0.001)


def test_melody16_data_row_on_jukedeck(nottingham):
    corpus = build_music_corpus("melody16", nottingham / "midi_jukedeck_melody", None, 256)
    assert (len(corpus.train), len(corpus.test)) == (2131, 242)
    assert corpus.dropped["time signature not 4/4"] == 501
    row = music_metrics("melody16", corpus.train + corpus.test, [])
    means = {k: float(np.mean(v)) for k, v in row.items()}
    assert means["spb"] == pytest.approx(0.519, abs=0.001)
    assert 100 * means["qn4"] == pytest.approx(44.14, abs=0.01)
    assert 100 * means["qn6"] == pytest.approx(8.57, abs=0.01)
    assert 100 * means["qn8"] == pytest.approx(6.33, abs=0.01)


def test_melody_chord_vocabulary(nottingham):
    boulanger = nottingham / "midi_boulanger"
    corpus = build_music_corpus("melody_chord", boulanger / "train", boulanger / "test", 100)
    assert len(corpus.symbols) == 1033
    assert corpus.dropped["symbol seen < 10 times (train)"] == 480
    assert (len(corpus.train), corpus.tunes_train) == (300, 203)
    assert (len(corpus.test), corpus.tunes_test) == (63, 42)
    assert all(s in set(corpus.symbols) for w in corpus.train + corpus.test for s in w)
