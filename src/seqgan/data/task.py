"""The task a run trains on: training and held-out sequences plus what models need to know.

Three kinds (``data.kind``):

* ``oracle``: the synthetic experiment (``data.synthetic``): fixed length T, an oracle
  for NLL-oracle;
* ``text``: a UTF-8 corpus (``data.text``): variable length — a sequence is its tokens,
  ``<eos>``, then ``<pad>`` up to T; the generator's first input is ``<bos>``;
* ``music``: MIDI files in one of the encodings of ``seqgan.music``: fixed-length windows
  of the encoding's symbols (no ``<eos>``/``<pad>``); the first input is ``<bos>``.

Text and music tasks carry their ``Vocabulary``; the run folder keeps it as ``vocab.json``
so ``generate`` and ``evaluate`` decode with the ids the model was trained on.
``data.build`` makes a task from a config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data.vocab import BOS, EOS, PAD, Vocabulary
from seqgan.models.generator import Generator


@dataclass
class Task:
    train: torch.Tensor  # [n, T] token ids
    test: torch.Tensor  # [m, T] held-out sequences (m may be 0)
    vocab_size: int  # V
    seq_len: int  # T
    start_token: int  # the generator's first input
    oracle: Generator | None = None  # oracle tasks: G_oracle (frozen)
    vocab: Vocabulary | None = None  # text and music tasks
    eos_token: int | None = None  # variable length: the id that ends a sequence
    pad_token: int | None = None  # ... and the id that fills it up to T
    kind: str = "oracle"
    tokenizer: str = ""  # text tasks: how tokens join back into text (data.text.detokenize)
    notes: dict = field(default_factory=dict)  # counts worth reporting (dropped lines, ...)
    files: list[Path] = field(default_factory=list)  # the data files (or MIDI folders) read
    # where the data, the oracle and the models built for it live (``to``; runtime.device)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def to(self, device: torch.device) -> Task:
        """This task with its data and oracle moved to ``device`` once (built on the CPU,
        so the data are the same on every device); itself, changed."""
        self.device = torch.device(device)
        self.train, self.test = self.train.to(self.device), self.test.to(self.device)
        if self.oracle is not None:
            self.oracle = self.oracle.to(self.device)
        return self

    @property
    def never_output(self) -> tuple[int, ...]:
        """Ids the generator must not emit: ``<pad>`` and ``<bos>`` where they exist."""
        if self.vocab is None:
            return ()
        return tuple(i for i in (self.vocab.id(PAD), self.vocab.id(BOS)) if i is not None)

    def special_tokens(self) -> dict:
        """The keyword arguments every generator takes from the task: ``start_token``,
        ``eos_token``, ``pad_token``, ``never_output``."""
        return {
            "start_token": self.start_token,
            "eos_token": self.eos_token,
            "pad_token": self.pad_token,
            "never_output": self.never_output,
        }

    def content(self, tokens: torch.Tensor) -> list[list[int]]:
        """Each row's ids before its first ``<eos>`` (rows unchanged without one): what
        BLEU and the music metrics compare."""
        rows = tokens.tolist()
        if self.eos_token is None:
            return rows
        return [row[: row.index(self.eos_token)] if self.eos_token in row else row for row in rows]

    def symbols(self, tokens: torch.Tensor) -> list[list[str]]:
        """``content`` as token strings (text and music tasks)."""
        if self.vocab is None:
            return [[str(i) for i in row] for row in self.content(tokens)]
        return [self.vocab.decode(row) for row in self.content(tokens)]

    def texts(self, tokens: torch.Tensor) -> list[str]:
        """Text tasks: each row as a line of text."""
        from seqgan.data.text import detokenize

        return [detokenize(row, self.tokenizer) for row in self.symbols(tokens)]


def shape_from_vocab(
    cfg: Config, vocab: Vocabulary, train=None, test=None, notes: dict | None = None
) -> Task:
    """A task of kind ``cfg.data.kind`` with this vocabulary; T from ``cfg.data.seq_len``."""
    empty = torch.empty(0, cfg.data.seq_len, dtype=torch.long)
    return Task(
        train if train is not None else empty,
        test if test is not None else empty,
        len(vocab),
        cfg.data.seq_len,
        vocab.id(BOS),
        vocab=vocab,
        eos_token=vocab.id(EOS),
        pad_token=vocab.id(PAD),
        kind=cfg.data.kind,
        tokenizer=cfg.data.tokenizer if cfg.data.kind == "text" else "",
        notes=notes or {},
    )
