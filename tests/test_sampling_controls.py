"""Sampling controls (``models.sampling.Sampling``): temperature, top-k, top-p, greedy — exact
distributions, the default equal to plain sampling bit for bit, every generator (plain and
VAE decoders), the tempered NLL, and ``seqgan generate`` / ``seqgan evaluate``."""

from __future__ import annotations

import copy
import json

import pytest
import tomli_w
import torch
from scipy.stats import chisquare
from torch.nn import functional as F

from seqgan.cli import main
from seqgan.errors import UserError
from seqgan.metrics.nll import per_token_nll, sequence_nll
from seqgan.models.generator import Generator
from seqgan.models.sampling import Sampling, greedy_from_logits, sample_from_logits
from seqgan.models.vae import Encoder, LatentGenerator
from seqgan.training.latent import interpolate, prior_batches
from tests.conftest import TINY
from tests.helpers import error_line

# Frequencies over ROWS draws are compared with the exact distribution by a chi-square
# test; with the fixed seeds the p-values are far above the threshold, which a sampler
# off by more than ~1 % of a probability would not reach.
ROWS = 200_000
P_MIN = 1e-4
LOGITS = torch.tensor([0.3, -1.2, 1.5, 0.4, 1.1, -0.5])


def _frequencies_match(tokens: torch.Tensor, probs: torch.Tensor) -> None:
    """``tokens`` never outside the support of ``probs`` (float64, sums to 1), and their
    counts pass a chi-square test against it at p > P_MIN."""
    counts = torch.bincount(tokens, minlength=len(probs)).double()
    support = probs > 0
    assert counts[~support].sum() == 0, counts
    expected = probs[support] * len(tokens)
    result = chisquare(counts[support].numpy(), expected.numpy())
    assert result.pvalue > P_MIN, (result, counts, expected)


def _draw(sampling: Sampling, seed: int = 0) -> torch.Tensor:
    return sampling.sample(LOGITS.expand(ROWS, -1), generator=torch.Generator().manual_seed(seed))


def _renormalised(probs: torch.Tensor, keep: list[int]) -> torch.Tensor:
    out = torch.zeros_like(probs)
    out[keep] = probs[keep] / probs[keep].sum()
    return out


# -- the distributions --------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_temperature_samples_softmax_of_logits_over_tau(tau):
    expected = torch.softmax(LOGITS.double() / tau, -1)
    _frequencies_match(_draw(Sampling(temperature=tau), seed=int(tau * 10)), expected)
    # the restricted logits are that distribution (up to float32 rounding)
    restricted = Sampling(temperature=tau).restrict(LOGITS[None])
    torch.testing.assert_close(torch.softmax(restricted, -1)[0], expected.float())


def test_top_k_keeps_the_k_largest_and_renormalises():
    probs = torch.softmax(LOGITS.double(), -1)  # order: 2 > 4 > 3 > 0 > 5 > 1
    _frequencies_match(_draw(Sampling(top_k=3), 1), _renormalised(probs, [2, 4, 3]))
    _frequencies_match(
        _draw(Sampling(top_k=2, temperature=0.5), 2),
        _renormalised(torch.softmax(LOGITS.double() / 0.5, -1), [2, 4]),
    )
    assert torch.equal(_draw(Sampling(top_k=1), 3), torch.full((ROWS,), 2))
    # k >= V keeps every token; the draw is then the plain one, from the same uniforms
    assert torch.equal(_draw(Sampling(top_k=6), 4), _draw(Sampling(), 4))
    assert torch.equal(_draw(Sampling(top_k=50), 4), _draw(Sampling(), 4))


def test_top_k_ties_keep_exactly_k_by_index_order():
    logits = torch.tensor([[0.0, 2.0, 1.0, 2.0, 2.0, -1.0]])  # three tokens tied first
    kept = torch.softmax(Sampling(top_k=2).restrict(logits), -1)[0]
    assert kept.tolist() == [0.0, 0.5, 0.0, 0.5, 0.0, 0.0]  # ids 1 and 3, not 4
    kept = torch.softmax(Sampling(top_k=4).restrict(logits), -1)[0]
    assert (kept > 0).tolist() == [False, True, True, True, True, False]


def test_top_p_keeps_the_smallest_nucleus_and_renormalises():
    probs = torch.tensor([0.05, 0.10, 0.40, 0.15, 0.30], dtype=torch.float64)
    logits = probs.log().float()

    def draw(s, seed, rows=ROWS):
        return s.sample(logits.expand(rows, -1), generator=torch.Generator().manual_seed(seed))

    # 0.40 + 0.30 = 0.70 < 0.75: the next most probable (0.15) is needed to reach p
    _frequencies_match(draw(Sampling(top_p=0.75), 5), _renormalised(probs, [2, 4, 3]))
    _frequencies_match(draw(Sampling(top_p=0.5), 6), _renormalised(probs, [2, 4]))
    # the most probable token always stays, even when alone it exceeds p
    for p in (0.3, 1e-9):
        assert torch.equal(draw(Sampling(top_p=p), 7, 10_000), torch.full((10_000,), 2))
    # top-p of the tempered, top-k restricted distribution
    tempered = torch.softmax(logits.double() / 2.0, -1)  # 0.12, 0.17, 0.34, 0.21, 0.29
    top3 = _renormalised(tempered, [2, 4, 3])  # 0.40, 0.34, 0.25
    assert top3[2] + top3[4] < 0.8 < top3[2] + top3[4] + top3[3]
    _frequencies_match(draw(Sampling(temperature=2.0, top_k=3, top_p=0.8), 8), top3)
    assert top3[2] < 0.6 < top3[2] + top3[4]
    _frequencies_match(
        draw(Sampling(temperature=2.0, top_k=3, top_p=0.6), 9), _renormalised(tempered, [2, 4])
    )


def test_a_tiny_temperature_equals_greedy():
    torch.manual_seed(0)
    # rows of distinct logits 0.05 apart: at tau = 1e-4 every other token has exp(-500) = 0
    logits = torch.stack([torch.randperm(40).float() * 0.05 - 1.0 for _ in range(2000)])
    u = torch.rand(2000)
    greedy = Sampling(greedy=True).sample(logits, u)
    assert torch.equal(greedy, logits.argmax(-1))
    assert torch.equal(Sampling(temperature=1e-4).sample(logits, u), greedy)
    assert torch.equal(Sampling(temperature=1e-300).sample(logits, u), greedy)  # no NaN
    assert Sampling(greedy=True).sampler is greedy_from_logits


def test_the_default_controls_are_the_plain_sampler_bit_for_bit():
    torch.manual_seed(1)
    logits = 2 * torch.randn(20_000, 30)
    u = torch.rand(20_000)
    assert Sampling().is_default and Sampling(top_p=1.0, top_k=0).is_default
    assert Sampling().sampler is sample_from_logits
    assert torch.equal(Sampling().sample(logits, u), sample_from_logits(logits, u))
    a = Sampling().sample(logits, generator=torch.Generator().manual_seed(4))
    b = sample_from_logits(logits, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    # a control that restricts nothing draws the same tokens from the same uniforms
    assert torch.equal(Sampling(top_k=30).sample(logits, u), sample_from_logits(logits, u))
    # through a generator: with and without the argument, the same sequences
    gen = Generator(30, 6, 8, 10, start_token=0)
    plain = gen.sample(50, 16, torch.Generator().manual_seed(2))
    assert torch.equal(gen.sample(50, 16, torch.Generator().manual_seed(2), Sampling()), plain)
    torch.manual_seed(3)
    plain = gen.sample(50, 16)
    torch.manual_seed(3)
    assert torch.equal(gen.sample(50, 16, sampling=Sampling()), plain)


@pytest.mark.parametrize(
    "kwargs, option",
    [
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"temperature": 1e7}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_k": True}, "top_k"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": float("nan")}, "top_p"),
        ({"greedy": "yes"}, "greedy"),
    ],
)
def test_invalid_controls_are_one_line_errors(kwargs, option):
    # in Python's terms (the command line's --top-k: test_the_cli_refuses_...)
    with pytest.raises(UserError) as info:
        Sampling(**kwargs)
    message = str(info.value)
    assert "\n" not in message and message.startswith(option + " must"), message


def test_controls_signature_and_record():
    assert Sampling().signature() == ""
    s = Sampling(temperature=0.8, top_p=0.9)
    assert s.signature() == "temperature=0.8|top_p=0.9"
    assert Sampling(top_k=3, greedy=True).signature() == "top_k=3|greedy=true"
    assert s.to_dict() == {"temperature": 0.8, "top_k": 0, "top_p": 0.9, "greedy": False}
    assert Sampling(**s.to_dict()) == s
    with pytest.raises(AttributeError):  # frozen
        s.temperature = 2.0


# -- generators ------------------------------------------------------------------------------


def _in_top(logits: torch.Tensor, tokens: torch.Tensor, k: int) -> bool:
    """Every token of ``tokens [n, T]`` among the k largest of its step's ``logits [n, T, V]``."""
    kth = logits.topk(k, dim=-1).values[..., -1]
    return bool((logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) >= kth).all())


def test_generator_greedy_sampling_is_deterministic_and_top_k_stays_in_the_top_k():
    torch.manual_seed(4)
    gen = Generator(25, 6, 8, 12, start_token=0, init_std=1.0).eval()
    greedy = [
        gen.sample(20, 8, torch.Generator().manual_seed(s), Sampling(greedy=True)) for s in (0, 1)
    ]
    assert torch.equal(greedy[0], greedy[1])
    assert (greedy[0] == greedy[0][0]).all()  # one start token: one greedy sequence
    with torch.no_grad():
        assert torch.equal(greedy[0][0], gen.logits(greedy[0][:1]).argmax(-1)[0])
        tokens = gen.sample(300, 64, sampling=Sampling(top_k=3, temperature=2.0))
        assert _in_top(gen.logits(tokens), tokens, 3)
        assert not _in_top(gen.logits(tokens), tokens, 2)  # the third is drawn too
        plain = gen.sample(300, 64)
        assert not _in_top(gen.logits(plain), plain, 3)


def test_a_vae_decoder_honours_the_controls():
    torch.manual_seed(5)
    vae = LatentGenerator(
        30, 6, 7, 9, start_token=1, init_std=1.0, latent_dim=4, encoder=Encoder(30, 6, 5, 4)
    ).eval()
    z = torch.randn(40, 4)
    greedy = vae.decode(z, Sampling(greedy=True))
    with torch.no_grad():
        state = vae.state_from(z)
        assert torch.equal(greedy, vae.decode(z, Sampling(greedy=True)))
        assert torch.equal(greedy, vae.logits(greedy, state=state).argmax(-1))
        assert torch.equal(vae.decode(z, Sampling(top_k=1)), greedy)
        assert torch.equal(vae.decode(z, Sampling(temperature=1e-4)), greedy)
        tokens = vae.decode(z.repeat(10, 1), Sampling(top_k=2))
        assert _in_top(vae.logits(tokens, state=vae.state_from(z.repeat(10, 1))), tokens, 2)
    # the default decode is the plain one
    torch.manual_seed(6)
    plain = vae.decode(z)
    torch.manual_seed(6)
    assert torch.equal(vae.decode(z, Sampling()), plain)
    # prior sampling (as generate --from-prior) and interpolation take them
    torch.manual_seed(7)
    batches = list(prior_batches(vae, 10, 4, Sampling(greedy=True)))
    torch.manual_seed(7)
    assert torch.equal(torch.cat(batches), vae.sample(10, 4, sampling=Sampling(greedy=True)))
    a, b = torch.randint(0, 30, (9,)), torch.randint(0, 30, (9,))
    line, tokens = interpolate(vae, a, b, 4, Sampling(greedy=True))
    assert torch.equal(tokens, vae.decode(line, Sampling(greedy=True)))


# -- the NLL of a tempered model -------------------------------------------------------------


def _by_hand(gen: Generator, tokens: torch.Tensor, tau: float) -> float:
    with torch.no_grad():
        logp = F.log_softmax(gen.logits(tokens).double() / tau, -1)
        logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) * gen.token_mask(tokens)
    return float(-logp.sum() / gen.token_mask(tokens).sum())


@pytest.mark.parametrize("eos", [False, True])
def test_tempered_nll_is_the_nll_of_softmax_over_tau(eos):
    torch.manual_seed(8)
    extra = {"eos_token": 2, "pad_token": 0, "never_output": (0, 1)} if eos else {}
    gen = Generator(20, 6, 8, 10, start_token=1, init_std=1.0, **extra)
    tokens = gen.sample(64, 32)
    today = per_token_nll(gen, tokens)
    assert per_token_nll(gen, tokens, temperature=1.0) == today  # exactly
    assert torch.equal(sequence_nll(gen, tokens, temperature=1.0), sequence_nll(gen, tokens))
    assert today == pytest.approx(_by_hand(gen, tokens, 1.0), rel=1e-5)
    for tau in (0.5, 2.0):
        tempered = per_token_nll(gen, tokens, temperature=tau)
        assert tempered == pytest.approx(_by_hand(gen, tokens, tau), rel=1e-5)
        assert abs(tempered - today) > 0.01


def test_tempered_elbo_of_a_vae():
    torch.manual_seed(9)
    vae = LatentGenerator(
        30, 6, 7, 9, start_token=1, latent_dim=4, encoder=Encoder(30, 6, 5, 4)
    ).eval()
    tokens = torch.randint(0, 30, (16, 9))
    torch.manual_seed(10)
    today = per_token_nll(vae, tokens)
    torch.manual_seed(10)
    assert per_token_nll(vae, tokens, temperature=1.0) == today
    torch.manual_seed(10)
    assert per_token_nll(vae, tokens, temperature=0.5) != today


# -- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("controls")
    cfg = copy.deepcopy(TINY)
    cfg.update(algorithm="mle")
    cfg["pretrain"]["generator_epochs"] = 2
    cfg["adversarial"]["epochs"] = 1
    cfg["run"]["tensorboard"] = False
    config = root / "tiny.toml"
    config.write_text(tomli_w.dumps(cfg))
    assert main(["train", "--config", str(config), "--out", str(root / "run")]) == 0
    return root / "run"


def _lines(args, capsys) -> list[str]:
    capsys.readouterr()
    assert main(args) == 0
    return capsys.readouterr().out.splitlines()


def test_generate_with_the_controls(tiny_run, capsys):
    run = ["generate", "--run", str(tiny_run)]
    lines = _lines(run + ["-n", "6", "--temperature", "0.5", "--top-k", "3"], capsys)
    assert len(lines) == 6 and all(len(line.split()) == 8 for line in lines)
    assert _lines(run + ["-n", "6", "--top-p", "0.9", "--temperature", "1.5"], capsys)
    greedy = _lines(run + ["-n", "4", "--greedy"], capsys)  # any run, not only VAE runs
    assert len(set(greedy)) == 1
    assert _lines(run + ["-n", "4", "--greedy", "--seed", "9"], capsys) == greedy
    assert _lines(run + ["-n", "4", "--top-k", "1"], capsys) == greedy
    plain = _lines(run + ["-n", "5"], capsys)
    assert _lines(run + ["-n", "5", "--temperature", "1", "--top-p", "1"], capsys) == plain


@pytest.mark.parametrize(
    "option, value",
    [
        ("--top-p", "0"),
        ("--temperature", "0"),
        ("--temperature", "nan"),
        ("--top-k", "-2"),
        ("--top-p", "x"),
    ],
)
def test_invalid_controls_on_the_command_line(tiny_run, option, value, capsys):
    for command in ("generate", "evaluate"):
        capsys.readouterr()
        assert main([command, "--run", str(tiny_run), option, value]) == 2
        error_line(capsys.readouterr().err, option)


def test_evaluate_with_the_controls(tiny_run, capsys):
    out = ["--out", str(tiny_run / "evaluation.json")]
    assert main(["evaluate", "--run", str(tiny_run), "--samples", "32", *out]) == 0
    plain = json.loads((tiny_run / "evaluation.json").read_text())
    assert plain["sampling"] == Sampling().to_dict()
    assert not any("temperature" in sig for sig in plain["signatures"].values())
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(tiny_run),
                "--samples",
                "32",
                "--temperature",
                "0.5",
                "--top-p",
                "0.9",
                *out,
            ]
        )
        == 0
    )
    assert "temperature=0.5 top_p=0.9" in capsys.readouterr().out
    tempered = json.loads((tiny_run / "evaluation.json").read_text())
    assert tempered["sampling"] == {"temperature": 0.5, "top_k": 0, "top_p": 0.9, "greedy": False}
    signatures = tempered["signatures"]
    assert (
        signatures["nll_oracle"] == plain["signatures"]["nll_oracle"] + "|temperature=0.5|top_p=0.9"
    )
    assert signatures["nll_test"] == plain["signatures"]["nll_test"] + "|temperature=0.5"
    assert tempered["nll_test"] != plain["nll_test"]
    assert tempered["nll_oracle"] != plain["nll_oracle"]
