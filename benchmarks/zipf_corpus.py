"""A stand-in for a user's own text corpus: ``--lines`` lines of words drawn from a Zipf
law, written to ``--out`` (UTF-8, one line a sequence), for timing claims about "a
10k-line corpus with a 14k vocabulary" (README, docs/performance.md) where no such public
corpus is at hand.

Words are made-up syllable strings (``ka``, ``melo``, ...); the word of rank r is drawn
with probability proportional to r^-``--exponent`` over ``--types`` ranks; line lengths
are uniform in [``--min-len``, ``--max-len``] (so ``seqgan train --preset text`` sets
T = max-len + 1 with ``<eos>``).  The defaults give 10,000 lines, T = 31 and 14,848
distinct words (printed; V = 14,595 with the specials in the 90 % that ``--preset text``
trains on).  Deterministic for a ``--seed``.

Run: python benchmarks/zipf_corpus.py --out zipf.txt
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]  # 70 syllables


def words(count: int) -> list[str]:
    """``count`` distinct made-up words, shortest first (1, 2, then 3 syllables)."""
    out: list[str] = []
    for size in itertools.count(1):
        for parts in itertools.product(SYLLABLES, repeat=size):
            out.append("".join(parts))
            if len(out) == count:
                return out
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--types", type=int, default=16_000, help="Zipf ranks (word types)")
    parser.add_argument("--exponent", type=float, default=1.0)
    parser.add_argument("--min-len", type=int, default=20)
    parser.add_argument("--max-len", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    lexicon = words(args.types)
    p = 1.0 / np.arange(1, args.types + 1) ** args.exponent
    p /= p.sum()
    lengths = rng.integers(args.min_len, args.max_len + 1, size=args.lines)
    ranks = rng.choice(args.types, size=int(lengths.sum()), p=p)
    seen, start = set(), 0
    with open(args.out, "w", encoding="utf-8") as handle:
        for length in lengths:
            line = ranks[start : start + length]
            start += length
            seen.update(line.tolist())
            handle.write(" ".join(lexicon[r] for r in line) + "\n")
    print(
        f"{args.out}: {args.lines} lines, {int(lengths.sum())} tokens, {len(seen)} distinct "
        f"words, lengths {args.min_len}..{args.max_len}"
    )


if __name__ == "__main__":
    main()
