"""Samples in TensorBoard at each evaluation (``training.loop``, ``run.tensorboard``).

* text runs: the first ``SHOWN`` decoded samples as TensorBoard text (``samples``, a
  markdown list, each line in a code span so that markdown does not reformat it);
* music runs: a piano roll of the first ``SHOWN`` samples as an image (``samples/pianoroll``)
  and, when FluidSynth and a soundfont are here (``music.audio``), the first
  ``AUDIO_CLIPS`` samples rendered as audio clips (``samples/audio_<k>``, mono, 22.05 kHz);
* other tasks (the oracle): nothing, its tokens mean nothing to a reader.

A failure to draw or render is returned as one warning line (the loop logs it) and never
stops training; samples are then left out of that writer.
"""

from __future__ import annotations

import torch

SHOWN = 4
AUDIO_CLIPS = 2
AUDIO_RATE = 22050


def _code(line: str) -> str:
    return "`" + line.replace("`", "'") + "`" if line else "(empty)"


def log_samples(writer, task, encoding: str | None, samples: torch.Tensor, step: int) -> str | None:
    """Write the samples of one evaluation to ``writer`` at ``step``; a warning line the
    first time this fails for ``writer`` (then nothing: samples are left out from there on),
    else None."""
    if getattr(writer, "_seqgan_no_samples", False):
        return None
    try:
        _log(writer, task, encoding, samples, step)
    except Exception as exc:  # a sample picture or clip is never worth stopping training
        writer._seqgan_no_samples = True
        text = " ".join(str(exc).split()) or type(exc).__name__
        return f"warning: samples not written to TensorBoard from now on: {text}"
    return None


def _log(writer, task, encoding: str | None, samples: torch.Tensor, step: int) -> None:
    if task.kind == "text":
        lines = task.texts(samples[:SHOWN])
        writer.add_text(
            "samples", "\n".join(f"{k + 1}. {_code(line)}" for k, line in enumerate(lines)), step
        )
    elif task.kind == "music":
        _music(writer, task, encoding, samples[:SHOWN], step)


def _music(writer, task, encoding: str, samples: torch.Tensor, step: int) -> None:
    from seqgan.music import audio
    from seqgan.music.encodings import get_encoding

    enc = get_encoding(encoding)
    rolls = [enc.decode(row) for row in task.symbols(samples)]
    writer.add_image("samples/pianoroll", pianoroll_image(rolls), step, dataformats="HWC")
    if audio.available():
        for k, pm in enumerate(rolls[:AUDIO_CLIPS]):
            clip, rate = audio.wav_to_array(audio.render_wav_bytes(pm, rate=AUDIO_RATE))
            writer.add_audio(f"samples/audio_{k}", torch.from_numpy(clip), step, sample_rate=rate)


def pianoroll_image(rolls):
    """The piano rolls as ``music.pianoroll`` draws them: an RGBA array [H, W, 4] in [0, 1]."""
    import tempfile
    from pathlib import Path

    from matplotlib.image import imread

    from seqgan.music.pianoroll import plot_pianoroll

    with tempfile.TemporaryDirectory(prefix="seqgan-tb-") as tmp:
        png = Path(tmp) / "roll.png"
        plot_pianoroll(rolls, png, [f"sample {k}" for k in range(len(rolls))])
        return imread(png)
