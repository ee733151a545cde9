"""Writing generated sequences in a user's format: token ids, symbols, text, MIDI files, a
piano roll, WAV files (rendered with FluidSynth, ``music.audio``); a finished music run's
examples (``write_music_examples``).

Samples come as batches ``[b, T]`` (an iterable consumed once, e.g. drawn lazily by
``seqgan generate``) and are written as they come, so memory holds one batch: ids and text
stream through ``atomic.open_output`` (a file appears whole, only once every batch is in;
a device, FIFO or standard output gets each batch as it is drawn), MIDI files are written
one by one (each atomically), and a piano roll keeps only the rows it draws.  A progress
bar goes to stderr when it is a terminal (and the samples are not printed on one).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.errors import UserError
from seqgan.storage.atomic import STDOUT, is_stdout, open_output, show_path
from seqgan.storage.folder import tokens_to_text

SHOWN = 8  # rows drawn in a piano roll


def export_samples(
    batches: Iterable[torch.Tensor],
    total: int,
    task: Task,
    cfg: Config,
    fmt: str,
    out: Path | str | None,
    soundfont: Path | None = None,
) -> str:
    """Write the ``total`` rows of ``batches`` as ``fmt`` to ``out`` (``None`` or ``"-"``:
    standard output, for ids/text and a piano roll); returns a line for the user (empty if
    nothing to say).  Arguments are checked before the first batch is drawn.  ``wav``
    renders each sample with FluidSynth (``music.audio``; ``soundfont``: the one to use)."""
    if fmt in ("ids", "symbols", "text"):
        return _write_lines(_progress(batches, total, out), _line_maker(task, fmt), out)
    if task.kind != "music":
        raise UserError(f"--format {fmt} needs a music run; this run's data are {task.kind}")
    if out is None or (fmt in ("midi", "wav") and is_stdout(out)):
        raise UserError(
            f"--format {fmt} needs --out ("
            + ("a folder" if fmt in ("midi", "wav") else "a .png file, or -")
            + ")"
        )
    if fmt == "wav":
        from seqgan.music.audio import find_soundfont, fluidsynth_path

        fluidsynth_path()
        font = find_soundfont(soundfont)  # both checked before sampling
        return _write_wav(_progress(batches, total, out), task, cfg, out, font)
    write = _write_midi if fmt == "midi" else _write_pianoroll
    return write(_progress(batches, total, out), task, cfg, out)


def _line_maker(task: Task, fmt: str) -> Callable[[torch.Tensor], str]:
    """The function turning a batch into lines of ``fmt``."""
    if fmt == "ids":
        return tokens_to_text
    if fmt == "symbols":  # music: the encoding's symbols (a note, hold, rest, ...)
        return lambda batch: "".join(" ".join(row) + "\n" for row in task.symbols(batch))
    if task.kind != "text":
        raise UserError(f"--format text needs a text run; this run's data are {task.kind}")
    return lambda batch: "".join(line + "\n" for line in task.texts(batch))


def _to_stdout(out) -> bool:
    return out is None or is_stdout(out)


def _progress(batches: Iterable[torch.Tensor], total: int, out) -> Iterator[torch.Tensor]:
    """``batches``, counted on a tqdm bar on stderr (none when stderr is not a terminal, or
    when the samples themselves are printed on one)."""
    from tqdm import tqdm

    on_terminal = _to_stdout(out) and sys.stdout.isatty()
    with tqdm(
        total=total, unit="seq", file=sys.stderr, leave=False, disable=True if on_terminal else None
    ) as bar:
        for batch in batches:
            yield batch.cpu()  # drawn on the run's device, written from the CPU
            bar.update(len(batch))


def _write_lines(batches: Iterable[torch.Tensor], lines: Callable[[torch.Tensor], str], out) -> str:
    count = 0
    with open_output(STDOUT if out is None else out) as handle:
        for batch in batches:
            handle.write(lines(batch).encode("utf-8"))
            count += len(batch)
    return "" if _to_stdout(out) else f"wrote {count} sequences to {show_path(out)}"


def _write_midi(batches: Iterable[torch.Tensor], task: Task, cfg: Config, out: Path) -> str:
    from seqgan.music.corpus import symbols_to_midi

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create folder {show_path(out)}: {exc.strerror}") from None
    count = 0
    for batch in batches:
        for row in task.symbols(batch):
            symbols_to_midi(cfg.data.encoding, row, out / f"sample_{count:03d}.mid")
            count += 1
    return f"wrote {count} MIDI files to {show_path(out)}"


def _write_wav(
    batches: Iterable[torch.Tensor], task: Task, cfg: Config, out: Path, soundfont: Path
) -> str:
    from seqgan.music.audio import write_wav
    from seqgan.music.encodings import get_encoding

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create folder {show_path(out)}: {exc.strerror}") from None
    encoding, count = get_encoding(cfg.data.encoding), 0
    for batch in batches:
        for row in task.symbols(batch):
            write_wav(encoding.decode(row), out / f"sample_{count:03d}.wav", soundfont)
            count += 1
    return f"wrote {count} WAV files to {show_path(out)} (FluidSynth, {soundfont.name})"


def _write_pianoroll(
    batches: Iterable[torch.Tensor], task: Task, cfg: Config, out: Path | str
) -> str:
    from seqgan.music.encodings import get_encoding
    from seqgan.music.pianoroll import plot_pianoroll

    shown, count = [], 0
    for batch in batches:
        shown += task.symbols(batch[: SHOWN - len(shown)])
        count += len(batch)
    encoding = get_encoding(cfg.data.encoding)
    plot_pianoroll(
        [encoding.decode(row) for row in shown], out, [f"sample {i}" for i in range(len(shown))]
    )
    return f"wrote a piano roll of {len(shown)} of {count} samples to {show_path(out)}"


MUSIC_FILES = 4  # MIDI files of a finished music run's final samples


def write_music_examples(
    samples: torch.Tensor, task: Task, encoding: str, samples_folder: Path, figure: Path, title: str
) -> None:
    """A finished music run's final samples to listen to and look at: the first
    ``MUSIC_FILES`` as ``<samples_folder>/final_<i>.mid`` and their piano roll at
    ``figure`` (each file written atomically)."""
    from seqgan.music.corpus import symbols_to_midi
    from seqgan.music.encodings import get_encoding
    from seqgan.music.pianoroll import plot_pianoroll

    rows = task.symbols(samples[:MUSIC_FILES])
    for i, row in enumerate(rows):
        symbols_to_midi(encoding, row, samples_folder / f"final_{i:03d}.mid")
    decode = get_encoding(encoding).decode
    plot_pianoroll(
        [decode(row) for row in rows],
        figure,
        [f"{title}: sample {i} (samples/final_{i:03d}.mid)" for i in range(len(rows))],
    )


def check_output_size(total: int, task: Task, fmt: str, out: Path | str | None) -> None:
    """Refuse (one line, before any sampling) ``total`` sequences that cannot be written:
    a piano roll, MIDI or WAV files of more sequences than fit in memory at once
    (``models.size.check_sample_memory``), or ids to a file larger than the free space
    of its file system (at least two bytes per token: a digit and a separator).  What
    streams to standard output, a device or a FIFO is not bounded (``| head`` ends it)."""
    import os

    from seqgan.models.size import check_sample_memory, human_bytes

    if fmt not in ("ids", "text"):
        check_sample_memory("-n", total, task.seq_len)
        return
    if fmt != "ids" or out is None or is_stdout(out):
        return
    folder = Path(out).parent
    try:
        if Path(out).exists() and not Path(out).is_file():
            return  # a device or FIFO: written straight through
        stats = os.statvfs(folder if str(folder) else ".")
    except OSError:
        return  # the writer says what is wrong with the path
    need, free = 2 * total * task.seq_len, stats.f_bavail * stats.f_frsize
    if need > free:
        raise UserError(
            f"-n {total}: {total} x {task.seq_len} token ids need at least "
            f"{human_bytes(need)} in {show_path(Path(out))}; its file system "
            f"has {human_bytes(free)} free"
        )
