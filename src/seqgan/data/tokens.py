"""Token-id files: one sequence of space-separated integer ids per line."""

from __future__ import annotations

from pathlib import Path

import torch

from seqgan.errors import UserError


def read_token_file(path: Path, seq_len: int, vocab_size: int) -> torch.Tensor:
    """Read ``[n, seq_len]`` ids from ``path``; every line must hold ``seq_len`` ids < V."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ids = [int(tok) for tok in line.split()]
        except ValueError:
            raise UserError(f"{path}:{number}: not a line of integer token ids") from None
        if len(ids) != seq_len:
            raise UserError(f"{path}:{number}: {len(ids)} tokens, expected {seq_len}")
        if min(ids) < 0 or max(ids) >= vocab_size:
            raise UserError(f"{path}:{number}: token id outside [0, {vocab_size - 1}]")
        rows.append(ids)
    if not rows:
        raise UserError(f"{path} holds no sequences")
    return torch.tensor(rows, dtype=torch.long)
