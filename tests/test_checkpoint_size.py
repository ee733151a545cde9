"""What a finished run keeps: its final checkpoint, whole (a longer schedule trains on
from it), and ``end-<phase>.pt`` files holding what a run adopting them applies; the
earlier checkpoints, fall-backs while it trains, are removed when it finishes.

Each test asserts a property of that layout: what the kept files hold, that
re-finishing from the final checkpoint re-makes the same outputs, that a damaged one is
one line, that a longer schedule continues from it bit-identically to a run trained with
it from the start, and that a run ending with its pre-training still shares a whole
``end-<phase>.pt``.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import tomli_w
import tomllib
import torch

from seqgan.cli import main
from seqgan.storage.checkpoint import WITHOUT_STATE, list_checkpoints, load_checkpoint, serialize
from tests.conftest import TINY
from tests.helpers import error_line, keeping_every_checkpoint

OUTPUTS = (
    "metrics.csv",
    "samples/final.txt",
    "samples/pretrain_generator.txt",
    "samples/adversarial.txt",
    "samples/nll_oracle_per_sequence.npy",
)


def _config(tmp: Path, name: str, **sections) -> Path:
    config = copy.deepcopy(TINY)
    config["run"].update(tensorboard=False, threads=1, keep_checkpoints=2)
    for section, values in sections.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    path = tmp / f"{name}.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def _train(config: Path, out: Path) -> None:
    assert main(["train", "--config", str(config), "--out", str(out)]) == 0


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny SeqGAN run (8 epochs): ckpt-7 and the final ckpt-8."""
    root = tmp_path_factory.mktemp("size")
    _train(_config(root, "tiny"), root / "run")
    return root / "run"


def _copy(run: Path, tmp: Path) -> Path:
    return Path(shutil.copytree(run, tmp / "run"))


def _moments(saved: dict) -> tuple[int, int]:
    """Bytes and number of the tensors of an optimizer's per-parameter states."""
    tensors = [
        t
        for state in saved["state"].values()
        for t in state.values()
        if isinstance(t, torch.Tensor)
    ]
    return sum(t.numel() * t.element_size() for t in tensors), len(tensors)


def _same_tensors(ours, theirs, where: str = "") -> None:
    """Equal nested dicts/lists of tensors and plain values."""
    if isinstance(ours, torch.Tensor):
        assert torch.equal(ours, theirs), where
    elif isinstance(ours, dict):
        assert ours.keys() == theirs.keys(), where
        for key in ours:
            _same_tensors(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(ours, (list, tuple)):
        assert len(ours) == len(theirs), where
        for number, (a, b) in enumerate(zip(ours, theirs)):
            _same_tensors(a, b, f"{where}[{number}]")
    else:
        assert ours == theirs, where


def _clockless(rows: list[dict]) -> list[dict]:
    """Metric rows without their wall-clock fields (seconds, UTC times)."""
    return [{k: v for k, v in row.items() if not k.endswith(("seconds", "_utc"))} for row in rows]


def _assert_same_state(
    ours: dict, theirs: dict, keys=("models", "optimizers", "position", "marks", "last_eval", "rng")
) -> None:
    for key in keys:
        _same_tensors(ours[key], theirs[key], key)
    assert _clockless(ours["rows"]) == _clockless(theirs["rows"])


def _assert_same_outputs(run: Path, reference: Path) -> None:
    for name in OUTPUTS:  # (a run that adopted its pre-training has no samples of it)
        assert (run / name).is_file() == (reference / name).is_file(), name
        if (reference / name).is_file():
            assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    assert (reference / "metrics.csv").is_file()
    _same_tensors(
        torch.load(run / "model.pt", weights_only=True),
        torch.load(reference / "model.pt", weights_only=True),
        "model.pt",
    )


def _err(capsys) -> str:
    return capsys.readouterr().err


# -- what a finished run keeps ---------------------------------------------------------
def test_a_finished_run_keeps_its_whole_final_checkpoint_and_a_small_end_file(finished):
    """Keep-last + end-of-phase: the final checkpoint, with every optimizer's moments (an
    extension trains on from it), and ``end-pretrain_generator.pt`` with what a run
    adopting it applies (generator, MLE optimizer), not the discriminator."""
    kept = sorted(p.name for p in (finished / "checkpoints").iterdir())
    assert kept == ["ckpt-00000008.pt", "end-pretrain_generator.pt"]
    last = load_checkpoint(finished / "checkpoints" / "ckpt-00000008.pt")
    assert not last.get(WITHOUT_STATE)
    assert all(saved["state"] for saved in last["optimizers"].values())
    assert set(last["optimizers"]) == {"mle", "policy", "discriminator"}
    # its weights are model.pt's
    _same_tensors(last["models"], torch.load(finished / "model.pt", weights_only=True))
    end = load_checkpoint(finished / "checkpoints" / "end-pretrain_generator.pt")
    assert set(end["models"]) == {"generator"} and set(end["optimizers"]) == {"mle"}
    assert end["optimizers"]["mle"]["state"] and end["position"] == [0, 3, 3]


def test_resuming_a_finished_run_from_its_final_checkpoint_remakes_its_outputs(
    finished, tmp_path, capsys
):
    run = _copy(finished, tmp_path)
    for name in (
        "summary.json",
        "model.pt",
        "samples/final.txt",
        "samples/nll_oracle_per_sequence.npy",
    ):
        (run / name).unlink()
    _err(capsys)
    assert main(["train", "--resume", str(run)]) == 0
    err = _err(capsys)
    final = run / "checkpoints" / "ckpt-00000008.pt"
    assert f"resuming from {final} (adversarial, epoch 3 of 3)" in err, err
    assert "warning" not in err, err
    _assert_same_outputs(run, finished)
    assert (run / "summary.json").is_file()


def test_a_damaged_final_checkpoint_of_a_finished_run_is_one_line(finished, tmp_path, capsys):
    """No earlier checkpoint is kept once a run has finished: a damaged final one is a
    one-line error when the run is extended, and the run's outputs stay as they were."""
    run = _copy(finished, tmp_path)
    final = run / "checkpoints" / "ckpt-00000008.pt"
    final.write_bytes(final.read_bytes()[: final.stat().st_size // 2])
    _err(capsys)
    assert main(["train", "--resume", str(run), "--set", "adversarial.epochs=4"]) == 2
    err = _err(capsys)
    error_line(err, f"no readable checkpoint in {run / 'checkpoints'}")
    _assert_same_outputs(run, finished)


@pytest.fixture(scope="module")
def longer_fresh(finished, tmp_path_factory) -> Path:
    """The same run trained with adversarial.epochs = 5 from the start."""
    config = tomllib.loads((finished / "config.toml").read_text())
    config["adversarial"]["epochs"] = 5
    fresh = tmp_path_factory.mktemp("fresh")
    (fresh / "longer.toml").write_text(tomli_w.dumps(config))
    assert main(["train", "--config", str(fresh / "longer.toml"), "--out", str(fresh / "run")]) == 0
    return fresh / "run"


def test_a_longer_schedule_trains_on_from_the_final_checkpoint(
    finished, longer_fresh, tmp_path, capsys
):
    """An extended run continues from where it ended (no epoch re-run) and ends exactly
    as a run trained from the start with the longer schedule would."""
    run = _copy(finished, tmp_path)
    _err(capsys)
    assert main(["train", "--resume", str(run), "--set", "adversarial.epochs=5"]) == 0
    err = _err(capsys)
    final = run / "checkpoints" / "ckpt-00000008.pt"
    assert f"resuming from {final} (adversarial, epoch 3 of 5)" in err, err
    assert "adversarial 3/5" not in err and "adversarial 4/5" in err, err  # nothing re-run
    longer = load_checkpoint(run / "checkpoints" / "ckpt-00000010.pt")
    assert longer["position"] == [2, 5, 8]
    assert (run / "metrics.csv").read_bytes() == (longer_fresh / "metrics.csv").read_bytes()
    _assert_same_state(longer, load_checkpoint(longer_fresh / "checkpoints" / "ckpt-00000010.pt"))
    _assert_same_outputs(run, longer_fresh)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "ckpt-00000010.pt",
        "end-pretrain_generator.pt",
    ]


def test_an_older_releases_final_checkpoint_trains_on_from_the_one_before(
    finished, longer_fresh, tmp_path, capsys
):
    """A final checkpoint without the discriminator's moments (as older releases wrote
    them), its whole predecessor kept: the extension goes back to that one, re-runs the
    epoch after it and ends as the run trained with 5 epochs from the start."""
    with keeping_every_checkpoint():
        assert (
            main(
                [
                    "train",
                    "--config",
                    str(finished.parent / "tiny.toml"),
                    "--out",
                    str(tmp_path / "old"),
                ]
            )
            == 0
        )
    run = tmp_path / "old"
    final = run / "checkpoints" / "ckpt-00000008.pt"
    state = load_checkpoint(final)
    state["optimizers"]["discriminator"]["state"] = {}
    state[WITHOUT_STATE] = ["discriminator"]
    state.pop("end_only_evaluation", None)
    final.write_bytes(serialize(state))
    _err(capsys)
    assert main(["train", "--resume", str(run), "--set", "adversarial.epochs=5"]) == 0
    err = _err(capsys)
    assert f"note: {final} holds no state of optimizer discriminator" in err, err
    assert "resuming from " + str(run / "checkpoints" / "ckpt-00000007.pt") in err
    assert (run / "metrics.csv").read_bytes() == (longer_fresh / "metrics.csv").read_bytes()
    _assert_same_outputs(run, longer_fresh)


def test_a_malformed_list_of_left_out_states_is_one_line(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    final = list_checkpoints(run / "checkpoints")[-1]
    state = load_checkpoint(final)
    state[WITHOUT_STATE] = "discriminator"
    final.write_bytes(serialize(state))
    _err(capsys)
    assert main(["train", "--resume", str(run)]) == 2
    assert (
        f"{final} does not fit this run (optimizers_without_state is 'discriminator', "
        "not a list of names)"
    ) in _err(capsys)


# -- end-<phase>.pt ----------------------------------------------------------------------
def test_a_run_ending_with_its_pretraining_shares_a_whole_end_file(tmp_path):
    """As ``seqgan compare``'s shared pre-training (algorithm mle, no epochs after it): its
    end file is its final checkpoint, and holds the MLE optimizer's moments like the end
    file of a run that goes on; runs adopting either end the same."""
    only = tmp_path / "only"
    longer = tmp_path / "longer"
    _train(_config(tmp_path, "only", algorithm="mle", adversarial={"epochs": 0}), only)
    _train(_config(tmp_path, "longer", algorithm="mle", adversarial={"epochs": 2}), longer)
    end_only = only / "checkpoints" / "end-pretrain_generator.pt"
    assert end_only.read_bytes() == (only / "checkpoints" / "ckpt-00000003.pt").read_bytes()
    a = load_checkpoint(end_only)
    b = load_checkpoint(longer / "checkpoints" / "end-pretrain_generator.pt")
    assert not a.get(WITHOUT_STATE) and a["optimizers"]["mle"]["state"]
    _assert_same_state(a, b)
    adopted = {}
    for source in (only, longer):
        out = tmp_path / f"from-{source.name}"
        _train(
            _config(tmp_path, f"from-{source.name}", pretrain={"generator_from": str(source)}), out
        )
        adopted[source.name] = out
    _assert_same_outputs(adopted["only"], adopted["longer"])
