"""Quality–diversity curves over temperature: rows, report, figure
(experiments.quality_diversity)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from seqgan.cli import main
from seqgan.config import build_config
from seqgan.errors import UserError
from seqgan.experiments.quality_diversity import (
    Axes,
    find_runs,
    matched_comparison,
    parse_temperatures,
    quality_diversity,
)
from seqgan.training.session import open_session
from tests.conftest import TINY
from tests.test_own_data import write_corpus

TEMPERATURES = [0.7, 1.0, 1.5]


def _train(cfg, out, root):
    open_session(cfg, out, root).train()


@pytest.fixture(scope="module")
def oracle_comparison(tmp_path_factory):
    """A comparison-shaped folder: seed-3/mle and seed-3/seqgan of the tiny oracle task."""
    folder = tmp_path_factory.mktemp("qd")
    for algorithm in ("mle", "seqgan"):
        cfg = build_config(TINY, [f"algorithm='{algorithm}'", "run.tensorboard=false"])
        _train(cfg, folder / "seed-3" / algorithm, folder)
    return folder


def test_one_row_per_algorithm_and_temperature(oracle_comparison):
    report = quality_diversity(
        oracle_comparison, TEMPERATURES, oracle_comparison, out=oracle_comparison
    )
    with open(oracle_comparison / "quality_diversity.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((r["algorithm"], float(r["temperature"])) for r in rows) == sorted(
        (a, t) for a in ("mle", "seqgan") for t in TEMPERATURES
    )
    by = {(r["algorithm"], float(r["temperature"])): r for r in rows}
    for algorithm in ("mle", "seqgan"):
        # a colder sampler has lower NLL-oracle; NLL-test of the tempered model is
        # lowest near temperature 1 (the trained model)
        cold, one, hot = (float(by[(algorithm, t)]["nll_oracle"]) for t in TEMPERATURES)
        assert cold < one < hot
        assert float(by[(algorithm, 1.0)]["nll_test"]) < float(by[(algorithm, 1.5)]["nll_test"])
    assert "temperature=0.7" in by[("mle", 0.7)]["signatures"]
    assert report.startswith("# Quality–diversity at matched diversity")
    assert (oracle_comparison / "figures" / "quality_diversity.png").stat().st_size > 1000


def test_the_cli_sweeps_a_run_folder(oracle_comparison, capsys):
    run = oracle_comparison / "seed-3" / "mle"
    code = main(
        [
            "evaluate",
            "--run",
            str(run),
            "--temperatures",
            "0.8,1.2",
            "--samples",
            "64",
            "--out",
            str(run),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    with open(run / "quality_diversity.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["temperature"]) for r in rows] == [0.8, 1.2]
    assert all(r["samples"] == "64" for r in rows)
    assert "No comparison" in (run / "quality_diversity.md").read_text()


def test_text_curves_have_forward_and_backward_bleu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "c.txt", lines=80)
    text = {
        **TINY,
        "data": {"kind": "text", "train_file": "c.txt"},
        "discriminator": {**TINY["discriminator"], "filter_sizes": [1, 2], "num_filters": [4, 4]},
    }
    for algorithm in ("mle", "seqgan"):
        cfg = build_config(text, [f"algorithm='{algorithm}'", "run.tensorboard=false"])
        _train(cfg, tmp_path / "cmp" / "seed-3" / algorithm, tmp_path)
    report = quality_diversity(tmp_path / "cmp", [0.8, 1.2], tmp_path, out=tmp_path / "cmp")
    with open(tmp_path / "cmp" / "quality_diversity.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    for row in rows:
        f, b, h = (float(row[k]) for k in ("fwd_bleu4", "bwd_bleu4", "hm_bleu4"))
        assert 0 <= f <= 1 and 0 <= b <= 1 and h == pytest.approx(2 * f * b / (f + b), 1e-5)
        assert 0 <= float(row["self_bleu4"]) <= 1
    assert "self_bleu4" in report
    assert "fwd_bleu4=fwd_bleu4|" in rows[0]["signatures"]
    assert "tok=word|temperature=0.8" in rows[0]["signatures"].split("fwd_bleu4=")[1]


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="at least two"):
        parse_temperatures("1.0")
    with pytest.raises(UserError, match="temperature"):
        parse_temperatures("0,1")
    with pytest.raises(UserError, match="not a list of numbers"):
        parse_temperatures("a,b")
    with pytest.raises(UserError, match="holds no finished run"):
        find_runs(tmp_path)


def test_oracle_curves_are_compared_on_their_trade_off_branch():
    """Hand-made oracle curves: NLL-test is lowest at temperature 1 for both; the points
    above it (both axes worse) are left out, and the advantage at matched NLL-test is
    the interpolated difference of NLL-oracle (lower is better)."""
    rng = np.random.default_rng(0)
    curves = {
        "mle": {0.6: (3.30, 2.0), 0.8: (3.20, 2.5), 1.0: (3.10, 3.0), 1.2: (3.15, 3.5)},
        "seqgan": {0.6: (3.25, 2.2), 0.8: (3.15, 2.6), 1.0: (3.12, 3.2), 1.2: (3.20, 3.6)},
    }
    rows = [
        {
            "algorithm": label,
            "temperature": t,
            "nll_test": x,
            "_diversity": np.full(200, x),
            "_quality": y + rng.normal(0, 0.01, 200),
        }
        for label, points in curves.items()
        for t, (x, y) in points.items()
    ]
    matched = matched_comparison(rows, Axes("nll_oracle", "nll_test", False))
    xs = np.array([m["nll_test"] for m in matched])
    assert len(matched) == 9 and xs.min() == pytest.approx(3.12) and xs.max() == pytest.approx(3.25)

    def branch(label):  # temperatures up to 1.0, sorted by NLL-test
        points = sorted(curves[label][t] for t in (0.6, 0.8, 1.0))
        return [x for x, _ in points], [y for _, y in points]

    expected = np.interp(xs, *branch("mle")) - np.interp(xs, *branch("seqgan"))
    got = np.array([m["advantage"] for m in matched])
    assert np.allclose(got, expected, atol=0.01)
    assert all(m["low"] <= m["advantage"] <= m["high"] for m in matched)
    assert (
        matched_comparison(
            [r for r in rows if r["algorithm"] != "mle"], Axes("nll_oracle", "nll_test", False)
        )
        == []
    )
