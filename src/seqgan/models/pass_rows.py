"""Rows per inference pass, chosen for the device when the setting is 0 (its default).

Three loops run a model over many rows without gradients, a pass at a time: sampling
(``generator.sample_batch``), per-sequence NLL scoring (``metrics.nll``, no setting) and
the discriminator's scoring of rewards and diagnostics (``discriminator.score_chunk``).
A positive setting is used as it is. Otherwise ``rows_for`` decides:

* **CPU**: ``CPU_ROWS`` = 1,024 rows, the value of every earlier release, so CPU runs
  draw the same numbers as before and keep their speed (``benchmarks/devices.py``
  prints the seconds for 10,000 rows in passes of 1,024 and of 8,192: larger passes are
  slower on a CPU);
* **CUDA / MPS**: the largest power of two from ``CPU_ROWS`` up to ``MAX_ROWS`` =
  16,384 whose pass needs at most 1/``MEMORY_SHARE`` of the device's memory. A GPU needs
  thousands of rows per kernel to stay busy; a 10,000-sample evaluation is then one pass
  of T steps instead of ten.

Bytes per row (float32, the counts of ``models.size``; V vocabulary, H LSTM size, T
length, k / f_i / w_i the discriminator's embedding size, filters and widths):

* sampling, one step: ``4 (2V + 6H)`` (logits, probabilities, gates and state), times
  ``CONTROLS_FACTOR`` = 6 with top-k / top-p (their sorts, int64 indices and float64
  cumulative sums);
* NLL scoring, all T steps at once: ``4 T (2V + 6H)``;
* discriminator scoring: ``4 * 2 (k T + sum_i f_i (T - w_i + 1))`` (embeddings and maps,
  doubled as ``models.size`` counts them for training: a margin when scoring).

The choice depends only on the device's type and memory, so a resume on the same
device makes the same one (on a GPU with other memory it may differ, as that GPU's
rounding does); ``config.toml`` keeps the 0 and ``summary.json`` records the numbers used
(``pass_rows``). The VAE's posterior diagnostics use a positive ``sample_batch`` as their
pass size and otherwise ``nll_rows``.
"""

from __future__ import annotations

import torch

CPU_ROWS = 1024  # rows per pass on the CPU (and the least on an accelerator)
# the settings of this module: the device's choice, not part of what a run computes (a
# comparison or a shared pre-training ignores them; ``experiments.compare``, ``training.loop``)
SETTINGS = (("generator", "sample_batch"), ("discriminator", "score_chunk"))
MAX_ROWS = 16384  # the most rows per pass on an accelerator
MEMORY_SHARE = 8  # an accelerator's pass may use up to 1/MEMORY_SHARE of its memory
CONTROLS_FACTOR = 6  # sampling with top-k / top-p holds about this many times more per row
FLOAT_BYTES = 4


def device_memory(device: torch.device) -> int | None:
    """Bytes of memory of a CUDA GPU or of what Metal recommends on ``mps``; None on the
    CPU or when the device cannot tell."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        if device.type == "mps":
            return int(torch.mps.recommended_max_memory())
    except (AttributeError, RuntimeError, AssertionError):
        return None
    return None


def rows_for(setting: int, device: torch.device, row_bytes: int, memory: int | None = None) -> int:
    """``setting`` if positive, else the rows per pass on ``device`` for passes of
    ``row_bytes`` bytes per row (see the module docstring); ``memory``: the device's
    bytes (default: ``device_memory``)."""
    if setting > 0:
        return setting
    device = torch.device(device)
    if device.type == "cpu":
        return CPU_ROWS
    memory = device_memory(device) if memory is None else memory
    if not memory:
        return CPU_ROWS
    rows = CPU_ROWS
    while rows * 2 <= MAX_ROWS and rows * 2 * row_bytes * MEMORY_SHARE <= memory:
        rows *= 2
    return rows


def sampling_row_floats(vocab_size: int, hidden_dim: int) -> int:
    """Numbers one row of one sampling step holds: logits and probabilities (2V), the
    LSTM's four gates, h and c (6H)."""
    return 2 * vocab_size + 6 * hidden_dim


def discriminator_row_floats(emb_dim: int, filter_sizes, num_filters, seq_len: int) -> int:
    """Numbers one row of a discriminator pass holds, counted twice (values and, when
    training, gradients): the embedding (k T) and every width's feature map
    (f_i (T - w_i + 1))."""
    maps = sum(f * max(0, seq_len - w + 1) for w, f in zip(filter_sizes, num_filters))
    return 2 * (emb_dim * seq_len + maps)


def sample_rows(setting: int, generator, controls: bool = False) -> int:
    """Rows per sampling batch of ``generator`` (``generator.sample_batch``); ``controls``:
    with top-k / top-p filtering."""
    row = sampling_row_floats(generator.vocab_size, generator.hidden_dim) * FLOAT_BYTES
    return rows_for(
        setting, generator.output.weight.device, row * (CONTROLS_FACTOR if controls else 1)
    )


def nll_rows(model, seq_len: int, setting: int = 0) -> int:
    """Rows per pass of ``metrics.nll.sequence_nll`` over sequences of length ``seq_len``."""
    row = seq_len * sampling_row_floats(model.vocab_size, model.hidden_dim) * FLOAT_BYTES
    return rows_for(setting, model.output.weight.device, row)


def score_rows(setting: int, d_cfg, seq_len: int, device: torch.device) -> int:
    """Rows per discriminator scoring pass (``discriminator.score_chunk``) on sequences of
    length ``seq_len``; ``d_cfg``: anything with ``emb_dim``, ``filter_sizes`` and
    ``num_filters`` (the config section, or the ``Discriminator`` itself)."""
    row = (
        discriminator_row_floats(d_cfg.emb_dim, d_cfg.filter_sizes, d_cfg.num_filters, seq_len)
        * FLOAT_BYTES
    )
    return rows_for(setting, device, row)


def chosen_rows(
    cfg, generator, seq_len: int, oracle=None, discriminator: bool = False
) -> dict[str, int]:
    """What a run of config ``cfg`` uses (``summary.json``'s ``pass_rows``): rows per
    sampling batch, per NLL pass of the generator
    (NLL-test) and of the ``oracle`` (NLL-oracle) and, with a ``discriminator``, per
    scoring pass."""
    out = {
        "sample_batch": sample_rows(cfg.generator.sample_batch, generator),
        "nll_test": nll_rows(generator, seq_len),
    }
    if oracle is not None:
        out["nll_oracle"] = nll_rows(oracle, seq_len)
    if discriminator:
        out["score_chunk"] = score_rows(
            cfg.discriminator.score_chunk,
            cfg.discriminator,
            seq_len,
            generator.output.weight.device,
        )
    return out
