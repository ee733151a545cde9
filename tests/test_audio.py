"""Rendering samples to audio (seqgan.music.audio, ``seqgan generate --format wav``).
Tests marked ``audio`` need FluidSynth and a GM soundfont (apt-get install fluidsynth
fluid-soundfont-gm); elsewhere they are skipped with that reason."""

import wave

import pytest

from seqgan.errors import UserError
from seqgan.music import audio
from seqgan.music.encodings import get_encoding
from tests.test_output_files import music_vae  # noqa: F401  (a fixture)


def _seconds(path):
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate(), w.getnchannels()


@pytest.mark.audio
@pytest.mark.skipif(not audio.available(), reason=f"needs FluidSynth: {audio.INSTALL}")
def test_wav_has_the_tune_duration(tmp_path):
    # melody16: 12 sixteenths = 3 quarters = 1.5 s at 120 quarters per minute
    pm = get_encoding("melody16").decode(
        ["60", "hold", "hold", "hold", "rest", "hold", "hold", "hold", "62", "hold", "64", "hold"]
    )
    assert pm.get_end_time() == pytest.approx(1.5)
    path = tmp_path / "tune.wav"
    audio.write_wav(pm, path, rate=22050)
    seconds, channels = _seconds(path)
    assert seconds == pytest.approx(1.5 + audio.TAIL, abs=1 / 22050)
    samples, rate = audio.wav_to_array(path.read_bytes())
    assert rate == 22050 and abs(samples).max() > 0.01  # it is not silence


def test_missing_fluidsynth_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(UserError) as info:
        audio.render_wav_bytes(get_encoding("pitch88").decode(["40"]))
    message = str(info.value)
    assert "\n" not in message and "apt-get install fluidsynth fluid-soundfont-gm" in message


def test_missing_soundfont_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("SEQGAN_SOUNDFONT", raising=False)
    monkeypatch.setattr(audio, "SOUNDFONTS", (str(tmp_path / "none.sf2"),))
    with pytest.raises(UserError) as info:
        audio.find_soundfont()
    assert "\n" not in str(info.value) and "--soundfont" in str(info.value)
    with pytest.raises(UserError, match="soundfont not found"):
        audio.find_soundfont(tmp_path / "missing.sf2")


def test_generate_wav_without_fluidsynth_exits_2(
    monkeypatch,
    music_vae,  # noqa: F811 (fixture)
    tmp_path_factory,
    capsys,
):
    from seqgan.cli import main

    run = music_vae
    capsys.readouterr()
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    assert (
        main(
            [
                "generate",
                "--run",
                str(run),
                "-n",
                "2",
                "--format",
                "wav",
                "--out",
                str(tmp_path_factory.mktemp("wav")),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fluidsynth" in err


@pytest.mark.audio
@pytest.mark.skipif(not audio.available(), reason=f"needs FluidSynth: {audio.INSTALL}")
def test_generate_wav_and_interpolate(music_vae, tmp_path_factory, capsys):  # noqa: F811 (fixture)
    from seqgan.cli import main

    run = music_vae
    out = tmp_path_factory.mktemp("wav")
    assert (
        main(
            [
                "generate",
                "--run",
                str(run),
                "-n",
                "2",
                "--format",
                "wav",
                "--out",
                str(out / "plain"),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (out / "plain").iterdir()) == ["sample_000.wav", "sample_001.wav"]
    assert (
        main(
            [
                "generate",
                "--run",
                str(run),
                "--interpolate",
                "0",
                "1",
                "--steps",
                "3",
                "--format",
                "wav",
                "--out",
                str(out / "line"),
                "--data-root",
                str(run.parent),
            ]
        )
        == 0
    )
    assert len(list((out / "line").glob("*.wav"))) == 3
