"""A report on what an encoding makes of a MIDI file or folder, and a piano roll of one
example window — to check the data before training on it; ``compare_encodings``: what
each encoding keeps and drops of the same files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from seqgan.errors import UserError
from seqgan.music.corpus import list_midi
from seqgan.music.encodings import get_encoding
from seqgan.music.midi import TuneRejected
from seqgan.music.pianoroll import plot_pianoroll

MIN_COUNT = 10  # the melody_chord rare-symbol threshold reported
TOP_SYMBOLS = 12


def _encode(enc, files: list[Path]) -> tuple[list[tuple[Path, list[str]]], Counter]:
    """The tunes ``enc`` encodes (with their files) and the counts of those it drops, by
    reason."""
    tunes: list[tuple[Path, list[str]]] = []
    dropped: Counter = Counter()
    for file in files:
        try:
            symbols = enc.encode_file(file)
        except TuneRejected as e:
            dropped[e.reason] += 1
            continue
        if symbols:
            tunes.append((file, symbols))
        else:
            dropped["no note in the piano range"] += 1
    return tunes, dropped


def compare_encodings(path: Path) -> str:
    """For every encoding, how many of the MIDI files under ``path`` it keeps, how many it
    drops and why (also the tunes too short for one window of its default length and,
    for ``melody_chord``, those the rare-symbol rule drops at ``MIN_COUNT``), and the
    windows the kept ones give — which encoding suits these files, before training."""
    from seqgan.music.encodings import ENCODINGS

    files = list_midi(path)
    lines = [
        (
            f"MIDI files under {path}: {len(files)}; what each encoding keeps "
            "(details: seqgan data inspect PATH --encoding E)"
        )
    ]
    for name in ENCODINGS:
        enc = get_encoding(name)
        tunes, dropped = _encode(enc, files)
        if enc.fixed_symbols() is None and tunes:
            counts = Counter(s for _, t in tunes for s in t)
            kept = [t for t in tunes if all(counts[s] >= MIN_COUNT for s in t[1])]
            if len(kept) < len(tunes):
                dropped[f"symbol seen < {MIN_COUNT} times"] += len(tunes) - len(kept)
            tunes = kept
        seq_len = enc.default_seq_len
        windows = [enc.windows(t, seq_len) for _, t in tunes]
        short = sum(1 for w in windows if not w)
        if short:
            dropped[f"no window of {seq_len} fits"] += short
        used = len(tunes) - short
        lines.append(
            f"  {name:<13} T = {seq_len:<4} {used} of {len(files)} tunes kept, "
            f"{sum(len(w) for w in windows)} windows"
            + (
                (
                    "; dropped: "
                    + ", ".join(f"{reason}: {count}" for reason, count in sorted(dropped.items()))
                )
                if dropped
                else ""
            )
        )
    return "\n".join(lines)


def inspect_music(
    path: Path, encoding: str, png: Path | None = None, seq_len: int | None = None
) -> str:
    """Encode every tune under ``path`` with ``encoding`` and describe the result: files
    read, tunes dropped and why, total symbols, vocabulary size, tune lengths, windows of
    ``seq_len`` (default: the encoding's), the most common symbols.  Writes a piano roll
    of one decoded example window to ``png`` if given (nothing is written otherwise) and
    returns the report text."""
    enc = get_encoding(encoding)
    seq_len = enc.default_seq_len if seq_len is None else seq_len
    if seq_len < 1:
        raise UserError(f"seq_len must be >= 1, got {seq_len}")
    files = list_midi(path)
    tunes, dropped = _encode(enc, files)

    lines = [
        f"{encoding} encoding of {path}",
        f"files read: {len(files)}; tunes encoded: {len(tunes)}",
    ]
    for reason, count in sorted(dropped.items()):
        lines.append(f"  dropped ({reason}): {count}")
    if not tunes:
        lines.append("no tune to report on")
        return "\n".join(lines)

    counts = Counter(s for _, t in tunes for s in t)
    lengths = [len(t) for _, t in tunes]
    total = sum(lengths)
    lines.append(
        f"symbols: {total} in total; vocabulary (distinct symbols): {len(counts)}"
        + ("" if enc.fixed_symbols() is None else f" of the {len(enc.fixed_symbols())} possible")
    )
    if enc.fixed_symbols() is None:
        kept = {s for s, c in counts.items() if c >= MIN_COUNT}
        clean = [t for _, t in tunes if all(s in kept for s in t)]
        lines.append(
            f"symbols seen >= {MIN_COUNT} times: {len(kept)}; tunes without rarer "
            f"symbols: {len(clean)} of {len(tunes)} (the corpus keeps these)"
        )
    lines.append(
        f"tune length in symbols: min {min(lengths)}, mean {total / len(lengths):.1f}, "
        f"max {max(lengths)}"
    )
    per_tune = [enc.windows(t, seq_len) for _, t in tunes]
    n_windows = sum(len(w) for w in per_tune)
    fitting = sum(1 for w in per_tune if w)
    lines.append(
        f"windows of {seq_len}: {n_windows} from {fitting} tunes "
        f"({len(tunes) - fitting} tunes too short)"
    )
    lines.extend(feature_report([w for ws in per_tune for w in ws], encoding, seq_len))
    lines.append("most common symbols:")
    for symbol, count in counts.most_common(TOP_SYMBOLS):
        lines.append(f"  {symbol:<24} {count:>8}  {100 * count / total:5.2f}%")

    if png is None:
        lines.append("piano roll of an example: add --out FILE.png")
        return "\n".join(lines)
    example = next(((f, w[0]) for (f, _), w in zip(tunes, per_tune) if w), None)
    if example is not None:
        file, window = example
        title = f"{file.name}: first window of {seq_len} {encoding} symbols (decoded)"
    else:
        file, symbols = tunes[0]
        window = symbols[:seq_len]
        title = f"{file.name}: its {len(window)} {encoding} symbols (no full window fits)"
    plot_pianoroll([enc.decode(window)], png, [title])
    lines.append(f"piano roll of an example: {png} ({title})")
    return "\n".join(lines)


def feature_report(windows: list[list[str]], encoding: str, seq_len: int) -> list[str]:
    """Lines with the mean, standard deviation and range of each feature metric
    (``music.features``) over the decoded ``windows`` of the data."""
    import numpy as np

    from seqgan.music.features import features_of_symbols

    if not windows:
        return []
    out = [
        f"feature metrics of the {len(windows)} windows of {seq_len} (music.features; "
        f"times in quarter notes):"
    ]
    for name, values in features_of_symbols(encoding, windows).items():
        finite = values[np.isfinite(values)]
        if not len(finite):
            out.append(f"  {name:<20} undefined")
            continue
        out.append(
            f"  {name:<20} mean {finite.mean():8.3f}  sd {finite.std():7.3f}  "
            f"min {finite.min():7.3f}  max {finite.max():7.3f}"
        )
    return out
