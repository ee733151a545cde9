"""``seqgan compare``: the paper's Table 1 / Figures 2-3 from several runs, continuable."""

from __future__ import annotations

import signal

import pytest
import tomli_w
import tomllib
import torch

from seqgan.cli import main
from tests.conftest import TINY
from tests.helpers import read_csv, run_here
from tests.test_resume import RESUME_CONFIG, _finish, _start, _wait_for_row


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    config = root / "tiny.toml"
    config.write_text(tomli_w.dumps({**TINY, "eval": {**TINY["eval"], "diagnostics": True}}))
    out = root / "cmp"
    args = [
        "compare",
        "--config",
        str(config),
        "--out",
        str(out),
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--algorithms",
        "random,mle,seqgan,merl",
        "--strategies",
        "2,1,1",
    ]
    assert main(args) == 0
    return out, args


def test_compare_writes_table_figures_and_shares_pretraining(compared):
    out, _ = compared
    rows = read_csv(out / "table.csv")
    assert [r["label"] for r in rows] == ["random", "mle", "seqgan", "merl"]
    for row in rows:
        assert float(row["nll_oracle"]) > 0 and float(row["nll_test"]) > 0
        assert row["seeds"] == "2" and row["samples_per_seed"] == "128"
        if row["label"] != "seqgan":
            assert 0 <= float(row["p_value_vs_seqgan"]) <= 1
    table = (out / "table.md").read_text()
    assert "| random |" in table and "H(p_gen)" in table and "p_d" in table
    assert float(rows[-1]["entropy"]) > 0 and 0 <= float(rows[-1]["eval_reward_mean"]) <= 1
    merl = (out / "seed-3" / "merl" / "config.toml").read_text()
    assert 'estimator = "merl"' in merl and 'algorithm = "seqgan"' in merl
    assert (out / "figures" / "nll_oracle.png").stat().st_size > 10_000
    assert (out / "figures" / "strategies.png").stat().st_size > 10_000
    for seed in (3, 4):
        shared = torch.load(
            out / f"seed-{seed}" / "pretrain" / "checkpoints" / "end-pretrain_generator.pt",
            weights_only=True,
        )
        pretrain_rows = read_csv(out / f"seed-{seed}" / "pretrain" / "metrics.csv")
        for name in ("mle", "seqgan", "merl", "seqgan-g2-d1-k1"):
            run_rows = read_csv(out / f"seed-{seed}" / name / "metrics.csv")
            assert run_rows[: len(pretrain_rows)] == pretrain_rows  # the same pre-training
        assert shared["position"][:2] == [0, TINY["pretrain"]["generator_epochs"]]


def test_running_compare_again_reuses_finished_runs(compared, capsys):
    """... also in a folder written before a setting existed (here: without [vae])."""
    out, args = compared
    marker = out / "compare.toml"
    settings = tomllib.loads(marker.read_text())
    del settings["config"]["vae"]
    marker.write_text(tomli_w.dumps(settings))
    before = {p: p.stat().st_mtime_ns for p in out.glob("seed-*/*/summary.json")}
    assert main(args) == 0
    assert "reusing 12 finished run(s)" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.glob("seed-*/*/summary.json")} == before


def test_compare_refuses_a_folder_of_another_comparison(compared, capsys):
    out, args = compared
    assert main([*args[:-2], "--seeds", "3"]) == 2
    assert "holds a different comparison" in capsys.readouterr().err


def test_sigterm_to_compare_checkpoints_and_rerun_continues_bit_identically(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(tomli_w.dumps(RESUME_CONFIG))
    reference, out = tmp_path / "ref", tmp_path / "cmp"
    args = ["compare", "--config", str(config), "--algorithms", "seqgan"]
    assert main([*args, "--out", str(reference)]) == 0  # in this process: no signal here
    proc = _start([*args, "--out", str(out)])
    _wait_for_row(proc, out / "seed-3" / "seqgan", "pretrain_discriminator", 2)
    proc.send_signal(signal.SIGTERM)
    code, _, err = _finish(proc)
    assert code == 143, err
    assert "the same command" in err.strip().splitlines()[-1]
    assert list((out / "seed-3" / "seqgan" / "checkpoints").glob("ckpt-*.pt"))
    assert not (out / "seed-3" / "seqgan" / "summary.json").exists()
    code, err = run_here([*args, "--out", str(out)], capsys)
    assert code == 0, err
    assert "reusing 1 finished run(s)" in err  # the shared pre-training
    for name in ("model.pt",):
        ours = torch.load(out / "seed-3" / "seqgan" / name, weights_only=True)
        theirs = torch.load(reference / "seed-3" / "seqgan" / name, weights_only=True)
        for key, tensor in ours["generator"].items():
            assert torch.equal(tensor, theirs["generator"][key]), key
    assert (out / "table.md").read_text() == (reference / "table.md").read_text()


def test_the_comparison_figure_shades_the_range_over_seeds():
    import matplotlib.pyplot as plt

    from seqgan.experiments.report import _mean_curve
    from seqgan.training.figures import _draw_curves

    class Run:  # the one method of RunFolder that _mean_curve reads
        def __init__(self, values):
            self.rows = [{"epoch": str(e), "nll_oracle": str(v)} for e, v in enumerate(values)]

        def read_metrics(self):
            return self.rows

    seeds = [Run([9.0, 8.6, 8.5]), Run([9.2, 8.8, 8.3]), Run([9.1, 8.7])]  # seed 3 stopped early
    curve = _mean_curve(seeds)
    assert [row["epoch"] for row in curve] == [0.0, 1.0]  # epochs every seed evaluated
    assert curve[1] == pytest.approx(
        {"epoch": 1.0, "nll_oracle": 8.7, "nll_oracle_min": 8.6, "nll_oracle_max": 8.8}
    )
    assert set(_mean_curve(seeds[:1])[0]) == {"epoch", "nll_oracle"}  # one seed: no band
    fig, ax = plt.subplots()
    _draw_curves(ax, {"seqgan": curve, "mle": _mean_curve(seeds[:1])}, None)
    bands = ax.collections
    assert len(bands) == 1  # only the curve with several seeds
    (path,) = bands[0].get_paths()
    ys = sorted({round(float(y), 6) for y in path.vertices[:, 1]})
    assert ys[0] == pytest.approx(8.6) and ys[-1] == pytest.approx(9.2)
    plt.close(fig)
