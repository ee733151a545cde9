"""The discriminator's formulations (models.discriminator_kernels) are one model; the
"auto" choice (models.kernel_choice) is measured once, cached, recorded and reused; bf16
(discriminator.precision) trains end to end."""

from __future__ import annotations

import copy
import json

import pytest
import tomli_w
import torch

from seqgan import api
from seqgan.config import D_KERNELS, build_config, read_toml
from seqgan.models import kernel_choice
from seqgan.models.discriminator import Discriminator
from seqgan.models.discriminator_kernels import KERNELS, shared_unfold_features
from seqgan.storage.folder import RunFolder
from seqgan.training.session import resumed_config
from tests.conftest import TINY

WIDTHS, FILTERS = [1, 2, 3, 5, 8], [4, 6, 3, 5, 2]


def _tokens(n: int = 12, T: int = 8, V: int = 5) -> torch.Tensor:
    """Few token ids, so windows repeat inside sequences: max-over-time has ties."""
    return torch.randint(V, (n, T), generator=torch.Generator().manual_seed(3))


def _model(dtype=torch.float64, widths=WIDTHS, filters=FILTERS) -> Discriminator:
    torch.manual_seed(0)
    d = Discriminator(5, 8, 6, widths, filters, dropout=0.0).to(dtype)
    with torch.no_grad():  # random weights everywhere (the init leaves biases constant)
        for p in d.parameters():
            p.copy_(torch.randn_like(p))
    return d


def _outputs_and_grads(d: Discriminator, kernel: str, tokens: torch.Tensor):
    d.zero_grad(set_to_none=True)
    logits = d(tokens, kernel)
    (logits[:, 1].sin().sum() + logits[:, 0].square().sum()).backward()
    return logits.detach(), {n: p.grad.clone() for n, p in d.named_parameters()}


def test_config_choices_are_the_kernels():
    assert ("auto", *KERNELS) == D_KERNELS


@pytest.mark.parametrize("kernel", [k for k in KERNELS if k != "conv1d"])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_every_kernel_gives_the_reference_outputs_and_gradients(kernel, dtype, tol):
    d, tokens = _model(dtype), _tokens()
    ref_logits, ref_grads = _outputs_and_grads(d, "conv1d", tokens)
    logits, grads = _outputs_and_grads(d, kernel, tokens)
    # tolerance relative to each tensor's largest entry (float rounding of sums of
    # products of N(0, 1) weights)
    torch.testing.assert_close(
        logits, ref_logits, rtol=tol, atol=tol * float(ref_logits.abs().max())
    )
    for name, grad in grads.items():  # incl. the embedding: ties share the gradient alike
        torch.testing.assert_close(
            grad, ref_grads[name], rtol=tol, atol=tol * float(ref_grads[name].abs().max()), msg=name
        )


def test_the_kernel_of_the_model_is_used_for_training_and_scoring(monkeypatch):
    d, tokens = _model(torch.float32), _tokens()
    d.kernel, d.score_kernel = "unfold", "conv2d"
    used = []
    for name in KERNELS:
        monkeypatch.setitem(
            KERNELS, name, lambda emb, w, _f=KERNELS[name], _n=name: used.append(_n) or _f(emb, w)
        )
    d(tokens)
    d.prob_real(tokens, chunk=5)
    assert used == ["unfold", "conv2d", "conv2d", "conv2d"]


def test_unknown_kernel_and_precision_are_refused():
    with pytest.raises(ValueError, match="unknown discriminator kernel 'fft'"):
        Discriminator(5, 8, 6, WIDTHS, FILTERS, kernel="fft")
    with pytest.raises(ValueError, match="precision"):
        Discriminator(5, 8, 6, WIDTHS, FILTERS, precision="fp16")


def test_bf16_forward_is_close_to_fp32_and_returns_fp32_logits():
    d, tokens = _model(torch.float32), _tokens()
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(0.1)
    fp32 = d(tokens)
    d.precision = "bf16"
    for kernel in KERNELS:
        bf16 = d(tokens, kernel)
        assert bf16.dtype == torch.float32
        torch.testing.assert_close(bf16, fp32, rtol=0.05, atol=0.05)
    assert not torch.equal(d(tokens), fp32)  # it really computed in bf16


def test_auto_measures_once_caches_and_leaves_the_random_state(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGAN_CACHE", str(tmp_path))
    cfg = build_config(TINY).discriminator
    state = torch.get_rng_state()
    train, score = kernel_choice.choose_kernels(cfg, 20, 8, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), state)
    assert train in KERNELS and score in KERNELS
    cache = json.loads((tmp_path / "kernels.json").read_text())
    (entry,) = cache.values()
    assert entry["train"] == min(entry["train_seconds"], key=entry["train_seconds"].get)
    assert set(entry["score_seconds"]) == set(KERNELS)

    def no_measuring(*args):
        raise AssertionError("measured again")

    monkeypatch.setattr(kernel_choice, "_measure", no_measuring)
    assert kernel_choice.choose_kernels(cfg, 20, 8, torch.device("cpu")) == (train, score)
    cfg.kernel, cfg.score_kernel = "conv2d", "unfold"  # forced: no measuring, no cache
    assert kernel_choice.choose_kernels(cfg, 20, 8, torch.device("cpu")) == ("conv2d", "unfold")
    cfg.batch_size += 1  # another shape: not in the cache
    with pytest.raises(AssertionError, match="measured again"):
        kernel_choice.choose_kernels(build_config(TINY).discriminator, 21, 8, torch.device("cpu"))


def test_a_damaged_cache_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGAN_CACHE", str(tmp_path))
    (tmp_path / "kernels.json").write_text("{not json")
    cfg = build_config(TINY).discriminator
    monkeypatch.setattr(
        kernel_choice, "_measure", lambda *a: {"train": "unfold", "score": "conv2d"}
    )
    assert kernel_choice.choose_kernels(cfg, 20, 8, torch.device("cpu")) == ("unfold", "conv2d")
    assert json.loads((tmp_path / "kernels.json").read_text())


def test_a_kernel_added_since_the_cache_was_written_is_timed(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGAN_CACHE", str(tmp_path))
    cfg = build_config(TINY).discriminator
    earlier = {k: v for k, v in KERNELS.items() if k != "shared_unfold"}  # a past release's
    monkeypatch.setattr(kernel_choice, "KERNELS", earlier)
    monkeypatch.setattr(
        kernel_choice, "_measure", lambda *a: {"train": "unfold", "score": "conv2d"}
    )
    assert kernel_choice.choose_kernels(cfg, 20, 8, torch.device("cpu")) == ("unfold", "conv2d")
    monkeypatch.setattr(kernel_choice, "KERNELS", KERNELS)  # today's
    monkeypatch.setattr(
        kernel_choice, "_measure", lambda *a: {"train": "shared_unfold", "score": "conv2d"}
    )
    assert kernel_choice.choose_kernels(cfg, 20, 8, torch.device("cpu"))[0] == "shared_unfold"
    assert len(json.loads((tmp_path / "kernels.json").read_text())) == 2


@pytest.mark.parametrize(
    "widths,filters,n",
    [
        ([8, 1, 5, 2], [3, 4, 2, 5], 12),  # any order
        ([8], [6], 1),  # one width = T, one row
        ([1], [3], 5),
    ],
)
def test_shared_unfold_on_other_width_sets(widths, filters, n):
    d, tokens = _model(torch.float64, widths, filters), _tokens(n)
    ref_logits, ref_grads = _outputs_and_grads(d, "conv1d", tokens)
    logits, grads = _outputs_and_grads(d, "shared_unfold", tokens)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-10, atol=1e-10)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-10, atol=1e-10, msg=name)


def test_shared_unfold_refuses_a_width_beyond_the_sequence():
    with pytest.raises(ValueError, match="filter width 9 exceeds sequence length 8"):
        shared_unfold_features(torch.zeros(2, 8, 3), [torch.zeros(4, 3, 9)])


def test_shared_unfold_in_bf16_matches_unfold_in_bf16():
    """The same bf16 products as ``unfold`` (the fp32 comparison of every kernel above
    is loose in bf16; this one is tight)."""
    d, tokens = _model(torch.float32), _tokens()
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(0.1)
    d.precision = "bf16"
    ref_logits, ref_grads = _outputs_and_grads(d, "unfold", tokens)
    logits, grads = _outputs_and_grads(d, "shared_unfold", tokens)
    torch.testing.assert_close(logits, ref_logits, rtol=2e-3, atol=2e-3)
    for name, grad in grads.items():
        torch.testing.assert_close(
            grad,
            ref_grads[name],
            rtol=2e-3,
            atol=2e-3 * float(ref_grads[name].abs().max()),
            msg=name,
        )
    d.precision = "fp32"
    fp32_logits, _ = _outputs_and_grads(d, "shared_unfold", tokens)
    assert not torch.equal(logits, fp32_logits)  # it really ran in bf16


def _tiny(**discriminator) -> dict:
    config = copy.deepcopy(TINY)
    config["pretrain"].update(generator_epochs=1, discriminator_rounds=1)
    config["adversarial"]["epochs"] = 2
    config["run"].update(tensorboard=False, checkpoint_every=1)
    config["discriminator"].update(discriminator)
    return config


def test_auto_is_recorded_in_the_run_and_a_resume_reuses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        kernel_choice, "_measure", lambda *a: {"train": "conv2d", "score": "unfold"}
    )
    run = api.train(_tiny(), tmp_path / "run", adversarial__epochs=1)
    recorded = read_toml(tmp_path / "run" / "config.toml")["discriminator"]
    assert (recorded["kernel"], recorded["score_kernel"]) == ("conv2d", "unfold")
    # a resume (here: an extension) computes with the recorded kernels, whatever the
    # machine would choose now
    monkeypatch.setattr(
        kernel_choice, "_measure", lambda *a: {"train": "unfold", "score": "conv1d"}
    )
    api.train(resume=run.path, adversarial__epochs=2)
    recorded = read_toml(tmp_path / "run" / "config.toml")["discriminator"]
    assert (recorded["kernel"], recorded["score_kernel"]) == ("conv2d", "unfold")


def test_a_run_of_an_earlier_release_resumes_with_its_conv1d_formulation(tmp_path):
    run = api.train(_tiny(kernel="unfold", score_kernel="unfold"), tmp_path / "run")
    path = run.path / "config.toml"
    text = "\n".join(
        line
        for line in path.read_text().splitlines()
        if not line.startswith(("kernel =", "score_kernel ="))
    )
    path.write_text(text + "\n")
    cfg, changed = resumed_config(RunFolder.open(run.path), [])
    assert (cfg.discriminator.kernel, cfg.discriminator.score_kernel) == ("conv1d", "conv1d")
    assert changed == []


def test_bf16_trains_end_to_end(tmp_path):
    run = api.train(
        _tiny(precision="bf16", kernel="unfold", score_kernel="conv2d"), tmp_path / "run"
    )
    assert run.config.discriminator.precision == "bf16"
    rows = [r for r in run.metrics if r.get("d_accuracy") not in (None, "")]
    assert rows and all(0.0 <= float(r["d_accuracy"]) <= 1.0 for r in rows)
    assert (run.path / "model.pt").is_file()


def test_shared_unfold_refuses_a_second_derivative_instead_of_a_wrong_one():
    emb = torch.randn(3, 8, 4, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)]
    (grad,) = torch.autograd.grad(
        shared_unfold_features(emb, weights).square().sum(), emb, create_graph=True
    )
    with pytest.raises(RuntimeError, match="once_differentiable|double backward"):
        grad.sum().backward()


def test_auto_leaves_out_a_kernel_that_disagrees_on_this_device(tmp_path, monkeypatch, capsys):
    """A formulation that is fastest but wrong (as a backend bug on an untested device
    would make it) is never chosen: every kernel is checked against conv1d first."""
    monkeypatch.setenv("SEQGAN_CACHE", str(tmp_path))
    cfg = build_config(TINY).discriminator
    total = sum(cfg.num_filters)

    def fast_but_wrong(emb, weights):  # differentiable, cheaper than any real kernel
        return emb[:, :1, :1].reshape(-1, 1).mul(0.5).expand(-1, total)

    monkeypatch.setitem(KERNELS, "fast_but_wrong", fast_but_wrong)
    train, score = kernel_choice.choose_kernels(cfg, 20, 8, torch.device("cpu"))
    assert "fast_but_wrong" not in (train, score)
    (entry,) = json.loads((tmp_path / "kernels.json").read_text()).values()
    assert "fast_but_wrong" not in entry["train_seconds"]
    assert set(entry["train_seconds"]) == set(KERNELS) - {"fast_but_wrong"}
    assert "left_out" not in entry or set(entry["left_out"]) == {"fast_but_wrong"}
    assert "differs from conv1d's" in entry.get("left_out", {}).get("fast_but_wrong", "")
    assert "fast_but_wrong" not in capsys.readouterr().err  # nothing the run uses: no alarm


def test_a_chosen_kernel_that_computes_wrongly_here_is_refused_in_one_line(
    tmp_path, monkeypatch, capsys
):
    """``discriminator.kernel = conv2d_plain`` on a device whose library computes that
    formulation wrongly: one line naming the setting and what to set, nothing written."""
    from tests.helpers import refused_and_unchanged

    def wrong(emb, weights):  # as a faulty backend would compute conv2d_plain
        return KERNELS["conv1d"](emb, weights) * 1e13

    monkeypatch.setitem(KERNELS, "conv2d_plain", wrong)
    config = tmp_path.parent / f"{tmp_path.name}-tiny.toml"
    config.write_text(tomli_w.dumps(TINY))
    refused_and_unchanged(
        lambda inputs: [
            "train",
            "--config",
            str(config),
            "--set",
            "discriminator.kernel=conv2d_plain",
            "--out",
            str(inputs / "run"),
        ],
        [
            "discriminator.kernel = conv2d_plain computes wrong results on cpu",
            "set discriminator.kernel = auto or conv1d",
        ],
        tmp_path,
        monkeypatch,
        capsys,
    )
