"""Building a run's ``Task`` from its config: the data read (or sampled) and shaped.

``build_task`` dispatches on ``data.kind`` to the oracle (``data.synthetic``), text
(``data.text``) or music (``music.corpus``) builders; ``task_without_data`` gives a finished
run's task shape from its saved vocabulary, for ``generate``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from seqgan.config import Config
from seqgan.data import paths
from seqgan.data.synthetic import build_synthetic_task
from seqgan.data.task import Task, shape_from_vocab
from seqgan.data.vocab import BOS, TEXT_SPECIALS, Vocabulary
from seqgan.errors import UserError


def _locate(d, root: Path, folder_ok: bool) -> tuple[Path, Path | None]:
    """``data.train_file`` and ``data.test_file`` (if set) found (``paths.resolve``), and
    recorded in the config as found (``paths.recorded``)."""
    train_path = paths.resolve(d.train_file, root, folder_ok)
    d.train_file = paths.recorded(d.train_file, train_path)
    test_path = None
    if d.test_file:
        test_path = paths.resolve(d.test_file, root, folder_ok)
        d.test_file = paths.recorded(d.test_file, test_path)
    return train_path, test_path


def build_text_task(cfg: Config, root: Path) -> Task:
    from seqgan.data.text import auto_seq_len, build_text_corpus

    d = cfg.data
    train_path, test_path = _locate(d, root, folder_ok=False)
    seq_len = d.seq_len or auto_seq_len(
        [p for p in (train_path, test_path) if p],
        d.tokenizer,
        d.token_pattern,
        tuple(d.drop_tokens),
        d.limit,
    )
    corpus = build_text_corpus(
        train_path,
        test_path,
        seq_len=seq_len,
        tokenizer=d.tokenizer,
        pattern=d.token_pattern,
        drop_tokens=tuple(d.drop_tokens),
        min_freq=d.min_freq,
        long_lines=d.long_lines,
        test_ratio=d.test_ratio,
        split_seed=d.split_seed,
        limit=d.limit,
    )
    cfg.data.seq_len = seq_len  # recorded so the run folder describes itself
    task = shape_from_vocab(
        cfg,
        corpus.vocab,
        corpus.train,
        corpus.test,
        {"lines_dropped": corpus.dropped, "lines_truncated": corpus.truncated},
    )
    task.files = [p for p in (train_path, test_path) if p]
    return task


def build_music_task(cfg: Config, root: Path) -> Task:
    from seqgan.music.corpus import build_music_corpus
    from seqgan.music.encodings import get_encoding

    d = cfg.data
    encoding = get_encoding(d.encoding)
    train_path, test_path = _locate(d, root, folder_ok=True)
    cfg.data.seq_len = d.seq_len or encoding.default_seq_len
    corpus = build_music_corpus(
        d.encoding, train_path, test_path, cfg.data.seq_len, d.test_ratio, d.split_seed, d.min_count
    )
    if not corpus.train:
        raise UserError(f"{train_path}: no window of {cfg.data.seq_len} {d.encoding} symbols")
    if d.limit:
        corpus.train = corpus.train[: d.limit]
    vocab = Vocabulary([BOS, *corpus.symbols])

    def encode(windows: list[list[str]]) -> torch.Tensor:
        ids = [vocab.encode(w) for w in windows]
        return torch.tensor(ids, dtype=torch.long).view(-1, cfg.data.seq_len)

    notes = {
        "tunes_train": corpus.tunes_train,
        "tunes_test": corpus.tunes_test,
        "windows_train": len(corpus.train),
        "windows_test": len(corpus.test),
        "tunes_dropped": dict(corpus.dropped),
    }
    task = shape_from_vocab(cfg, vocab, encode(corpus.train), encode(corpus.test), notes)
    task.files = [p for p in (train_path, test_path) if p]
    return task


def build_task(cfg: Config, root: Path) -> Task:
    """The task of ``cfg`` (its data read or sampled); sizes learnt from the data are
    written back into ``cfg`` so the saved config describes the run."""
    if cfg.data.kind == "text":
        return build_text_task(cfg, root)
    if cfg.data.kind == "music":
        return build_music_task(cfg, root)
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
