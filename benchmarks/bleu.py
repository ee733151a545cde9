"""BLEU-4 of 1,000 hypotheses against 10,000 references: seqgan.metrics.bleu vs nltk.

Both compute the same numbers (checked here on the timed subset, and in tests/test_bleu.py
to 1e-9). nltk's ``sentence_bleu`` re-counts every reference for every hypothesis, so it
is timed on a subset of hypotheses (``--nltk-subset``, default 20) and scaled linearly to
1,000 — stated as such in the output. Ours is timed on all 1,000, including building the
reference tables. Data: synthetic sequences of length 20 over 5,000 token ids drawn
from a seeded oracle (the SeqGAN synthetic setting), or any token-id files given.

Run: python benchmarks/bleu.py [--nltk-subset K] [--hyps N] [--refs M]
Needs nltk (pip install nltk; it is a test extra).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import warnings

from nltk.translate.bleu_score import sentence_bleu

from _common import machine
from seqgan.data.oracle import random_oracle
from seqgan.metrics.bleu import bleu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hyps", type=int, default=1000)
    parser.add_argument("--refs", type=int, default=10000)
    parser.add_argument("--nltk-subset", type=int, default=20)
    args = parser.parse_args()
    oracle = random_oracle(3, vocab_size=5000)
    references = oracle.sample(args.refs).tolist()
    hypotheses = oracle.sample(args.hyps).tolist()

    start = time.perf_counter()
    ours = bleu(hypotheses, references, n=4)
    t_ours = time.perf_counter() - start

    subset = hypotheses[: args.nltk_subset]
    warnings.simplefilter("ignore")  # nltk warns about every zero n-gram count
    start = time.perf_counter()
    theirs = [sentence_bleu(references, h, weights=(0.25,) * 4) for h in subset]
    t_nltk_subset = time.perf_counter() - start
    t_nltk = t_nltk_subset * args.hyps / len(subset)

    diff = float(np.max(np.abs(ours[: len(subset)] - np.array(theirs))))
    print(f"machine: {machine()}")
    print(f"BLEU-4, {args.hyps} hypotheses x {args.refs} references (T = 20, V = 5000)")
    print(f"seqgan.metrics.bleu  {t_ours:9.2f} s  (all {args.hyps}, tables included)")
    print(f"nltk sentence_bleu   {t_nltk:9.2f} s  (measured {t_nltk_subset:.2f} s on "
          f"{len(subset)} hypotheses, scaled x{args.hyps / len(subset):.0f})")
    print(f"max |difference| on the subset: {diff:.1e}; mean BLEU-4 {ours.mean():.4f}")
    print(f"speedup: {t_nltk / t_ours:.1f}")


if __name__ == "__main__":
    main()
