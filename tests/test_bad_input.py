"""Every user mistake: exit code 2, one line on stderr naming the problem, nothing left behind.

Each case builds its inputs in a fresh folder, runs ``seqgan.cli.main`` and checks that
the folder (and the working directory, where default run folders would go) holds exactly
what it held before.
"""

from __future__ import annotations

import copy
import pickle
import shutil
from pathlib import Path

import numpy as np

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib
import pytest
import tomli_w
import torch

from seqgan.cli import main
from seqgan.data.oracle import PARAM_NAMES, random_oracle
from seqgan.storage import checkpoint
from tests.conftest import TINY
from tests.helpers import FullDisk, refused_and_unchanged, temporaries_of
from tests.test_oracle import _arrays_of


def _toml(path: Path, data: dict) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


def _tiny(tmp: Path, **sections) -> Path:
    data = copy.deepcopy(TINY)
    for section, values in sections.items():
        data[section].update(values)
    return _toml(tmp / "tiny.toml", data)


class _Payload:  # a pickle that would run a command when loaded
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished tiny run (copied by the cases that need one)."""
    root = tmp_path_factory.mktemp("finished")
    out = root / "run"
    assert main(["train", "--config", str(_tiny(root)), "--out", str(out)]) == 0
    return out


def _copy_run(finished: Path, tmp: Path) -> Path:
    return Path(shutil.copytree(finished, tmp / "run"))


def _edit_config(run: Path, section: str, key: str, value) -> None:
    data = tomllib.loads((run / "config.toml").read_text())
    data[section][key] = value
    _toml(run / "config.toml", data)


# Each case: (inputs built in tmp -> argv, words the one-line message must contain)
def _args_train(*extra):
    return lambda tmp, run: [
        "train",
        "--config",
        str(_tiny(tmp)),
        "--out",
        str(tmp / "new"),
        *extra,
    ]


def _malformed_toml(tmp, run):
    (tmp / "bad.toml").write_text("[oracle\nseed = 1\n")
    return ["train", "--config", str(tmp / "bad.toml"), "--out", str(tmp / "new")]


def _config_not_utf8(tmp, run):
    (tmp / "bad.toml").write_bytes(b'name = "\xff\xfe"\n')
    return ["train", "--config", str(tmp / "bad.toml"), "--out", str(tmp / "new")]


def _unknown_key_in_file(tmp, run):
    data = copy.deepcopy(TINY)
    data["generator"]["hiden_dim"] = 4
    return ["train", "--config", str(_toml(tmp / "c.toml", data)), "--out", str(tmp / "new")]


def _folder_exists(tmp, run):
    (tmp / "new").mkdir()
    (tmp / "new" / "notes.txt").write_text("mine")
    return _args_train()(tmp, run)


def _overwrite_foreign_folder(tmp, run):
    (tmp / "new").mkdir()
    (tmp / "new" / "notes.txt").write_text("mine")
    return _args_train("--overwrite")(tmp, run)


def _oracle_file(tmp, name):
    return [
        "--set",
        "oracle.source='file'",
        "--set",
        f"oracle.path='{name}'",
        "--data-root",
        str(tmp),
    ]


def _missing_oracle(tmp, run):
    return _args_train(*_oracle_file(tmp, "seqgan_oracle/params.pkl"))(tmp, run)


def _oracle_wrong_shapes(tmp, run):
    arrays = dict(zip(PARAM_NAMES, _arrays_of(random_oracle(1, 30, 6, 5, 8))))
    arrays["Uf"] = arrays["Uf"][:, :3]  # [hidden, hidden] expected
    np.savez(tmp / "oracle.npz", **arrays)
    return _args_train(*_oracle_file(tmp, "oracle.npz"))(tmp, run)


def _oracle_missing_arrays(tmp, run):
    arrays = dict(zip(PARAM_NAMES, _arrays_of(random_oracle(1, 30, 6, 5, 8))))
    del arrays["bo"]
    np.savez(tmp / "oracle.npz", **arrays)
    return _args_train(*_oracle_file(tmp, "oracle.npz"))(tmp, run)


def _oracle_with_code(tmp, run):
    with open(tmp / "oracle.pkl", "wb") as handle:
        pickle.dump([_Payload(tmp.parent / "PWNED")], handle)
    return _args_train(*_oracle_file(tmp, "oracle.pkl"))(tmp, run)


def _oracle_truncated(tmp, run):
    (tmp / "oracle.pkl").write_bytes(pickle.dumps([np.zeros(5)] * 15)[:40])
    return _args_train(*_oracle_file(tmp, "oracle.pkl"))(tmp, run)


def _train_file(content: bytes):
    def build(tmp, run):
        (tmp / "train.txt").write_bytes(content)
        return _args_train("--set", "data.train_file='train.txt'", "--data-root", str(tmp))(
            tmp, run
        )

    return build


def _resume_with(*extra, edit=None, damage=False, code=False):
    def build(tmp, run):
        target = _copy_run(run, tmp)
        if edit:
            _edit_config(target, *edit)
        for path in (target / "checkpoints").glob("ckpt-*.pt"):
            if damage:
                path.write_bytes(b"garbage")
            if code:
                torch.save({"models": _Payload(tmp.parent / "PWNED")}, path)
        return ["train", "--resume", str(target), *extra]

    return build


def _on_run(command, *extra, edit=None, drop=None):
    def build(tmp, run):
        target = _copy_run(run, tmp)
        if edit:
            _edit_config(target, *edit)
        if drop:
            (target / drop).unlink()
        return [command, "--run", str(target), *extra]

    return build


def _midi_bytes(notes: list[tuple[float, float, int]], drum: bool = False) -> bytes:
    """A one-instrument MIDI file holding ``notes`` (start s, end s, pitch)."""
    import io

    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    part = pretty_midi.Instrument(0, is_drum=drum)
    part.notes = [pretty_midi.Note(90, p, a, b) for a, b, p in notes]
    midi.instruments.append(part)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


TUNE = [(0.4 * i, 0.4 * i + 0.4, 60 + i % 12) for i in range(80)]


def _music(files: dict[str, bytes], *extra, seq_len: int = 8):
    """Train a music task on a folder holding ``files``."""

    def build(tmp, run):
        folder = tmp / "midi"
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        return _args_train(
            "--set",
            "data.kind='music'",
            "--set",
            "data.train_file='midi'",
            "--set",
            f"data.seq_len={seq_len}",
            "--data-root",
            str(tmp),
            *extra,
        )(tmp, run)

    return build


def _text(content: bytes, *extra):
    def build(tmp, run):
        (tmp / "corpus.txt").write_bytes(content)
        return _args_train(
            "--set",
            "data.kind='text'",
            "--set",
            "data.train_file='corpus.txt'",
            "--data-root",
            str(tmp),
            *extra,
        )(tmp, run)

    return build


CASES = {
    "malformed TOML": (_malformed_toml, ["malformed TOML", "bad.toml"]),
    "config file missing": (
        lambda tmp, run: ["train", "--config", str(tmp / "none.toml")],
        ["config file not found", "none.toml"],
    ),
    "config file not UTF-8": (_config_not_utf8, ["cannot read config file", "bad.toml"]),
    "unknown key in --set": (
        _args_train("--set", "adversarial.epoch=3"),
        ["unknown config key 'adversarial.epoch'", "did you mean 'adversarial.epochs'"],
    ),
    "unknown key in file": (
        _unknown_key_in_file,
        ["'generator.hiden_dim'", "did you mean 'generator.hidden_dim'"],
    ),
    "unknown section": (
        _args_train("--set", "advesarial.epochs=3"),
        ["unknown config key 'advesarial.epochs'"],
    ),
    "section set as value": (_args_train("--set", "adversarial=3"), ["'adversarial' is a section"]),
    "--set without =": (_args_train("--set", "adversarial.epochs"), ["--set expects KEY=VALUE"]),
    "wrong type (text for int)": (
        _args_train("--set", "adversarial.epochs=abc"),
        ["'adversarial.epochs' must be int", "abc"],
    ),
    "wrong type (float for int)": (
        _args_train("--set", "generator.batch_size=2.5"),
        ["'generator.batch_size' must be int"],
    ),
    "negative epochs": (
        _args_train("--set", "pretrain.generator_epochs=-1"),
        ["'pretrain.generator_epochs' must be >= 0", "-1"],
    ),
    "rollout 0": (
        _args_train("--set", "adversarial.num_rollouts=0"),
        ["'adversarial.num_rollouts' must be >= 1"],
    ),
    "T < 1": (_args_train("--set", "oracle.seq_len=0"), ["'oracle.seq_len' must be >= 1"]),
    "probability > 1": (
        _args_train("--set", "adversarial.rollout_update_rate=1.5"),
        ["'adversarial.rollout_update_rate' must be <= 1.0"],
    ),
    "probability < 0": (
        _args_train("--set", "discriminator.dropout=-0.1"),
        ["'discriminator.dropout' must be >= 0.0"],
    ),
    "negative seed": (_args_train("--seed", "-1"), ["--seed must be", "[0, 2**63)", "-1"]),
    "seed not a number": (_args_train("--seed", "x"), ["--seed must be a whole number", "'x'"]),
    "unknown option": (_args_train("--epochs", "3"), ["unrecognized arguments: --epochs"]),
    "unknown preset": (
        lambda tmp, run: ["train", "--preset", "synthetic-quik"],
        ["unknown preset 'synthetic-quik'", "did you mean 'synthetic-quick'"],
    ),
    "unknown algorithm": (
        _args_train("--set", "algorithm='seqgen'"),
        ["'algorithm' must be one of", "seqgen"],
    ),
    "output folder exists": (_folder_exists, ["exists; pass --overwrite", "--resume"]),
    "overwrite a non-run folder": (
        _overwrite_foreign_folder,
        ["refusing to overwrite", "not a seqgan run folder"],
    ),
    "data file missing": (
        _missing_oracle,
        ["data file not found: seqgan_oracle/params.pkl", "--data-root", "SEQGAN_DATA"],
    ),
    "train file empty": (_train_file(b""), ["train.txt holds no sequences"]),
    "train file not UTF-8": (_train_file(b"1 2 3\n\xff\xfe\n"), ["train.txt is not UTF-8"]),
    "train file: no line of length T": (
        _train_file(b"1 2 3\n"),
        ["train.txt:1: 3 tokens, expected 8"],
    ),
    "train file: token outside vocabulary": (
        _train_file(b"1 2 3 4 5 6 7 99\n"),
        ["train.txt:1: token id outside [0, 39]"],
    ),
    "train file: not integers": (
        _train_file(b"a b c d e f g h\n"),
        ["train.txt:1: not a line of integer token ids"],
    ),
    "oracle file with wrong shapes": (_oracle_wrong_shapes, ["oracle.npz", "array Uf has shape"]),
    "oracle file missing arrays": (_oracle_missing_arrays, ["oracle.npz", "missing arrays bo"]),
    "oracle file carrying code": (_oracle_with_code, ["oracle.pkl", "posix.system"]),
    "oracle file truncated": (_oracle_truncated, ["oracle.pkl"]),
    "resume: checkpoint of another vocabulary": (
        _resume_with(edit=("oracle", "vocab_size", 50)),
        ["does not fit this config's Generator", "(40, 8) there but (50, 8) here"],
    ),
    "resume: every checkpoint damaged": (
        _resume_with(damage=True),
        ["no readable checkpoint", "all 1 are damaged", "--overwrite"],
    ),
    "resume: checkpoints carrying code": (
        _resume_with(code=True),
        ["no readable checkpoint", "posix.system"],
    ),
    "resume with --seed": (
        _resume_with("--seed", "9"),
        ["--resume takes its settings from the run folder"],
    ),
    "resume with --set of a trained setting": (
        _resume_with("--set", "generator.lr=0.5"),
        ["generator.lr would change what"],
    ),
    "resume of a non-run folder": (
        lambda tmp, run: ["train", "--resume", str(tmp)],
        ["is not a seqgan run folder"],
    ),
    "shared pre-training with other settings": (
        lambda tmp, run: _args_train(
            "--set", f"pretrain.generator_from='{run}'", "--set", "generator.hidden_dim=16"
        )(tmp, run),
        ["was pre-trained with other settings (generator.hidden_dim)"],
    ),
    "shared pre-training that does not exist": (
        lambda tmp, run: _args_train("--set", f"pretrain.generator_from='{tmp}'")(tmp, run),
        ["end-pretrain_generator.pt not found"],
    ),
    "shared pre-training for an algorithm without one": (
        lambda tmp, run: _args_train(
            "--set", f"pretrain.generator_from='{run}'", "--set", "algorithm=random"
        )(tmp, run),
        ["algorithm 'random' has no pre-training to take"],
    ),
    "generate -n 0": (_on_run("generate", "-n", "0"), ["-n must be a positive number", "0"]),
    "generate -n negative": (_on_run("generate", "-n", "-4"), ["-n must be a positive", "-4"]),
    "generate: model of another shape": (
        _on_run("generate", edit=("generator", "hidden_dim", 16)),
        ["model.pt does not fit this config's Generator", "(32, 8) there but (64, 8) here"],
    ),
    "generate into a missing folder": (
        lambda tmp, run: _on_run("generate", "--out", str(tmp / "no" / "x.txt"))(tmp, run),
        ["cannot write", "x.txt"],
    ),
    "evaluate an unfinished run": (
        _on_run("evaluate", drop="model.pt"),
        ["has no model.pt", "--resume"],
    ),
    "evaluate --samples 0": (_on_run("evaluate", "--samples", "0"), ["--samples must be positive"]),
    "text file empty": (_text(b""), ["corpus.txt holds no text"]),
    "text file not UTF-8": (_text(b"a b c\nd \xff e\n"), ["corpus.txt:2", "not UTF-8"]),
    "text: no line fits T": (
        _text(b"a b c d e f g h i j k\n", "--set", "data.seq_len=8"),
        ["no line fits data.seq_len = 8", "long_lines"],
    ),
    "text kind without a file": (
        _args_train("--set", "data.kind='text'"),
        ["data.kind = 'text' needs data.train_file"],
    ),
    "unknown encoding": (
        _args_train("--set", "data.encoding='pitch89'"),
        ["'data.encoding' must be one of", "pitch88", "pitch89"],
    ),
    "inspect: unknown encoding": (
        lambda tmp, run: ["data", "inspect", str(tmp), "--encoding", "melody61"],
        ["unknown music encoding 'melody61'", "did you mean"],
    ),
    "MIDI unreadable": (
        _music({"a.mid": _midi_bytes(TUNE), "b.mid": b"MThd garbage"}),
        ["cannot read MIDI file", "b.mid"],
    ),
    "MIDI without notes": (_music({"a.mid": _midi_bytes([])}), ["a.mid", "no notes"]),
    "tune without a melody track (drums only)": (
        _music({"a.mid": _midi_bytes(TUNE, drum=True)}),
        ["no melody in MIDI file", "a.mid"],
    ),
    "music folder without MIDI files": (_music({"notes.txt": b"x"}), ["no .mid or .midi files"]),
    "music: no window fits": (
        _music(
            {"a.mid": _midi_bytes(TUNE[:3])},
            "--set",
            "discriminator.filter_sizes=[1, 2]",
            "--set",
            "discriminator.num_filters=[2, 2]",
            seq_len=64,
        ),
        ["no window of 64 pitch88 symbols"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    name, tmp_path, finished_run, capsys, monkeypatch
):
    build, words = CASES[name]
    refused_and_unchanged(
        lambda inputs: build(inputs, finished_run), words, tmp_path, monkeypatch, capsys
    )
    assert not (tmp_path / "PWNED").exists()  # the pickle's command never ran


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25


def test_disk_full_while_checkpointing_is_one_line_and_keeps_the_previous_one(
    tmp_path, capsys, monkeypatch
):
    """The third checkpoint write fails with ENOSPC half-way (fault injection at the file
    handle): a one-line error, no temporary file left, the earlier checkpoints intact, and
    the run resumes from them."""
    temporaries_of("ckpt-00000003.pt", monkeypatch, wrap=FullDisk)
    out = tmp_path / "run"
    config = _tiny(tmp_path, run={"checkpoint_every": 1, "keep_checkpoints": 5})
    assert main(["train", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the progress lines of finished phases
    assert "Traceback" not in err and last.startswith("seqgan: error: cannot write ")
    assert "No space left on device" in last and "ckpt-00000003.pt" in last
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    # no temporary left behind (the end of the first phase was written before ckpt 3)
    assert names == ["ckpt-00000001.pt", "ckpt-00000002.pt", "end-pretrain_generator.pt"]
    for path in (out / "checkpoints").iterdir():
        checkpoint.load_checkpoint(path)
    monkeypatch.undo()
    assert main(["train", "--resume", str(out)]) == 0
    assert "resuming from" in capsys.readouterr().err
    assert torch.load(out / "model.pt", weights_only=True)["generator"]


def test_non_finite_loss_stops_with_phase_epoch_quantity_and_keeps_last_checkpoint(
    tmp_path, capsys
):
    out = tmp_path / "run"
    config = _tiny(tmp_path, run={"checkpoint_every": 1})
    code = main(
        ["train", "--config", str(config), "--out", str(out), "--set", "discriminator.lr=1e38"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err[-1].startswith("seqgan: error: training stopped: the loss of the discriminator")
    assert "is nan in pretrain_discriminator, epoch 1 of 2" in err[-1]
    kept = err[-1].split("the last good state is ")[1]
    state = checkpoint.load_checkpoint(Path(kept))
    assert state["position"][:2] == [0, 3]  # after the last MLE epoch, before the bad one
    assert not (out / "summary.json").exists()
