"""Rows per inference pass chosen for the device (``models.pass_rows``): the CPU keeps the
1,024 rows of earlier releases, an accelerator gets the most its memory share allows, a
positive setting wins, and 0 draws exactly what 1,024 drew on the CPU."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from seqgan.cli import main
from seqgan.config import Config
from seqgan.metrics.nll import sequence_nll
from seqgan.models import pass_rows
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator

GIB = 1 << 30


def test_a_positive_setting_is_used_as_it_is():
    assert pass_rows.rows_for(300, torch.device("cpu"), 1 << 20) == 300
    assert pass_rows.rows_for(300, torch.device("cuda"), 1 << 20, memory=80 * GIB) == 300


def test_the_cpu_keeps_1024_rows_whatever_the_row_size():
    for row_bytes in (1, 40_000, 1 << 30):
        assert pass_rows.rows_for(0, torch.device("cpu"), row_bytes) == 1024


def test_an_accelerator_gets_the_largest_power_of_two_within_its_memory_share():
    row = 40_000  # bytes per row: V = 5,000, H = 32 at one sampling step
    # 16 GiB / 8 = 2 GiB: 53,687 rows would fit; capped at 16,384
    assert pass_rows.rows_for(0, torch.device("cuda"), row, memory=16 * GIB) == 16384
    # 1 GiB / 8 = 128 MiB: 3,355 rows fit -> 2,048
    assert pass_rows.rows_for(0, torch.device("cuda"), row, memory=GIB) == 2048
    # too little memory for more: never below the CPU's rows
    assert pass_rows.rows_for(0, torch.device("mps"), row, memory=GIB // 64) == 1024
    # a device that cannot tell its memory
    assert pass_rows.rows_for(0, torch.device("cuda"), row, memory=0) == 1024


def test_the_row_sizes_follow_the_models_shapes():
    assert pass_rows.sampling_row_floats(5000, 32) == 2 * 5000 + 6 * 32
    d = Config().discriminator
    maps = sum(f * (20 - w + 1) for w, f in zip(d.filter_sizes, d.num_filters))
    assert pass_rows.discriminator_row_floats(d.emb_dim, d.filter_sizes, d.num_filters, 20) == 2 * (
        64 * 20 + maps
    )


def test_zero_draws_what_1024_drew_on_the_cpu():
    model = Generator(50, 8, 8, 12)
    first = model.sample(2500, 0, torch.Generator().manual_seed(3))
    second = model.sample(2500, 1024, torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    other = model.sample(2500, 2048, torch.Generator().manual_seed(3))
    assert not torch.equal(first, other)  # the batch size does change the stream
    assert torch.equal(sequence_nll(model, first), sequence_nll(model, first, 1024))
    d = Discriminator(50, 12, 8, [2, 3], [4, 4])
    assert torch.equal(d.prob_real(first), d.prob_real(first, 1024))


def test_zero_uses_the_rows_chosen_for_the_models_device(monkeypatch):
    """``sample(n, 0)`` draws in the batches ``pass_rows`` chooses (a GPU's, pretended)."""
    monkeypatch.setattr(
        "seqgan.models.generator.sample_rows", lambda setting, model, controls=False: setting or 700
    )
    model = Generator(50, 8, 8, 12)
    chosen = model.sample(2500, 0, torch.Generator().manual_seed(1))
    assert torch.equal(chosen, model.sample(2500, 700, torch.Generator().manual_seed(1)))
    assert not torch.equal(chosen, model.sample(2500, 1024, torch.Generator().manual_seed(1)))


def test_summary_records_the_rows_used(tmp_path, tiny_config):
    import tomli_w

    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps(tiny_config.to_dict()))
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pass_rows"] == {
        "sample_batch": 128,
        "nll_test": 1024,
        "nll_oracle": 1024,
        "score_chunk": 1024,
    }


def test_a_discriminator_step_reads_back_one_pair_of_numbers(monkeypatch):
    """Host syncs: one read per optimizer step (loss and gradient norm together) and one
    for the accuracy of the call — not three per step as before (a GPU waits at each)."""
    from seqgan.training.parts import adam
    from seqgan.training.steps import discriminator_epochs

    d = Discriminator(50, 12, 8, [2, 3], [4, 4])
    optimizer = adam(d, 1e-3)
    positives, negatives = torch.randint(50, (64, 12)), torch.randint(50, (64, 12))
    reads = []
    for name in ("item", "tolist", "__float__"):
        real = getattr(torch.Tensor, name)
        monkeypatch.setattr(
            torch.Tensor,
            name,
            lambda self, *a, _real=real, _name=name, **k: (
                reads.append(_name),
                _real(self, *a, **k),
            )[1],
        )
    loss, accuracy = discriminator_epochs(d, optimizer, positives, negatives, 1, 32, 0.2)
    assert reads == ["tolist"] * 4 + ["__float__"]  # 128 rows / 32 = 4 steps
    assert 0.0 <= accuracy <= 1.0 and loss > 0


def test_a_comparison_made_when_the_pass_sizes_were_1024_continues(tmp_path):
    """Folders of the release that wrote sample_batch = score_chunk = 1024 into
    compare.toml are the same comparison as today's default, 0; other keys still count."""
    import tomli_w

    from seqgan.errors import UserError
    from seqgan.experiments.compare import _check_folder
    from seqgan.storage.atomic import write_text

    settings = {"config": Config().to_dict(), "algorithms": ["mle"], "seeds": 1}
    old = copy.deepcopy(settings)
    old["config"]["generator"]["sample_batch"] = 1024
    old["config"]["discriminator"]["score_chunk"] = 1024
    write_text(tmp_path / "compare.toml", tomli_w.dumps(old))
    _check_folder(tmp_path, settings)  # no error
    other = copy.deepcopy(settings)
    other["config"]["generator"]["lr"] = 0.5
    with pytest.raises(UserError, match="generator.lr"):
        _check_folder(tmp_path, other)


def test_a_shared_pretraining_does_not_depend_on_the_pass_size():
    from seqgan.training.loop import Phase, _shared_settings

    phase = Phase("pretrain_generator", 1, lambda epoch: {}, True)
    a, b = Config().to_dict(), Config().to_dict()
    b["generator"]["sample_batch"] = 1024
    assert _shared_settings(a, phase) == _shared_settings(b, phase)
    b["generator"]["hidden_dim"] = 7
    assert _shared_settings(a, phase) != _shared_settings(b, phase)


def test_the_scoring_kernel_is_timed_on_the_rows_an_mc_search_scores(
    monkeypatch, tiny_config, tmp_path
):
    from seqgan.data.build import build_task

    monkeypatch.setenv("SEQGAN_CACHE", str(tmp_path))  # nothing cached: measured
    from seqgan.models import kernel_choice
    from seqgan.training.parts import build_discriminator

    timed = []
    monkeypatch.setattr(
        kernel_choice,
        "_measure",
        lambda d, v, t, device, rows: timed.append(rows) or {"train": "conv1d", "score": "conv1d"},
    )
    build_discriminator(tiny_config, build_task(tiny_config, None))
    a, g = tiny_config.adversarial, tiny_config.generator
    assert timed == [min(1024, a.num_rollouts * g.batch_size)] == [128]


def test_top_k_and_top_p_sampling_size_their_passes_for_the_sort(monkeypatch):
    from seqgan.models.sampling import Sampling

    asked = []
    monkeypatch.setattr(
        "seqgan.models.generator.sample_rows",
        lambda setting, model, controls=False: asked.append(controls) or 64,
    )
    model = Generator(50, 8, 8, 6)
    model.sample(10)
    model.sample(10, sampling=Sampling(temperature=0.5))
    model.sample(10, sampling=Sampling(top_p=0.9))
    model.sample(10, sampling=Sampling(top_k=5))
    assert asked == [False, False, True, True]
    row = 4 * pass_rows.sampling_row_floats(5000, 32)
    memory = 16 * GIB
    assert pass_rows.rows_for(
        0, torch.device("cuda"), row * pass_rows.CONTROLS_FACTOR, memory
    ) < pass_rows.rows_for(0, torch.device("cuda"), row, memory)


def test_no_float64_on_the_device_where_mps_has_none():
    """Apple's mps has no float64: sums and probabilities take ``wide_float``. A static
    check (no mps here): ``.double()`` only where the tensor is already on the CPU."""
    import pathlib
    import re

    from seqgan.runtime.device import wide_float

    assert wide_float("mps") is torch.float32
    assert wide_float("cpu") is torch.float64 and wide_float("cuda:1") is torch.float64
    src = pathlib.Path(__file__).parents[1] / "src" / "seqgan"
    found = {
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if re.search(r"\.double\(\)", p.read_text(encoding="utf-8"))
    }
    assert found <= {"training/policies.py"}, found  # policies: probabilities moved to the CPU
