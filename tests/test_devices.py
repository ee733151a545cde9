"""run.device / --device: resolution, recording, tensors on the device, RNG states and
portable checkpoints (runtime/device.py, docs/devices.md).  Tests of a CPU-only machine take
the ``cpu_only`` fixture, which hides any accelerator, so they run everywhere; the GPU
tests (marker ``gpu``) are skipped where there is none ("needs a CUDA GPU")."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import tomllib
import torch

from seqgan.cli import main
from seqgan.config import build_config
from seqgan.errors import UserError
from seqgan.runtime import device as devices
from seqgan.runtime.device import device_name, resolve_device, saved_device
from seqgan.storage.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    rng_state,
    serialize,
    set_rng_state,
)
from seqgan.storage.folder import RunFolder
from seqgan.training.session import load_trained, open_session
from tests.conftest import TINY
from tests.helpers import error_line

SMALL = copy.deepcopy(TINY)
SMALL["data"].update(num_train=64, num_test=32)
SMALL["pretrain"].update(generator_epochs=2, discriminator_rounds=1)
SMALL["adversarial"].update(epochs=2, num_rollouts=2)
SMALL["eval"].update(num_samples=32)
SMALL["run"].update(tensorboard=False, checkpoint_every=1, keep_checkpoints=5)


def _config(tmp_path: Path, **run) -> Path:
    cfg = copy.deepcopy(SMALL)
    cfg["run"].update(run)
    path = tmp_path / "small.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished tiny SeqGAN run trained with --device cpu."""
    root = tmp_path_factory.mktemp("devices")
    out = root / "run"
    assert (
        main(["train", "--config", str(_config(root)), "--out", str(out), "--device", "cpu"]) == 0
    )
    return out


@pytest.fixture
def cpu_only(monkeypatch):
    """This machine as one without CUDA or MPS, whatever it has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


def _tensors(value):
    """Every tensor inside nested dicts / lists / tuples."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)


# -- resolution --------------------------------------------------------------------------
def test_auto_and_cpu_resolve_to_the_cpu_here(cpu_only):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert device_name(torch.device("cpu")).startswith("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:3", "mps"])
def test_an_unavailable_device_is_one_line_naming_what_is_available(name, cpu_only):
    with pytest.raises(UserError) as caught:
        resolve_device(name)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"run.device = {name!r} is not available here (available: cpu")


def test_a_misspelt_device_is_refused_by_the_config():
    with pytest.raises(UserError, match="not a device"):
        build_config(TINY, ["run.device=gpu"])


@pytest.mark.parametrize("name", ["cuda", "cuda:3"])
def test_train_on_an_unavailable_device_exits_2_in_one_line(name, tmp_path, capsys, cpu_only):
    out = tmp_path / "run"
    code = main(["train", "--config", str(_config(tmp_path)), "--out", str(out), "--device", name])
    assert code == 2
    error_line(
        capsys.readouterr().err, f"run.device = {name!r} is not available here", "available: cpu"
    )
    assert not out.exists()  # refused before anything is written


def test_generate_and_evaluate_refuse_an_unavailable_device(trained, capsys, cpu_only):
    assert main(["generate", "--run", str(trained), "-n", "2", "--device", "cuda"]) == 2
    error_line(capsys.readouterr().err, "'cuda' is not available here")
    assert main(["evaluate", "--run", str(trained), "--device", "cuda:1"]) == 2
    error_line(capsys.readouterr().err, "'cuda:1' is not available here")


# -- recording ---------------------------------------------------------------------------
def test_the_device_is_recorded(trained):
    config = tomllib.loads((trained / "config.toml").read_text())
    assert config["run"]["device"] == "cpu" and config["run"]["deterministic"] is False
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["device"] == "cpu"
    assert summary["device_name"] == device_name(torch.device("cpu"))


def test_auto_is_kept_as_chosen_and_the_resolved_device_recorded(tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(_config(tmp_path)),
                "--out",
                str(out),
                "--set",
                "adversarial.epochs=0",
                "--set",
                "pretrain.generator_epochs=1",
                "--set",
                "pretrain.discriminator_rounds=0",
            ]
        )
        == 0
    )
    assert tomllib.loads((out / "config.toml").read_text())["run"]["device"] == "auto"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == str(resolve_device("auto"))


# -- tensors on the device -------------------------------------------------------------
def test_every_tensor_of_a_session_is_on_its_device(tmp_path):
    cfg = build_config(SMALL, ["run.device=cpu", "adversarial.epochs=1"])
    trainer = open_session(cfg, tmp_path / "run", tmp_path)
    try:
        trainer.train()
    finally:
        trainer.run.unlock()
    want = resolve_device("cpu")
    task = trainer.task
    assert task.device == want and task.train.device == want and task.test.device == want
    for model in [*trainer.models.values(), task.oracle]:
        assert all(t.device == want for t in [*model.parameters(), *model.buffers()])
    for optimizer in trainer.optimizers.values():
        assert all(t.device == want for t in _tensors(optimizer.state_dict()["state"]))
    state = load_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert state["device"] == "cpu"
    assert all(t.device.type == "cpu" for t in _tensors(state))


def test_a_finished_run_loads_on_the_chosen_device(trained):
    cfg, task, models = load_trained(trained, trained, "cpu")
    assert cfg.run.device == "cpu" and task.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in models["generator"].parameters())
    assert models["generator"].sample(3).device.type == "cpu"


def test_a_saved_device_missing_here_falls_back_to_the_cpu_with_a_note(
    trained, tmp_path, capsys, cpu_only
):
    assert saved_device("cuda", "runs/x") == torch.device("cpu")
    assert "runs/x was trained with run.device = 'cuda'" in capsys.readouterr().err
    moved = tmp_path / "moved"  # a run trained "on a GPU": its config says cuda
    _copy_run(trained, moved)
    _set_saved_device(moved, "cuda")
    assert main(["generate", "--run", str(moved), "-n", "2", "--out", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert "not available here; using the cpu" in err and err.count("note:") == 1
    assert len((tmp_path / "s").read_text().splitlines()) == 2


def test_checkpoints_load_onto_the_cpu_whatever_device_wrote_them(tmp_path, monkeypatch):
    payload = {"w": torch.arange(4.0), "nested": [torch.ones(2, dtype=torch.long)]}
    path = tmp_path / "ckpt-00000001.pt"
    path.write_bytes(serialize(payload))
    seen = []
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.append((kwargs.get("map_location"), kwargs.get("weights_only")))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    state = load_checkpoint(path)
    assert seen == [("cpu", True)]
    assert all(t.device.type == "cpu" for t in _tensors(state))
    assert torch.equal(state["w"], payload["w"])


# -- randomness and resume -------------------------------------------------------------
def test_rng_states_round_trip_on_the_cpu():
    torch.manual_seed(1)
    np.random.seed(2)
    saved = rng_state()
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    loaded = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    first = (torch.rand(3), np.random.rand(2))
    assert set_rng_state(loaded) is None
    again = (torch.rand(3), np.random.rand(2))
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_saved_cuda_states_without_the_devices_are_a_note(cpu_only):
    state = {**rng_state(), "cuda": [torch.zeros(16, dtype=torch.uint8)]}
    note = set_rng_state(state)
    assert note.startswith("note:") and "1 CUDA device(s), 0 are present" in note


def test_resuming_on_another_device_type_says_so_once(tmp_path, capsys):
    out = tmp_path / "run"
    config = _config(tmp_path, device="cpu")
    assert (
        main(["train", "--config", str(config), "--out", str(out), "--set", "adversarial.epochs=3"])
        == 0
    )
    for path in list_checkpoints(out / "checkpoints"):  # as if "written on a GPU"
        state = load_checkpoint(path)
        state["device"] = "cuda"
        path.write_bytes(serialize(state))
    capsys.readouterr()
    assert (
        main(["train", "--resume", str(out), "--set", "adversarial.epochs=4", "--device", "cpu"])
        == 0
    )
    err = capsys.readouterr().err
    assert err.count("was written on cuda, this session runs on cpu") == 1
    assert "not bit-identical to an uninterrupted one" in err
    assert "run.device" not in err  # the device is no setting of what was trained


def test_resume_with_the_saved_device_missing_says_to_pass_device(
    trained, tmp_path, capsys, cpu_only
):
    moved = tmp_path / "moved"
    _copy_run(trained, moved)
    _set_saved_device(moved, "cuda")
    assert main(["train", "--resume", str(moved)]) == 2
    error_line(capsys.readouterr().err, "'cuda' is not available here", "--device cpu")
    assert main(["train", "--resume", str(moved), "--device", "cpu"]) == 0
    config = tomllib.loads((moved / "config.toml").read_text())
    assert config["run"]["device"] == "cpu"


def _copy_run(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", ".lock*"))
    RunFolder.open(target)


def _set_saved_device(run: Path, name: str) -> None:
    path = run / "config.toml"
    config = tomllib.loads(path.read_text())
    config["run"]["device"] = name
    path.write_text(tomli_w.dumps(config))


# -- GPU only ---------------------------------------------------------------------------
@pytest.mark.gpu
def test_cuda_rng_states_round_trip():
    torch.cuda.manual_seed_all(4)
    torch.rand(1, device="cuda")
    saved = rng_state()
    assert len(saved["cuda"]) == torch.cuda.device_count()
    first = torch.rand(5, device="cuda")
    assert set_rng_state(saved) is None
    assert torch.equal(first, torch.rand(5, device="cuda"))


@pytest.mark.gpu
def test_a_deterministic_cuda_run_resumes_bit_identically(tmp_path):
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    config = _config(tmp_path, device="cuda", deterministic=True)
    assert main(["train", "--config", str(config), "--out", str(whole)]) == 0
    assert (
        main(
            [
                "train",
                "--config",
                str(config),
                "--out",
                str(parted),
                "--set",
                "adversarial.epochs=1",
            ]
        )
        == 0
    )
    assert main(["train", "--resume", str(parted), "--set", "adversarial.epochs=2"]) == 0
    a, b = (load_checkpoint(run / "model.pt") for run in (whole, parted))
    for key in a["generator"]:
        assert torch.equal(a["generator"][key], b["generator"][key]), key
    assert (whole / "samples" / "final.txt").read_text() == (
        parted / "samples" / "final.txt"
    ).read_text()
