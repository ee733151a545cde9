"""A misspelt name — a metric, an algorithm, a BLEU convention, an encoding, a choice —
is a one-line error with the closest known name, never silently ignored."""

import pytest

import seqgan
from seqgan.errors import UserError
from tests.conftest import TINY
from tests.helpers import refused_and_unchanged


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    quick = {
        **TINY,
        "pretrain": {"generator_epochs": 1, "discriminator_rounds": 1, "discriminator_epochs": 1},
        "adversarial": {**TINY["adversarial"], "epochs": 0},
        "run": {**TINY["run"], "tensorboard": False},
    }
    return seqgan.train(quick, out=tmp_path_factory.mktemp("runs") / "tiny")


def test_evaluate_refuses_an_unknown_metric_with_the_closest_name(tiny_run):
    with pytest.raises(UserError, match=r"unknown metric 'nll_tset'; did you mean 'nll_test'\?"):
        tiny_run.evaluate(metrics=["nll_tset"])
    with pytest.raises(UserError, match="'mse' is reported by pitch88 runs only"):
        tiny_run.evaluate(metrics=["mse"])


def test_evaluate_computes_every_metric_it_is_asked_for(tiny_run):
    # a BLEU under another convention than the run's, named by its suffix
    result = tiny_run.evaluate(metrics=["nll_test", "bleu2_nltk32", "entropy"], samples=32)
    assert set(result) == {"nll_test", "bleu2_nltk32", "entropy", "samples"}
    assert 0 <= result["bleu2_nltk32"] <= 1 and result["entropy"] > 0


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            ["compare", "--algorithms", "seqgna,mle", "--out", "cmp"],
            ["--algorithms", "unknown algorithm 'seqgna'", "did you mean 'seqgan'?"],
        ),
        (
            ["evaluate", "--run", "run", "--bleu-conventions", "nltk32"],
            ["--bleu-conventions", "did you mean 'nltk-3.2'?"],
        ),
        (
            ["config", "show", "--set", "data.encoding=melody61"],
            ["data.encoding", "did you mean 'melody16'?"],
        ),
        (["train", "--device", "cdua", "--out", "run"], ["did you mean 'cuda'?"]),
        (["generate", "--run", "run", "--format", "mid"], ["did you mean 'midi'?"]),
        (["data", "inspect", "corpus.txt", "--tokenizer", "wrod"], ["did you mean 'word'?"]),
    ],
)
def test_the_cli_names_the_closest_known_name(argv, words, tmp_path, monkeypatch, capsys):
    refused_and_unchanged(lambda inputs: argv, words, tmp_path, monkeypatch, capsys)
