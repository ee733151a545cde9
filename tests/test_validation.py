"""Numbers, lists, patterns and sizes are validated before anything is written (issue 13).

Each bad input is one line ``seqgan: error: ...``, exit code 2, and no run folder; every
case is refused before any model is trained, so the file runs in seconds.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import get_args, get_origin, get_type_hints

import pytest
import tomli_w

from seqgan.config import Config, build_config, load_preset
from seqgan.data.text import MAX_AUTO_SEQ_LEN, build_text_corpus, read_lines, tokenize
from seqgan.errors import UserError
from seqgan.models import size
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.vae import Encoder, LatentGenerator
from tests.conftest import TINY
from tests.helpers import refused_and_unchanged

LINES = b"the cat sat on the mat\na dog sat on a log\nbirds fly\n"


def _config(tmp: Path, **sections) -> Path:
    data = copy.deepcopy(TINY)
    for section, values in sections.items():
        data[section].update(values)
    path = tmp / "tiny.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def _train(*extra):
    """argv of ``seqgan train`` on the tiny config, into ``inputs/new``."""
    return lambda tmp: ["train", "--config", str(_config(tmp)), "--out", str(tmp / "new"), *extra]


def _sets(*pairs):
    return _train(*[arg for pair in pairs for arg in ("--set", pair)])


def _corpus(content: bytes, *pairs):
    """Train a text task on ``corpus.txt`` holding ``content``."""

    def build(tmp):
        (tmp / "corpus.txt").write_bytes(content)
        return _sets("data.kind='text'", "data.train_file='corpus.txt'", *pairs)(tmp) + [
            "--data-root",
            str(tmp),
        ]

    return build


def _toml_literal(section: str, key: str, literal: str):
    """A config file whose ``[section] key = literal`` is a bare TOML literal (nan, inf)."""

    def build(tmp):
        text = (
            _config(tmp).read_text().replace(f"[{section}]\n", f"[{section}]\n{key} = {literal}\n")
        )
        (tmp / "tiny.toml").write_text(text)
        return ["train", "--config", str(tmp / "tiny.toml"), "--out", str(tmp / "new")]

    return build


NON_FINITE = [
    ("generator.lr", "nan"),
    ("generator.lr", "inf"),
    ("generator.lr", "-inf"),
    ("adversarial.rollout_update_rate", "nan"),
    ("data.test_ratio", "nan"),
    ("discriminator.dropout", "inf"),
    ("vae.kl_weight", "nan"),
    ("ss.omega_decay", "-inf"),
    ("generator.merl_alpha", "1" + "0" * 400),
]

LONG_LINE = b"a b c\n" * 200 + b" ".join([b"w"] * 5000) + b"\nd e f g\n"

CASES = {
    **{
        f"{key}={value if len(value) < 10 else '10**400'}": (
            _sets(f"{key}={value}"),
            [f"'{key}' must be a finite number, got {value}"],
        )
        for key, value in NON_FINITE
    },
    "nan as a TOML literal in the config file": (
        _toml_literal("generator", "lr", "nan"),
        ["'generator.lr' must be a finite", "nan"],
    ),
    "inf as a TOML literal in the config file": (
        _toml_literal("adversarial", "rollout_update_rate", "inf"),
        ["'adversarial.rollout_update_rate' must be a finite", "inf"],
    ),
    "--seed 2**64": (
        _train("--seed", str(2**64)),
        ["--seed must be a whole number in [0, 2**63)", str(2**64)],
    ),
    "oracle.seed 2**64": (_sets(f"oracle.seed={2**64}"), ["'oracle.seed' must fit in a 64-bit"]),
    "data.split_seed 2**64": (
        _sets(f"data.split_seed={2**64}"),
        ["'data.split_seed' must fit in a 64-bit"],
    ),
    "size beyond int64": (
        _sets(f"eval.num_samples={2**70}"),
        ["'eval.num_samples' must fit in a 64-bit"],
    ),
    "eval.bleu with a string": (
        _sets('eval.bleu=[2, "a"]'),
        ["'eval.bleu' must be a list of int", "'a' (str)"],
    ),
    "eval.bleu with a float": (
        _sets("eval.bleu=[2.5]"),
        ["'eval.bleu' must be a list of int", "2.5 (float)"],
    ),
    "eval.bleu with a boolean": (_sets("eval.bleu=[true]"), ["list of int", "True (bool)"]),
    "eval.bleu not a list": (_sets("eval.bleu=3"), ["'eval.bleu' must be a list of int"]),
    "eval.self_bleu with a float": (
        _sets("eval.self_bleu=[1.5]"),
        ["'eval.self_bleu' must be a list of int"],
    ),
    "data.drop_tokens with a number": (
        _sets("data.drop_tokens=[1]"),
        ["'data.drop_tokens' must be a list of str"],
    ),
    "discriminator.num_filters 0": (
        _sets("discriminator.num_filters=[6, 0, 4]"),
        ["'discriminator.num_filters' must be >= 1, got 0"],
    ),
    "invalid regex": (
        _sets("data.token_pattern='('"),
        [
            "'data.token_pattern' is not a valid regular expression",
            "missing ), unterminated subpattern",
        ],
    ),
    "regex with a capture group": (
        _sets(r"data.token_pattern='(\w+)|[.]'"),
        ["'data.token_pattern' has 1 capturing group", "non-capturing (?:...)"],
    ),
    "huge generator.hidden_dim": (
        _sets("generator.hidden_dim=10000000"),
        ["does not fit in memory", "PB", "generator 4.0e+14", "reduce generator.hidden_dim"],
    ),
    "huge oracle.vocab_size (refused before the oracle is built)": (
        _sets("oracle.vocab_size=1000000000000"),
        ["does not fit in memory", "V = 1,000,000,000,000", "reduce oracle.vocab_size"],
    ),
    "huge oracle.num_train": (
        _sets("data.num_train=100000000000000"),
        ["does not fit in memory", "reduce data.num_train"],
    ),
    "text task too large once V is known": (
        _corpus(LINES, "generator.hidden_dim=10000000"),
        ["does not fit in memory", "T = 7", "reduce generator.hidden_dim"],
    ),
    "text line of 5,000 tokens": (
        _corpus(LONG_LINE),
        [
            "corpus.txt:201: a line of 5000 tokens would make T = 5001",
            f"above the bound {MAX_AUTO_SEQ_LEN}",
            "--set data.seq_len=4 (99 % of the lines fit)",
            "--set data.long_lines=truncate",
        ],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_value_is_one_line_exit_2_and_creates_nothing(name, tmp_path, capsys, monkeypatch):
    build, words = CASES[name]
    inputs = refused_and_unchanged(build, words, tmp_path, monkeypatch, capsys)
    assert not (inputs / "new").exists()


def test_valid_numbers_and_lists_are_kept():
    cfg = build_config(
        TINY,
        [
            "generator.lr=1e-3",
            "eval.bleu=[2, 3]",
            "adversarial.rollout_update_rate=1",
            "data.token_pattern='(?:\\w+)|[.]'",
        ],
        seed=2**63 - 1,
    )
    assert cfg.generator.lr == 1e-3 and cfg.eval.bleu == [2, 3] and cfg.seed == 2**63 - 1
    assert isinstance(cfg.adversarial.rollout_update_rate, float)


def _list_fields(obj, prefix=""):
    hints = get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _list_fields(value, f"{prefix}{f.name}.")
        elif isinstance(value, list):
            yield f"{prefix}{f.name}", hints[f.name]


def test_every_list_field_declares_its_element_type():
    fields = dict(_list_fields(Config()))
    assert {"eval.bleu", "eval.self_bleu", "data.drop_tokens"} <= set(fields)
    for key, hint in fields.items():
        assert get_origin(hint) is list and len(get_args(hint)) == 1, key


# -- memory estimate --------------------------------------------------------------------


def _numel(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_models():
    cfg = build_config(
        TINY,
        [
            "algorithm='seqvae1'",
            "vae.latent_dim=5",
            "vae.encoder_emb_dim=7",
            "vae.encoder_hidden_dim=3",
        ],
    )
    v, g, d = cfg.vae, cfg.generator, cfg.discriminator
    assert size.generator_params(40, g.emb_dim, g.hidden_dim) == _numel(
        Generator(40, g.emb_dim, g.hidden_dim, 8)
    )
    assert size.discriminator_params(cfg, 40) == _numel(
        Discriminator(40, 8, d.emb_dim, d.filter_sizes, d.num_filters)
    )
    encoder = Encoder(40, v.encoder_emb_dim, v.encoder_hidden_dim, v.latent_dim)
    latent = LatentGenerator(
        40, g.emb_dim, g.hidden_dim, 8, latent_dim=v.latent_dim, encoder=encoder
    )
    assert (
        size.generator_params(40, g.emb_dim, g.hidden_dim) + size.vae_extra_params(cfg, 40)
    ) == _numel(latent)


def test_estimate_names_the_parts_of_each_algorithm():
    names = {
        algorithm: [
            p.name
            for p in size.estimate(
                build_config(TINY, [f"algorithm='{algorithm}'"]), 40, 8
            ).parameters
        ]
        for algorithm in ("mle", "seqgan", "seqvae2")
    }
    assert names["mle"] == ["generator", "oracle"]
    assert names["seqgan"] == ["generator", "discriminator", "roll-out copy", "oracle"]
    assert names["seqvae2"] == [
        "generator",
        "VAE encoder",
        "discriminator",
        "roll-out copy",
        "oracle",
    ]


def test_check_fits_refuses_above_the_available_bytes_only():
    cfg = build_config(TINY)
    found = size.check_fits(cfg, 40, 8, 320, available=10**9)
    assert 0 < found.bytes < 10**9
    with pytest.raises(UserError) as info:
        size.check_fits(cfg, 40, 8, 320, available=found.bytes - 1)
    message = str(info.value)
    assert "does not fit in memory" in message and "this machine has" in message
    assert "\n" not in message


def test_the_paper_setting_is_estimated_below_two_gigabytes():
    cfg = build_config(load_preset("synthetic-paper"))
    found = size.estimate(cfg, 5000, 20, 12000)
    assert 5 * 10**8 < found.bytes < 2 * 10**9  # the NLL pass alone holds ~0.8 GB


# -- text corpora -----------------------------------------------------------------------


def test_byte_order_mark_is_stripped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + b"hello world\nhello there\n")
    assert tokenize(read_lines(path)[0], "word")[0] == "hello"
    corpus = build_text_corpus(path, None, seq_len=4, tokenizer="word", test_ratio=0.0)
    assert "hello" in corpus.vocab.tokens
    assert not any(t.startswith("\ufeff") for t in corpus.vocab.tokens)


def test_not_utf8_after_a_byte_order_mark_names_the_file_byte(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xef\xbb\xbfab\nc\xff\n")
    with pytest.raises(UserError, match=r"bad.txt:2: not UTF-8 text \(byte 7\)"):
        read_lines(path)


def test_regex_tokenizer_drops_empty_matches():
    assert tokenize("a  b.", "regex", r"\w*|[.]") == ["a", "b", "."]
