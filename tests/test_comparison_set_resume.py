"""MaliGAN, RankGAN, LeakGAN and RelGAN killed (SIGKILL) in their adversarial phase and resumed
end bit-identical to an uninterrupted run (the method of ``test_resume.py``)."""

from __future__ import annotations

import copy
import signal

import pytest
import tomli_w

from tests.helpers import run_here
from tests.test_resume import (
    RESUME_CONFIG,
    _assert_identical,
    _finish,
    _train,
    _wait_for_row,
)

VARIANTS = {
    # both variance reductions on: the roll-out copy and the data schedule are resumed too
    "maligan": {
        "maligan": {
            "estimator": "mc_search",
            "mixed_mle": True,
            "data_tokens_step": 3,
            "completions": 4,
        }
    },
    "rankgan": {"rankgan": {"reference_size": 8, "comparison_size": 32}},
    "leakgan": {"leakgan": {"step": 3, "num_rollouts": 2, "mle_every": 2}},
    # a memory of 2 x 16 (the tiny run's adversarial epochs last long enough to be killed in)
    "relgan": {"relgan": {"head_size": 16, "num_representations": 4}},
}


@pytest.mark.parametrize("algorithm", sorted(VARIANTS))
def test_sigkill_in_the_adversarial_phase_then_resume_is_bit_identical(tmp_path, capsys, algorithm):
    config = copy.deepcopy(RESUME_CONFIG)
    config["algorithm"] = algorithm
    config["pretrain"].update(generator_epochs=2, discriminator_rounds=2)  # the kill is later
    config.update(copy.deepcopy(VARIANTS[algorithm]))
    path = tmp_path / "resume.toml"
    path.write_text(tomli_w.dumps(config))
    reference = tmp_path / "reference"
    code, err = run_here(["train", "--config", str(path), "--out", str(reference)], capsys)
    assert code == 0, err
    run = tmp_path / "run"
    proc = _train(path, run)
    _wait_for_row(proc, run, "adversarial", 3)
    proc.send_signal(signal.SIGKILL)
    code, _, _ = _finish(proc)
    assert code == -signal.SIGKILL
    assert not (run / "summary.json").exists()
    code, err = run_here(["train", "--resume", str(run)], capsys)
    assert code == 0, err
    assert "resuming from" in err
    _assert_identical(run, reference)
