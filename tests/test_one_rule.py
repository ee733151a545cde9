"""One rule for the Python API and the command line: the same checks of the same values,
each message in the caller's terms (``top_k=`` in Python, ``--top-k`` on the command line),
one line, never a raw Python error."""

import numpy as np
import pytest

import seqgan
from seqgan.cli import main
from seqgan.errors import UserError
from tests.conftest import TINY
from tests.helpers import error_line

QUICK = {
    **TINY,
    "pretrain": {"generator_epochs": 1, "discriminator_rounds": 1, "discriminator_epochs": 1},
    "adversarial": {**TINY["adversarial"], "epochs": 0},
    "run": {**TINY["run"], "tensorboard": False},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return seqgan.train(QUICK, out=tmp_path_factory.mktemp("runs") / "tiny")


def _api_error(call) -> str:
    with pytest.raises(UserError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and "--" not in message, message  # no command-line option
    return message


def _cli_error(argv, capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    return error_line(capsys.readouterr().err)[len("seqgan: error: ") :]


@pytest.mark.parametrize(
    "keyword, option, value",
    [
        ("temperature", "--temperature", 0),
        ("top_k", "--top-k", -1),
        ("top_p", "--top-p", 1.5),
        ("seed", "--seed", -1),
        ("seed", "--seed", 2**70),
        ("n", "-n", 0),
    ],
)
def test_the_same_check_in_the_callers_terms(tiny_run, keyword, option, value, capsys):
    api = _api_error(lambda: tiny_run.sample(**{"n": 2, keyword: value}))
    cli = _cli_error(["generate", "--run", str(tiny_run.path), option, str(value)], capsys)
    assert api.startswith(f"{keyword}= must be") and cli.startswith(f"{option} must be")
    # the same words after the name (the value as each caller typed it: 0 or 0.0)
    assert api.split(", got")[0][len(keyword) + 1 :] == cli.split(", got")[0][len(option) :]


def test_wrong_types_are_one_line_errors_and_numpy_scalars_are_numbers(tiny_run, tmp_path):
    assert "n= must be a positive number" in _api_error(lambda: tiny_run.sample("5"))
    assert "seed=" in _api_error(lambda: seqgan.train(QUICK, out=tmp_path / "a", seed=2**70))
    assert "adversarial__epochs=None" in _api_error(
        lambda: seqgan.train(QUICK, out=tmp_path / "a", adversarial__epochs=None)
    )
    assert "overwrite=True" in _api_error(lambda: seqgan.train(QUICK, out=tiny_run.path))
    assert len(tiny_run.sample(np.int64(3), temperature=np.float32(0.5), seed=np.int64(4))) == 3
    assert "samples" in tiny_run.evaluate(metrics=["nll_test"], samples=np.int64(16))
    run = seqgan.train(
        QUICK,
        out=tmp_path / "b",
        pretrain__generator_epochs=np.int64(2),
        eval__bleu=np.array([2, 3]),
    )
    assert run.config.pretrain.generator_epochs == 2 and run.config.eval.bleu == [2, 3]


def test_a_setting_given_twice_is_refused(tmp_path, capsys):
    message = _api_error(
        lambda: seqgan.train(
            QUICK, out=tmp_path / "a", adversarial__epochs=1, **{"adversarial.epochs": 2}
        )
    )
    assert "adversarial.epochs given twice" in message
    assert "given twice" in _cli_error(
        [
            "train",
            "--set",
            "adversarial.epochs=1",
            "--set",
            "adversarial.epochs=2",
            "--out",
            str(tmp_path / "b"),
        ],
        capsys,
    )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
