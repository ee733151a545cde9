"""The chunked output layer + log-softmax (models.output_loss, generator.output_kernel):
equal to the plain computation to float rounding (values and gradients, float32 and
float64, masks, chunk boundaries that do not divide the rows, -inf and very large
logits), routed through MLE, the policy gradient, scheduled sampling, the VAE decoder and
NLL; "auto" keeps small vocabularies and runs of earlier releases on the plain path."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from seqgan import api
from seqgan.config import build_config, read_toml
from seqgan.models import output_loss
from seqgan.models.generator import Generator
from seqgan.models.vae import Encoder, LatentGenerator
from seqgan.storage.folder import RunFolder
from seqgan.training import steps
from seqgan.training.session import resumed_config
from tests.conftest import TINY


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 7 rows, so the rows of every test end in a partial chunk."""
    monkeypatch.setattr(output_loss, "rows_per_chunk", lambda vocab, itemsize, mib: 7)


def _plain(hidden, weight, bias, targets):
    return (
        F.log_softmax(F.linear(hidden, weight, bias), -1).gather(1, targets.unsqueeze(1)).squeeze(1)
    )


def _case(dtype, n=50, width=6, vocab=37, scale=1.0):
    torch.manual_seed(0)
    hidden = (torch.randn(n, width, dtype=dtype) * scale).requires_grad_()
    weight = torch.randn(vocab, width, dtype=dtype).requires_grad_()
    bias = torch.randn(vocab, dtype=dtype).requires_grad_()
    return hidden, weight, bias, torch.randint(vocab, (n,))


def _close(a, b, dtype, scale=1.0):
    tol = (1e-12 if dtype == torch.float64 else 2e-5) * scale
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_token_log_probs_and_gradients_equal_the_plain_path(small_chunks, dtype):
    hidden, weight, bias, targets = _case(dtype)
    upstream = torch.randn(len(targets), dtype=dtype)
    params = (hidden, weight, bias)
    expected = _plain(*params, targets)
    expected_grads = torch.autograd.grad((expected * upstream).sum(), params)
    got = output_loss.token_log_probs(*params, targets)
    grads = torch.autograd.grad((got * upstream).sum(), params)
    _close(got, expected, dtype)
    for g, e in zip(grads, expected_grads):
        _close(g, e, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_weighted_nll_with_a_mask_equals_the_masked_mean_cross_entropy(small_chunks, dtype):
    hidden, weight, bias, targets = _case(dtype)
    mask = (torch.arange(len(targets)) % 5 != 0).to(dtype)  # padding: weight 0
    params = (hidden, weight, bias)
    expected = (
        F.cross_entropy(F.linear(*params), targets, reduction="none") * mask
    ).sum() / mask.sum()
    expected_grads = torch.autograd.grad(expected * 3.0, params)
    loss, log_probs = output_loss.weighted_nll(*params, targets, mask / mask.sum())
    grads = torch.autograd.grad(loss * 3.0, params)  # the upstream gradient scales them
    _close(loss, expected, dtype)
    _close(log_probs, _plain(*params, targets).detach(), dtype)
    for g, e in zip(grads, expected_grads):
        _close(g, e, dtype)


def test_minus_infinite_and_very_large_logits(small_chunks):
    """-inf logits (a token that can never be chosen), logits of order 1e4 (no overflow),
    and targets of probability far below the float range (log-space recomputation)."""
    dtype = torch.float32
    hidden, weight, bias, targets = _case(dtype, scale=300.0)
    with torch.no_grad():
        bias[3] = -float("inf")
    targets[targets == 3] = 4
    params = (hidden, weight, bias)
    logits = F.linear(*params).detach()
    assert logits[:, :3].abs().max() > 1e3 and torch.isinf(logits[:, 3]).all()
    expected = _plain(*params, targets)
    assert expected.min() < -1000  # p_y = exp(-1000): 0 in float32
    upstream = torch.randn(len(targets), dtype=dtype)
    expected_grads = torch.autograd.grad((expected * upstream).sum(), params)
    got = output_loss.token_log_probs(*params, targets)
    grads = torch.autograd.grad((got * upstream).sum(), params)
    assert torch.isfinite(got).all()
    _close(got, expected, dtype, scale=1e4)  # float32 rounding of values of order 1e4
    for g, e in zip(grads, expected_grads):
        assert torch.isfinite(g).all()
        _close(g, e, dtype, scale=1e4)


def _text_generator(kernel: str, dtype=torch.float64, cls=Generator, **extra) -> Generator:
    torch.manual_seed(1)
    generator = cls(
        23, 5, 6, 9, start_token=1, eos_token=2, pad_token=0, never_output=(0, 1), **extra
    ).to(dtype)
    generator.output_kernel = kernel
    return generator


def _text_tokens() -> torch.Tensor:
    torch.manual_seed(2)
    tokens = torch.randint(3, 23, (11, 9))
    tokens[:4, 5] = 2  # <eos>, then padding
    tokens[:4, 6:] = 0
    return tokens


def _zeros_of(dtype):
    zeros = torch.zeros

    def of_dtype(*size, **kwargs):
        return zeros(*size, **{"dtype": dtype, **kwargs})

    return of_dtype


def _grads(model, loss):
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_generator_mle_loss_and_log_prob_match_with_eos_padding(small_chunks, dtype, monkeypatch):
    monkeypatch.setattr(torch, "zeros", _zeros_of(dtype))  # initial states of the dtype
    tokens = _text_tokens()
    plain, chunked = _text_generator("plain", dtype), _text_generator("chunked", dtype)
    plain_loss, chunked_loss = steps.mle_loss(plain, tokens), steps.mle_loss(chunked, tokens)
    _close(chunked_loss, plain_loss, dtype)
    for g, e in zip(_grads(chunked, chunked_loss), _grads(plain, plain_loss)):
        _close(g, e, dtype)
    weights = torch.randn(tokens.shape, dtype=dtype)  # a policy-gradient loss
    plain_lp, chunked_lp = plain.log_prob(tokens), chunked.log_prob(tokens)
    _close(chunked_lp, plain_lp, dtype)
    assert (chunked_lp[:4, 6:] == 0).all()  # nothing after <eos>
    for g, e in zip(
        _grads(chunked, -(chunked_lp * weights).mean()), _grads(plain, -(plain_lp * weights).mean())
    ):
        _close(g, e, dtype)


def test_vae_decoder_log_prob_matches_with_gradients_through_z(small_chunks):
    dtype = torch.float32
    tokens = _text_tokens()
    models = []
    for kernel in ("plain", "chunked"):
        torch.manual_seed(3)
        encoder = Encoder(23, 4, 3, 2)
        models.append(
            _text_generator(kernel, dtype, LatentGenerator, latent_dim=2, encoder=encoder)
        )
    losses = []
    for model in models:
        torch.manual_seed(4)  # the same z ~ q(z|x)
        losses.append(-model.log_prob(tokens).sum())
    _close(losses[1], losses[0], dtype)
    for g, e in zip(_grads(models[1], losses[1]), _grads(models[0], losses[0])):
        _close(g, e, dtype)


def test_scheduled_sampling_draws_the_same_inputs_and_loss(small_chunks):
    data = _text_tokens()
    results = []
    for kernel in ("plain", "chunked"):
        generator = _text_generator(kernel, torch.float32)
        optimizer = torch.optim.SGD(generator.parameters(), lr=0.1)
        torch.manual_seed(5)
        results.append(
            (steps.scheduled_sampling_epoch(generator, optimizer, data, 11, 5.0, 0.5), generator)
        )
    (plain_loss, plain_replaced), plain = results[0]
    (chunked_loss, chunked_replaced), chunked = results[1]
    assert chunked_replaced == plain_replaced and 0 < plain_replaced < 1
    assert chunked_loss == pytest.approx(plain_loss, rel=1e-6)
    for p, c in zip(plain.parameters(), chunked.parameters()):
        torch.testing.assert_close(c, p, rtol=1e-5, atol=1e-6)


def test_auto_chooses_chunked_only_for_a_large_vocabulary_on_the_cpu():
    cpu = torch.device("cpu")
    choose = output_loss.choose_output_kernel
    assert choose("auto", 5000, cpu) == "plain"  # the synthetic experiments
    assert choose("auto", output_loss.AUTO_CHUNKED_FROM, cpu) == "chunked"
    assert choose("auto", 30000, torch.device("cuda")) == "plain"
    assert choose("chunked", 40, cpu) == "chunked" and choose("plain", 30000, cpu) == "plain"


def _tiny(**generator) -> dict:
    config = copy.deepcopy(TINY)
    config["pretrain"].update(generator_epochs=2, discriminator_rounds=1)
    config["adversarial"]["epochs"] = 1
    config["run"]["tensorboard"] = False
    config["generator"].update(generator)
    return config


def test_a_tiny_run_trains_with_the_chunked_kernel_and_records_it(tmp_path):
    run = api.train(_tiny(output_kernel="chunked"), tmp_path / "run")
    assert read_toml(run.path / "config.toml")["generator"]["output_kernel"] == "chunked"
    losses = [float(r["g_loss"]) for r in run.metrics if r.get("g_loss") not in (None, "")]
    nll = [float(r["nll_test"]) for r in run.metrics if r.get("nll_test") not in (None, "")]
    assert losses and nll and all(map(torch.isfinite, torch.tensor(losses + nll)))


def test_auto_is_recorded_and_a_run_of_an_earlier_release_resumes_plain(tmp_path):
    run = api.train(_tiny(), tmp_path / "run")  # V = 40: auto is plain
    path = run.path / "config.toml"
    assert read_toml(path)["generator"]["output_kernel"] == "plain"
    # a config.toml written before the key existed: plain, whatever auto would choose
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.startswith("output_kernel =")
    )
    path.write_text(text + "\n")
    assert "output_kernel" not in read_toml(path)["generator"]
    assert build_config(read_toml(path)).generator.output_kernel == "auto"
    cfg, changed = resumed_config(RunFolder.open(run.path), [])
    assert cfg.generator.output_kernel == "plain" and changed == []


def test_the_chunk_size_is_recorded_and_a_run_of_an_earlier_release_resumes_with_2_mib(
    tmp_path,
):
    run = api.train(_tiny(output_kernel="chunked"), tmp_path / "run")
    path = run.path / "config.toml"
    assert read_toml(path)["generator"]["output_chunk_mib"] == output_loss.CHUNK_MIB == 32
    # a config.toml written before the key existed: 2 MiB, the size those releases used
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.startswith("output_chunk_mib")
    )
    path.write_text(text + "\n")
    cfg, changed = resumed_config(RunFolder.open(run.path), [])
    assert cfg.generator.output_chunk_mib == 2.0 and changed == []


def test_the_generator_computes_with_its_chunk_size(monkeypatch):
    """``Generator.output_chunk_mib`` reaches the kernel: the rows per chunk follow it, and
    the loss and gradients agree with another size to float rounding."""
    seen = []
    rows_per_chunk = output_loss.rows_per_chunk

    def spy(vocab, itemsize, mib):
        seen.append(mib)
        return rows_per_chunk(vocab, itemsize, mib)

    monkeypatch.setattr(output_loss, "rows_per_chunk", spy)
    monkeypatch.setattr(output_loss, "MIN_ROWS", 1)
    torch.manual_seed(0)
    generator = Generator(300, 8, 16, 12)
    generator.output_kernel = "chunked"
    tokens = torch.randint(300, (20, 12))
    grads = {}
    for mib in (0.01, 32.0):  # 0.01 MiB: 8 rows of V = 300 a chunk, 30 chunks
        generator.output_chunk_mib = mib
        generator.zero_grad()
        loss = steps.mle_loss(generator, tokens)
        loss.backward()
        grads[mib] = (loss.detach(), generator.output.weight.grad.clone())
        assert seen[-1] == mib and rows_per_chunk(300, 4, mib) == (8 if mib < 1 else 27962)
    _close(grads[0.01][0], grads[32.0][0], torch.float32)
    _close(grads[0.01][1], grads[32.0][1], torch.float32)


def test_a_checkpoint_of_an_earlier_release_reads_as_plain():
    """``pretrain.generator_from`` and the resume check compare a checkpoint's settings
    with today's: one written before the key existed computed with plain."""
    from seqgan.training.loop import _current_keys

    saved = {"generator": {"emb_dim": 8}}
    assert _current_keys(saved)["generator"]["output_kernel"] == "plain"
    assert _current_keys(saved)["generator"]["output_chunk_mib"] == 2.0
    assert saved == {"generator": {"emb_dim": 8}}  # the checkpoint's table is not changed
    assert (
        _current_keys({"generator": {"output_kernel": "chunked"}})["generator"]["output_kernel"]
        == "chunked"
    )
