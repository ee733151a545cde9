"""Sequences another system generated, read as a run's data are read, so that
``seqgan evaluate --samples-file FILE --run RUN`` scores them with the run's metrics and
conventions.

* text runs: one sequence a line, tokenised with the run's ``data.tokenizer`` (and
  pattern, dropped tokens); a token outside the run's vocabulary becomes ``<unk>`` (as in
  the run's own held-out data) and is counted; a line longer than T - 1 tokens is cut to
  T - 1 (room for ``<eos>``) and counted; empty lines are skipped;
* oracle and music runs: token ids, one sequence of T ids a line (what ``seqgan generate
  --format ids`` writes; ``data.tokens.read_token_file``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data.task import Task
from seqgan.data.text import read_lines, to_ids, tokenize
from seqgan.data.tokens import read_token_file
from seqgan.data.vocab import UNK
from seqgan.errors import UserError


@dataclass
class SamplesFile:
    ids: torch.Tensor  # [n, T] as the run's samples: tokens, <eos>, <pad>... (text)
    tokens: int  # tokens read (text: before cutting)
    unknown: int  # tokens outside the run's vocabulary, now <unk>
    cut: int  # lines cut to T - 1 tokens

    def note(self, path: Path) -> str:
        """One line saying what was read and what was changed."""
        text = f"{path}: {len(self.ids)} sequences, {self.tokens} tokens"
        if self.unknown:
            text += (
                f", {self.unknown} ({100 * self.unknown / max(self.tokens, 1):.1f} %) not "
                f"in the run's vocabulary, scored as {UNK}"
            )
        if self.cut:
            text += f", {self.cut} lines cut to T - 1 = {self.ids.shape[1] - 1} tokens"
        return text


def read_samples_file(path: Path, cfg: Config, task: Task) -> SamplesFile:
    """The sequences of ``path`` as ``[n, T]`` ids of ``task`` (see the module docstring);
    one-line ``UserError``s for an unreadable or empty file and ids out of range."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--samples-file {path}: no such file")
    if task.kind != "text":
        ids = read_token_file(path, task.seq_len, task.vocab_size)
        return SamplesFile(ids, ids.numel(), 0, 0)
    d = cfg.data
    drop = set(d.drop_tokens)
    sequences = [
        [t for t in tokenize(line, d.tokenizer, d.token_pattern) if t not in drop]
        for line in read_lines(path)
    ]
    sequences = [s for s in sequences if s]
    if not sequences:
        raise UserError(f"{path} holds no tokens after tokenising ({d.tokenizer})")
    limit = task.seq_len - 1
    tokens = sum(len(s) for s in sequences)
    unknown = sum(task.vocab.id(t) is None for s in sequences for t in s)
    cut = sum(len(s) > limit for s in sequences)
    ids = to_ids([s[:limit] for s in sequences], task.vocab, task.seq_len)
    return SamplesFile(ids, tokens, unknown, cut)
