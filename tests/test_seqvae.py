"""SeqVAE (Gao et al. 2021): encoder, KL and free bits, Eq. 14, the latent space, and tiny
end-to-end runs of vae / seqvae1 / seqvae2 (train, generate, resume, compare)."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import tomli_w
import torch

from seqgan.cli import main
from seqgan.config import VAEConfig, build_config
from seqgan.data.synthetic import build_synthetic_task
from seqgan.errors import Interrupted
from seqgan.models.vae import Encoder, LatentGenerator, gaussian_kl
from seqgan.rl.rollout import mc_search_q
from seqgan.rl.seqvae_loss import decoding_loss, prefix_lengths
from seqgan.training import seqvae, vae
from seqgan.training.latent import interpolate, latent_line, parse_sequence
from seqgan.training.session import open_session
from tests.conftest import TINY
from tests.helpers import read_csv

TINY_VAE = copy.deepcopy(TINY)
TINY_VAE["vae"] = {
    "latent_dim": 6,
    "encoder_emb_dim": 8,
    "encoder_hidden_dim": 8,
    "encoder_dropout": 0.25,
}
TINY_VAE["run"]["tensorboard"] = False


def _tiny_latent(encoder: bool = True, eos: bool = False) -> LatentGenerator:
    enc = Encoder(30, 6, 5, 4) if encoder else None
    extra = {"eos_token": 2, "pad_token": 0, "never_output": (0, 1)} if eos else {}
    return LatentGenerator(30, 6, 7, 9, start_token=1, latent_dim=4, encoder=enc, **extra)


# -- the model ----------------------------------------------------------------------------


def test_encoder_shapes_and_the_residual_path_between_its_layers():
    encoder = Encoder(30, 6, 5, 4).eval()
    tokens = torch.randint(0, 30, (7, 9))
    lengths = torch.full((7,), 9)
    mu, sigma = encoder(tokens)
    assert mu.shape == sigma.shape == (7, 4) and bool((sigma > 0).all())
    out1, lstm2, out2 = encoder.layers(tokens, lengths)
    assert out1.shape == lstm2.shape == out2.shape == (7, 9, 10)  # 2 directions x 5
    with torch.no_grad():
        reference1, _ = encoder.layer1(encoder.embedding(tokens))
        reference2, _ = encoder.layer2(reference1)
    torch.testing.assert_close(out1, reference1)
    torch.testing.assert_close(lstm2, reference2)
    torch.testing.assert_close(out2, reference2 + reference1)  # out_2 = LSTM_2(out_1) + out_1
    summary = torch.cat([out2[:, -1, :5], out2[:, 0, 5:]], dim=1)
    torch.testing.assert_close(mu, encoder.mu(summary))
    torch.testing.assert_close(sigma, torch.nn.functional.softplus(encoder.sigma(summary)) + 1e-6)


def test_encoder_reads_a_variable_length_sequence_up_to_its_eos_only():
    generator = _tiny_latent(eos=True).eval()
    tokens = torch.tensor([[5, 6, 2, 0, 0, 0, 0, 0, 0], [5, 6, 2, 9, 9, 9, 9, 9, 9]])
    mu, _ = generator.encode(tokens)
    torch.testing.assert_close(mu[0], mu[1])  # what follows <eos> is not read
    alone, _ = generator.encoder(tokens[:1, :3])
    torch.testing.assert_close(mu[:1], alone)


def test_kl_matches_the_closed_form():
    mu = torch.tensor([[1.0, 0.0, -0.5]])
    sigma = torch.tensor([[2.0, 1.0, 0.3]])
    kl = gaussian_kl(mu, sigma)
    hand = [0.5 * (1 + 4 - 1) - math.log(2.0), 0.0, 0.5 * (0.25 + 0.09 - 1) - math.log(0.3)]
    torch.testing.assert_close(kl, torch.tensor([hand]))
    normal = torch.distributions.Normal
    torch.testing.assert_close(
        kl, torch.distributions.kl_divergence(normal(mu, sigma), normal(0.0, 1.0))
    )


def test_free_bits_clamp_as_eq3_and_the_weight_scales_as_eq2():
    kl = torch.tensor([0.5, 1.4, 4.0], requires_grad=True)
    penalty = vae.kl_penalty(kl, VAEConfig(kl_weight=1.0, kl_threshold=1.5))
    torch.testing.assert_close(penalty, torch.tensor([0.0, 0.0, 2.5]))
    penalty.sum().backward()
    torch.testing.assert_close(kl.grad, torch.tensor([0.0, 0.0, 1.0]))  # below tau: no push
    weighted = vae.kl_penalty(kl.detach(), VAEConfig(kl_weight=0.5, kl_threshold=0.0))
    torch.testing.assert_close(weighted, torch.tensor([0.25, 0.7, 2.0]))


def test_decoder_starts_from_a_linear_map_of_z_and_keeps_the_generator_interface():
    decoder = _tiny_latent()
    z = torch.randn(3, 4)
    h, c = decoder.state_from(z)
    torch.testing.assert_close(
        torch.cat([h, c], 1), z @ decoder.latent.weight.T + decoder.latent.bias
    )
    tokens = torch.randint(2, 30, (3, 9))
    state = decoder.state_from(z)
    logits = decoder.logits(tokens, state=state)
    manual, step_state = [], state
    for token in decoder.inputs_for(tokens).T:
        out, step_state = decoder.step(token, step_state)
        manual.append(out)
    torch.testing.assert_close(logits, torch.stack(manual, 1))
    first = decoder.given(z).prefix_states(tokens)[0]
    torch.testing.assert_close(first[0], decoder.step(decoder.start_tokens(3), state)[1][0])


def test_unconditioned_log_prob_of_a_vae_is_the_elbo():
    generator = _tiny_latent().eval()
    tokens = torch.randint(0, 30, (4, 9))
    torch.manual_seed(5)
    elbo_rows = generator.log_prob(tokens).sum(1)
    torch.manual_seed(5)
    logp, mu, sigma = generator.reconstruct(tokens)
    torch.testing.assert_close(elbo_rows, logp.sum(1) - gaussian_kl(mu, sigma).sum(1))


# -- SeqVAE_2's loss (Eq. 14) -------------------------------------------------------------


def test_eq14_loss_equals_a_hand_computation():
    log_probs = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -1.2, -2.5]], requires_grad=True)
    rewards = torch.tensor([[0.2, 0.5, 0.9], [0.4, 0.1, 0.6]])
    lengths = prefix_lengths(3, step=1)
    assert lengths.tolist() == [1, 2, 3]
    loss = decoding_loss(log_probs, rewards, lengths)
    # row 1: (0.2 * -1 + 0.5 * -3 + 0.9 * -3.5) / 3; row 2: (0.4 * -0.3 + 0.1 * -1.5 + 0.6 * -4) / 3
    assert loss.item() == pytest.approx((4.85 / 3 + 2.67 / 3) / 2)
    loss.backward()
    # d loss / d log p_t = -(1 / (n m)) * (sum of the rewards of the decodings forcing t)
    torch.testing.assert_close(
        log_probs.grad, -torch.tensor([[1.6, 1.4, 0.9], [1.1, 0.7, 0.6]]) / 6
    )
    two = decoding_loss(log_probs.detach(), rewards[:, :2], prefix_lengths(3, step=2))
    assert float(two) == pytest.approx(
        -((0.2 * -3 + 0.5 * -3.5) / 2 + (0.4 * -1.5 + 0.1 * -4) / 2) / 2
    )


def test_prefix_lengths_follow_step_and_m():
    assert prefix_lengths(20, 3).tolist() == [3, 6, 9, 12, 15, 18, 20]
    assert prefix_lengths(20, 3, decodings=2).tolist() == [3, 6]
    assert prefix_lengths(8, 20).tolist() == [8]  # one decoding: the whole sequence (Eq. 12)
    with pytest.raises(ValueError):
        prefix_lengths(20, 3, decodings=8)
    with pytest.raises(ValueError):
        prefix_lengths(20, 0)


def test_decodings_keep_the_forced_prefix_and_share_z():
    """Decoding i of p_beta starts with the first L_i tokens of y, continues from y's z, and
    its reward is mc_search_q's value at prefix length L_i (same uniform numbers)."""
    torch.manual_seed(0)
    rollout = _tiny_latent(encoder=False)
    with torch.no_grad():
        rollout.latent.weight.mul_(100.0)  # so that z visibly steers the completions
    z = torch.randn(3, 4)
    samples = rollout.decode(z)
    scored = []

    def reward(tokens):
        scored.append(tokens.clone())
        return tokens[:, -1].float() / 30

    uniforms = torch.rand(8, 2, 3, 9, generator=torch.Generator().manual_seed(1))
    lengths = prefix_lengths(9, step=2)
    assert lengths.tolist() == [2, 4, 6, 8, 9]
    rewards = mc_search_q(rollout.given(z), samples, reward, 2, uniforms, lengths=lengths)
    assert rewards.shape == (3, 5)
    for batch, length in zip(scored, lengths.tolist()[:-1]):  # the last: y itself
        assert torch.equal(batch[:, :length], samples[:, :length].repeat(2, 1))
    torch.testing.assert_close(rewards[:, -1], reward(samples))
    q = mc_search_q(rollout.given(z), samples, reward, 2, uniforms)
    torch.testing.assert_close(rewards, q[:, lengths - 1])
    every = mc_search_q(
        rollout.given(z), samples, reward, 2, uniforms, lengths=prefix_lengths(9, 1)
    )
    torch.testing.assert_close(every, q)  # step 1: all of SeqGAN's Q
    other_z = mc_search_q(rollout.given(-z), samples, reward, 2, uniforms, lengths=lengths)
    for bad in ([0, 4], [4, 10]):  # outside 1..T
        with pytest.raises(ValueError):
            mc_search_q(rollout.given(z), samples, reward, 2, uniforms, lengths=bad)
    assert not torch.equal(rewards, other_z)  # the completions depend on z


# -- the latent space ---------------------------------------------------------------------


def test_interpolation_runs_between_the_posterior_means():
    generator = _tiny_latent().eval()
    a, b = torch.randint(0, 30, (9,)), torch.randint(0, 30, (9,))
    z, tokens = interpolate(generator, a, b, steps=5)
    with torch.no_grad():  # as interpolate (autograd may pick other LSTM kernels)
        mu, _ = generator.encode(torch.stack([a, b]))
    assert torch.equal(z[0], mu[0]) and torch.equal(z[-1], mu[1])
    torch.testing.assert_close(z[2], (mu[0] + mu[1]) / 2)
    assert tokens.shape == (5, 9)
    line = latent_line(torch.zeros(2), torch.ones(2), 3)
    torch.testing.assert_close(line, torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]))


def test_command_line_sequences_are_indices_ids_or_text(tiny_config):
    task = build_synthetic_task(tiny_config, None)
    assert torch.equal(parse_sequence("3", tiny_config, task, lambda: task.train), task.train[3])
    ids = parse_sequence("1 2 3 4 5 6 7 8", tiny_config, task, lambda: task.train)
    assert ids.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    from seqgan.errors import UserError

    for bad in ("1 2 3", "1 2 3 4 5 6 7 99", "hello there", "999"):
        with pytest.raises(UserError):
            parse_sequence(bad, tiny_config, task, lambda: task.train)


# -- end to end -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vae_runs(tmp_path_factory):
    """One tiny run per algorithm through the command line."""
    root = tmp_path_factory.mktemp("seqvae")
    config = root / "tiny.toml"
    config.write_text(tomli_w.dumps(TINY_VAE))
    runs = {}
    for algorithm in ("vae", "seqvae1", "seqvae2"):
        runs[algorithm] = root / algorithm
        assert (
            main(
                [
                    "train",
                    "--config",
                    str(config),
                    "--out",
                    str(runs[algorithm]),
                    "--set",
                    f'algorithm="{algorithm}"',
                ]
            )
            == 0
        )
    return runs


@pytest.mark.parametrize("algorithm", ["vae", "seqvae1", "seqvae2"])
def test_tiny_run_writes_a_complete_run_folder(vae_runs, algorithm):
    out = vae_runs[algorithm]
    for name in (
        "config.toml",
        "metrics.csv",
        "summary.json",
        "model.pt",
        "figures/nll_oracle.png",
        "figures/posterior.png",
        "samples/final.txt",
        "samples/pretrain_generator.txt",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    per_dim = np.load(out / "samples" / "kl_per_dimension.npy")
    assert per_dim.shape == (6,) and (per_dim >= 0).all()  # the tiny config's z: 6 units
    for key in (
        "nll_oracle",
        "nll_test",
        "nll_oracle_after_pretraining",
        "kl",
        "kl_dim_max",
        "active_units",
        "recon_nll",
    ):
        assert math.isfinite(summary[key]), key
    rows = read_csv(out / "metrics.csv")
    evaluated = [r for r in rows if r["nll_oracle"] and r["phase"] != "init"]
    assert evaluated and all(r["kl"] and r["active_units"] and r["recon_nll"] for r in evaluated)
    last = "vae" if algorithm == "vae" else "adversarial"
    assert rows[-1]["phase"] == last and rows[-1]["g_loss"]
    if algorithm != "vae":
        assert all(r["reward_mean"] and r["d_loss"] for r in rows if r["phase"] == last)


def test_the_vae_family_shares_a_bit_identical_pretraining(vae_runs):
    def pretraining(run):
        return [
            r for r in read_csv(run / "metrics.csv") if r["phase"] in ("init", "pretrain_generator")
        ]

    first = pretraining(vae_runs["vae"])
    assert len(first) == 1 + TINY["pretrain"]["generator_epochs"]
    assert pretraining(vae_runs["seqvae1"]) == first == pretraining(vae_runs["seqvae2"])


def test_generate_from_the_prior_and_interpolate(vae_runs, tmp_path, capsys):
    run = str(vae_runs["seqvae2"])
    capsys.readouterr()
    assert main(["generate", "--run", run, "--from-prior", "-n", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(len(line.split()) == 8 for line in lines)
    out = tmp_path / "line.txt"
    assert (
        main(
            [
                "generate",
                "--run",
                run,
                "--interpolate",
                "0",
                "1 2 3 4 5 6 7 8",
                "--steps",
                "6",
                "--greedy",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert len(out.read_text().splitlines()) == 6
    assert (
        main(["generate", "--run", str(vae_runs["vae"]), "--interpolate", "0", "1", "--steps", "1"])
        == 2
    )
    assert "--steps must be at least 2" in capsys.readouterr().err


def test_latent_options_refuse_a_run_without_a_vae(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps({**TINY, "algorithm": "random"}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    assert main(["generate", "--run", str(tmp_path / "r"), "--from-prior"]) == 2
    assert "need a VAE run" in capsys.readouterr().err


def test_resume_after_an_interruption_is_bit_identical(vae_runs, tmp_path):
    """Interrupt seqvae2 in its adversarial phase (as a signal would), resume, compare."""
    cfg = build_config({**TINY_VAE, "algorithm": "seqvae2"})
    trainer = open_session(cfg, tmp_path / "run", None)
    phase = trainer.phases[-1]
    run_epoch = phase.run_epoch

    def stop_at_two(epoch):
        if epoch == 2:
            raise Interrupted(15)
        return run_epoch(epoch)

    phase.run_epoch = stop_at_two
    with pytest.raises(Interrupted):
        trainer.train()
    assert not (tmp_path / "run" / "summary.json").exists()
    open_session(None, tmp_path / "run", None, resume=True).train(resume=True)
    ours = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    theirs = torch.load(vae_runs["seqvae2"] / "model.pt", weights_only=True)
    assert set(ours) == {"generator", "rollout", "discriminator"}
    for model, tensors in ours.items():
        for key, tensor in tensors.items():
            assert torch.equal(tensor, theirs[model][key]), f"{model}.{key}"
    assert (tmp_path / "run" / "metrics.csv").read_text() == (
        vae_runs["seqvae2"] / "metrics.csv"
    ).read_text()


def test_bad_seqvae2_decodings_are_a_one_line_error(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps(TINY_VAE))
    code = main(
        [
            "train",
            "--config",
            str(config),
            "--out",
            str(tmp_path / "r"),
            "--set",
            'algorithm="seqvae2"',
            "--set",
            "vae.decodings=9",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "vae.step / vae.decodings" in err and len(err.strip().splitlines()) == 1


def test_compare_shares_one_vae_pretraining_and_equals_a_run_alone(tmp_path):
    """The VAE family takes one shared VAE pre-training per seed (the MLE family its own),
    and a run that takes it ends exactly as the same run trained alone."""
    config = tmp_path / "tiny.toml"
    small = copy.deepcopy(TINY_VAE)
    small["adversarial"]["epochs"] = 2
    config.write_text(tomli_w.dumps(small))
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                "--config",
                str(config),
                "--out",
                str(out),
                "--jobs",
                "2",
                "--algorithms",
                "vae,seqgan,seqvae2",
            ]
        )
        == 0
    )
    rows = read_csv(out / "table.csv")
    assert [r["label"] for r in rows] == ["vae", "seqgan", "seqvae2"]
    assert all(float(r["nll_oracle"]) > 0 for r in rows)
    for name in ("vae", "seqvae2"):
        assert "seed-3/pretrain-vae" in (out / "seed-3" / name / "config.toml").read_text()
        assert "took pretrain_generator" in (out / "logs" / f"seed-3-{name}.log").read_text()
    assert 'seed-3/pretrain"' in (out / "seed-3" / "seqgan" / "config.toml").read_text()
    assert (out / "figures" / "nll_oracle.png").is_file()
    alone = tmp_path / "alone"
    assert (
        main(
            ["train", "--config", str(config), "--out", str(alone), "--set", 'algorithm="seqvae2"']
        )
        == 0
    )
    shared = read_csv(out / "seed-3" / "seqvae2" / "metrics.csv")
    assert shared == read_csv(alone / "metrics.csv")


def test_seqvae_builds_isolate_the_discriminator_initialisation(tiny_config):
    tiny_config.vae = VAEConfig(latent_dim=4, encoder_emb_dim=4, encoder_hidden_dim=4)
    task = build_synthetic_task(tiny_config, None)
    torch.manual_seed(0)
    models, optimizers, phases = seqvae.build_seqvae2(tiny_config, task)
    after = torch.rand(1)
    torch.manual_seed(0)
    vae.build(tiny_config, task)
    assert torch.equal(after, torch.rand(1))  # the discriminator drew nothing of the stream
    assert [p.name for p in phases] == [
        "pretrain_generator",
        "pretrain_discriminator",
        "adversarial",
    ]
    assert phases[0].shared_optimizer == "vae" and phases[0].shaped_by == ("vae",)
    assert set(optimizers) == {"vae", "encoder", "policy", "discriminator"}


@pytest.mark.parametrize("algorithm", ["seqvae1", "seqvae2"])
def test_variable_length_text_run_and_text_interpolation(tmp_path, capsys, algorithm):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat .\na dog sat on a log .\nbirds fly\n" * 10)
    config = tmp_path / "text.toml"
    config.write_text(
        tomli_w.dumps(
            {
                **TINY_VAE,
                "algorithm": algorithm,
                "data": {
                    "kind": "text",
                    "train_file": str(corpus),
                    "seq_len": 9,
                    "test_ratio": 0.25,
                },
            }
        )
    )
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "text" and math.isfinite(summary["nll_test"] + summary["kl"])
    capsys.readouterr()
    assert (
        main(
            [
                "generate",
                "--run",
                str(run),
                "--interpolate",
                "the cat sat",
                "birds fly",
                "--steps",
                "3",
                "--greedy",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and not any(
        t in ("<pad>", "<bos>", "<eos>") for line in lines for t in line.split()
    )
    assert main(["generate", "--run", str(run), "--interpolate", "the cat sat " * 4, "1"]) == 2
    assert "at most 8 fit" in capsys.readouterr().err


def test_music_run_interpolation_writes_midi_and_a_piano_roll(tmp_path, capsys):
    """A tiny melody VAE on MIDI tunes made here; its latent line as MIDI files (each
    re-read as the run's encoding) and as one piano-roll strip."""
    from seqgan.music import get_encoding
    from tests.test_music import _folder

    _folder(tmp_path)  # tmp_path/tunes: 10 tunes
    settings = copy.deepcopy(TINY_VAE)
    settings["data"] = {"kind": "music", "encoding": "pitch88", "train_file": "tunes", "seq_len": 8}
    settings["adversarial"]["epochs"] = 1
    config = tmp_path / "music.toml"
    config.write_text(tomli_w.dumps(settings))
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(config),
                "--out",
                str(run),
                "--data-root",
                str(tmp_path),
                "--set",
                'algorithm="vae"',
            ]
        )
        == 0
    )
    capsys.readouterr()
    line = [
        "generate",
        "--run",
        str(run),
        "--data-root",
        str(tmp_path),
        "--interpolate",
        "0",
        "60 62 64 65 67 69 71 72",
        "--steps",
        "5",
        "--greedy",
    ]
    assert main([*line, "--format", "midi", "--out", str(tmp_path / "line")]) == 0
    files = sorted((tmp_path / "line").glob("*.mid"))
    assert len(files) == 5
    for path in files:
        assert len(get_encoding("pitch88").encode_file(path)) > 0
    assert main([*line, "--format", "pianoroll", "--out", str(tmp_path / "line.png")]) == 0
    assert (tmp_path / "line.png").stat().st_size > 5_000
    assert "piano roll of 5 of 5 samples" in capsys.readouterr().err
