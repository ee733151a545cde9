"""The field's comparison set in one command: ``seqgan compare`` of MLE, SeqGAN, MaliGAN,
RankGAN, LeakGAN and RelGAN (shared MLE pre-training where it is the same), then
``evaluate --temperatures`` over every generator of the comparison."""

from __future__ import annotations

import copy

import tomli_w

from seqgan.cli import main
from tests.conftest import TINY
from tests.helpers import read_csv


def test_compare_the_comparison_set_and_its_temperature_curves(tmp_path):
    config = copy.deepcopy(TINY)
    config["pretrain"].update(generator_epochs=2, discriminator_rounds=1)
    config["adversarial"]["epochs"] = 1
    config["leakgan"] = {"step": 3, "num_rollouts": 2}
    config["relgan"] = {"head_size": 4, "num_representations": 4}
    config["run"]["tensorboard"] = False
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(config))
    out = tmp_path / "cmp"
    names = ["mle", "seqgan", "maligan", "rankgan", "leakgan", "relgan"]
    assert (
        main(
            [
                "compare",
                "--config",
                str(path),
                "--out",
                str(out),
                "--jobs",
                "2",
                "--algorithms",
                ",".join(names),
            ]
        )
        == 0
    )
    rows = read_csv(out / "table.csv")
    assert [r["label"] for r in rows] == names
    assert all(float(r["nll_oracle"]) > 0 and float(r["nll_test"]) > 0 for r in rows)
    for name in ("mle", "seqgan", "maligan", "rankgan"):  # one MLE pre-training, shared
        assert "took pretrain_generator" in (out / "logs" / f"seed-3-{name}.log").read_text()
    # LeakGAN pre-trains on its own (D first, then worker + manager), RelGAN too (its
    # generator is a relational memory)
    for name in ("leakgan", "relgan"):
        assert "took pretrain_generator" not in (out / "logs" / f"seed-3-{name}.log").read_text()
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
    assert len(curves) == 2 * len(names)
