"""Rendering decoded MIDI to audio with FluidSynth and a General-MIDI soundfont.

The ``fluidsynth`` command line is used (``fluidsynth -ni -q -r RATE -g GAIN -F OUT.wav
SOUNDFONT IN.mid``), not a Python binding: it has no ABI to match with the installed
libfluidsynth, runs in its own process (a crash or hang of the synthesizer cannot take the
Python process with it; a timeout stops it) and is what Debian's ``fluidsynth`` package
installs.  Install: ``apt-get install fluidsynth fluid-soundfont-gm`` (the ``seqgan[audio]``
extra names these; it has no Python dependency).

Soundfont: ``--soundfont PATH``, else ``$SEQGAN_SOUNDFONT``, else the first of
``SOUNDFONTS`` that exists (Debian's ``fluid-soundfont-gm`` installs the first two).

FluidSynth renders on after the last note-off until the voices have died out (seconds of
silence); the written file is cut to the end of the last note plus ``TAIL`` seconds (the
release), so that its duration is ``pm.get_end_time() + TAIL`` exactly (to one frame).
Output: 16-bit stereo PCM WAV at ``RATE`` Hz, written atomically.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from seqgan.errors import UserError

RATE = 44100
GAIN = 0.8
TAIL = 1.0  # seconds kept after the last note-off
TIMEOUT = 120  # seconds per rendered file
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
)
INSTALL = "apt-get install fluidsynth fluid-soundfont-gm"


def fluidsynth_path() -> str:
    """The ``fluidsynth`` executable; a one-line ``UserError`` saying what to install."""
    found = shutil.which("fluidsynth")
    if found is None:
        raise UserError(
            f"audio needs FluidSynth, which is not installed: {INSTALL} "
            f"(see docs/music.md, Listening)"
        )
    return found


def find_soundfont(path: Path | str | None = None) -> Path:
    """The soundfont to render with (see the module docstring); one-line ``UserError``."""
    chosen = path or os.environ.get("SEQGAN_SOUNDFONT")
    if chosen:
        if not Path(chosen).is_file():
            raise UserError(f"soundfont not found: {chosen}")
        return Path(chosen)
    for candidate in SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise UserError(
        f"audio needs a General-MIDI soundfont and none was found: {INSTALL}, "
        f"or give --soundfont PATH"
    )


def available() -> bool:
    """Whether FluidSynth and a soundfont are here (audio can be rendered)."""
    try:
        fluidsynth_path(), find_soundfont()
    except UserError:
        return False
    return True


def render_wav_bytes(pm, soundfont: Path | str | None = None, rate: int = RATE) -> bytes:
    """A PrettyMIDI rendered to WAV bytes (16-bit stereo, ``rate`` Hz), cut to its last
    note-off + ``TAIL`` seconds."""
    from seqgan.music.midi import write_midi

    exe, font = fluidsynth_path(), find_soundfont(soundfont)
    with tempfile.TemporaryDirectory(prefix="seqgan-audio-") as tmp:
        midi, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        write_midi(pm, midi)
        command = [
            exe,
            "-ni",
            "-q",
            "-r",
            str(rate),
            "-g",
            str(GAIN),
            "-F",
            str(wav),
            str(font),
            str(midi),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise UserError(f"FluidSynth took longer than {TIMEOUT} s to render") from None
        if done.returncode != 0 or not wav.is_file():
            detail = " ".join(done.stderr.decode(errors="replace").split())[:200]
            raise UserError(f"FluidSynth failed (exit {done.returncode}): {detail or 'no output'}")
        return _cut(wav.read_bytes(), pm.get_end_time() + TAIL)


def _cut(data: bytes, seconds: float) -> bytes:
    """WAV ``data`` cut to ``seconds`` (padded with silence if shorter)."""
    with wave.open(io.BytesIO(data)) as reader:
        params = reader.getparams()
        frames = reader.readframes(reader.getnframes())
    width = params.sampwidth * params.nchannels
    keep = math.ceil(seconds * params.framerate) * width
    frames = frames[:keep] + b"\0" * max(0, keep - len(frames))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(params.nchannels)
        writer.setsampwidth(params.sampwidth)
        writer.setframerate(params.framerate)
        writer.writeframes(frames)
    return out.getvalue()


def write_wav(pm, path: Path, soundfont: Path | str | None = None, rate: int = RATE) -> None:
    """Render ``pm`` to a WAV file at ``path`` (atomically)."""
    from seqgan.storage.atomic import write_bytes

    write_bytes(path, render_wav_bytes(pm, soundfont, rate))


def wav_to_array(data: bytes):
    """WAV bytes -> (float32 mono samples in [-1, 1], rate), e.g. for TensorBoard audio."""
    import numpy as np

    with wave.open(io.BytesIO(data)) as reader:
        rate, channels = reader.getframerate(), reader.getnchannels()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    mono = samples.reshape(-1, channels).mean(axis=1) / 32768.0
    return mono.astype(np.float32), rate
