"""Music data: MIDI tunes encoded as symbol sequences (pitch88, melody16, melody_chord),
corpora of fixed-length windows, decoding back to MIDI, piano rolls and data reports.

See docs/music.md for the exact definitions and the counts measured on Nottingham.
The names below are imported on first use, so ``import seqgan.music.midi`` does not pull
in matplotlib.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MusicCorpus": "corpus",
    "build_music_corpus": "corpus",
    "list_midi": "corpus",
    "symbols_to_midi": "corpus",
    "ENCODINGS": "encodings",
    "Encoding": "encodings",
    "get_encoding": "encodings",
    "inspect_music": "inspect",
    "plot_pianoroll": "pianoroll",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"seqgan.music.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'seqgan.music' has no attribute {name!r}")
