"""The registry of music encodings: one object per encoding, looked up by name.

=============  ===============  ==================================================
name           default seq_len  what one symbol is
=============  ===============  ==================================================
pitch88        32               the melody's piano key every 0.4 s (SeqGAN)
melody16       256              a sixteenth-note step of a 4/4 melody (SeqVAE)
melody_chord   100              a melody note or rest with its chord and duration
                                (Lee et al. 2017 / Bjare & Meredith)
=============  ===============  ==================================================

Each module's docstring (and docs/music.md) defines its encoding exactly.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Protocol, runtime_checkable

import pretty_midi

from seqgan.errors import UserError
from seqgan.music.melody16 import Melody16
from seqgan.music.melody_chord import MelodyChord
from seqgan.music.pitch88 import Pitch88


@runtime_checkable
class Encoding(Protocol):
    name: str  # "pitch88" | "melody16" | "melody_chord"
    default_seq_len: int  # 32 | 256 | 100

    def encode_file(self, path: Path) -> list[str]:
        """A whole tune -> symbols (one per time step or event)."""

    def decode(self, symbols: list[str]) -> pretty_midi.PrettyMIDI:
        """Symbols -> playable MIDI; unknown symbols are silence, never an error."""

    def windows(self, symbols: list[str], seq_len: int) -> list[list[str]]:
        """The training sequences (each exactly ``seq_len`` symbols) cut from a tune."""

    def fixed_symbols(self) -> list[str] | None:
        """The full symbol set in a fixed order, or None if it is data-derived."""


ENCODINGS: dict[str, Encoding] = {
    "pitch88": Pitch88(),
    "melody16": Melody16(),
    "melody_chord": MelodyChord(),
}


def get_encoding(name: str) -> Encoding:
    """The encoding called ``name``; ``UserError`` with a "did you mean" otherwise."""
    try:
        return ENCODINGS[name]
    except (KeyError, TypeError):
        names = sorted(ENCODINGS)
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; available: {', '.join(names)}"
        raise UserError(f"unknown music encoding '{name}'{hint}") from None
