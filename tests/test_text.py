"""Text data: tokenisation, vocabulary, variable length (<eos>/<pad>) in sampling, MC search,
likelihoods and losses, and a tiny end-to-end text run — on text written by the tests."""

from __future__ import annotations

import json
import math

import pytest
import tomli_w
import torch
from torch.nn import functional as F

from seqgan.cli import main
from seqgan.data.text import build_text_corpus, to_ids, to_tokens, tokenize
from seqgan.data.vocab import BOS, EOS, PAD, UNK, Vocabulary
from seqgan.metrics.bleu import bleu
from seqgan.metrics.nll import per_token_nll, sequence_nll
from seqgan.models.generator import Generator
from seqgan.rl.estimators import merl_returns
from seqgan.rl.rollout import draw_rollout_uniforms, mc_search_q, mc_search_q_reference
from seqgan.training.steps import token_cross_entropy
from tests.conftest import TINY

LINES = [
    "the cat sat on the mat .",
    "a dog sat on a log .",
    "the dog ate the cat food .",
    "birds fly",
    "a very long line that will not fit into the short length at all .",
]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(LINES * 8) + "\n", encoding="utf-8")
    return path


def test_tokenizers():
    assert tokenize("a cat.  sat", "word") == ["a", "cat.", "sat"]
    assert tokenize("a cat. sat", "regex") == ["a", "cat", ".", "sat"]
    assert tokenize("秦 川，雄", "char") == ["秦", "川", "，", "雄"]


def test_vocabulary_specials_frequency_order_and_unknowns():
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "b", "a"]], min_freq=2)
    assert vocab.tokens == [PAD, BOS, EOS, UNK, "b", "a"]
    assert vocab.encode(["a", "zzz", "c"]) == [5, 3, 3]
    assert Vocabulary(json.loads(vocab.to_bytes())["tokens"]).tokens == vocab.tokens


@pytest.mark.parametrize("tokenizer", ["word", "regex", "char"])
def test_ids_round_trip(tokenizer):
    sequences = [tokenize(line, tokenizer) for line in LINES[:4]]
    vocab = Vocabulary.build(sequences)
    seq_len = max(map(len, sequences)) + 1
    ids = to_ids(sequences, vocab, seq_len)
    assert ids.shape == (4, seq_len)
    assert to_tokens(ids, vocab) == sequences
    # every row: tokens, one <eos>, then <pad> only
    for row, seq in zip(ids.tolist(), sequences):
        assert row[len(seq)] == vocab.id(EOS)
        assert set(row[len(seq) + 1 :]) <= {vocab.id(PAD)}


def test_long_lines_drop_or_truncate_and_split(text_file):
    kept = build_text_corpus(
        text_file, None, seq_len=9, tokenizer="word", test_ratio=0.25, split_seed=1
    )
    assert kept.dropped == 6 and kept.truncated == 0  # the long line's 8 copies, 2 held out
    assert len(kept.train) + len(kept.test) == 32 and len(kept.test) == 8 + 2 - 2
    cut = build_text_corpus(
        text_file,
        None,
        seq_len=9,
        tokenizer="word",
        long_lines="truncate",
        test_ratio=0.25,
        split_seed=1,
    )
    assert len(cut.train) + len(cut.test) == 40 and cut.truncated == 6
    again = build_text_corpus(
        text_file,
        None,
        seq_len=9,
        tokenizer="word",
        long_lines="truncate",
        test_ratio=0.25,
        split_seed=1,
    )
    assert torch.equal(again.test, cut.test)  # the split depends on split_seed only


def _text_generator(vocab_size=9, seq_len=6, eos=2, pad=0, std=1.0):
    torch.manual_seed(0)
    return Generator(
        vocab_size, 5, 7, seq_len, start_token=1, init_std=std, eos_token=eos, pad_token=pad
    )


def test_sampling_pads_after_eos_and_log_prob_counts_up_to_eos():
    gen = _text_generator()
    samples = gen.sample(500)
    ended = False
    for row in samples.tolist():
        if 2 in row:
            ended = True
            assert set(row[row.index(2) + 1 :]) <= {0}
    assert ended  # with N(0,1) weights some rows end early
    logp = gen.log_prob(samples)
    mask = gen.token_mask(samples)
    assert torch.all(logp[mask == 0] == 0)
    row = torch.tensor([[5, 2, 0, 0, 0, 0]])
    full = F.log_softmax(gen.logits(row), -1)[0].detach()
    expected = -(full[0, 5] + full[1, 2])  # y_1 and <eos>, nothing after
    assert math.isclose(float(sequence_nll(gen, row)[0]), float(expected), rel_tol=1e-6)
    assert math.isclose(per_token_nll(gen, row), float(expected) / 2, rel_tol=1e-6)


def test_mc_search_does_not_sample_past_eos_and_paths_agree():
    gen = _text_generator()
    tokens = torch.tensor([[3, 2, 0, 0, 0, 0], [4, 5, 6, 7, 8, 3]])
    seen = []

    def reward(batch):
        seen.append(batch.clone())
        return batch[:, -1].float() / 10

    uniforms = draw_rollout_uniforms(2, 6, 3)
    fast = mc_search_q(gen, tokens, reward, 3, uniforms)
    slow = mc_search_q_reference(gen, tokens, reward, 3, uniforms)
    assert torch.allclose(fast, slow)
    for batch in seen:  # the ended row's completions are the row itself
        for row in batch.tolist():
            if row[:2] == [3, 2]:
                assert row == [3, 2, 0, 0, 0, 0]


def test_masked_losses_ignore_padding():
    gen = _text_generator()
    tokens = torch.tensor([[5, 2, 0, 0, 0, 0], [3, 4, 6, 2, 0, 0]])
    logits = gen.logits(tokens)
    per_token = F.cross_entropy(logits.reshape(-1, 9), tokens.reshape(-1), reduction="none")
    mask = torch.tensor([1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0], dtype=torch.float)
    expected = (per_token * mask).sum() / 6
    assert torch.allclose(token_cross_entropy(gen, logits, tokens), expected)
    # MERL's -alpha log pi - 1 terms stop at <eos>
    logp = gen.log_prob(tokens)
    q = merl_returns(torch.tensor([1.0, 0.0]), logp, 1.0, gen.token_mask(tokens))
    step = (-logp - 1) * gen.token_mask(tokens)
    assert torch.allclose(q[0, 0], 0.5 + step[0].sum())
    assert torch.allclose(q[0, 2:], torch.full((4,), 0.5))


def test_bleu_compares_the_tokens_before_eos():
    from seqgan.data.task import Task

    task = Task(
        torch.zeros(0, 5, dtype=torch.long),
        torch.zeros(0, 5, dtype=torch.long),
        9,
        5,
        1,
        eos_token=2,
        pad_token=0,
    )
    hyp = task.content(torch.tensor([[5, 6, 7, 2, 0]]))
    ref = task.content(torch.tensor([[5, 6, 7, 8, 2]]))
    assert hyp == [[5, 6, 7]] and ref == [[5, 6, 7, 8]]
    # all n-grams match; brevity penalty exp(1 - 4/3)
    assert math.isclose(bleu(hyp, ref, 2)[0], math.exp(1 - 4 / 3), rel_tol=1e-12)


def _text_config(tmp_path, text_file, **data):
    config = {
        **TINY,
        "data": {
            "kind": "text",
            "train_file": str(text_file),
            "seq_len": 9,
            "test_ratio": 0.25,
            **data,
        },
        "eval": {**TINY["eval"], "bleu": [2, 3], "self_bleu": [2]},
    }
    path = tmp_path / "text.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def test_tiny_text_run_end_to_end(tmp_path, text_file, capsys):
    config = _text_config(tmp_path, text_file)
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "text" and 0 <= summary["bleu2"] <= 1 and summary["nll_test"] > 0
    assert summary["data"]["lines_dropped"] > 0 and "self_bleu2" in summary
    vocab = Vocabulary.load(run / "vocab.json")
    assert "cat" in vocab.tokens
    lines = (run / "samples" / "final.text.txt").read_text().splitlines()
    assert len(lines) == TINY["eval"]["num_samples"]
    assert all(t in vocab.tokens for line in lines for t in line.split())
    capsys.readouterr()
    assert main(["generate", "--run", str(run), "-n", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and all(len(line.split()) <= 9 for line in out)
    assert not any(t in (PAD, BOS, EOS) for line in out for t in line.split())
    assert main(["evaluate", "--run", str(run), "--out", "-"]) == 0
    assert '"bleu2' in capsys.readouterr().out
    assert (
        main(["generate", "--run", str(run), "--format", "midi", "--out", str(tmp_path / "m")]) == 2
    )


@pytest.mark.parametrize(
    "content, data, words",
    [
        (b"", {}, ["holds no text"]),
        (b"\n  \n", {}, ["holds no text"]),
        (b"caf\xe9 au lait\n", {}, ["corpus.txt:1", "not UTF-8"]),
        (
            b"one two three four five six\n",
            {"seq_len": 5},
            ["no line fits data.seq_len = 5", "long_lines"],
        ),
    ],
)
def test_bad_text_is_one_line_error(tmp_path, capsys, content, data, words):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    config = _text_config(tmp_path, path, **data)
    code = main(["train", "--config", str(config), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("seqgan: error:")
    for word in words:
        assert word in err[0], err[0]
    assert not (tmp_path / "run").exists()


def test_data_inspect_finds_a_path_under_the_data_root(tmp_path, text_file, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path / "..")  # corpus.txt is not in the working folder
    assert main(["data", "inspect", "corpus.txt", "--data-root", str(tmp_path)]) == 0
    assert "corpus.txt: 40 non-empty lines" in capsys.readouterr().out
    assert main(["data", "inspect", "missing.txt", "--data-root", str(tmp_path)]) == 2
    assert "data file not found: missing.txt" in capsys.readouterr().err
