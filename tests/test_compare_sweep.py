"""``seqgan compare --sweep``: one run per value of a knob of an algorithm's own section,
sharing one pre-training per seed (end to end, with ``evaluate --temperatures`` joining
the runs into one curve: ``test_comparison_set.py``)."""

from __future__ import annotations

import pytest
import tomli_w

from seqgan.cli import main
from seqgan.config import build_config
from seqgan.experiments.compare import parse_sweep, plan
from tests.conftest import TINY
from tests.helpers import error_line

RELGAN = {"head_size": 4, "num_representations": 4}


def test_a_sweep_plans_one_run_per_value_on_one_own_pretraining(tmp_path):
    cfg = build_config({**TINY, "relgan": RELGAN})
    sweep = parse_sweep("relgan.beta_max=1,1e3", ["mle", "relgan"])
    jobs = plan(cfg, ["mle", "relgan"], [], 2, tmp_path, 1, sweep)
    names = sorted({j.name for j in jobs})
    runs = ["relgan-beta_max-1", "relgan-beta_max-1e3"]
    assert names == ["mle", "pretrain", "pretrain-relgan", *runs]
    for job in jobs:
        if job.name.startswith("relgan-"):
            assert job.needs.name == "pretrain-relgan" and job.needs.seed == job.seed
            assert job.config.section("relgan").beta_max == float(job.name.rsplit("-", 1)[1])
            assert job.config.pretrain.generator_from == str(job.needs.run)
        if job.name == "pretrain-relgan":
            assert job.config.algorithm == "relgan" and job.config.adversarial.epochs == 0
    # without a sweep RelGAN keeps its own pre-training, as before
    plain = plan(cfg, ["mle", "relgan"], [], 1, tmp_path, 1)
    assert sorted(j.name for j in plain) == ["mle", "pretrain", "relgan"]
    assert next(j for j in plain if j.name == "relgan").needs is None


@pytest.mark.parametrize(
    "text, words",
    [
        ("beta_max=1,10", ["SECTION.KNOB=V1,V2"]),
        ("generator.lr=0.1,0.2", ["[generator] is not the own section", "relgan"]),
        ("maligan.baseline=true,false", ["[maligan] is not the own section"]),
        ("relgan.beta_max=10", ["at least two different values"]),
        ("relgan.beta_max=10,10", ["at least two different values"]),
        ("relgan.beta_max=1,ten", ["relgan.beta_max", "ten"]),
        ("relgan.beta_max=1,0.5", ["relgan.beta_max"]),
        ("relgan.no_such=1,2", ["no_such"]),
        ("relgan.loss=rsgan,a/b", ["cannot name a run folder"]),
    ],
)
def test_a_wrong_sweep_is_one_line(tmp_path, capsys, text, words):
    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps(TINY))
    args = ["compare", "--config", str(config), "--out", str(tmp_path / "cmp")]
    assert main([*args, "--algorithms", "mle,relgan", "--sweep", text]) == 2
    error_line(capsys.readouterr().err, "--sweep", *words)
    assert not (tmp_path / "cmp").exists()


def test_the_api_takes_a_sweep_in_its_own_terms(tmp_path):
    import seqgan
    from seqgan.errors import UserError

    for sweep, words in ((5, "sweep= must be a text"), ("relgan.beta_max=1", "sweep= needs")):
        with pytest.raises(UserError, match=words):
            seqgan.compare(TINY, tmp_path / "cmp", algorithms="mle,relgan", sweep=sweep)
    assert not (tmp_path / "cmp").exists()
