"""A music encoding chosen over the preset's brings its own length, unless the user set
one: the ``midi`` preset pins T = 32 for pitch88, and melody16 is 256 steps long."""

import tomli_w

from seqgan.api import _config
from seqgan.config import assemble, load_preset

MIDI = ["data.train_file=tunes/"]


def test_an_encoding_switch_brings_its_own_length(tmp_path, capsys):
    cfg, notes = assemble("midi", None, [*MIDI, "data.encoding=melody16"])
    assert (cfg.data.encoding, cfg.data.seq_len) == ("melody16", 256)
    assert any("data.seq_len = 256" in note and "melody16" in note for note in notes)
    path = tmp_path / "mine.toml"  # the same through a --config file
    path.write_text(tomli_w.dumps({"data": {"encoding": "melody_chord"}}))
    assert assemble("midi", path, MIDI)[0].data.seq_len == 100
    # the Python API, from the preset's settings as a dict
    assert (
        _config(
            load_preset("midi"), None, {"data__train_file": "tunes/", "data__encoding": "melody16"}
        ).data.seq_len
        == 256
    )
    assert "data.seq_len = 256" in capsys.readouterr().err


def test_a_length_the_user_set_or_the_presets_own_encoding_stays():
    assert (
        assemble("midi", None, [*MIDI, "data.encoding=melody16", "data.seq_len=32"])[0].data.seq_len
        == 32
    )
    cfg, notes = assemble("midi", None, MIDI)
    assert (cfg.data.seq_len, notes) == (32, [])
    assert assemble("seqvae-melody", None, ["data.encoding=pitch88"])[0].data.seq_len == 32


def test_the_configs_table_of_encoding_lengths_is_the_encodings_own():
    from seqgan import config
    from seqgan.music.encodings import ENCODINGS

    assert {name: e.default_seq_len for name, e in ENCODINGS.items()} == config.ENCODING_LENGTHS
