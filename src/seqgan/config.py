"""Experiment configuration: dataclasses, TOML presets, ``--set key=value`` overrides.

Every knob is a field of one dataclass below with a one-line comment.  A config is
built from (later wins): the dataclass defaults, a preset or ``--config`` TOML file,
``--set section.key=value`` overrides, ``--seed``.  Every value is type- and
range-checked; mistakes are one-line ``UserError``s that name the key:

* types: booleans are not numbers, ints are accepted for floats; a list field declares its
  element type (``list[int]``), checked even when the default list is empty;
* floats must be finite (TOML's ``nan`` / ``inf`` are refused), every int must fit in 64
  bits (seeds at most 2**63 - 1), ranges and choices apply to each list element;
* ``data.token_pattern`` must compile and have no capturing group.

Sizes that cannot fit in memory are refused once the data fix V and T
(``models.size``).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import io
import math
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

import seqgan.registry as registry
from seqgan.errors import UserError

# BLEU's zero-order rules, smoothings and named conventions (metrics.bleu's RULES, SMOOTHINGS
# and CONVENTIONS; named here because the config sits below the metrics, tests/test_bleu.py)
BLEU_RULES = ("current", "nltk-3.2")
BLEU_SMOOTHINGS = ("none", "method1")
BLEU_CONVENTIONS = ("current", "nltk-3.2", "texygen", "texygen-full")
# each music encoding's own sequence length (music.encodings' default_seq_len; named here
# because the config sits below the music package, tests/test_encoding_length.py)
ENCODING_LENGTHS = {"pitch88": 32, "melody16": 256, "melody_chord": 100}
# discriminator formulations (models.discriminator_kernels.KERNELS), or "auto"
D_KERNELS = ("auto", "conv1d", "unfold", "shared_unfold", "conv2d", "conv2d_plain")
PAPER_FILTER_SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
PAPER_NUM_FILTERS = [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
MAX_INT = 2**63 - 1  # every int knob (sizes, counts, seeds) must fit in torch's int64
PLUGINS = "plugin_sections"  # metadata flag of Config.sections (not a key itself)


def _check(low: float | None = None, high: float | None = None, choices: tuple = ()) -> dict:
    return {"low": low, "high": high, "choices": choices}


def knob(
    default: Any, low: float | None = None, high: float | None = None, choices: tuple = ()
) -> Any:
    """A dataclass field with a range (inclusive) or a set of allowed values; for a list
    field they apply to every element, whose type the annotation declares (``list[int]``)."""
    meta = _check(low, high, choices)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class OracleConfig:
    source: str = knob(
        "random", choices=("random", "file")
    )  # N(0,1) LSTM from `seed`, or a parameter file
    path: str = ""  # parameter file (.pkl/.npz), in the current folder or under the data root, when source = "file"
    seed: int = knob(88, low=0)  # seed of the random oracle's parameters
    vocab_size: int = knob(5000, low=2)  # V (a file's shapes override it)
    emb_dim: int = knob(32, low=1)  # oracle embedding size (a file's shapes override it)
    hidden_dim: int = knob(32, low=1)  # oracle LSTM size (a file's shapes override it)
    seq_len: int = knob(20, low=1)  # T: length of every sequence
    start_token: int = knob(0, low=0)  # first input of oracle and generator


@dataclass
class DataConfig:
    kind: str = knob(
        "oracle", choices=("oracle", "text", "music")
    )  # synthetic oracle, a text corpus, or MIDI music (data/build.py)
    train_file: str = ""  # looked for in the current folder, then under the data root. oracle: optional token-id file; text: UTF-8 file, one sequence a line; music: a MIDI file or folder
    test_file: str = ""  # text/music: held-out data (else data.test_ratio of train_file)
    num_train: int = knob(
        10000, low=1
    )  # oracle: training sequences sampled from the oracle (paper: 10,000)
    num_test: int = knob(2000, low=0)  # oracle: held-out oracle samples for NLL-test (0 = off)
    seq_len: int = knob(
        0, low=0
    )  # text/music: T (0 = text: longest line + 1 for <eos>; music: the encoding's)
    limit: int = knob(
        0, low=0
    )  # text/music: use only the first this many lines / training windows (0 = all)
    test_ratio: float = knob(0.1, low=0.0, high=0.9)  # text/music without test_file: share held out
    split_seed: int = knob(0, low=0)  # seed of that split (independent of `seed`)
    tokenizer: str = knob(
        "word", choices=("word", "regex", "char")
    )  # text: whitespace words, regex matches, or characters
    token_pattern: str = r"\w+|[^\w\s]"  # text: the regex tokenizer's pattern
    drop_tokens: list[str] = knob([])  # text: tokens removed after tokenising (e.g. punctuation)
    min_freq: int = knob(1, low=1)  # text: rarer training tokens become <unk>
    long_lines: str = knob(
        "drop", choices=("drop", "truncate")
    )  # text: lines longer than T - 1 tokens
    encoding: str = knob(
        "pitch88", choices=tuple(ENCODING_LENGTHS)
    )  # music: seqgan/music encodings
    min_count: int = knob(
        10, low=1
    )  # music, melody_chord: drop tunes with symbols seen fewer times (paper 10)


@dataclass
class GeneratorConfig:
    emb_dim: int = knob(32, low=1)  # token embedding size
    hidden_dim: int = knob(32, low=1)  # LSTM state size
    init_std: float = knob(0.1, low=0.0)  # parameters drawn N(0, init_std^2) (reference code 0.1)
    lr: float = knob(0.01, low=0.0)  # Adam learning rate, MLE and policy gradient (reference 0.01)
    grad_clip: float = knob(5.0, low=0.0)  # gradient-norm clip (reference 5.0; 0 = off)
    batch_size: int = knob(64, low=1)  # MLE mini-batch and policy-gradient batch (reference 64)
    sample_batch: int = knob(
        0, low=0
    )  # rows per batch when sampling many sequences (0 = by device: 1024 on the CPU, up to 16384 on a GPU; models/pass_rows.py)
    estimator: str = knob(
        "mc_search", choices=("mc_search", "ordinary", "baseline", "merl")
    )  # action values of the policy gradient (rl/estimators.py)
    merl_alpha: float = knob(1.0, low=0.0)  # MERL entropy temperature alpha (Bjare & Meredith: 1)
    output_kernel: str = knob(
        "auto", choices=("auto", "plain", "chunked")
    )  # output layer + log-softmax in training and NLL: plain (all [n*T, V] logits at once, as earlier releases) or chunked (rows at a time, equal to float rounding, faster at large V; models/output_loss.py); auto = chunked on the CPU from V = 8,192, recorded here when the run starts
    output_chunk_mib: float = knob(
        0.0, low=0.0
    )  # MiB of logits per chunk of the chunked kernel (the size changes the gradients' rounding); 0 = auto: 32, recorded here when the run starts (runs made before this key: 2)


@dataclass
class DiscriminatorConfig:
    emb_dim: int = knob(64, low=1)  # token embedding size k
    filter_sizes: list[int] = knob(PAPER_FILTER_SIZES, low=1)  # convolution widths
    num_filters: list[int] = knob(PAPER_NUM_FILTERS, low=1)  # filters per width
    dropout: float = knob(0.25, low=0.0, high=0.99)  # drop probability (reference keep 0.75)
    l2_reg: float = knob(0.2, low=0.0)  # L2 weight on the output layer (reference 0.2)
    lr: float = knob(1e-4, low=0.0)  # Adam learning rate (reference 1e-4)
    batch_size: int = knob(64, low=1)  # mini-batch
    num_positives: int = knob(0, low=0)  # real sequences per d-step (0 = the whole training set)
    score_chunk: int = knob(
        0, low=0
    )  # rows per forward pass when scoring rewards (0 = by device, as sample_batch)
    kernel: str = knob(
        "auto", choices=D_KERNELS
    )  # formulation of the convolutions when training (models/discriminator_kernels.py); auto = the fastest measured on this machine, recorded here when the run starts
    score_kernel: str = knob(
        "auto", choices=D_KERNELS
    )  # the same when scoring rewards (no gradients, chunks of score_chunk)
    precision: str = knob(
        "fp32", choices=("fp32", "bf16")
    )  # forward-pass precision (bf16: autocast; weights, gradients, Adam state and loss stay fp32)


@dataclass
class PretrainConfig:
    generator_epochs: int = knob(120, low=0)  # MLE epochs over the training set (reference 120)
    generator_from: str = ""  # run folder whose MLE pre-training to reuse instead (same settings)
    discriminator_rounds: int = knob(50, low=0)  # rounds of fresh negatives (reference 50)
    discriminator_epochs: int = knob(3, low=1)  # epochs per round (reference 3)


@dataclass
class AdversarialConfig:
    epochs: int = knob(
        200, low=0
    )  # epochs after pre-training: Algorithm 1 outer loop (reference 200), and each baseline's
    g_steps: int = knob(1, low=0)  # policy-gradient updates per epoch
    d_steps: int = knob(5, low=0)  # fresh negative sets per epoch
    k_epochs: int = knob(3, low=1)  # discriminator epochs per d-step
    num_rollouts: int = knob(16, low=1)  # N of the MC search (Eq. 4)
    rollout_update_rate: float = knob(0.8, low=0.0, high=1.0)  # r in beta <- r*beta + (1-r)*theta


@dataclass
class ScheduledSamplingConfig:
    omega_start: float = knob(
        1.0, low=0.0, high=1.0
    )  # omega in the first epoch (P(true token fed))
    omega_decay: float = knob(
        0.002, low=0.0, high=1.0
    )  # omega falls by this per epoch (paper 0.002)


@dataclass
class PGBleuConfig:
    n: int = knob(3, low=1, high=10)  # BLEU-n reward against the training set (reference code 3)
    rule: str = knob(
        "current", choices=BLEU_RULES
    )  # zero-order rule (metrics/bleu.py): today's nltk, or nltk 3.2's (the reference code's)
    smoothing: str = knob(
        "none", choices=BLEU_SMOOTHINGS
    )  # nltk smoothing of zero n-gram counts (reference code: none)
    epsilon: float = knob(0.1, low=0.0)  # method1's epsilon
    references: int = knob(
        0, low=0
    )  # reference sequences of the training set (0 = all; reference code ~40 %)
    subset: str = knob(
        "random", choices=("first", "random")
    )  # which `references` of them: the first, or a seeded random draw
    subset_seed: int = knob(0, low=0)  # seed of that draw
    num_rollouts: int = knob(
        0, low=0
    )  # roll-outs of PG-BLEU's MC search (0 = adversarial.num_rollouts; reference code 1)


@dataclass
class VAEConfig:
    latent_dim: int = knob(64, low=1)  # size of z (SeqVAE authors: 64)
    encoder_emb_dim: int = knob(64, low=1)  # encoder token embedding size (authors: 64)
    encoder_hidden_dim: int = knob(
        32, low=1
    )  # encoder LSTM size per direction, both layers (authors: [32, 32])
    encoder_dropout: float = knob(
        0.0, low=0.0, high=0.99
    )  # drop probability of each encoder layer's inputs (authors: 0.25)
    encoder_lr: float = knob(
        0.01, low=0.0
    )  # Adam learning rate of the encoder (authors: 0.01); the decoder uses generator.lr
    kl_weight: float = knob(1.0, low=0.0)  # alpha of Eq. 2 (1 = the plain ELBO)
    kl_threshold: float = knob(
        0.0, low=0.0
    )  # tau of Eq. 3, nats per sequence (authors' free_bits 0; tau = bits * ln 2)
    pg_to_encoder: bool = True  # g-step: the policy-gradient loss also updates the encoder through z (Algorithm 1, line 11)
    gstep_reconstruction: float = knob(
        0.0, low=0.0
    )  # g-step: weight of the reconstruction loss added to the policy gradient (Algorithm 1: 0)
    step: int = knob(
        1, low=1
    )  # SeqVAE_2: teacher-forced prefix grows by this many tokens per decoding (authors: 1)
    decodings: int = knob(
        0, low=0
    )  # SeqVAE_2: m decodings per sequence (0 = all: (T - 1) // step + 1)


@dataclass
class EvalConfig:
    every: int = knob(5, low=1)  # evaluate every this many epochs in every phase (reference 5)
    num_samples: int = knob(9984, low=1)  # generator samples for NLL-oracle (reference 9,984)
    diagnostics: bool = (
        False  # also entropy, reward mean/std, D precision/recall (metrics/gan_diagnostics.py)
    )
    bleu: list[int] = knob(
        [], low=1, high=10
    )  # BLEU-n orders of the samples against the test set, e.g. [2, 3, 4, 5]
    bleu_references: str = knob(
        "test", choices=("test", "train")
    )  # BLEU's reference corpus (Bjare & Meredith, Yu et al. music: the training set)
    self_bleu: list[int] = knob([], low=1, high=10)  # Self-BLEU-n orders among the samples
    bleu_samples: int = knob(
        0, low=0
    )  # score only the first this many samples with BLEU and Self-BLEU (0 = all)
    bleu_reference_count: int = knob(
        0, low=0
    )  # BLEU (not Self-BLEU): use only this many references (0 = all, or the convention's own count)
    bleu_reference_subset: str = knob(
        "first", choices=("first", "random")
    )  # which of them: the first, or a seeded random draw
    bleu_reference_seed: int = knob(0, low=0)  # seed of that draw
    text_defaults: bool = True  # text runs that set neither bleu nor self_bleu get bleu = self_bleu = [2, 3, 4] and, if bleu_samples is 0, bleu_samples = 500
    bleu_conventions: list[str] = knob(
        ["current"], choices=BLEU_CONVENTIONS
    )  # BLEU conventions reported (metrics/bleu.py); metrics of others than "current" get a suffix, e.g. bleu4_nltk32
    metrics: list[str] = knob(
        []
    )  # plug-in metrics to compute too, by name (installed packages' seqgan.metrics entry points; docs/extending.md)


@dataclass
class RunConfig:
    checkpoint_every: int = knob(10, low=1)  # epochs between checkpoints (and at each phase end)
    keep_checkpoints: int = knob(2, low=1)  # newest checkpoints kept
    tensorboard: bool = True  # write TensorBoard events
    threads: int = knob(0, low=0)  # torch CPU threads (0 = torch's default)
    device: str = (
        "auto"  # auto (CUDA, else Apple mps, else CPU) | cpu | cuda | cuda:N | mps; docs/devices.md
    )
    deterministic: bool = (
        False  # CUDA: deterministic kernels only (slower; docs/devices.md); no effect on the CPU
    )


@dataclass
class Config:
    name: str = "custom"  # label of this experiment
    description: str = ""  # one line shown by `seqgan presets`
    algorithm: str = "seqgan"  # seqgan | mle | ss | pg-bleu | random | vae | seqvae1 | seqvae2 | maligan | rankgan | leakgan | relgan, or an installed plug-in's (seqgan presets lists them)
    seed: int = knob(88, low=0)  # seed of data sampling, initialisation and training
    oracle: OracleConfig = field(default_factory=OracleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    ss: ScheduledSamplingConfig = field(default_factory=ScheduledSamplingConfig)
    pg_bleu: PGBleuConfig = field(default_factory=PGBleuConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)
    # the config sections of plug-in algorithms (``registry.Algorithm.config``), by name:
    # that of ``algorithm``, and any other whose keys were set; in TOML after [run]
    sections: dict[str, Any] = field(default_factory=dict, metadata={PLUGINS: True})

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data.update(data.pop("sections"))
        return data

    def section(self, name: str) -> Any:
        """The config section of a plug-in algorithm (``[name]``, a dataclass of its
        ``registry.Algorithm.config``)."""
        if name not in self.sections:
            raise UserError(
                f"this config has no section [{name}] (sections of plug-ins: "
                f"{', '.join(self.sections) or 'none'})"
            )
        return self.sections[name]

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


# -- building ---------------------------------------------------------------------------


def _fields(obj) -> dict[str, dataclasses.Field]:
    """The keys of a section (``Config.sections`` is not one: its sections are)."""
    return {f.name: f for f in dataclasses.fields(obj) if not f.metadata.get(PLUGINS)}


def _all_keys(obj, prefix: str = "") -> list[str]:
    keys = []
    for name in _fields(obj):
        value = getattr(obj, name)
        if dataclasses.is_dataclass(value):
            keys += _all_keys(value, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    for name, section in getattr(obj, "sections", {}).items():
        keys += _all_keys(section, f"{prefix}{name}.")
    return keys


def _add_section(cfg: Config, name: str, valid: list[str]) -> bool:
    """Give ``cfg`` the config section ``name`` of an installed plug-in algorithm (its
    defaults), its keys added to ``valid``; False when no plug-in has that section."""
    if name in cfg.sections:
        return True
    if not registry.is_section_name(name) or name in _fields(cfg):
        return False
    owner = registry.section_owner(name)
    if owner is None or owner.config is None:
        return False
    section = owner.config()
    if not dataclasses.is_dataclass(section):
        raise UserError(f"algorithm '{owner.name}': its config section is not a dataclass")
    cfg.sections[name] = section
    valid += _all_keys(section, f"{name}.")
    return True


def _check_algorithm(cfg: Config, valid: list[str]) -> None:
    """``algorithm`` names an installed algorithm (else one line with "did you mean"),
    whose config section ``cfg`` then holds."""
    spec = registry.algorithm(cfg.algorithm)
    if spec.section is not None and not _add_section(cfg, spec.section, valid):
        raise UserError(
            f"algorithm '{spec.name}' cannot have a config section "
            f"[{spec.section}]: seqgan's own section has that name"
        )


def _unknown(key: str, valid: list[str]) -> UserError:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return UserError(f"unknown config key '{key}'{hint}")


def _is_kind(value: Any, kind: type) -> bool:
    """Whether ``value`` may be stored in a field of type ``kind`` (booleans are not
    numbers; ints are accepted for floats)."""
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, float):
        number = (int, float) if kind is float else (int,)
        return isinstance(value, number) and not isinstance(value, bool)
    return isinstance(value, kind)


def _finite(key: str, value: int | float) -> float:
    """``value`` as a float; NaN, +-inf and ints too large for a float are refused."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise UserError(f"config key '{key}' must be a finite number, got {value!r}")
    return number


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """Check ``value`` has the field's type; a list field (``list[int]``) checks each
    element, and floats (alone or in lists) must be finite."""
    item = get_args(kind)[0] if get_origin(kind) is list else None
    if item is not None:
        if not isinstance(value, list):
            raise UserError(f"config key '{key}' must be a list of {item.__name__}, got {value!r}")
        wrong = [v for v in value if not _is_kind(v, item)]
        if wrong:
            raise UserError(
                f"config key '{key}' must be a list of {item.__name__}; got "
                f"{wrong[0]!r} ({type(wrong[0]).__name__}) in {value!r}"
            )
        return [_finite(key, v) for v in value] if item is float else value
    if not _is_kind(value, kind):
        raise UserError(f"config key '{key}' must be {kind.__name__}, got {value!r}")
    if kind is str:
        _utf8(key, value)
    return _finite(key, value) if kind is float else value


def _utf8(key: str, value: str) -> None:
    """A text setting must be UTF-8 (a run's config.toml records it, and TOML is UTF-8):
    a file name that is not (its bytes held as surrogate escapes) is refused."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            f"config key '{key}' is not UTF-8 text ({value!r}), which a run's "
            f"config.toml cannot record; use a UTF-8 name (rename such a file "
            f"or folder)"
        ) from None


def _check_range(key: str, value: Any, meta) -> None:
    """The field's choices and inclusive bounds (each element of a list); every int must
    fit in 64 bits (torch, numpy), so a seed is at most 2**63 - 1 (room for seed + i)."""
    low, high, choices = meta.get("low"), meta.get("high"), meta.get("choices", ())
    values = value if isinstance(value, list) else [value]
    for v in values:
        if choices and v not in choices:
            close = difflib.get_close_matches(str(v), list(map(str, choices)), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(
                f"config key '{key}' must be one of {', '.join(map(str, choices))}; got {v!r}{hint}"
            )
        if low is not None and v < low:
            raise UserError(f"config key '{key}' must be >= {low}, got {v!r}")
        if high is not None and v > high:
            raise UserError(f"config key '{key}' must be <= {high}, got {v!r}")
        if _is_kind(v, int) and not -MAX_INT <= v <= MAX_INT:
            raise UserError(
                f"config key '{key}' must fit in a 64-bit integer (at most "
                f"2**63 - 1 = {MAX_INT}), got {v!r}"
            )


def _check_pattern(key: str, pattern: str) -> None:
    """``pattern`` must compile and have no capturing group: ``re.findall`` (the regex
    tokenizer) returns the groups instead of the whole match when there are any."""
    try:
        groups = re.compile(pattern).groups
    except re.error as exc:
        raise UserError(f"config key '{key}' is not a valid regular expression: {exc}") from None
    if groups:
        raise UserError(
            f"config key '{key}' has {groups} capturing group(s) in {pattern!r}; "
            f"write groups as non-capturing (?:...) so each token is the whole "
            f"match"
        )


def _apply(obj, data: dict, prefix: str, valid: list[str]) -> None:
    fields = _fields(obj)
    hints = get_type_hints(type(obj))
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(obj, Config) and name not in fields and _add_section(obj, name, valid):
            current = obj.sections[name]
        elif name not in fields:
            raise _unknown(key, valid)
        else:
            current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UserError(f"config key '{key}' is a section; set its keys as {key}.NAME")
            _apply(current, value, f"{key}.", valid)
            continue
        value = _coerce(key, value, hints[name])
        _check_range(key, value, fields[name].metadata)
        if key == "algorithm" and not registry.is_algorithm(value):
            raise registry.unknown_algorithm(value)
        setattr(obj, name, value)


def _validate(cfg: Config) -> None:
    d, o = cfg.discriminator, cfg.oracle
    from seqgan.runtime.device import check_device_name

    check_device_name(cfg.run.device)  # its form; whether it is available: when a run starts
    if len(d.filter_sizes) != len(d.num_filters) or not d.filter_sizes:
        raise UserError(
            "discriminator.filter_sizes and discriminator.num_filters must be "
            "non-empty and of equal length"
        )
    if cfg.data.kind != "oracle" and not cfg.data.train_file:
        raise UserError(
            f"data.kind = '{cfg.data.kind}' needs data.train_file (e.g. --set "
            f"data.train_file="
            f"{'my_corpus.txt' if cfg.data.kind == 'text' else 'my_midi/'})"
        )
    if o.source == "file" and not o.path:
        raise UserError("oracle.source = 'file' needs oracle.path")
    _check_pattern("data.token_pattern", cfg.data.token_pattern)
    if not cfg.pg_bleu.epsilon > 0:
        raise UserError(f"pg_bleu.epsilon must be > 0, got {cfg.pg_bleu.epsilon}")
    if o.start_token >= o.vocab_size:
        raise UserError(
            f"oracle.start_token {o.start_token} is not below vocab_size {o.vocab_size}"
        )
    for name in cfg.eval.metrics:
        if registry.metric(name).compute is None:  # a built-in family
            raise UserError(
                f"eval.metrics names plug-in metrics; '{name}' is built in "
                f"(switched on by its own eval keys, docs/metrics.md)"
            )
    spec = registry.algorithm(cfg.algorithm)
    if spec.validate is not None:
        spec.validate(cfg)


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=value"`` -> ``("a.b", value)``; the value is read as TOML, else as a string."""
    if "=" not in text:
        raise UserError(f"--set expects KEY=VALUE, got '{text}'")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def _nest(key: str, value: Any) -> dict:
    parts = key.split(".")
    out: dict = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        out = {part: out}
    return out


def read_toml(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read config file {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"malformed TOML in {path}: {exc}") from None


def build_config(
    base: dict | None = None,
    overrides: list[str] = (),
    seed: int | None = None,
    complete: bool = True,
) -> Config:
    """Defaults, then ``base`` (a parsed TOML dict), then ``overrides``, then ``seed``;
    every key checked, and (``complete``) the rules between keys too — a template preset
    such as ``text`` is incomplete until ``data.train_file`` is set."""
    cfg = Config()
    valid = _all_keys(cfg)
    if base:
        _apply(cfg, _upgrade(base), "", valid)
    for text in overrides:
        key, value = parse_override(text)
        if "." in key:
            _add_section(cfg, key.split(".")[0], valid)  # a plug-in's section, if any
        if any(v.startswith(f"{key}.") for v in valid):
            raise UserError(f"config key '{key}' is a section; set its keys as {key}.NAME")
        if key not in valid:
            raise _unknown(key, valid)
        _apply(cfg, _nest(key, value), "", valid)
    if seed is not None:
        _apply(cfg, {"seed": seed}, "", valid)
    _check_algorithm(cfg, valid)
    fill_kind_defaults(cfg)
    if complete:
        _validate(cfg)
    return cfg


TEXT_BLEU_ORDERS = [2, 3, 4]  # eval.text_defaults: BLEU-n and Self-BLEU-n orders
TEXT_BLEU_SAMPLES = 500  # ... and the samples they score (the cost bound)


def fill_kind_defaults(cfg: Config) -> None:
    """Settings that depend on the task kind, filled in place (``eval.text_defaults``): a
    text run that asks for no BLEU reports BLEU-2..4 against the held-out lines and
    Self-BLEU-2..4 of its first 500 samples. Idempotent, so a saved config stays as is."""
    e = cfg.eval
    if cfg.data.kind == "text" and e.text_defaults and not e.bleu and not e.self_bleu:
        e.bleu, e.self_bleu = list(TEXT_BLEU_ORDERS), list(TEXT_BLEU_ORDERS)
        if not e.bleu_samples:
            e.bleu_samples = TEXT_BLEU_SAMPLES


def adapt_to_user_data(cfg: Config, preset: Config) -> list[str]:
    """A preset applied to the user's own data (``data.train_file`` differs from the
    preset's), changed in place so no corpus is mixed in silently; returns one note per
    change for the user:

    * the preset's ``data.test_file`` (held-out data of *its* corpus) is dropped, so
      ``data.test_ratio`` of the user's data is held out instead;
    * ``name`` (if the user did not set it) becomes ``<data>-<preset>``, e.g.
      ``my_corpus-synthetic-quick``, so folders, summaries and figures say what was trained.
    """
    d, p = cfg.data, preset.data
    if not d.train_file or (d.train_file == p.train_file and d.kind == p.kind):
        return []
    notes = []
    if d.test_file and d.test_file == p.test_file:
        notes.append(
            f"note: not using the preset's data.test_file '{d.test_file}' with your "
            f"data.train_file: holding out data.test_ratio = {d.test_ratio:g} of "
            f"'{d.train_file}' instead (set data.test_file to choose held-out data)"
        )
        d.test_file = ""
    if cfg.name == preset.name:
        stem = Path(d.train_file.rstrip("/\\")).stem or "data"
        cfg.name = f"{stem}-{preset.name}"
    return notes


def assemble(
    preset: str | None = None,
    config_file: Path | None = None,
    overrides: list[str] = (),
    seed: int | None = None,
) -> tuple[Config, list[str]]:
    """The configuration of a ``train`` / ``compare``, and notes for the user: the preset
    (``synthetic-quick`` unless only ``config_file`` is given), then ``config_file``,
    ``overrides`` (``"key=value"``) and ``seed``; adapted to the user's own data when it
    names other data than the preset (``adapt_to_user_data``)."""
    base: dict = {}
    if preset or not config_file:
        base = load_preset(preset or DEFAULT_PRESET)
    preset_cfg = build_config(base, complete=False)
    user_keys = [parse_override(text)[0] for text in overrides]
    if config_file:
        from_file = read_toml(config_file)
        base = _merge(base, from_file)
        user_keys += dotted_keys(from_file)
    cfg = build_config(base, list(overrides), seed)
    return cfg, adapt_to_user_data(cfg, preset_cfg) + encoding_length(cfg, preset_cfg, user_keys)


def dotted_keys(data: dict, prefix: str = "") -> list[str]:
    """The keys of a nested settings dict, dotted: ``{"data": {"seq_len": 1}}`` ->
    ``["data.seq_len"]``."""
    keys = []
    for key, value in data.items():
        keys += (
            dotted_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
        )
    return keys


def encoding_length(cfg: Config, preset: Config, user_keys: list[str]) -> list[str]:
    """A music encoding chosen over the preset's brings its own length: when the user
    switched ``data.encoding`` (``--set data.encoding=melody16`` on the ``midi`` preset)
    but did not set ``data.seq_len``, a length the preset pinned for its own encoding
    becomes the new encoding's default (melody16: 256), changed in place; returns the
    note saying so (none when nothing changed)."""
    d, p = cfg.data, preset.data
    if (
        d.kind != "music"
        or d.encoding == p.encoding
        or "data.seq_len" in user_keys
        or not d.seq_len
        or d.seq_len != p.seq_len
    ):
        return []
    own = ENCODING_LENGTHS[d.encoding]
    if own == d.seq_len:
        return []
    note = (
        f"note: data.seq_len = {own}, the length of encoding {d.encoding} (the "
        f"preset's {d.seq_len} is for {p.encoding}; set data.seq_len to choose)"
    )
    d.seq_len = own
    return [note]


def _merge(a: dict, b: dict) -> dict:
    """``a`` updated by ``b``, tables merged key by key."""
    out = dict(a)
    for key, value in b.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def validate(cfg: Config) -> None:
    """Check a ``Config`` however it was made — also one built or changed in Python, where
    no TOML or ``--set`` was parsed: every key's type, range and choices and the
    cross-key rules, as ``build_config`` checks them (one-line ``UserError``).  A plug-in
    algorithm's section that ``cfg`` lacks is added with its defaults."""
    if not isinstance(cfg, Config):
        raise UserError(f"expected a seqgan Config, got {type(cfg).__name__}")
    for name, section in build_config(cfg.to_dict()).sections.items():
        cfg.sections.setdefault(name, section)


def _upgrade(base: dict) -> dict:
    """A config of an older release in today's keys (``pg_bleu.smoothing`` was a bool)."""
    smoothing = (
        base.get("pg_bleu", {}).get("smoothing") if isinstance(base.get("pg_bleu"), dict) else None
    )
    if isinstance(smoothing, bool):
        base = {
            **base,
            "pg_bleu": {**base["pg_bleu"], "smoothing": "method1" if smoothing else "none"},
        }
    return base


def with_recorded_output_kernel(saved: dict) -> dict:
    """A saved config (a run's ``config.toml``, a checkpoint's table) of a release before
    ``generator.output_kernel`` existed computed with ``plain``, one before
    ``generator.output_chunk_mib`` existed with chunks of 2 MiB: ``saved`` with those keys
    set so (in place), since ``"auto"`` could choose otherwise and change its numbers."""
    section = saved.get("generator")
    if isinstance(section, dict):
        section.setdefault("output_kernel", "plain")
        section.setdefault("output_chunk_mib", 2.0)
    return saved


def key_comments(cfg: Config | None = None) -> dict[str, str]:
    """``"section.key"`` (or ``"key"``) -> the comment of its field in this module (and,
    for the plug-in sections of ``cfg``, in the plug-in's module), the one place each
    knob is documented."""
    comments: dict[str, str] = {}
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    hints = get_type_hints(Config)
    classes = [("", Config)] + [
        (f"{name}.", hints[name]) for name in sections if dataclasses.is_dataclass(hints[name])
    ]
    classes += [
        (f"{name}.", type(section))
        for name, section in (cfg.sections.items() if cfg is not None else ())
    ]
    for prefix, cls in classes:
        comments.update({prefix + key: text for key, text in _field_comments(cls).items()})
    return comments


def _field_comments(cls: type) -> dict[str, str]:
    """``field -> comment`` of a dataclass's source: the last comment of the field's
    statement ``name: type = value  # comment``, also where a formatter has split the
    value over several lines (read with ``tokenize``, so it is the statement's own)."""
    found: dict[str, str] = {}
    statement: list[tokenize.TokenInfo] = []
    skipped = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    source = textwrap.dedent(inspect.getsource(cls))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.NEWLINE:
            statement.append(token)
            continue
        code = [t for t in statement if t.type not in skipped]
        own = [
            t for t in statement if t.type == tokenize.COMMENT and code and t.start > code[0].start
        ]  # not the comment lines above it
        if (
            len(code) > 3
            and code[0].type == tokenize.NAME
            and code[1].string == ":"
            and own
            and "=" in (t.string for t in code)
        ):
            found[code[0].string] = own[-1].string.lstrip("#").strip()
        statement = []
    return found


def commented_toml(cfg: Config) -> str:
    """``cfg`` as TOML (what ``config.toml`` holds) with each key's comment above it."""
    comments = key_comments(cfg)
    lines: list[str] = []

    def emit(prefix: str, values: dict) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                continue
            if f"{prefix}{key}" in comments:
                lines.append(f"# {comments[prefix + key]}")
            lines.append(tomli_w.dumps({key: value}).rstrip("\n"))

    data = cfg.to_dict()
    emit("", data)
    for section, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]"]
            emit(f"{section}.", values)
    return "\n".join(lines) + "\n"


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested config dicts."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


# -- presets ----------------------------------------------------------------------------

DEFAULT_PRESET = "synthetic-quick"


def preset_names() -> list[str]:
    files = resources.files("seqgan.presets").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".toml"))


def preset_text(name: str) -> str:
    """The TOML file of preset ``name``, as shipped (comments included)."""
    return resources.files("seqgan.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")


def load_preset(name: str) -> dict:
    names = preset_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; available: {', '.join(names)}"
        raise UserError(f"unknown preset '{name}'{hint}")
    return tomllib.loads(preset_text(name))
