"""``seqgan evaluate`` as the tools it sits beside (sacrebleu): it prints, and writes
only where ``--out`` says; a tempered NLL carries its temperature; it scores a samples
file made elsewhere with the run's metrics and conventions; the temperature sweep shows
progress and signs every temperature, at the BLEU order asked for; empty lists and
absurd sizes are one-line errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import tomli_w

from seqgan.cli import main
from tests.conftest import TINY
from tests.helpers import error_line, tree
from tests.test_own_data import write_corpus


def _train(tmp: Path, name: str, **data) -> Path:
    config = copy.deepcopy(TINY)
    config["run"].update(tensorboard=False)
    if data:
        config["data"] = data
        config["discriminator"].update(filter_sizes=[1, 2], num_filters=[4, 4])
    (tmp / f"{name}.toml").write_text(tomli_w.dumps(config))
    assert main(["train", "--config", str(tmp / f"{name}.toml"), "--out", str(tmp / name)]) == 0
    return tmp / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("evaluate")
    write_corpus(tmp / "corpus.txt", lines=80)
    import os

    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        return {
            "oracle": _train(tmp, "oracle"),
            "text": _train(tmp, "text", kind="text", train_file="corpus.txt"),
        }
    finally:
        os.chdir(cwd)


def test_evaluate_prints_and_writes_only_to_out(runs, tmp_path, capsys):
    run = runs["oracle"]
    before = tree(run)
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--samples", "32"]) == 0
    assert "NLL-oracle (final)" in capsys.readouterr().out
    assert tree(run) == before  # nothing in the run folder rewritten
    assert (
        main(["evaluate", "--run", str(run), "--samples", "32", "--out", str(tmp_path / "e.json")])
        == 0
    )
    assert json.loads((tmp_path / "e.json").read_text())["nll_oracle_samples"] == 32
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--samples", "32", "--out", "-"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[: out.index("\n}\n") + 2])["samples"] == 32
    assert tree(run) == before


def test_a_tempered_nll_is_labelled_with_its_temperature(runs, capsys):
    capsys.readouterr()
    assert (
        main(["evaluate", "--run", str(runs["oracle"]), "--samples", "32", "--temperature", "0.5"])
        == 0
    )
    assert "NLL-test (final) at T = 0.5 " in capsys.readouterr().out


def test_a_samples_file_is_scored_with_the_runs_metrics(runs, tmp_path, capsys):
    """Text: tokenised like the run's data, unknown tokens as <unk> and counted, long
    lines cut; the run's BLEU signatures; no NLL-test (a model's, not the file's)."""
    run = runs["text"]
    samples = tmp_path / "other-system.txt"
    samples.write_text("the cat sat\nzebra quux the cat\n" + "the " * 30 + "\n", encoding="utf-8")
    before = tree(run)
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(run),
                "--samples-file",
                str(samples),
                "--out",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert (
        f"{samples}: 3 sequences, 37 tokens, 2 (5.4 %) not in the run's vocabulary, "
        f"scored as <unk>, 1 lines cut to T - 1"
    ) in captured.err, captured.err
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["samples"] == 3 and result["unknown_tokens"] == 2 and result["lines_cut"] == 1
    assert "nll_test" not in result and 0 <= result["bleu2"] <= 1
    run_summary = json.loads((run / "summary.json").read_text())
    assert result["signatures"]["bleu2"].replace("hyps=3", "") == run_summary["signatures"][
        "bleu2"
    ].replace(f"hyps={run_summary['samples']}", "")
    assert f"samples file {samples}" in captured.out
    assert tree(run) == before


def test_an_oracle_samples_file_gives_the_runs_nll_oracle(runs, tmp_path, capsys):
    """Ids written by ``generate`` and scored from the file: the NLL-oracle of the same
    sequences drawn by ``evaluate`` with the same seed."""
    run, ids = runs["oracle"], tmp_path / "ids.txt"
    assert (
        main(["generate", "--run", str(run), "-n", "128", "--format", "ids", "--out", str(ids)])
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(run),
                "--samples-file",
                str(ids),
                "--out",
                str(tmp_path / "file.json"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(run),
                "--samples",
                "128",
                "--out",
                str(tmp_path / "drawn.json"),
            ]
        )
        == 0
    )
    scored, drawn = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("file", "drawn"))
    assert scored["nll_oracle"] == pytest.approx(drawn["nll_oracle"], rel=1e-6)
    ids.write_text("1 2 3\n")
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--samples-file", str(ids)]) == 2
    error_line(capsys.readouterr().err, f"{ids}:1: 3 tokens, expected 8")


def test_the_temperature_sweep_shows_progress_and_signs_every_temperature(runs, tmp_path, capsys):
    run = runs["text"]
    before = tree(run)
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(run),
                "--temperatures",
                "0.8,1.2",
                "--samples",
                "32",
                "--bleu-order",
                "1",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert "quality-diversity: text at T = 0.8, 1 of 2" in err, err
    assert "quality-diversity: text at T = 1.2, 2 of 2, ETA" in err, err
    signatures = out[out.index("Signatures: ") :]
    assert "bleu1|" in signatures and "bleu2|" not in signatures
    assert "temperatures=0.8,1.2" in signatures and "temperature=0.8|" not in signatures
    assert tree(run) == before  # printed only
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(run),
                "--temperatures",
                "0.8,1.2",
                "--samples",
                "32",
                "--out",
                str(tmp_path / "qd"),
            ]
        )
        == 0
    )
    assert (tmp_path / "qd" / "quality_diversity.csv").is_file()
    assert (tmp_path / "qd" / "figures" / "quality_diversity.png").is_file()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--temperatures", ""], ["--temperatures is empty"]),
        (["--bleu-conventions", ""], ["--bleu-conventions is empty"]),
        (["--bleu-conventions", "current,"], ["has an empty name"]),
        (["--samples", str(10**12)], ["--samples 1000000000000", "at most about"]),
        (["--temperatures", "0.8,1", "--samples", str(10**12)], ["--samples 1000000000000"]),
        (["--temperatures", "0.8,1", "--bleu-order", "0"], ["--bleu-order must be positive"]),
        (["--bleu-order", "2"], ["--bleu-order", "needs --temperatures"]),
    ],
)
def test_empty_lists_and_absurd_sizes_are_one_line(runs, capsys, argv, words):
    run = runs["oracle"]
    before = tree(run)
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), *argv]) == 2
    error_line(capsys.readouterr().err, *words)
    assert tree(run) == before


def test_generating_more_than_fits_is_one_line(runs, tmp_path, capsys):
    capsys.readouterr()
    assert (
        main(
            [
                "generate",
                "--run",
                str(runs["oracle"]),
                "-n",
                str(10**15),
                "--format",
                "ids",
                "--out",
                str(tmp_path / "many.txt"),
            ]
        )
        == 2
    )
    error_line(capsys.readouterr().err, "-n 1000000000000000", "free")
    assert not list(tmp_path.iterdir())


def test_a_samples_file_is_scored_against_a_data_set(tmp_path, monkeypatch, capsys):
    """No run: the data set of a preset and --set, its held-out set and vocabulary made
    as a run of it would make them."""
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "corpus.txt", lines=80)
    (tmp_path / "other.txt").write_text("the cat\nzebra the cat\n", encoding="utf-8")
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--samples-file",
                "other.txt",
                "--preset",
                "text",
                "--set",
                "data.train_file=corpus.txt",
                "--out",
                "e.json",
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["samples"] == 2 and "bleu2" in result and "nll_test" not in result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "e.json", "other.txt"]
