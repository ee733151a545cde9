"""The field's comparison set in one command: ``seqgan compare`` of MLE, MaliGAN, RankGAN,
LeakGAN and RelGAN over two beta_max (``--sweep``; shared MLE pre-training where it is the
same, RelGAN's own shared by its two runs), then ``evaluate --temperatures`` over every
generator of the comparison, RelGAN's runs joined into one curve over beta_max.  SeqGAN's
runs in a comparison: ``test_compare.py``."""

from __future__ import annotations

import copy

import pytest
import tomli_w

from seqgan.cli import main
from tests.conftest import TINY
from tests.helpers import read_csv


def test_compare_the_comparison_set_and_its_temperature_curves(tmp_path):
    config = copy.deepcopy(TINY)
    config["pretrain"].update(generator_epochs=2, discriminator_rounds=1)
    config["adversarial"]["epochs"] = 2
    config["leakgan"] = {"step": 3, "num_rollouts": 2}
    config["relgan"] = {"head_size": 4, "num_representations": 4}
    config["run"]["tensorboard"] = False
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(config))
    out = tmp_path / "cmp"
    names = ["mle", "maligan", "rankgan", "leakgan", "relgan"]
    args = ["compare", "--config", str(path), "--out", str(out), "--jobs", "2"]
    sweep = ["--algorithms", ",".join(names), "--sweep", "relgan.beta_max=1,100"]
    assert main([*args, *sweep]) == 0
    rows = read_csv(out / "table.csv")
    relgans = ["relgan-beta_max-1", "relgan-beta_max-100"]
    assert [r["label"] for r in rows] == [*names[:-1], *relgans]
    assert all(float(r["nll_oracle"]) > 0 and float(r["nll_test"]) > 0 for r in rows)
    for name in ("mle", "maligan", "rankgan"):  # one MLE pre-training, shared
        assert "took pretrain_generator" in (out / "logs" / f"seed-3-{name}.log").read_text()
    # LeakGAN pre-trains on its own (D first, then worker + manager)
    assert "took pretrain_generator" not in (out / "logs" / "seed-3-leakgan.log").read_text()
    # RelGAN's generator is a relational memory: its own pre-training, shared by the sweep
    shared = read_csv(out / "seed-3" / "pretrain-relgan" / "metrics.csv")
    for name in relgans:
        log = (out / "logs" / f"seed-3-{name}.log").read_text()
        source = out / "seed-3" / "pretrain-relgan"
        assert f"took pretrain_generator (2 epochs) from {source}" in log
        run_rows = read_csv(out / "seed-3" / name / "metrics.csv")
        # the same pre-training (the run's table adds the column beta)
        assert [{k: r[k] for k in shared[0]} for r in run_rows[: len(shared)]] == shared
        last = float([r for r in run_rows if r["phase"] == "adversarial"][-1]["beta"])
        assert last == pytest.approx(1.0 if name.endswith("-1") else 10.0)  # beta_max^(1/2)
    # the same command with another sweep is another comparison
    assert main([*args, "--algorithms", ",".join(names), "--sweep", "relgan.beta_max=1,10"]) == 2
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(out),
                "--temperatures",
                "0.7,1.0",
                "--samples",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    curves = read_csv(out / "quality_diversity.csv")
    assert sorted({r["algorithm"] for r in curves}) == sorted(names)
    # every algorithm over the two temperatures; RelGAN's runs at temperature 1 as one
    # curve over beta_max, its pre-training over the two temperatures
    swept = [r for r in curves if r["curve"] == "relgan over beta_max"]
    assert sorted(float(r["beta_max"]) for r in swept) == [1.0, 100.0]
    assert {float(r["temperature"]) for r in swept} == {1.0}
    pretrained = [r for r in curves if r["curve"] == "relgan MLE pre-trained"]
    assert sorted(float(r["temperature"]) for r in pretrained) == [0.7, 1.0]
    assert len(curves) == 2 * (len(names) - 1) + 2 + 2
    assert "relgan over beta_max" in (out / "quality_diversity.md").read_text()
