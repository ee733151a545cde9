"""BLEU-4 of 1,000 hypotheses against 10,000 references: seqgan.metrics.bleu vs nltk, for
both zero-order rules (``current`` = nltk >= 3.3; ``nltk-3.2`` = nltk 3.2.1-3.2.5).

nltk is today's nltk: its default ``sentence_bleu`` for the current rule, and the same
with ``smoothing_function=nltk32_smoothing`` (stop at the first order without a match) for
the nltk-3.2 rule.  Both compute the same numbers as ours (checked here on the timed
subset, and in tests/test_bleu.py to 1e-9).  nltk re-counts every reference for every
hypothesis, so it is timed on a subset of hypotheses (``--nltk-subset``, default 20) and
scaled linearly to all of them — stated as such in the output.  Ours is timed on all,
including building the reference tables.  Data: synthetic sequences of length 20 over
5,000 token ids drawn (seeded) from a seeded oracle (the SeqGAN synthetic setting).

``--nltk32-python PY``: also cross-check the nltk-3.2 rule (and method1) against the real
nltk 3.2.5, run by the interpreter PY in a subprocess, on uniform random sequences
(V = 50, T = 20, 300 references, 300 hypotheses plus 40 short or empty ones, BLEU-2..4).
nltk 3.2.5 does not import on Python >= 3.11 (``inspect.formatargspec``); e.g.
``python3.6 -m venv /tmp/nltk325 && /tmp/nltk325/bin/pip install nltk==3.2.5``.

Run: python benchmarks/bleu.py [--nltk-subset K] [--hyps N] [--refs M]
                               [--nltk32-python /tmp/nltk325/bin/python]
Needs nltk (pip install nltk; it is a test extra).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import time
import warnings

import numpy as np
import torch
from nltk.translate.bleu_score import sentence_bleu

from _common import machine
from seqgan.data.oracle import random_oracle
from seqgan.metrics.bleu import CURRENT, NLTK_32, BleuConvention, bleu, nltk32_smoothing

RULES = {"current": (CURRENT, None), "nltk-3.2": (NLTK_32, nltk32_smoothing)}

# Run by the nltk 3.2.5 interpreter: JSON {"refs", "hyps", "orders"} on stdin, JSON
# {"method0": {n: [...]}, "method1": {n: [...]}} on stdout.
_NLTK32_SCRIPT = """
import json, sys, warnings
import nltk
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
assert nltk.__version__ == "3.2.5", nltk.__version__
warnings.simplefilter("ignore")
data = json.load(sys.stdin)
out = {}
for name, fn in (("method0", None), ("method1", SmoothingFunction(epsilon=0.1).method1)):
    out[name] = {str(n): [sentence_bleu(data["refs"], h, (1.0 / n,) * n, smoothing_function=fn)
                          for h in data["hyps"]] for n in data["orders"]}
json.dump(out, sys.stdout)
"""


def time_rule(rule: str, hypotheses, references, subset: int) -> None:
    convention, smoothing = RULES[rule]
    start = time.perf_counter()
    ours = bleu(hypotheses, references, 4, convention)
    t_ours = time.perf_counter() - start

    timed = hypotheses[:subset]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns about every zero n-gram count
        start = time.perf_counter()
        theirs = [
            sentence_bleu(references, h, weights=(0.25,) * 4, smoothing_function=smoothing)
            for h in timed
        ]
        t_subset = time.perf_counter() - start
    t_nltk = t_subset * len(hypotheses) / len(timed)
    diff = float(np.max(np.abs(ours[: len(timed)] - np.array(theirs))))
    print(f"[rule={rule}]")
    print(f"  seqgan.metrics.bleu  {t_ours:9.2f} s  (all {len(hypotheses)}, tables included)")
    print(
        f"  nltk sentence_bleu   {t_nltk:9.2f} s  (measured {t_subset:.2f} s on "
        f"{len(timed)} hypotheses, scaled x{len(hypotheses) / len(timed):.0f})"
    )
    print(f"  max |difference| on the subset: {diff:.1e}; mean BLEU-4 {ours.mean():.4f}")
    print(f"  speedup: {t_nltk / t_ours:.1f}")


def cross_check_nltk325(python: str, seed: int = 0) -> None:
    """Max |ours - nltk 3.2.5| for the nltk-3.2 rule (method0) and method1, BLEU-2..4."""
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, 50, (300, 20)).tolist()
    hyps = rng.integers(0, 50, (300, 20)).tolist()
    hyps += [rng.integers(0, 50, length).tolist() for length in rng.integers(0, 6, 40)]
    orders = [2, 3, 4]
    run = subprocess.run(
        [python, "-c", _NLTK32_SCRIPT],
        capture_output=True,
        text=True,
        input=json.dumps({"refs": refs, "hyps": hyps, "orders": orders}),
    )
    if run.returncode:
        raise SystemExit(f"nltk 3.2.5 check failed ({python}):\n{run.stderr}")
    theirs = json.loads(run.stdout)
    print(
        f"[cross-check against nltk 3.2.5 ({python}): V = 50, T = 20, 300 references, "
        f"{len(hyps)} hypotheses incl. 40 of length 0-5]"
    )
    conventions = {
        "method0": NLTK_32,
        "method1": BleuConvention(rule="nltk-3.2", smoothing="method1"),
    }
    for name, convention in conventions.items():
        today = dataclasses.replace(convention, rule="current")
        for n in orders:
            ours = bleu(hyps, refs, n, convention)
            diff = float(np.max(np.abs(ours - np.array(theirs[name][str(n)]))))
            print(
                f"  {name} BLEU-{n}: max |ours - nltk 3.2.5| = {diff:.1e}; mean "
                f"{ours.mean():.4f} (rule=current: {bleu(hyps, refs, n, today).mean():.4f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hyps", type=int, default=1000)
    parser.add_argument("--refs", type=int, default=10000)
    parser.add_argument("--nltk-subset", type=int, default=20)
    parser.add_argument("--nltk32-python", help="interpreter with nltk 3.2.5 installed")
    args = parser.parse_args()
    oracle, rng = random_oracle(3, vocab_size=5000), torch.Generator().manual_seed(0)
    references = oracle.sample(args.refs, generator=rng).tolist()
    hypotheses = oracle.sample(args.hyps, generator=rng).tolist()

    print(f"machine: {machine()}")
    print(f"BLEU-4, {args.hyps} hypotheses x {args.refs} references (T = 20, V = 5000)")
    for rule in RULES:
        time_rule(rule, hypotheses, references, args.nltk_subset)
    if args.nltk32_python:
        cross_check_nltk325(args.nltk32_python)


if __name__ == "__main__":
    main()
