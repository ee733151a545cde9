"""Checkpoint integrity: a flipped bit inside a checkpoint is caught by its records'
CRC-32s and the previous checkpoint is used; a structurally edited checkpoint, a raw pickle
and an object ``.npy`` are one line and exit code 2, never a traceback.
"""

from __future__ import annotations

import copy
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch
import torch.utils.serialization

from seqgan.cli import main
from seqgan.data.oracle import PARAM_NAMES, random_oracle
from seqgan.errors import UserError
from seqgan.experiments import report
from seqgan.storage.checkpoint import list_checkpoints, load_checkpoint, serialize
from seqgan.storage.folder import RunFolder
from tests.conftest import TINY
from tests.helpers import keeping_every_checkpoint
from tests.test_oracle import _arrays_of


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny run with checkpoints ckpt-7 and ckpt-8 (the end), one thread: as a
    run killed after its last checkpoint, before it finished, has them (a finished run
    keeps only the last: ``Trainer._keep_final_checkpoint``, not done here)."""
    root = tmp_path_factory.mktemp("integrity")
    config = copy.deepcopy(TINY)
    config["run"].update(tensorboard=False, threads=1, keep_checkpoints=2)
    (root / "tiny.toml").write_text(tomli_w.dumps(config))
    with keeping_every_checkpoint():
        assert main(["train", "--config", str(root / "tiny.toml"), "--out", str(root / "run")]) == 0
    return root / "run"


def _copy(run: Path, tmp: Path) -> Path:
    return Path(shutil.copytree(run, tmp / "run"))


def _newest(run: Path) -> Path:
    return list_checkpoints(run / "checkpoints")[-1]


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def _one_error_line(argv: list[str], capsys) -> str:
    code, lines = _run(argv, capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("seqgan: error: ")
    return lines[0]


def _flip(path: Path, needle: bytes, at: int, bit: int = 0x04) -> None:
    """Flip one bit of the file, ``at`` bytes into the first occurrence of ``needle``."""
    data = bytearray(path.read_bytes())
    offset = bytes(data).find(needle)
    assert offset >= 0
    data[offset + at] ^= bit
    path.write_bytes(bytes(data))


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.numpy().tobytes()


# -- integrity -------------------------------------------------------------------------
def test_a_flipped_bit_in_a_tensor_is_corrupt_and_resume_falls_back(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    previous, newest = list_checkpoints(run / "checkpoints")
    original = load_checkpoint(newest)
    key = next(iter(original["models"]["generator"]))
    weights = original["models"]["generator"][key]
    _flip(newest, _tensor_bytes(weights), at=weights.numel() * 2)  # mid-tensor
    unchecked = torch.load(newest, weights_only=True)  # torch alone loads it silently
    assert not torch.equal(unchecked["models"]["generator"][key], weights)
    with pytest.raises(
        UserError,
        match=r"is corrupt \(CRC-32 mismatch in record "
        r"archive/data/\d+\)$",
    ):
        load_checkpoint(newest)
    metrics_before = (run / "metrics.csv").read_bytes()
    code, lines = _run(["train", "--resume", str(run)], capsys)
    assert code == 0, lines
    warning = [line for line in lines if line.startswith("warning:")]
    assert len(warning) == 1 and warning[0].startswith(f"warning: {newest} is corrupt (CRC-32")
    assert warning[0].endswith("); falling back to the previous checkpoint")
    assert any(line.startswith(f"resuming from {previous}") for line in lines)
    assert (run / "metrics.csv").read_bytes() == metrics_before  # the last epoch re-run exactly


def test_a_flipped_bit_in_the_pickle_is_corrupt(finished, tmp_path):
    run = _copy(finished, tmp_path)
    newest = _newest(run)
    _flip(newest, b"phase_seconds", at=4, bit=0x01)  # a key of the pickled payload
    assert "phasd_seconds" in torch.load(newest, weights_only=True)  # loads silently
    with pytest.raises(UserError, match=r"is corrupt \(CRC-32 mismatch in record .*data.pkl"):
        load_checkpoint(newest)


def test_every_written_file_has_crcs_and_is_weights_only_loadable(finished):
    for path in [*(finished / "checkpoints").glob("*.pt"), finished / "model.pt"]:
        with zipfile.ZipFile(path) as archive:
            assert all(info.CRC for info in archive.infolist() if info.file_size), path
        assert torch.load(path, weights_only=True).keys() == load_checkpoint(path).keys()


def test_a_file_written_without_crcs_still_loads(tmp_path):
    path = tmp_path / "ckpt.pt"
    settings = torch.utils.serialization.config.save
    settings.compute_crc32 = False
    try:
        torch.save({"w": torch.arange(4.0)}, path)
    finally:
        settings.compute_crc32 = True
    with zipfile.ZipFile(path) as archive:
        assert not any(info.CRC for info in archive.infolist())
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(4.0))


def test_files_written_by_plain_torch_save_still_load(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)  # as written before this check (and model.pt by _finish)
    newest = _newest(run)
    torch.save(load_checkpoint(newest), newest)
    torch.save(load_checkpoint(run / "model.pt"), run / "model.pt")
    code, lines = _run(["train", "--resume", str(run)], capsys)
    assert code == 0, lines
    assert any(line.startswith(f"resuming from {newest}") for line in lines), lines
    assert not any("warning" in line for line in lines), lines
    code, lines = _run(["generate", "--run", str(run), "-n", "3", "--out", "-"], capsys)
    assert code == 0, lines


def test_a_corrupt_end_of_phase_checkpoint_is_one_line(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    shared = run / "checkpoints" / "end-pretrain_generator.pt"
    weights = load_checkpoint(shared)["models"]["generator"]
    _flip(shared, _tensor_bytes(next(iter(weights.values()))), at=7)
    config = copy.deepcopy(TINY)
    config["pretrain"]["generator_from"] = str(run)
    (tmp_path / "b.toml").write_text(tomli_w.dumps(config))
    line = _one_error_line(
        ["train", "--config", str(tmp_path / "b.toml"), "--out", str(tmp_path / "b")], capsys
    )
    assert f"{shared} is corrupt (CRC-32 mismatch in record" in line


def test_a_corrupt_model_pt_is_one_line(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    model = run / "model.pt"
    weights = load_checkpoint(model)["generator"]
    _flip(model, _tensor_bytes(next(iter(weights.values()))), at=5, bit=0x80)
    line = _one_error_line(["generate", "--run", str(run)], capsys)
    assert f"{model} is corrupt (CRC-32 mismatch in record " in line


def test_model_pt_written_by_serialize_loads_for_generate(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    (run / "model.pt").write_bytes(serialize(load_checkpoint(run / "model.pt")))
    code, lines = _run(["generate", "--run", str(run), "-n", "3", "--out", "-"], capsys)
    assert code == 0, lines


# -- structure -------------------------------------------------------------------------
def _set(path: list, value):
    def edit(state):
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _drop(key: str):
    return lambda state: state.pop(key)


def _first_optimizer_state(key: str, value):
    def edit(state):
        saved = state["optimizers"]["mle"]
        first = next(iter(saved["state"].values()))
        first[key] = value(first[key])

    return edit


STRUCTURAL = {  # edit of the newest checkpoint's payload -> words of the one line
    "position too short": (_set(["position"], [0]), ["position [0] is not 3 integers"]),
    "position with text": (_set(["position"], ["a", 1, 2]), ["position ['a', 1, 2]"]),
    "position a float": (_set(["position"], [2, 3.0, 6]), ["is not 3 integers"]),
    "negative epoch": (
        _set(["position"], [2, -1, 3]),
        ["epoch -1 is outside 0..3 of phase adversarial"],
    ),
    "epoch past the phase": (
        _set(["position"], [2, 9, 6]),
        ["epoch 9 is outside 0..3 of phase adversarial"],
    ),
    "phase index past the end": (_set(["position"], [7, 0, 0]), ["phase index 7"]),
    "generator epoch too large": (_set(["position"], [2, 3, 60]), ["generator epoch 60"]),
    "no position": (_drop("position"), ["it has no 'position'"]),
    "rng torch state of another dtype": (
        _set(["rng", "torch"], torch.zeros(5056, dtype=torch.float32)),
        ["rng torch state", "ByteTensor"],
    ),
    "rng torch state too short": (
        _set(["rng", "torch"], torch.zeros(10, dtype=torch.uint8)),
        ["rng torch state", "size"],
    ),
    "numpy keys of another length": (
        lambda s: s["rng"]["numpy"].__setitem__(1, torch.zeros(10, dtype=torch.int64)),
        ["rng numpy state", "624"],
    ),
    "numpy keys as floats": (
        lambda s: s["rng"]["numpy"].__setitem__(1, torch.zeros(624)),
        ["rng numpy state", "624 int64 words"],
    ),
    "python state of another version": (
        lambda s: s["rng"].__setitem__("python", (9, *s["rng"]["python"][1:])),
        ["rng python state", "version"],
    ),
    "rng not a dict": (_set(["rng"], [1, 2]), ["rng is [1, 2], not a dict"]),
    "rows not a list": (_set(["rows"], "abc"), ["rows is 'abc', not a list"]),
    "rows not dicts": (_set(["rows"], [1, 2]), ["row 0 is 1, not a dict"]),
    "rows empty": (_set(["rows"], []), ["no metric rows"]),
    "row without its epoch": (lambda s: s["rows"][3].pop("epoch"), ["row 3 has no int 'epoch'"]),
    "marks not numbers": (
        _set(["marks", "epoch_end_of_adversarial"], "x"),
        ["marks has 'epoch_end_of_adversarial': 'x'"],
    ),
    "negative phase seconds": (
        _set(["phase_seconds", "adversarial"], -1.0),
        ["phase_seconds has 'adversarial': -1.0"],
    ),
    "last_eval samples not a tensor": (
        _set(["last_eval", "samples"], "x"),
        ["last_eval samples are 'x'"],
    ),
    "last_eval not a dict": (_set(["last_eval"], [1]), ["last_eval is [1]"]),
    "config not a table": (_set(["config"], [1]), ["its config is not a table"]),
    "optimizer moment of another shape": (
        _first_optimizer_state("exp_avg", lambda t: torch.zeros(3, 3)),
        ["optimizer 'mle' 'exp_avg' is (3, 3)"],
    ),
    "optimizer learning rate as text": (
        _set(["optimizers", "mle", "param_groups", 0, "lr"], "fast"),
        ["optimizer 'mle' has lr = 'fast'"],
    ),
    "optimizer parameter ids not integers": (
        _set(["optimizers", "mle", "param_groups", 0, "params", 0], [0]),
        ["optimizer 'mle' has other parameter groups"],
    ),
    "model missing": (
        lambda s: s["models"].pop("discriminator"),
        ["it has no 'discriminator' model"],
    ),
}


@pytest.mark.parametrize("name", list(STRUCTURAL))
def test_structurally_wrong_checkpoint_is_one_line_and_stops(name, finished, tmp_path, capsys):
    edit, words = STRUCTURAL[name]
    run = _copy(finished, tmp_path)
    newest = _newest(run)
    state = load_checkpoint(newest)
    edit(state)
    newest.write_bytes(serialize(state))  # a valid checksum: the structure is what is wrong
    before = _contents(run)
    line = _one_error_line(["train", "--resume", str(run)], capsys)
    assert f"{newest} does not fit this run (" in line
    for word in words:
        assert word in line, line
    assert _contents(run) == before  # it stopped before writing anything


def _contents(run: Path) -> dict[Path, bytes]:
    """The run's files and their bytes (hidden ones, e.g. a lock, aside)."""
    return {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and not p.name.startswith(".")}


# -- foreign files ---------------------------------------------------------------------
def _raw_pickle(path: Path) -> None:
    with open(path, "wb") as handle:
        pickle.dump({"a": 1}, handle)


def test_a_raw_pickle_model_pt_is_one_line(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    _raw_pickle(run / "model.pt")
    line = _one_error_line(["generate", "--run", str(run)], capsys)
    assert line == (
        f"seqgan: error: {run / 'model.pt'} is unreadable (a plain pickle, not a torch.save file)"
    )


def test_raw_pickle_checkpoints_are_one_line(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    for path in list_checkpoints(run / "checkpoints"):
        _raw_pickle(path)
    line = _one_error_line(["train", "--resume", str(run)], capsys)
    assert "no readable checkpoint" in line and "a plain pickle, not a torch.save file" in line


def test_a_weights_only_refusal_is_one_concise_line(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"when": np.float64(1.0)}, path)  # a numpy scalar: a global weights_only refuses
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path} is unreadable (refused: ") and "\n" not in message
    assert "numpy" in message and "Weights only load failed" not in message


def test_a_non_dict_checkpoint_is_one_line(tmp_path):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(serialize([1, 2, 3]))
    with pytest.raises(UserError, match=r"is not a seqgan checkpoint \(it holds \[1, 2, 3\]\)"):
        load_checkpoint(path)


def _object_npy(path: Path) -> None:
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def test_an_object_npy_of_per_sequence_values_is_refused(finished, tmp_path):
    run = _copy(finished, tmp_path)
    other = Path(shutil.copytree(run, tmp_path / "other"))
    path = other / "samples" / "nll_oracle_per_sequence.npy"
    _object_npy(path)
    with pytest.raises(UserError) as info:
        report.build_table({"seqgan": [RunFolder(run)], "mle": [RunFolder(other)]})
    assert str(info.value) == (
        f"{path} is not a numeric .npy array (Object arrays cannot be "
        "loaded when allow_pickle=False)"
    )


def test_an_object_array_in_an_oracle_file_is_one_line(tmp_path, capsys):
    arrays = dict(zip(PARAM_NAMES, _arrays_of(random_oracle(1, 30, 6, 5, 8))))
    arrays["Wi"] = np.array([{"a": 1}], dtype=object)  # every array there, one of objects
    np.savez(tmp_path / "oracle.npz", allow_pickle=True, **arrays)
    config = copy.deepcopy(TINY)
    config["oracle"].update(source="file", path="oracle.npz")
    (tmp_path / "tiny.toml").write_text(tomli_w.dumps(config))
    line = _one_error_line(
        [
            "train",
            "--config",
            str(tmp_path / "tiny.toml"),
            "--out",
            str(tmp_path / "run"),
            "--data-root",
            str(tmp_path),
        ],
        capsys,
    )
    assert "oracle.npz" in line
    assert "Object arrays cannot be loaded when allow_pickle=False" in line
