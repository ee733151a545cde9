"""A newcomer's first hour with their own data: paths, short lines, inherited files, names,
errors, Python configs, discoverability, extending a run, default metrics, the README."""

from __future__ import annotations

import json
import random
import re
import shlex
from pathlib import Path

import pytest
import tomllib

from seqgan.cli import main
from seqgan.config import (
    adapt_to_user_data,
    build_config,
    commented_toml,
    fill_kind_defaults,
    key_comments,
    load_preset,
)
from seqgan.errors import UserError
from seqgan.models.discriminator import fit_widths
from tests.conftest import TINY
from tests.helpers import error_line
from tests.test_music import write_tune

README = Path(__file__).resolve().parents[1] / "README.md"
WORDS = [
    "the",
    "cat",
    "dog",
    "sat",
    "on",
    "a",
    "mat",
    "ran",
    "to",
    "big",
    "small",
    "red",
    "house",
    "tree",
]

# shrink a preset's models and schedule to seconds (appended after the command's own --set)
SMALL = [
    f"--set={item}"
    for item in (
        "generator.emb_dim=8",
        "generator.hidden_dim=8",
        "discriminator.emb_dim=8",
        "discriminator.filter_sizes=[1, 2]",
        "discriminator.num_filters=[4, 4]",
        "pretrain.generator_epochs=2",
        "pretrain.discriminator_rounds=1",
        "adversarial.epochs=1",
        "adversarial.num_rollouts=2",
        "eval.num_samples=64",
        "run.threads=1",
        "run.tensorboard=false",
    )
]


def write_corpus(path: Path, lines: int = 120, longest: int = 12) -> Path:
    """Random lines of 3..``longest`` words from a 14-word vocabulary."""
    r = random.Random(0)
    path.write_text(
        "".join(
            " ".join(r.choice(WORDS) for _ in range(r.randint(3, longest))) + "\n"
            for _ in range(lines)
        ),
        encoding="utf-8",
    )
    return path


def write_midi_folder(folder: Path, tunes: int = 8) -> Path:
    """``tunes`` melodies of 80 notes of 0.4 s each (80 pitch88 steps: 2 windows of 32)."""
    r = random.Random(1)
    for k in range(tunes):
        notes = [(r.choice([60, 62, 64, 65, 67, 69]), 0.4 * i, 0.4 * (i + 1)) for i in range(80)]
        write_tune(folder / f"tune{k}.mid", [("melody", notes)])
    return folder


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- 1. relative data paths ---------------------------------------------------------------


def test_a_relative_path_is_found_in_the_current_folder_and_recorded_absolute(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "my_corpus.txt")
    code, _, err = run_cli(
        [
            "train",
            "--preset",
            "text",
            "--set",
            "data.train_file=my_corpus.txt",
            "--data-root",
            str(tmp_path / "elsewhere"),
            "--out",
            "run",
            *SMALL,
        ],
        capsys,
    )
    assert code == 0, err
    saved = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert saved["data"]["train_file"] == str(tmp_path / "my_corpus.txt")


def test_a_missing_file_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(
        [
            "train",
            "--preset",
            "text",
            "--set",
            "data.train_file=nope.txt",
            "--data-root",
            "droot",
            "--out",
            "run",
        ],
        capsys,
    )
    assert code == 2
    error_line(err, "nope.txt", f"current folder '{tmp_path}'", "data root 'droot'")
    assert not (tmp_path / "run").exists()


# -- 2. short sequences ------------------------------------------------------------------


def test_fit_widths_keeps_the_filter_total_and_widths_up_to_t():
    sizes, counts = fit_widths([1, 2, 3, 5, 8, 10], [10, 20, 30, 40, 50, 60], 5)
    assert sizes == [1, 2, 3, 5] and counts == [10, 20, 30, 150]
    assert fit_widths([1, 2], [3, 4], 9) == ([1, 2], [3, 4])


def test_the_paper_discriminator_fits_short_lines_with_one_note(tmp_path, monkeypatch, capsys):
    """Lines of at most 12 words (T = 13) with the paper's widths 1..10, 15, 20."""
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "c.txt", lines=60)
    small = [a for a in SMALL if "discriminator." not in a]
    code, _, err = run_cli(
        ["train", "--preset", "text", "--set", "data.train_file=c.txt", "--out", "run", *small],
        capsys,
    )
    assert code == 0, err
    notes = [line for line in err.splitlines() if "exceed the sequence length" in line]
    assert len(notes) == 1 and "T = 13" in notes[0] and "15, 20" in notes[0], err
    d = tomllib.loads((tmp_path / "run" / "config.toml").read_text())["discriminator"]
    paper = build_config().discriminator
    assert d["filter_sizes"] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13]
    assert sum(d["num_filters"]) == sum(paper.num_filters)


# -- 3. inherited files, 4. labels ---------------------------------------------------------


def test_a_presets_test_file_is_not_mixed_with_the_users_data():
    preset = build_config(load_preset("nottingham-seqgan"))
    cfg = build_config(load_preset("nottingham-seqgan"), ["data.train_file=my_midi/"])
    notes = adapt_to_user_data(cfg, preset)
    assert cfg.data.test_file == "" and len(notes) == 1
    assert "nottingham/midi_boulanger/test" in notes[0] and "test_ratio" in notes[0]
    assert cfg.name == "my_midi-nottingham-seqgan"
    # the user's own test file, or their own name, are kept
    cfg = build_config(
        load_preset("nottingham-seqgan"), ["data.train_file=a/", "data.test_file=b/", "name=mine"]
    )
    assert adapt_to_user_data(cfg, preset) == [] and cfg.data.test_file == "b/"
    assert cfg.name == "mine"
    # the preset's own data: nothing changes
    cfg = build_config(load_preset("nottingham-seqgan"))
    assert adapt_to_user_data(cfg, preset) == [] and cfg.name == "nottingham-seqgan"


def test_config_show_says_the_test_file_is_dropped(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_midi_folder(tmp_path / "my_midi", tunes=2)
    code, out, err = run_cli(
        ["config", "show", "--preset", "nottingham-seqgan", "--set", "data.train_file=my_midi/"],
        capsys,
    )
    assert code == 0, err
    assert "not using the preset's data.test_file" in err
    shown = tomllib.loads(out)
    assert shown["data"]["test_file"] == "" and shown["name"] == "my_midi-nottingham-seqgan"


def test_runs_are_named_after_their_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "quotes.txt", lines=60)
    code, _, err = run_cli(
        ["train", "--set", "data.kind=text", "--set", "data.train_file=quotes.txt", *SMALL], capsys
    )
    assert code == 0, err
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("quotes-synthetic-quick-")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["preset"] == "quotes-synthetic-quick"


# -- 5. the cause of a music error ---------------------------------------------------------


def test_the_rare_symbol_rule_is_named_when_it_drops_every_tune(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_midi_folder(tmp_path / "m", tunes=3)
    code, _, err = run_cli(
        [
            "train",
            "--preset",
            "midi",
            "--set",
            "data.train_file=m",
            "--set",
            "data.encoding=melody_chord",
            "--set",
            "data.seq_len=4",
            "--set",
            "data.min_count=1000",
            "--out",
            "run",
        ],
        capsys,
    )
    assert code == 2
    error_line(err, "rare-symbol rule", "data.min_count = 1000", "--set data.min_count=1")
    assert "shorter" not in err


# -- 6. configs built in Python -------------------------------------------------------------


def test_a_config_changed_in_python_is_validated(tmp_path):
    from seqgan.training.session import open_session

    cfg = build_config(TINY)
    cfg.data.kind = "txt"
    with pytest.raises(UserError, match="'data.kind' must be one of"):
        open_session(cfg, tmp_path / "run", tmp_path)
    assert not (tmp_path / "run").exists()
    cfg = build_config(TINY)
    cfg.generator.batch_size = 0
    with pytest.raises(UserError, match="generator.batch_size"):
        open_session(cfg, tmp_path / "run", tmp_path)


# -- 12. discoverability -------------------------------------------------------------------


def test_presets_show_prints_the_preset_file(capsys):
    code, out, _ = run_cli(["presets", "show", "quatrains"], capsys)
    assert code == 0 and tomllib.loads(out) == load_preset("quatrains")
    assert out.startswith("#")  # comments included
    code, _, err = run_cli(["presets", "show", "quatrain"], capsys)
    assert code == 2 and "did you mean 'quatrains'" in err
    code, out, _ = run_cli(["presets"], capsys)
    assert code == 0 and re.search(r"^text\s+your text file", out, re.M)


def test_config_show_is_commented_resolved_and_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        ["config", "show", "--preset", "synthetic-quick", "--set", "adversarial.epochs=7"], capsys
    )
    assert code == 0, err
    cfg = build_config(load_preset("synthetic-quick"), ["adversarial.epochs=7"])
    assert tomllib.loads(out) == cfg.to_dict()
    comment = key_comments()["adversarial.epochs"]
    assert f"# {comment}\nepochs = 7" in out
    code, _, err = run_cli(["config", "show", "--set", "adversarial.epochz=7"], capsys)
    assert code == 2 and "did you mean 'adversarial.epochs'" in err
    code, _, err = run_cli(
        ["config", "show", "--preset", "text", "--set", "data.train_file=missing.txt"], capsys
    )
    assert code == 2 and "data file not found: missing.txt" in err


def test_every_knob_has_a_comment_and_the_commented_toml_reads_back():
    cfg = build_config(load_preset("coco"))
    assert tomllib.loads(commented_toml(cfg)) == cfg.to_dict()
    data = cfg.to_dict()
    keys = {
        f"{s}.{k}" for s, section in data.items() if isinstance(section, dict) for k in section
    } | {s for s, value in data.items() if not isinstance(value, dict)}
    assert keys <= set(key_comments())


def test_train_help_shows_examples_for_own_data(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--preset text --set data.train_file=my_corpus.txt" in out
    assert "--preset midi --set data.train_file=my_midi/" in out


# -- 13. extending a run -------------------------------------------------------------------


def _tiny_run(tmp_path: Path, capsys, epochs: int) -> Path:
    config = tmp_path / "tiny.toml"
    import tomli_w

    config.write_text(
        tomli_w.dumps({**TINY, "adversarial": {**TINY["adversarial"], "epochs": epochs}})
    )
    code, _, err = run_cli(
        ["train", "--config", str(config), "--out", str(tmp_path / "run")], capsys
    )
    assert code == 0, err
    return tmp_path / "run"


def test_resume_with_more_epochs_extends_a_finished_run(tmp_path, capsys):
    run = _tiny_run(tmp_path, capsys, epochs=1)
    code, _, err = run_cli(["train", "--resume", str(run), "--set", "adversarial.epochs=3"], capsys)
    assert code == 0, err
    rows = [json.loads(json.dumps(r)) for r in _metrics(run)]
    assert [int(r["phase_epoch"]) for r in rows if r["phase"] == "adversarial"] == [1, 2, 3]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == TINY["pretrain"]["generator_epochs"] + 3
    assert tomllib.loads((run / "config.toml").read_text())["adversarial"]["epochs"] == 3
    # said, and (same thread count) bit-identical to a run of 3 epochs: no warning of that
    assert "note: adversarial.epochs changed in" in err and "not bit-identical" not in err


def _metrics(run: Path) -> list[dict]:
    import csv

    with open(run / "metrics.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    "override, words",
    [
        ("generator.lr=0.5", ["generator.lr would change what", "can change only"]),
        ("adversarial.epochs=1", ["adversarial has run 2 epochs", "cannot be cut to 1"]),
        ("pretrain.generator_epochs=5", ["pretrain_generator has ended after 3 epochs"]),
    ],
)
def test_resume_refuses_changes_to_what_was_trained(tmp_path, capsys, override, words):
    run = _tiny_run(tmp_path, capsys, epochs=2)
    before = (run / "config.toml").read_bytes(), (run / "summary.json").read_bytes()
    code, _, err = run_cli(["train", "--resume", str(run), "--set", override], capsys)
    assert code == 2
    error_line(err, *words)
    assert ((run / "config.toml").read_bytes(), (run / "summary.json").read_bytes()) == before


# -- 17. default metrics of text runs ------------------------------------------------------


def test_text_runs_report_bleu_and_self_bleu_by_default(tmp_path, monkeypatch, capsys):
    cfg = build_config(TINY, ["data.kind='text'", "data.train_file='x.txt'"])
    assert cfg.eval.bleu == [2, 3, 4] and cfg.eval.self_bleu == [2, 3, 4]
    assert cfg.eval.bleu_samples == 500
    chosen = build_config(
        TINY, ["data.kind='text'", "data.train_file='x.txt'", "eval.self_bleu=[2]"]
    )
    assert chosen.eval.bleu == [] and chosen.eval.self_bleu == [2]
    off = build_config(
        TINY, ["data.kind='text'", "data.train_file='x.txt'", "eval.text_defaults=false"]
    )
    assert off.eval.bleu == [] and off.eval.self_bleu == []
    oracle = build_config(TINY)
    fill_kind_defaults(oracle)
    assert oracle.eval.bleu == []

    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "c.txt", lines=80)
    code, _, err = run_cli(
        [
            "train",
            "--set",
            "data.kind=text",
            "--set",
            "data.train_file=c.txt",
            "--out",
            "run",
            *SMALL,
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for n in (2, 3, 4):
        assert 0 <= summary[f"bleu{n}"] <= 1 and 0 <= summary[f"self_bleu{n}"] <= 1
    assert "hyps=64" in summary["signatures"]["bleu2"]  # eval.num_samples = 64 < 500


# -- 16. the README's "Your own data" commands ---------------------------------------------


def readme_own_data_commands() -> list[list[str]]:
    section = README.read_text(encoding="utf-8").split("## Your own data", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [
        shlex.split(line)[1:]
        for block in blocks
        for line in block.splitlines()
        if line.startswith("seqgan train")
    ]


def test_the_readme_own_data_commands_run(tmp_path, monkeypatch, capsys):
    commands = readme_own_data_commands()
    assert len(commands) == 2, commands
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "my_corpus.txt")
    write_midi_folder(tmp_path / "my_midi")
    for argv in commands:
        code, _, err = run_cli([*argv, *SMALL], capsys)
        assert code == 0, (argv, err)
        out = tmp_path / argv[argv.index("--out") + 1]
        summary = json.loads((out / "summary.json").read_text())
        assert summary["nll_test"] > 0
        assert ("bleu2" in summary) if "text" in argv else ("mse" in summary)
