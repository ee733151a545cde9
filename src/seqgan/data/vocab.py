"""Vocabulary: token strings <-> integer ids, saved in the run folder as ``vocab.json``.

Text tasks use the specials ``<pad>`` (0), ``<bos>`` (1, the generator's first input),
``<eos>`` (2, ends a sequence; only ``<pad>`` follows) and ``<unk>`` (3, any token not in
the vocabulary); the corpus's tokens follow from id 4 in order of decreasing training
frequency (ties: first appearance).  Music tasks are fixed-length and use ``<bos>`` only
(id 0), followed by the encoding's symbols.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from seqgan.errors import UserError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
TEXT_SPECIALS = (PAD, BOS, EOS, UNK)


@dataclass
class Vocabulary:
    tokens: list[str]  # id -> token string

    def __post_init__(self):
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int | None:
        """The id of a special (or any) token, None if absent."""
        return self.index.get(token)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``; unknown ones become ``<unk>`` (KeyError without one)."""
        unk = self.index.get(UNK)
        if unk is None:
            return [self.index[t] for t in tokens]
        return [self.index.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    @classmethod
    def build(
        cls,
        sequences: Iterable[Sequence[str]],
        specials: Sequence[str] = TEXT_SPECIALS,
        min_freq: int = 1,
    ) -> Vocabulary:
        """Specials, then every token seen at least ``min_freq`` times, most frequent first."""
        counts = Counter(token for seq in sequences for token in seq)
        kept = [
            t
            for t, c in sorted(counts.items(), key=lambda item: -item[1])
            if c >= min_freq and t not in specials
        ]
        return cls(list(specials) + kept)

    def to_bytes(self) -> bytes:
        """JSON bytes of this vocabulary (the caller writes them atomically)."""
        return (json.dumps({"tokens": self.tokens}, ensure_ascii=False, indent=0) + "\n").encode()

    def check_specials(self, specials: Sequence[str], source: Path | str) -> None:
        """The first ids must be ``specials`` in order (the models' start, end and padding
        ids depend on them); a one-line ``UserError`` naming ``source`` otherwise."""
        found = self.tokens[: len(specials)]
        if found != list(specials):
            raise UserError(
                f"{source} does not start with the specials {' '.join(specials)} "
                f"(found {' '.join(found) or 'nothing'}): it was edited; restore "
                "it, or delete it and resume the run to re-make it from the data"
            )

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            tokens = data["tokens"]
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ValueError("'tokens' is not a list of strings")
            return cls(tokens)
        except FileNotFoundError:
            raise UserError(f"{path} not found (the run's vocabulary)") from None
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path} is not a readable vocabulary ({exc})") from None
