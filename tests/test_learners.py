"""Notebooks and learners: tab completion of the API, the tutorial notebook runs."""

from __future__ import annotations

import subprocess
import sys


def test_dir_lists_the_api_without_importing_it():
    """``dir()`` is what tab completion shows: the API and the lazily imported parts are
    listed before any of them is used, and listing them imports nothing heavy."""
    code = ("import sys, seqgan, seqgan.models, seqgan.metrics, seqgan.rl\n"
            "print(' '.join(dir(seqgan)))\n"
            "print(' '.join(dir(seqgan.models)))\n"
            "print(' '.join(dir(seqgan.rl)))\n"
            "print(' '.join(dir(seqgan.metrics)))\n"
            "print(sorted(m for m in ('torch', 'numpy', 'scipy', 'matplotlib') "
            "if m in sys.modules))")
    top, models, rl, metrics, heavy = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        check=True).stdout.splitlines()
    assert {"Run", "Samples", "Comparison", "train", "compare", "__version__", "models",
            "rl", "metrics"} <= set(top.split())
    assert {"Generator", "Discriminator", "LatentGenerator", "Encoder"} <= set(models.split())
    assert {"Sampling", "mc_search_q", "DiscriminatorReward",
            "policy_gradient_loss"} <= set(rl.split())
    assert {"Evaluator", "sequence_nll", "welch_t_test"} <= set(metrics.split())
    assert heavy == "[]"


def test_every_name_dir_lists_can_be_used():
    """No name in ``dir()`` fails on access (what tab completion would then evaluate)."""
    code = ("import seqgan\n"
            "for name in dir(seqgan):\n"
            "    getattr(seqgan, name)\n"
            "for part in (seqgan.models, seqgan.rl, seqgan.metrics):\n"
            "    for name in dir(part):\n"
            "        getattr(part, name)\n"
            "print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "ok"
