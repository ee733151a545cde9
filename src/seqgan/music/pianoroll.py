"""Piano-roll pictures of decoded sequences: one strip per MIDI object, stacked vertically,
time (seconds) on x, pitch on y (C of every octave labelled), one colour per instrument.

Drawn on a ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state, no display needed),
rendered in memory and written atomically (``storage.atomic``).
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from seqgan.errors import UserError
from seqgan.music.midi import pitch_name
from seqgan.storage.atomic import is_stdout, show_path, write_figure

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def plot_pianoroll(
    rolls: list[pretty_midi.PrettyMIDI], path: Path | str, titles: list[str] | None = None
) -> None:
    """Write a PNG at ``path`` with one piano-roll strip per item of ``rolls``, atomically
    (``"-"``: standard output)."""
    if not rolls:
        raise UserError(f"nothing to draw in {path}: no sequences given")
    if titles is not None and len(titles) != len(rolls):
        raise UserError(f"{len(titles)} titles for {len(rolls)} piano rolls ({path})")
    fig = Figure(figsize=(12, 0.6 + 2.4 * len(rolls)), dpi=100)
    axes = fig.subplots(len(rolls), 1, squeeze=False)[:, 0]
    end = max([pm.get_end_time() for pm in rolls] + [1e-9])
    for k, (ax, pm) in enumerate(zip(axes, rolls)):
        pitches = [n.pitch for inst in pm.instruments for n in inst.notes]
        handles = []
        for i, inst in enumerate(pm.instruments):
            if not inst.notes:
                continue
            colour = COLOURS[i % len(COLOURS)]
            ax.barh(
                [n.pitch for n in inst.notes],
                [n.end - n.start for n in inst.notes],
                left=[n.start for n in inst.notes],
                height=0.8,
                color=colour,
                edgecolor="black",
                linewidth=0.3,
            )
            handles.append(Patch(facecolor=colour, label=inst.name or f"instrument {i + 1}"))
        if pitches:
            low, high = min(pitches) - 2, max(pitches) + 2
        else:
            low, high = 58, 72
            ax.text(0.5, 0.5, "no notes", transform=ax.transAxes, ha="center", va="center")
        ax.set_ylim(low, high)
        ax.set_xlim(0, end)
        c_notes = [p for p in range(low, high + 1) if p % 12 == 0]
        ax.set_yticks(c_notes or [low])
        ax.set_yticklabels([pitch_name(p) for p in (c_notes or [low])])
        ax.grid(axis="y", linewidth=0.3, alpha=0.6)
        ax.set_ylabel("pitch")
        if titles is not None:
            ax.set_title(titles[k], fontsize=10, loc="left")
        if len(handles) > 1:
            ax.legend(handles=handles, loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    _save(fig, path)


def _save(fig: Figure, path: Path | str) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically (creating its folder; ``"-"``:
    standard output)."""
    if not is_stdout(path):
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(
                f"cannot write piano roll {show_path(path)}: {e.strerror or e}"
            ) from None
    write_figure(fig, path, format="png")
