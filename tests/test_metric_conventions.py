"""BLEU conventions where BLEU is used, and the signature every reported metric carries."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import tomllib
import torch

from seqgan.cli import main
from seqgan.config import build_config, load_preset
from seqgan.data.build import build_task
from seqgan.errors import UserError
from seqgan.experiments.report import build_table, write_table
from seqgan.metrics import evaluation
from seqgan.metrics.bleu import (
    CONVENTIONS,
    LABELS,
    NLTK_32,
    SUFFIXES,
    BleuConvention,
    bleu,
    self_bleu,
)
from seqgan.metrics.evaluation import Evaluator
from seqgan.storage.folder import RunFolder
from seqgan.training import pg_bleu, steps
from tests.conftest import TINY
from tests.helpers import error_line

LINES = [
    "the cat sat on the mat",
    "a dog sat on a log",
    "the dog ate the cat food",
    "birds fly over the mat",
    "a cat and a dog",
]


def test_every_convention_has_a_metric_name():
    assert set(SUFFIXES) == set(CONVENTIONS) == set(LABELS)
    from seqgan.training.figures import metric_label

    assert metric_label("bleu4_texygen_full") == "BLEU-4 (Texygen full)"
    assert metric_label("self_bleu2_nltk32") == "Self-BLEU-2 (nltk-3.2)"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("text")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(LINES * 12) + "\n")
    data = copy.deepcopy(TINY)
    data["data"] = {"kind": "text", "train_file": str(corpus), "test_ratio": 0.25}
    data["eval"].update(
        bleu=[2, 3], self_bleu=[2], bleu_samples=50, bleu_conventions=["current", "nltk-3.2"]
    )
    data["run"]["tensorboard"] = True
    config = root / "text.toml"
    config.write_text(tomli_w.dumps(data))
    run = root / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    return run


def test_a_run_reports_each_convention_with_its_signature(text_run):
    summary = json.loads((text_run / "summary.json").read_text())
    signatures = summary["signatures"]
    test_size = 15  # a quarter of 60 lines
    assert (
        signatures["bleu2_nltk32"]
        == f"bleu2|rule=nltk-3.2|smooth=none|refs=test:{test_size}|hyps=50|tok=word"
    )
    assert (
        signatures["bleu3"]
        == f"bleu3|rule=current|smooth=none|refs=test:{test_size}|hyps=50|tok=word"
    )
    assert (
        signatures["self_bleu2_nltk32"]
        == "self_bleu2|rule=nltk-3.2|smooth=none|refs=others:50|hyps=50|tok=word"
    )
    assert signatures["nll_test"] == f"nll_test|refs=test:{test_size}|tok=word"
    for metric in (
        "bleu2",
        "bleu3",
        "bleu2_nltk32",
        "bleu3_nltk32",
        "self_bleu2",
        "self_bleu2_nltk32",
    ):
        assert metric in summary and metric in signatures
    # the values are the conventions' own, on the run's final samples
    lines = (text_run / "samples" / "final.text.txt").read_text().splitlines()[:50]
    test_lines = _test_lines(text_run)
    hyps, refs = [line.split() for line in lines], [line.split() for line in test_lines]
    assert summary["bleu3_nltk32"] == pytest.approx(bleu(hyps, refs, 3, NLTK_32).mean())
    assert summary["bleu3"] == pytest.approx(bleu(hyps, refs, 3).mean())
    assert summary["self_bleu2_nltk32"] == pytest.approx(self_bleu(hyps, 2, NLTK_32).mean())
    per_sequence = np.load(text_run / "samples" / "bleu2_nltk32_per_sequence.npy")
    assert len(per_sequence) == 50


def _test_lines(run: Path) -> list[str]:
    cfg = build_config(tomllib.loads((run / "config.toml").read_text()))
    task = build_task(cfg, None)
    return task.texts(task.test)


def test_signatures_reach_tensorboard(text_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(text_run / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    texts = [
        e for tag in events.Tags()["tensors"] if "signatures" in tag for e in events.Tensors(tag)
    ]
    shown = texts[0].tensor_proto.string_val[0].decode()
    assert "bleu2|rule=nltk-3.2|smooth=none" in shown


def test_evaluate_takes_other_conventions(text_run, capsys):
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(text_run),
                "--samples",
                "40",
                "--bleu-conventions",
                "texygen",
                "--out",
                str(text_run / "evaluation.json"),
            ]
        )
        == 0
    )
    result = json.loads((text_run / "evaluation.json").read_text())
    assert "bleu2_texygen" in result and "bleu2_nltk32" not in result
    assert result["signatures"]["bleu2_texygen"].startswith(
        "bleu2|rule=current|smooth=method1:0.1|refs=test:15|"
    )
    capsys.readouterr()
    assert main(["evaluate", "--run", str(text_run), "--bleu-conventions", "nltk-3.3"]) == 2
    error_line(capsys.readouterr().err, "--bleu-conventions", "did you mean 'nltk-3.2'")


# -- comparisons: one convention per column ----------------------------------------------


def _run(root: Path, name: str, signature: str | None) -> RunFolder:
    run = RunFolder.create(root / name)
    run.config.write_text("")
    summary = {"samples": 3, "bleu2": 0.5}
    if signature:
        summary["signatures"] = {"bleu2": signature}
    run.write_array("bleu2_per_sequence", np.array([0.4, 0.5, 0.6]))
    run.write_summary(summary)
    run.unlock()
    return run


SIG = "bleu2|rule=current|smooth=none|refs=test:15|hyps=3|tok=word"


def test_a_table_carries_the_signatures(tmp_path):
    groups = {
        "mle": [_run(tmp_path, "a", SIG)],
        "seqgan": [_run(tmp_path, "b", SIG), _run(tmp_path, "c", None)],
    }
    rows, metrics = build_table(groups)
    text = write_table(rows, metrics, tmp_path)
    assert text.strip().splitlines()[-1] == f"Signatures: `{SIG}`"
    table = list(csv.DictReader((tmp_path / "table.csv").open()))
    assert [row["signatures"] for row in table] == [SIG, SIG]


def test_a_table_refuses_two_conventions_in_one_column(tmp_path):
    other = SIG.replace("rule=current", "rule=nltk-3.2")
    groups = {"mle": [_run(tmp_path, "a", SIG)], "seqgan": [_run(tmp_path, "b", other)]}
    with pytest.raises(UserError) as info:
        build_table(groups)
    message = str(info.value)
    assert "\n" not in message and SIG in message and other in message
    assert str(tmp_path / "a") in message and str(tmp_path / "b") in message


# -- PG-BLEU -----------------------------------------------------------------------------


def test_the_paper_preset_computes_pg_bleu_as_the_reference_code():
    cfg = build_config(load_preset("synthetic-paper"))
    assert pg_bleu.convention(cfg) == BleuConvention(
        rule="nltk-3.2", references=4000, subset="random", subset_seed=88
    )
    assert cfg.pg_bleu.n == 3 and cfg.pg_bleu.num_rollouts == 1


def test_pg_bleu_uses_its_convention_and_roll_outs(monkeypatch):
    cfg = build_config(
        TINY,
        [
            "algorithm=pg-bleu",
            "pg_bleu.rule=nltk-3.2",
            "pg_bleu.references=100",
            "pg_bleu.num_rollouts=1",
        ],
    )
    task = build_task(cfg, None)
    seen = []
    real_step = steps.policy_gradient_step

    def step(generator, rollout, reward, optimizer, step_cfg):
        seen.append((step_cfg.adversarial.num_rollouts, reward.convention, reward.tables.size))
        return real_step(generator, rollout, reward, optimizer, step_cfg)

    monkeypatch.setattr(steps, "policy_gradient_step", step)
    models, optimizers, phases = pg_bleu.build(cfg, task)
    phases[-1].run_epoch(1)
    assert seen == [(1, pg_bleu.convention(cfg), 100)]
    assert cfg.adversarial.num_rollouts == 4  # the config itself is unchanged


def test_a_config_of_an_older_release_keeps_its_pg_bleu_smoothing():
    assert build_config({"pg_bleu": {"smoothing": True}}).pg_bleu.smoothing == "method1"
    assert build_config({"pg_bleu": {"smoothing": False}}).pg_bleu.smoothing == "none"


# -- the evaluation's sample counts ------------------------------------------------------


class _MusicTask:
    """The parts of a music task the evaluator reads (its metrics are recorded)."""

    kind, oracle, seq_len = "music", None, 4

    def __init__(self, test_rows: int):
        self.test = torch.randint(1, 5, (test_rows, 4))
        self.train = self.test

    def content(self, tokens):
        return tokens.tolist()

    def symbols(self, tokens):
        return [[str(t) for t in row] for row in tokens.tolist()]


def test_bleu_samples_limits_bleu_only(monkeypatch):
    cfg = build_config(TINY, ["eval.bleu=[2]", "eval.self_bleu=[2]", "eval.bleu_samples=7"])
    seen = {}
    monkeypatch.setattr(
        "seqgan.metrics.music.music_metrics",
        lambda encoding, samples, refs: seen.setdefault("music", {"mse": np.zeros(len(samples))}),
    )
    out = Evaluator(cfg, _MusicTask(10)).sequence_metrics(torch.randint(1, 5, (30, 4)))
    assert len(out["bleu2"]) == 7 and len(out["self_bleu2"]) == 7
    assert len(out["mse"]) == 30  # the music metrics see every sample


@pytest.mark.parametrize("test_rows,samples", [(100, 10), (10, 100)])
def test_precision_recall_weighs_as_many_real_as_generated(monkeypatch, test_rows, samples):
    cfg = build_config(TINY)
    seen = []
    monkeypatch.setattr(
        evaluation,
        "precision_recall",
        lambda real, fake: seen.append((len(real), len(fake))) or (0.5, 0.5),
    )

    class _D:
        def prob_real(self, tokens, chunk):
            return torch.full((len(tokens),), 0.7)

    monkeypatch.setattr(evaluation, "policy_entropy", lambda generator, samples: 1.0)
    Evaluator(cfg, _MusicTask(test_rows)).diagnostics(None, _D(), torch.ones(samples, 4))
    assert seen == [(min(test_rows, samples),) * 2]


def test_bleu_can_use_a_seeded_random_part_of_the_references():
    cfg = build_config(
        TINY,
        [
            "eval.bleu=[2]",
            "eval.self_bleu=[2]",
            "eval.bleu_reference_count=20",
            "eval.bleu_reference_subset=random",
            "eval.bleu_reference_seed=5",
            'eval.bleu_conventions=["nltk-3.2", "texygen"]',
        ],
    )
    task = build_task(cfg, None)
    evaluator = Evaluator(cfg, task)
    samples = task.train[:30]
    out = evaluator.sequence_metrics(samples)
    picked = BleuConvention(rule="nltk-3.2", references=20, subset="random", subset_seed=5)
    expected = bleu(samples.tolist(), picked.pick_references(task.test.tolist()), 2, NLTK_32)
    np.testing.assert_allclose(out["bleu2_nltk32"], expected)
    signatures = evaluator.signatures(30)
    assert (
        signatures["bleu2_nltk32"]
        == "bleu2|rule=nltk-3.2|smooth=none|refs=test:64:random20@5|hyps=30|tok=ids"
    )
    # Texygen keeps its own 500 (here: all 64), and Self-BLEU its whole sample set
    assert signatures["bleu2_texygen"].startswith(
        "bleu2|rule=current|smooth=method1:0.1|refs=test:64|"
    )
    assert (
        signatures["self_bleu2_nltk32"]
        == "self_bleu2|rule=nltk-3.2|smooth=none|refs=others:30|hyps=30|tok=ids"
    )
