"""Writing generated sequences in a user's format: token ids, text, MIDI files, a piano roll."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.errors import UserError
from seqgan.runs.atomic import write_bytes
from seqgan.runs.folder import tokens_to_text


def export_samples(samples: torch.Tensor, task: Task, cfg: Config, fmt: str,
                   out: Path | None) -> str:
    """Write ``samples [n, T]`` as ``fmt`` to ``out`` (stdout for ids/text when None);
    returns a line for the user (empty if nothing to say)."""
    if fmt == "text":
        if task.kind != "text":
            raise UserError(f"--format text needs a text run; this run's data are {task.kind}")
        return _write(out, "".join(line + "\n" for line in task.texts(samples)), len(samples))
    if fmt == "ids":
        return _write(out, tokens_to_text(samples), len(samples))
    if task.kind != "music":
        raise UserError(f"--format {fmt} needs a music run; this run's data are {task.kind}")
    if out is None:
        raise UserError(f"--format {fmt} needs --out ("
                        + ("a folder" if fmt == "midi" else "a .png file") + ")")
    symbols = task.symbols(samples)
    if fmt == "midi":
        from seqgan.music.corpus import symbols_to_midi
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create folder {out}: {exc.strerror}") from None
        for i, row in enumerate(symbols):
            symbols_to_midi(cfg.data.encoding, row, out / f"sample_{i:03d}.mid")
        return f"wrote {len(symbols)} MIDI files to {out}"
    from seqgan.music.encodings import get_encoding
    from seqgan.music.pianoroll import plot_pianoroll
    encoding = get_encoding(cfg.data.encoding)
    shown = symbols[:8]
    plot_pianoroll([encoding.decode(row) for row in shown], out,
                   [f"sample {i}" for i in range(len(shown))])
    return f"wrote a piano roll of {len(shown)} of {len(symbols)} samples to {out}"


def _write(out: Path | None, text: str, count: int) -> str:
    if out is None:
        sys.stdout.write(text)
        return ""
    write_bytes(out, text.encode("utf-8"))
    return f"wrote {count} sequences to {out}"
