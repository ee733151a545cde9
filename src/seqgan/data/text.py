"""Text corpora: a UTF-8 file, one sequence per line, as padded token ids ``[n, T]``.

Tokenisers (``data.tokenizer``):

* ``word``: split on whitespace;
* ``regex``: every match of ``data.token_pattern`` (default ``\\w+|[^\\w\\s]``: words and
  single punctuation marks, so ``"wheel."`` is ``wheel`` + ``.``);
* ``char``: every non-whitespace character (whitespace is dropped: meant for scripts
  written without word spaces, such as Chinese; decoded text is joined without spaces).

Tokens listed in ``data.drop_tokens`` are removed after tokenising (e.g. the quatrains'
punctuation).  Each sequence is its tokens, then ``<eos>``, then ``<pad>`` up to T
(``data.seq_len``), so at most T - 1 tokens fit; a longer line is dropped
(``data.long_lines = "drop"``) or cut to its first T - 1 tokens (``"truncate"``).
``data.seq_len = 0`` makes T the longest line + 1 (``auto_seq_len``), refused above
``MAX_AUTO_SEQ_LEN`` tokens (one stray long line would size every sequence).  Empty
lines are skipped; a UTF-8 byte-order mark at the start of a file is dropped.  The
vocabulary is built on the training lines only (``data.min_freq``); other tokens become
``<unk>``.  Without ``data.test_file`` the lines are split by
``data.test_ratio`` after a shuffle seeded by ``data.split_seed``.
"""

from __future__ import annotations

import codecs
import random
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from seqgan.data.vocab import BOS, EOS, PAD, Vocabulary
from seqgan.errors import UserError

TOKENIZERS = ("word", "regex", "char")
DEFAULT_PATTERN = r"\w+|[^\w\s]"
MAX_AUTO_SEQ_LEN = 2000  # the largest T derived from the longest line (data.seq_len = 0)


@dataclass
class TextCorpus:
    train: torch.Tensor  # [n, T] ids: tokens, <eos>, <pad>...
    test: torch.Tensor  # [m, T]
    vocab: Vocabulary
    dropped: int  # lines longer than T - 1 tokens left out (long_lines = "drop")
    truncated: int  # lines cut to T - 1 tokens (long_lines = "truncate")


def tokenize(line: str, tokenizer: str, pattern: str = DEFAULT_PATTERN) -> list[str]:
    """The tokens of ``line``; ``regex``: every non-empty match of ``pattern`` (which has
    no capturing group, see ``config``: with one, ``re.findall`` returns the groups)."""
    if tokenizer == "word":
        return line.split()
    if tokenizer == "regex":
        return [token for token in re.findall(pattern, line) if token]
    if tokenizer == "char":
        return [ch for ch in line if not ch.isspace()]
    raise ValueError(f"unknown tokenizer {tokenizer!r}")


def detokenize(tokens: list[str], tokenizer: str) -> str:
    return "".join(tokens) if tokenizer == "char" else " ".join(tokens)


def read_numbered_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number from 1, text)`` of each non-empty line of a UTF-8 file (a leading
    byte-order mark is dropped); one-line ``UserError``s otherwise."""
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, expected a text file") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    data = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path}:{line}: not UTF-8 text (byte {exc.start + len(raw) - len(data)})"
        ) from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise UserError(f"{path} holds no text (every line is empty)")
    return lines


def read_lines(path: Path) -> list[str]:
    """The non-empty lines of a UTF-8 file (``read_numbered_lines`` without numbers)."""
    return [line for _, line in read_numbered_lines(path)]


def auto_seq_len(
    paths: list[Path],
    tokenizer: str,
    pattern: str = DEFAULT_PATTERN,
    drop_tokens: tuple[str, ...] = (),
    limit: int = 0,
) -> int:
    """T for ``data.seq_len = 0``: the most tokens on one line (of the first ``limit``
    lines of each file, 0 = all) + 1 for ``<eos>``.  A line of more than
    ``MAX_AUTO_SEQ_LEN - 1`` tokens is a one-line ``UserError`` naming it and suggesting
    a T that keeps 99 % of the lines."""
    drop = set(drop_tokens)
    lengths, longest, where = [], 0, ""
    for path in paths:
        lines = read_numbered_lines(path)
        for number, line in lines[:limit] if limit else lines:
            lengths.append(sum(t not in drop for t in tokenize(line, tokenizer, pattern)))
            if lengths[-1] > longest:
                longest, where = lengths[-1], f"{path}:{number}"
    if longest + 1 <= MAX_AUTO_SEQ_LEN:
        return longest + 1
    typical = max(sorted(lengths)[int(0.99 * (len(lengths) - 1))], 1) + 1
    value, note = (
        (typical, "99 % of the lines fit")
        if typical <= MAX_AUTO_SEQ_LEN
        else (MAX_AUTO_SEQ_LEN, "the bound")
    )
    raise UserError(
        f"{where}: a line of {longest} tokens would make T = {longest + 1} "
        f"(data.seq_len = 0: the longest line + 1), above the bound "
        f"{MAX_AUTO_SEQ_LEN}; set T, e.g. --set data.seq_len={value} ({note}), "
        f"and --set data.long_lines=truncate to cut longer lines (default: "
        f"drop them)"
    )


def fit_lengths(
    sequences: list[list[str]], seq_len: int, policy: str, path: Path
) -> tuple[list[list[str]], int]:
    """Apply the long-line policy; returns the kept sequences and how many were changed."""
    limit = seq_len - 1  # room for <eos>
    if policy == "truncate":
        return [s[:limit] for s in sequences], sum(len(s) > limit for s in sequences)
    kept = [s for s in sequences if len(s) <= limit]
    if not kept:
        longest = max(len(s) for s in sequences)
        raise UserError(
            f"{path}: no line fits data.seq_len = {seq_len} ({limit} tokens + "
            f"<eos>; the shortest line has {min(len(s) for s in sequences)}, the "
            f"longest {longest}); raise data.seq_len or set data.long_lines = "
            f'"truncate"'
        )
    return kept, len(sequences) - len(kept)


def to_ids(sequences: list[list[str]], vocab: Vocabulary, seq_len: int) -> torch.Tensor:
    """``[n, T]``: ids of each sequence, ``<eos>``, then ``<pad>``."""
    eos, pad = vocab.id(EOS), vocab.id(PAD)
    out = torch.full((len(sequences), seq_len), pad, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids = vocab.encode(seq) + [eos]
        out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


def to_tokens(ids: torch.Tensor, vocab: Vocabulary) -> list[list[str]]:
    """Inverse of ``to_ids``: each row's tokens before its first ``<eos>`` (all if none)."""
    eos = vocab.id(EOS)
    out = []
    for row in ids.tolist():
        if eos in row:
            row = row[: row.index(eos)]
        out.append(vocab.decode(row))
    return out


def build_text_corpus(
    train_path: Path,
    test_path: Path | None,
    *,
    seq_len: int,
    tokenizer: str,
    pattern: str = DEFAULT_PATTERN,
    drop_tokens: tuple[str, ...] = (),
    min_freq: int = 1,
    long_lines: str = "drop",
    test_ratio: float = 0.1,
    split_seed: int = 0,
    limit: int = 0,
) -> TextCorpus:
    """Read, tokenise, split, build the vocabulary (training lines) and encode."""
    drop = set(drop_tokens)

    def read(path: Path) -> list[list[str]]:
        lines = read_lines(path)
        lines = lines[:limit] if limit else lines
        sequences = [
            [t for t in tokenize(line, tokenizer, pattern) if t not in drop] for line in lines
        ]
        sequences = [s for s in sequences if s]
        if not sequences:
            raise UserError(f"{path} holds no tokens after tokenising ({tokenizer})")
        return sequences

    train = read(train_path)
    if test_path is not None:
        test = read(test_path)
    else:
        order = list(range(len(train)))
        random.Random(split_seed).shuffle(order)
        cut = round(len(train) * test_ratio)
        test, train = [train[i] for i in order[:cut]], [train[i] for i in order[cut:]]
        if not train:
            raise UserError(
                f"{train_path}: data.test_ratio = {test_ratio} leaves no training lines"
            )
    train, changed = fit_lengths(train, seq_len, long_lines, train_path)
    if test:
        test, _ = fit_lengths(test, seq_len, long_lines, test_path or train_path)
    vocab = Vocabulary.build(train, min_freq=min_freq)
    if len(vocab) == 4:
        raise UserError(f"{train_path}: no token occurs data.min_freq = {min_freq} times")
    dropped = changed if long_lines == "drop" else 0
    truncated = changed if long_lines == "truncate" else 0
    return TextCorpus(
        to_ids(train, vocab, seq_len), to_ids(test, vocab, seq_len), vocab, dropped, truncated
    )


def inspect_text(path: Path, tokenizer: str, pattern: str = DEFAULT_PATTERN) -> str:
    """A report on a text file: lines, tokens, vocabulary size, line lengths (in tokens,
    before ``<eos>``) and the most common tokens."""
    from collections import Counter

    import numpy as np

    sequences = [tokenize(line, tokenizer, pattern) for line in read_lines(path)]
    lengths = np.array([len(s) for s in sequences])
    counts = Counter(t for s in sequences for t in s)
    quantiles = np.percentile(lengths, [50, 90, 99]).round(1)
    common = ", ".join(f"{t!r} {c}" for t, c in counts.most_common(10))
    return "\n".join(
        [
            f"{path}: {len(sequences)} non-empty lines, {int(lengths.sum())} tokens ({tokenizer})",
            f"vocabulary: {len(counts)} distinct tokens; seen once: "
            f"{sum(c == 1 for c in counts.values())}",
            f"tokens per line: min {lengths.min()}, mean {lengths.mean():.1f}, median "
            f"{quantiles[0]}, 90% {quantiles[1]}, 99% {quantiles[2]}, max {lengths.max()} "
            f"(data.seq_len = {lengths.max() + 1} keeps every line with its <eos>)",
            f"most common: {common}",
            *_min_freq_hint(counts),
        ]
    )


def _min_freq_hint(counts) -> list[str]:
    """A line suggesting ``data.min_freq`` when most of the vocabulary is seen once: what
    2 and 3 would keep, and the share of tokens that would become ``<unk>``."""
    once = sum(c == 1 for c in counts.values())
    if not counts or once * 2 <= len(counts):
        return []
    total = sum(counts.values())
    options = []
    for min_freq in (2, 3):
        kept = sum(c >= min_freq for c in counts.values())
        unknown = sum(c for c in counts.values() if c < min_freq)
        options.append(
            f"data.min_freq = {min_freq} keeps {kept} ({100 * unknown / total:.1f} "
            f"% of the tokens become <unk>)"
        )
    return [
        f"hint: {once} of the {len(counts)} distinct tokens "
        f"({100 * once / len(counts):.0f} %) are seen once; every one costs a row of "
        f"the output layer and softmax in every step: {'; '.join(options)}"
    ]


__all__ = [
    "BOS",
    "MAX_AUTO_SEQ_LEN",
    "TextCorpus",
    "auto_seq_len",
    "build_text_corpus",
    "detokenize",
    "to_tokens",
    "tokenize",
]
