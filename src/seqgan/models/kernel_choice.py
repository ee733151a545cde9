"""``discriminator.kernel = "auto"``: the fastest exact formulation on this machine.

The formulations of ``models.discriminator_kernels`` compute the same discriminator; which
is fastest depends on the CPU (AVX-512, AMX), the thread count, the device, the precision
and the model's shape.  ``choose_kernels`` times each one on the run's shapes — a training
step (forward + backward on one ``batch_size`` mini-batch) and a scoring pass (forward, no
gradients) of the rows a run scores at a time (an MC search's ``num_rollouts x
batch_size``, at most one ``score_chunk``; ``models.pass_rows``) — and keeps the fastest
of each.  Before timing, each kernel's logits and gradients on a few rows are compared
with those of ``conv1d`` (the formulation of earlier releases); a kernel that disagrees
on this device — a fault of the device's convolution library, not float rounding — is
left out (the cache entry's ``left_out`` says what differed), so ``auto`` never picks a
wrong formulation on hardware our tests did not run on; a kernel the config names
explicitly is checked the same way and refused in one line if it disagrees.  Timing
takes a few seconds (a kernel more than 3x slower than the best is dropped after one
try); the answer is cached per machine in ``$SEQGAN_CACHE`` (default
``$XDG_CACHE_HOME/seqgan``, else ``~/.cache/seqgan``), file ``kernels.json``, keyed by CPU
model, thread count, torch version, device, precision, shapes and the kernels on offer
(a kernel added by a new release is timed, not skipped).  The run records the
chosen names in its ``config.toml``, so a resume computes with the same kernels (and
stays bit-identical).
Global random state is left untouched (``torch.random.fork_rng``).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from pathlib import Path

import torch

from seqgan.errors import UserError
from seqgan.models.discriminator import Discriminator
from seqgan.models.discriminator_kernels import DEFAULT_KERNEL, KERNELS
from seqgan.models.pass_rows import score_rows
from seqgan.runtime.console import stderr_line
from seqgan.runtime.device import device_name
from seqgan.storage.atomic import write_text

AUTO = "auto"
REPEATS = 3  # timed calls per kernel (after one warm-up), median kept
GIVE_UP = 3.0  # a kernel this many times slower than the best so far is not timed further
CHECK_ROWS = 8  # rows on which every kernel must agree with conv1d before it is timed
# tolerance relative to the largest value: loose enough for TF32 convolutions (cuDNN's
# default on recent GPUs, ~1e-3), bf16 rounding; a wrong formulation is off by O(1)
AGREEMENT = {"fp32": 1e-2, "bf16": 5e-2}


def cache_file() -> Path:
    """Where the measured choices are kept (``$SEQGAN_CACHE/kernels.json``)."""
    root = (
        os.environ.get("SEQGAN_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seqgan"
    )
    return Path(root) / "kernels.json"


def choose_kernels(
    d_cfg, vocab_size: int, seq_len: int, device: torch.device, scored_rows: int = 0
) -> tuple[str, str]:
    """``(kernel, score_kernel)`` for the ``discriminator`` config section ``d_cfg``: its
    own names, with each ``"auto"`` replaced by the fastest measured (or cached) one; the
    scoring pass timed on ``scored_rows`` rows (0: one ``score_chunk``)."""
    wanted = (d_cfg.kernel, d_cfg.score_kernel)
    check_chosen_kernels(d_cfg, vocab_size, seq_len, device)
    if AUTO not in wanted:
        return wanted
    scored_rows = scored_rows or score_rows(d_cfg.score_chunk, d_cfg, seq_len, device)
    key = _key(d_cfg, vocab_size, seq_len, device, scored_rows)
    cache = _read_cache()
    if key not in cache:
        stderr_line(
            f"timing the discriminator's {len(KERNELS)} kernels on this run's shapes "
            f'(once per machine and shape; discriminator.kernel = "conv1d" and '
            f'score_kernel = "conv1d" skip it) ...'
        )
        started = time.perf_counter()
        cache[key] = _measure(d_cfg, vocab_size, seq_len, device, scored_rows)
        seconds = time.perf_counter() - started
        _write_cache(cache)
        stderr_line(
            f"note: discriminator kernels measured in {seconds:.1f} s: training "
            f"{cache[key]['train']}, scoring {cache[key]['score']} (cached in "
            f"{cache_file()})"
        )
    choice = cache[key]
    return (
        choice["train"] if wanted[0] == AUTO else wanted[0],
        choice["score"] if wanted[1] == AUTO else wanted[1],
    )


def kernel_differences(
    model: Discriminator, tokens: torch.Tensor, names: list[str] | None = None
) -> dict[str, tuple[float, str]]:
    """For each kernel of ``names`` (default: all but ``DEFAULT_KERNEL``): how far its
    logits and parameter gradients (cross-entropy, eval mode) on ``tokens`` are from
    ``DEFAULT_KERNEL``'s, relative to the largest entry of those, and where the largest
    difference is (``"logits"`` or ``"gradient of <parameter>"``)."""
    labels = torch.arange(len(tokens), device=tokens.device) % 2
    was_training = model.training
    model.eval()
    parts = ["logits", *(f"gradient of {name}" for name, _ in model.named_parameters())]

    def outputs(name: str) -> list[torch.Tensor]:
        model.zero_grad(set_to_none=True)
        logits = model(tokens, name)
        torch.nn.functional.cross_entropy(logits, labels).backward()
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in model.parameters()]
        return [t.detach().flatten().float() for t in (logits, *grads)]

    try:
        reference = outputs(DEFAULT_KERNEL)
        scale = max(float(r.abs().max()) if r.numel() else 0.0 for r in reference) or 1.0
        found = {}
        for name in names if names is not None else [n for n in KERNELS if n != DEFAULT_KERNEL]:
            gaps = [
                float((o - r).abs().max()) if r.numel() else 0.0
                for o, r in zip(outputs(name), reference)
            ]
            worst = max(range(len(gaps)), key=lambda i: gaps[i])
            # a NaN difference is no agreement
            difference = math.inf if any(math.isnan(g) for g in gaps) else gaps[worst] / scale
            found[name] = (difference, parts[worst])
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return found


def agreeing_kernels(model: Discriminator, tokens: torch.Tensor) -> tuple[list[str], dict]:
    """``(kernels, left_out)``: the kernels whose logits and parameter gradients on
    ``tokens`` equal ``DEFAULT_KERNEL``'s within ``AGREEMENT[model.precision]`` of the
    largest entry (``kernel_differences``), and for each one left out what differed.
    Nothing is printed: ``auto`` simply does not use a kernel that this device's
    libraries compute wrongly (the cache entry records it)."""
    agreeing, left_out = [DEFAULT_KERNEL], {}
    for name, (difference, where) in kernel_differences(model, tokens).items():
        if difference <= AGREEMENT[model.precision]:
            agreeing.append(name)
        else:
            left_out[name] = (
                f"{where} differs from {DEFAULT_KERNEL}'s by {difference:.2g} of the largest value"
            )
    return agreeing, left_out


def check_chosen_kernels(d_cfg, vocab_size: int, seq_len: int, device: torch.device) -> None:
    """A kernel the config names (not ``auto``, not ``DEFAULT_KERNEL``) must compute the
    same discriminator as ``DEFAULT_KERNEL`` on this device (``kernel_differences``),
    else a one-line ``UserError`` before anything is trained."""
    chosen = [
        (key, name)
        for key, name in (("kernel", d_cfg.kernel), ("score_kernel", d_cfg.score_kernel))
        if name not in (AUTO, DEFAULT_KERNEL)
    ]
    if not chosen:
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        model = _model(d_cfg, vocab_size, seq_len, device)
        tokens = torch.randint(vocab_size, (CHECK_ROWS, seq_len), device=device)
        found = kernel_differences(model, tokens, sorted({name for _, name in chosen}))
    for key, name in chosen:
        difference, where = found[name]
        if difference > AGREEMENT[d_cfg.precision]:
            raise UserError(
                f"discriminator.{key} = {name} computes wrong results on {device} (its "
                f"{where} differs from {DEFAULT_KERNEL}'s by {difference:.2g} of the "
                f"largest value: a fault of this device's convolution library for that "
                f"formulation); set discriminator.{key} = auto or {DEFAULT_KERNEL}"
            )


def time_kernels(
    model: Discriminator,
    tokens: torch.Tensor,
    train: bool,
    names: list[str] | None = None,
    report=None,
) -> dict[str, float]:
    """Median seconds of one training step (forward + backward of the cross-entropy) or
    one scoring pass (forward, no gradients, eval mode) of ``tokens`` per kernel of
    ``names`` (default: all); kernels ``GIVE_UP`` times slower than the best so far are
    timed once only.  ``report(name, seconds)``, if given, is called after each kernel."""
    labels = torch.arange(len(tokens), device=tokens.device) % 2
    model.train(train)

    def call(name: str) -> None:
        if train:
            model.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(tokens, name), labels).backward()
        else:
            with torch.no_grad():
                model(tokens, name)
        _synchronize(tokens.device)

    seconds: dict[str, float] = {}
    for name in KERNELS if names is None else names:
        call(name)  # warm-up: oneDNN primitive creation, caches
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            call(name)
            times.append(time.perf_counter() - started)
            if min(seconds.values(), default=float("inf")) * GIVE_UP < times[-1]:
                break
        seconds[name] = statistics.median(times)
        if report is not None:
            report(name, seconds[name])
    return seconds


def _measure(d_cfg, vocab_size: int, seq_len: int, device: torch.device, scored_rows: int) -> dict:
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        model = _model(d_cfg, vocab_size, seq_len, device)
        batch = torch.randint(vocab_size, (d_cfg.batch_size, seq_len), device=device)
        chunk = torch.randint(vocab_size, (scored_rows, seq_len), device=device)
        names, left_out = agreeing_kernels(model, batch[:CHECK_ROWS])
        done = iter(range(1, 2 * len(names) + 1))

        def report(what: str):
            return lambda name, seconds: stderr_line(
                f"  {what} with {name}: {seconds * 1000:.1f} ms ({next(done)} of {2 * len(names)})"
            )

        train = time_kernels(
            model,
            batch,
            train=True,
            names=names,
            report=report(f"a training step of {len(batch)} rows"),
        )
        score = time_kernels(
            model, chunk, train=False, names=names, report=report(f"scoring {len(chunk)} rows")
        )
    return {
        "train": min(train, key=lambda name: train[name]),
        "score": min(score, key=lambda name: score[name]),
        "train_seconds": train,
        "score_seconds": score,
        **({"left_out": left_out} if left_out else {}),
    }


def _model(d_cfg, vocab_size: int, seq_len: int, device: torch.device) -> Discriminator:
    return Discriminator(
        vocab_size,
        seq_len,
        d_cfg.emb_dim,
        d_cfg.filter_sizes,
        d_cfg.num_filters,
        d_cfg.dropout,
        precision=d_cfg.precision,
    ).to(device)


def _key(d_cfg, vocab_size: int, seq_len: int, device: torch.device, scored_rows: int) -> str:
    shape = (
        f"V{vocab_size} T{seq_len} k{d_cfg.emb_dim} widths{d_cfg.filter_sizes} "
        f"filters{d_cfg.num_filters} batch{d_cfg.batch_size} chunk{scored_rows}"
    )
    return (
        f"{device_name(device)} | {torch.get_num_threads()} threads | torch "
        f"{torch.__version__} | {device.type} | {d_cfg.precision} | {shape} | "
        f"kernels {','.join(sorted(KERNELS))}"
    )  # a new kernel is timed, not skipped


def _read_cache() -> dict:
    try:
        cache = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: measure again
    return (
        {
            key: value
            for key, value in cache.items()
            if isinstance(value, dict)
            and value.get("train") in KERNELS
            and value.get("score") in KERNELS
        }
        if isinstance(cache, dict)
        else {}
    )


def _write_cache(cache: dict) -> None:
    try:
        cache_file().parent.mkdir(parents=True, exist_ok=True)
        write_text(cache_file(), json.dumps(cache, indent=1, sort_keys=True) + "\n")
    except (OSError, UserError) as exc:  # a cache that cannot be written costs time only
        stderr_line(f"note: could not cache the kernel choice in {cache_file()}: {exc}")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
