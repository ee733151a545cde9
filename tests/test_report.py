"""The comparison report on any task: every logged metric, p-values over per-sequence values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from seqgan.experiments.report import build_table, main_metric, write_table
from seqgan.storage.folder import RunFolder


def _run(root, name, bleu2, mse=None, seq_len=21):
    run = RunFolder.create(root / name)
    run.config.write_text("")
    summary = {
        "samples": len(bleu2),
        "seq_len": seq_len,
        "bleu2": float(np.mean(bleu2)),
        "nll_test": 3.0,
    }
    run.write_array("bleu2_per_sequence", np.asarray(bleu2))
    if mse is not None:
        summary["mse"] = float(np.mean(mse))
        run.write_array("mse_per_sequence", np.asarray(mse))
    run.write_summary(summary)
    return run


def test_text_table_tests_bleu_against_seqgan(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.3, 0.6, 200), rng.uniform(0.4, 0.7, 200)
    ma, mb = rng.normal(20, 3, 200), rng.normal(21, 3, 200)
    groups = {"mle": [_run(tmp_path, "mle", a, ma)], "seqgan": [_run(tmp_path, "sg", b, mb)]}
    rows, metrics = build_table(groups)
    assert metrics == ["nll_test", "bleu2", "mse"] and main_metric(metrics) == "bleu2"
    expected = stats.ttest_ind(a, b, equal_var=False).pvalue
    assert math.isclose(rows[0]["p_value_vs_seqgan"], expected, rel_tol=1e-9)
    assert math.isclose(
        rows[0]["p_mse"], stats.ttest_ind(ma, mb, equal_var=False).pvalue, rel_tol=1e-9
    )
    assert math.isnan(rows[1]["p_bleu2"]) and math.isnan(rows[0]["p_nll_test"])
    text = write_table(rows, metrics, tmp_path)
    assert text.splitlines()[0] == "| metric | better | mle | seqgan (reference) |"
    assert f"| BLEU-2 | ↑ | {np.mean(a):.3f}, p = {rows[0]['p_bleu2']:.2e} | " in text
    assert f"| MSE | ↓ | {np.mean(ma):.3f}, p = {rows[0]['p_mse']:.3f} | " in text
    assert "| NLL-test | ↓ | 3.000 | 3.000 |" in text  # no per-sequence values: no p
    assert json.loads((tmp_path / "sg" / "summary.json").read_text())["bleu2"] > 0


def test_several_seeds_give_seed_level_p_values_beside_pooled_ones(tmp_path):
    """Three seeds per algorithm: mean ± std over seeds, the pooled per-sequence p and
    Welch's test of the three per-seed means (computed here by hand from the t formula)."""
    rng = np.random.default_rng(1)
    groups, means = {"mle": [], "seqgan": []}, {"mle": [], "seqgan": []}
    for label, centre in (("mle", 0.50), ("seqgan", 0.53)):
        for seed in range(3):
            values = rng.uniform(centre - 0.2, centre + 0.2, 100) + 0.01 * seed
            groups[label].append(_run(tmp_path, f"{label}{seed}", values))
            means[label].append(float(np.mean(values)))
    rows, metrics = build_table(groups)
    a, b = np.array(means["mle"]), np.array(means["seqgan"])
    va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 3
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    assert math.isclose(rows[0]["p_seeds_bleu2"], 2 * stats.t.sf(abs(t), dof), rel_tol=1e-9)
    assert rows[0]["p_seeds_bleu2"] > rows[0]["p_bleu2"]  # 3 values see less than 300
    assert math.isclose(rows[0]["bleu2_seed_std"], a.std(ddof=1), rel_tol=1e-9)
    assert math.isnan(rows[1]["p_seeds_bleu2"])
    text = write_table(rows, metrics, tmp_path)
    assert (
        f"| BLEU-2 | ↑ | {a.mean():.3f} ± {a.std(ddof=1):.3f}, p = "
        f"{rows[0]['p_seeds_bleu2']:.3f} | {b.mean():.3f} ± {b.std(ddof=1):.3f} |"
    ) in text
    assert "per-seed final values" in text
    assert "p_seeds_bleu2" in (tmp_path / "table.csv").read_text().splitlines()[0]


def test_welch_on_constant_values_is_computed_without_a_warning():
    """An untrained generator's NLL-test is the same in every seed (ln V): the seed-level
    test against it is still defined (that side's variance is 0) and prints nothing."""
    import warnings

    from seqgan.metrics.stats import welch_t_test

    constant, varied = [8.517192840576172] * 3, [9.1, 9.0, 9.2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t, p = welch_t_test(constant, varied)
    # by hand: se = sqrt(0 / 3 + 0.01 / 3); df = (0.01 / 3)^2 / ((0.01 / 3)^2 / 2) = 2
    se = math.sqrt(0.01 / 3)
    assert t == pytest.approx((8.517192840576172 - 9.1) / se, rel=1e-9)
    assert p == pytest.approx(2 * stats.t.sf(abs(t), 2), rel=1e-9)
    assert all(math.isnan(x) for x in welch_t_test(constant, constant))


def test_the_markdown_table_is_compact_says_which_way_is_better_and_tests_every_metric_over_seeds(
    tmp_path,
):
    """Two seeds: every metric's cell has the seed-level p (also NLL-test, which has no
    per-sequence values), one column per label, a direction per metric; table.csv keeps
    every number (per-sequence and seed-level p-values, standard deviations)."""
    from seqgan.experiments.report import better

    rng = np.random.default_rng(2)
    groups = {"mle": [], "seqgan": []}
    for label, centre in (("mle", 0.4), ("seqgan", 0.5)):
        for seed in range(2):
            run = _run(
                tmp_path,
                f"{label}{seed}",
                rng.uniform(centre - 0.1, centre + 0.1, 50),
                rng.normal(20, 3, 50),
            )
            summary = run.read_summary()
            summary.update(
                nll_test=3.0 + 0.1 * seed + (label == "mle"),
                self_bleu2=0.7 + 0.01 * seed,
                entropy=2.0 + 0.1 * seed,
            )
            run.write_summary(summary)
            groups[label].append(run)
    rows, metrics = build_table(groups)
    text = write_table(rows, metrics, tmp_path)
    lines = text.splitlines()
    assert lines[0] == "| metric | better | mle | seqgan (reference) |"
    table = {
        line.split(" | ")[0][2:]: line.split(" | ") for line in lines[2:] if line.startswith("| ")
    }
    assert list(table) == ["NLL-test", "BLEU-2", "Self-BLEU-2", "MSE", "H(p_gen)"]
    assert [table[m][1] for m in table] == ["↓", "↑", "↓ (diversity)", "↓", "—"]
    for name, metric in zip(table, metrics):
        assert f"p = {_p_text(rows[0][f'p_seeds_{metric}'])}" in table[name][2], name
        assert "p" not in table[name][3]  # the reference itself
    assert math.isclose(
        rows[0]["p_seeds_nll_test"], stats.ttest_ind([4.0, 4.1], [3.0, 3.1], equal_var=False).pvalue
    )
    assert better("nll_oracle") == "↓" and better("qn4") == "≈ data"
    assert better("feat_oa_pitch_range").startswith("↑")
    header = (tmp_path / "table.csv").read_text().splitlines()[0].split(",")
    for metric in metrics:
        assert {metric, f"{metric}_seed_std", f"p_{metric}", f"p_seeds_{metric}"} <= set(header)
    assert max(len(line) for line in lines[: len(table) + 2]) < 100  # compact


def _p_text(value: float) -> str:
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def test_a_run_plots_every_logged_metric(tmp_path):
    """figures/evaluations.png holds every evaluated metric, figures/training.png the
    losses, D accuracy and rewards of every training epoch; both are real PNGs and the
    folder can still be overwritten (they are seqgan's names)."""
    import seqgan
    from seqgan.training.figures import drawn_metrics
    from tests.conftest import TINY

    config = {
        **TINY,
        "eval": {**TINY["eval"], "bleu": [2], "diagnostics": True},
        "run": {**TINY["run"], "tensorboard": False},
    }
    run = seqgan.train(config, out=tmp_path / "run")
    rows = RunFolder(tmp_path / "run").read_metrics()
    assert drawn_metrics(rows, evaluated=True)[:4] == [
        "nll_oracle",
        "nll_test",
        "entropy",
        "eval_reward_mean",
    ]
    assert "bleu2" in drawn_metrics(rows, evaluated=True)
    assert drawn_metrics(rows, evaluated=False) == ["g_loss", "d_loss", "d_accuracy", "reward_mean"]
    for name in ("evaluations", "training", "nll_oracle"):
        png = (tmp_path / "run" / "figures" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, name
    assert RunFolder(tmp_path / "run").foreign_entry() is None
    assert run.summary["epochs"] == 6


def test_without_seqgan_the_p_values_test_against_mle(tmp_path):
    """A comparison of MLE and RelGAN's sweep has no SeqGAN: MLE is the reference."""
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.3, 0.6, 200), rng.uniform(0.4, 0.7, 200)
    groups = {"mle": [_run(tmp_path, "mle", a)], "relgan": [_run(tmp_path, "rg", b)]}
    rows, metrics = build_table(groups)
    assert [row["versus"] for row in rows] == ["mle", "mle"]
    expected = stats.ttest_ind(b, a, equal_var=False).pvalue
    assert math.isclose(rows[1]["p_bleu2"], expected, rel_tol=1e-9)
    assert math.isnan(rows[0]["p_bleu2"]) and math.isnan(rows[1]["p_value_vs_seqgan"])
    text = write_table(rows, metrics, tmp_path)
    assert text.splitlines()[0] == "| metric | better | mle (reference) | relgan |"
    assert "t-test against MLE" in text
    header = (tmp_path / "table.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["label", "seeds", "samples_per_seed", "versus", "p_value_vs_seqgan"]
