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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data import paths
from seqgan.data.vocab import BOS, EOS, PAD, TEXT_SPECIALS, Vocabulary
from seqgan.errors import UserError
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

    @property
    def never_output(self) -> tuple[int, ...]:
        """Ids the generator must not emit: ``<pad>`` and ``<bos>`` where they exist."""
        if self.vocab is None:
            return ()
        return tuple(i for i in (self.vocab.id(PAD), self.vocab.id(BOS)) if i is not None)

    def content(self, tokens: torch.Tensor) -> list[list[int]]:
        """Each row's ids before its first ``<eos>`` (rows unchanged without one): what
        BLEU and the music metrics compare."""
        rows = tokens.tolist()
        if self.eos_token is None:
            return rows
        return [row[:row.index(self.eos_token)] if self.eos_token in row else row
                for row in rows]

    def symbols(self, tokens: torch.Tensor) -> list[list[str]]:
        """``content`` as token strings (text and music tasks)."""
        if self.vocab is None:
            return [[str(i) for i in row] for row in self.content(tokens)]
        return [self.vocab.decode(row) for row in self.content(tokens)]

    def texts(self, tokens: torch.Tensor) -> list[str]:
        """Text tasks: each row as a line of text."""
        from seqgan.data.text import detokenize
        return [detokenize(row, self.tokenizer) for row in self.symbols(tokens)]


def shape_from_vocab(cfg: Config, vocab: Vocabulary, train=None, test=None,
                     notes: dict | None = None) -> Task:
    """A task of kind ``cfg.data.kind`` with this vocabulary; T from ``cfg.data.seq_len``."""
    empty = torch.empty(0, cfg.data.seq_len, dtype=torch.long)
    return Task(train if train is not None else empty, test if test is not None else empty,
                len(vocab), cfg.data.seq_len, vocab.id(BOS), vocab=vocab,
                eos_token=vocab.id(EOS), pad_token=vocab.id(PAD), kind=cfg.data.kind,
                tokenizer=cfg.data.tokenizer if cfg.data.kind == "text" else "",
                notes=notes or {})


def build_text_task(cfg: Config, root: Path) -> Task:
    from seqgan.data.text import auto_seq_len, build_text_corpus
    d = cfg.data
    train_path = paths.resolve(d.train_file, root)
    test_path = paths.resolve(d.test_file, root) if d.test_file else None
    seq_len = d.seq_len or auto_seq_len([p for p in (train_path, test_path) if p],
                                         d.tokenizer, d.token_pattern, tuple(d.drop_tokens),
                                         d.limit)
    corpus = build_text_corpus(train_path, test_path, seq_len=seq_len, tokenizer=d.tokenizer,
                               pattern=d.token_pattern, drop_tokens=tuple(d.drop_tokens),
                               min_freq=d.min_freq, long_lines=d.long_lines,
                               test_ratio=d.test_ratio, split_seed=d.split_seed, limit=d.limit)
    cfg.data.seq_len = seq_len  # recorded so the run folder describes itself
    return shape_from_vocab(cfg, corpus.vocab, corpus.train, corpus.test,
                            {"lines_dropped": corpus.dropped,
                             "lines_truncated": corpus.truncated})


def build_music_task(cfg: Config, root: Path) -> Task:
    from seqgan.music.corpus import build_music_corpus
    from seqgan.music.encodings import get_encoding
    d = cfg.data
    encoding = get_encoding(d.encoding)
    train_path = paths.resolve(d.train_file, root, folder_ok=True)
    test_path = paths.resolve(d.test_file, root, folder_ok=True) if d.test_file else None
    cfg.data.seq_len = d.seq_len or encoding.default_seq_len
    corpus = build_music_corpus(d.encoding, train_path, test_path, cfg.data.seq_len,
                                d.test_ratio, d.split_seed, d.min_count)
    if not corpus.train:
        raise UserError(f"{train_path}: no window of {cfg.data.seq_len} {d.encoding} symbols")
    if d.limit:
        corpus.train = corpus.train[:d.limit]
    vocab = Vocabulary([BOS, *corpus.symbols])

    def encode(windows: list[list[str]]) -> torch.Tensor:
        ids = [vocab.encode(w) for w in windows]
        return torch.tensor(ids, dtype=torch.long).view(-1, cfg.data.seq_len)
    notes = {"tunes_train": corpus.tunes_train, "tunes_test": corpus.tunes_test,
             "windows_train": len(corpus.train), "windows_test": len(corpus.test),
             "tunes_dropped": dict(corpus.dropped)}
    return shape_from_vocab(cfg, vocab, encode(corpus.train), encode(corpus.test), notes)


def build_task(cfg: Config, root: Path) -> Task:
    """The task of ``cfg`` (its data read or sampled); sizes learnt from the data are
    written back into ``cfg`` so the saved config describes the run."""
    if cfg.data.kind == "text":
        return build_text_task(cfg, root)
    if cfg.data.kind == "music":
        return build_music_task(cfg, root)
    from seqgan.data.synthetic import build_synthetic_task
    return build_synthetic_task(cfg, root)


def task_without_data(cfg: Config, vocab_path: Path) -> Task:
    """The shape of a finished run's task (no data read): for ``generate``."""
    if cfg.data.kind == "oracle":
        o = cfg.oracle
        empty = torch.empty(0, o.seq_len, dtype=torch.long)
        return Task(empty, empty, o.vocab_size, o.seq_len, o.start_token)
    vocab = Vocabulary.load(vocab_path)
    vocab.check_specials(TEXT_SPECIALS if cfg.data.kind == "text" else (BOS,), vocab_path)
    return shape_from_vocab(cfg, vocab)
