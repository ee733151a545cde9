"""MaliGAN and LeakGAN, ours against TextGAN-PyTorch's, in one process on one CPU.

TextGAN-PyTorch (williamSYSU/TextGAN-PyTorch) is not a dependency and is not vendored:
point ``TEXTGAN_PYTORCH`` at a checkout of it (its root, holding ``config.py``); this
script imports its models and calls its own instructor methods where they are plain
functions of the models (the MaliGAN reward, the D epoch, the optimiser steps).

The paper-settings adversarial epoch of each algorithm (the oracle task: V = 5,000,
T = 20, batch 64, the paper discriminator; TextGAN-PyTorch's run scripts and our presets
agree on g = 1 g-step, d = 5 d-steps of k = 3 epochs over 10,000 real + 10,000 generated
sequences; MaliGAN 16 reward calls / LeakGAN 4 roll-outs, c = 4, k = 16) is

    epoch = g * (one g-step) + d * (sampling 10,000 negatives + k * one D epoch over 20,000)

Each part is measured here, ours then theirs (``--repeats`` times, medians), on
``--rows`` sequences for the sampling and the D epoch (scaled linearly to the epoch's
10,000 / 20,000: both are loops over fixed-size batches), and composed.  Not counted on
either side: evaluation, and TextGAN-PyTorch's re-sampling of 10,000 oracle sequences
per d-step (our S is fixed, as the paper's).

Peak resident memory (``--memory``): each side of each algorithm runs in a fresh process
of this script (``--peak-of SIDE:ALGORITHM``) that builds its models and runs one g-step,
samples the 10,000 negatives of a d-step and trains one D epoch over 10,000 + 10,000
sequences (the paper epoch's largest parts at full size; the other parts repeat them),
then prints ``ru_maxrss`` of ``getrusage(RUSAGE_SELF)``: the process's high-water mark of
resident memory, however short the peak (Linux counts KiB), measured by the kernel,
not sampled.  Printed for each: the peak after the set-up (imports, models, the D
epoch's first negatives) and at the end.  Both sides import torch and this script's
modules (seqgan's, and TextGAN-PyTorch's in their process only).

RelGAN (``--algorithms relgan``) has no MC search and no D epochs: its adversarial epoch
is one of the authors' iterations, 1 generator step and 5 discriminator steps, each on
64 real and 64 free-running Gumbel-softmax samples (V = 5,000, T = 20, the paper's
relational memory 1 x 2 x 256 and its discriminator: 64 representations, filters 2-5 x
300), timed as it is (wall clock and, as the machine may be shared, the process's CPU
time: with one thread, the work done); its MLE epoch (10,000 sequences) is timed on
``--rows`` and scaled. TextGAN-PyTorch's steps are its instructor's
``adv_train_generator`` / ``adv_train_discriminator`` with a plain random batch of the
data (its ``GenDataIter.random_batch`` re-collates the whole data set per call: that
cost is printed apart). Timings alternate between the two sides in this one process (so
both see the same load); the peak memory of each side is that of its own process (this
script re-run with ``--peak``) over two adversarial epochs: the high-water mark of its
resident set (``VmHWM``, reset before them), and its growth over the resident size
before them.

Run: TEXTGAN_PYTORCH=/path/to/TextGAN-PyTorch python benchmarks/vs_textgan.py [--rows N]
[--memory]
Prints the CPU, each part's seconds for both, the composed epochs and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types

import torch

from _common import machine, timed
from seqgan.config import build_config, load_preset
from seqgan.data.build import build_task
from seqgan.rl.rewards import DiscriminatorReward
from seqgan.runtime.memory import peak_resident_mib, reset_peak, status_kib
from seqgan.training import leakgan, maligan, relgan, steps

PAPER = {"g": 1, "d": 5, "k": 3, "negatives": 10_000, "d_rows": 20_000}


def textgan():
    """TextGAN-PyTorch's modules, imported from ``$TEXTGAN_PYTORCH`` (CPU settings)."""
    root = os.environ.get("TEXTGAN_PYTORCH")
    if not root or not os.path.isfile(os.path.join(root, "config.py")):
        sys.exit("set TEXTGAN_PYTORCH to a TextGAN-PyTorch checkout (the folder with config.py)")
    sys.path.insert(0, root)
    saved_argv, sys.argv = sys.argv, sys.argv[:1]
    import config as cfg  # theirs

    sys.argv = saved_argv
    cfg.CUDA = False
    cfg.vocab_size, cfg.max_seq_len, cfg.batch_size, cfg.samples_num = 5000, 20, 64, 10_000
    cfg.goal_size, cfg.step_size = 16, 4
    from instructor.oracle_data import instructor, maligan_instructor, relgan_instructor
    from models import LeakGAN_D, LeakGAN_G, MaliGAN_D, MaliGAN_G, RelGAN_D, RelGAN_G
    from utils import data_loader, rollout

    return types.SimpleNamespace(
        cfg=cfg,
        BasicInstructor=instructor.BasicInstructor,
        MaliGANInstructor=maligan_instructor.MaliGANInstructor,
        LeakGAN_D=LeakGAN_D.LeakGAN_D,
        LeakGAN_G=LeakGAN_G.LeakGAN_G,
        MaliGAN_D=MaliGAN_D.MaliGAN_D,
        MaliGAN_G=MaliGAN_G.MaliGAN_G,
        RelGANInstructor=relgan_instructor.RelGANInstructor,
        RelGAN_D=RelGAN_D.RelGAN_D,
        RelGAN_G=RelGAN_G.RelGAN_G,
        rollout=rollout,
        DisDataIter=data_loader.DisDataIter,
        GenDataIter=data_loader.GenDataIter,
    )


def their_d_epoch(t, dis, pos, neg):
    loader = t.DisDataIter(pos, neg).loader
    owner = types.SimpleNamespace(optimize=t.BasicInstructor.optimize)
    opt = torch.optim.Adam(dis.parameters(), lr=1e-4)
    return lambda: t.BasicInstructor.train_dis_epoch(
        owner, dis, loader, torch.nn.CrossEntropyLoss(), opt
    )


def theirs_maligan(t, rows: int) -> dict:
    t.cfg.rollout_num = 16  # run/run_maligan.py
    gen = t.MaliGAN_G(32, 32, 5000, 20, t.cfg.padding_idx, gpu=False)
    dis = t.MaliGAN_D(64, 5000, t.cfg.padding_idx, gpu=False)
    opt = torch.optim.Adam(gen.parameters(), lr=0.01)
    owner = types.SimpleNamespace(dis=dis)

    def g_step():
        inp, target = t.GenDataIter.prepare(gen.sample(64, 64))
        rewards = t.MaliGANInstructor.get_mali_reward(owner, target)
        t.BasicInstructor.optimize(opt, gen.adv_loss(inp, target, rewards))

    neg = gen.sample(rows, 4 * 64)
    pos = torch.randint(0, 5000, (rows, 20))
    return {
        "g-step": g_step,
        "negatives": lambda: gen.sample(rows, 4 * 64),
        "D epoch": their_d_epoch(t, dis, pos, neg),
    }


def theirs_leakgan(t, rows: int) -> dict:
    t.cfg.rollout_num = 4  # run/run_leakgan.py
    gen = t.LeakGAN_G(32, 32, 5000, 20, t.cfg.padding_idx, 16, 4, False)
    dis = t.LeakGAN_D(64, 5000, t.cfg.padding_idx, gpu=False)
    mana, work = gen.split_params()
    opts = [torch.optim.Adam(mana, lr=0.01), torch.optim.Adam(work, lr=0.01)]

    def g_step():
        with torch.no_grad():
            _, target = t.GenDataIter.prepare(gen.sample(64, 64, dis, train=True))
        rewards = t.rollout.ROLLOUT(gen, False).get_reward_leakgan(target, 4, dis, 0)
        # optimize_multi steps the manager's Adam before the worker's loss is back-propagated
        # through the manager's graph: torch 2 refuses that in-place change; this context
        # keeps the saved originals so the step runs (the torch 1 code updated .data in place)
        with torch.autograd.graph.allow_mutation_on_saved_tensors():
            t.BasicInstructor.optimize_multi(opts, list(gen.adversarial_loss(target, rewards, dis)))

    with torch.no_grad():
        neg = gen.sample(rows, 64, dis)
    pos = torch.randint(0, 5000, (rows, 20))

    def negatives():
        with torch.no_grad():
            return gen.sample(rows, 64, dis)

    return {"g-step": g_step, "negatives": negatives, "D epoch": their_d_epoch(t, dis, pos, neg)}


def ours(preset: str, rows: int) -> dict:
    cfg = build_config(load_preset(preset), ['oracle.source="random"', "oracle.seq_len=20"])
    task = build_task(cfg, None)
    module = maligan if cfg.algorithm == "maligan" else leakgan
    models, optimizers, _ = module.build(cfg, task)
    generator, dis = models["generator"], models["discriminator"]
    d_opt = optimizers["discriminator"]
    if cfg.algorithm == "maligan":

        def g_step():
            maligan.maligan_step(cfg, task, generator, None, dis, optimizers["policy"], 1)
    else:
        reward = DiscriminatorReward(dis, cfg.discriminator.score_chunk)

        def g_step():
            leakgan.leakgan_step(cfg, generator, reward, optimizers["policy"])

    neg = generator.sample(rows, cfg.generator.sample_batch)
    pos = task.train[:rows]
    d = cfg.discriminator
    return {
        "g-step": g_step,
        "negatives": lambda: generator.sample(rows, cfg.generator.sample_batch),
        "D epoch": lambda: steps.discriminator_epochs(
            dis, d_opt, pos, neg, 1, d.batch_size, d.l2_reg
        ),
    }


RELGAN_BETA = 10.0  # the inverse temperature of the timed steps (their cost does not depend on it)
RELGAN_MLE_ROWS = 10_000  # sequences of one MLE epoch (the authors' num_sentences)


def theirs_relgan(t, rows: int) -> dict:
    """TextGAN-PyTorch's RelGAN at the settings of its run/run_relgan.py (oracle job)."""
    cfg = t.cfg
    cfg.model_type, cfg.loss_type, cfg.temp_adpt = "vanilla", "rsgan", "exp"
    gen = t.RelGAN_G(1, 2, 256, 32, 32, 5000, 20, cfg.padding_idx, gpu=False)
    dis = t.RelGAN_D(64, 20, 64, 5000, cfg.padding_idx, gpu=False)
    gen.temperature = RELGAN_BETA
    data = torch.randint(0, 5000, (RELGAN_MLE_ROWS, 20))

    def random_batch() -> dict:
        return {"target": data[torch.randint(0, len(data), (64,))]}

    owner = types.SimpleNamespace(
        gen=gen,
        dis=dis,
        oracle_data=types.SimpleNamespace(random_batch=random_batch),
        gen_adv_opt=torch.optim.Adam(gen.parameters(), lr=1e-4),
        dis_opt=torch.optim.Adam(dis.parameters(), lr=1e-4),
        optimize=t.RelGANInstructor.optimize,
    )
    adv, loader = t.RelGANInstructor, t.GenDataIter(data[:rows]).loader
    mle_opt = torch.optim.Adam(gen.parameters(), lr=0.01)

    def epoch():
        adv.adv_train_generator(owner, 1)
        adv.adv_train_discriminator(owner, 5)

    return {
        "g-step": lambda: adv.adv_train_generator(owner, 1),
        "d-step": lambda: adv.adv_train_discriminator(owner, 1),
        "epoch": epoch,
        "MLE epoch": lambda: t.BasicInstructor.train_gen_epoch(
            owner, gen, loader, torch.nn.NLLLoss(), mle_opt
        ),
        "random_batch": t.GenDataIter(data).random_batch,
    }


def ours_relgan(rows: int) -> dict:
    cfg = build_config(load_preset("relgan-synthetic-20"), ['oracle.source="random"'])
    task = build_task(cfg, None)
    models, optimizers, phases = relgan.build(cfg, task)
    # the epoch of the schedule where beta = RELGAN_BETA: 100 ** (i / 3000) = 10 at i = 1500
    epoch = 1 + cfg.adversarial.epochs // 2
    assert abs(relgan.beta_at(cfg, epoch) - RELGAN_BETA) < 1e-9
    args = (cfg, task, models, optimizers, RELGAN_BETA)
    return {
        "g-step": lambda: relgan.generator_step(*args),
        "d-step": lambda: relgan.discriminator_step(*args),
        "epoch": lambda: phases[-1].run_epoch(epoch),
        "MLE epoch": lambda: steps.mle_epoch(
            models["generator"], optimizers["mle"], task.train[:rows], 64, 5.0
        ),
    }


def relgan_peak(side: str, rows: int) -> None:
    """Print this process's peak resident memory over two adversarial epochs of ``side``
    and its resident size before them, KiB, as JSON (the ``--peak`` child).  The peak
    is reset first (``/proc/self/clear_refs``): ``getrusage``'s ``ru_maxrss`` of a child
    keeps the high-water mark of the parent it was forked from (Linux carries it across
    exec), so it would report the parent's size."""
    parts = ours_relgan(rows) if side == "ours" else theirs_relgan(textgan(), rows)
    before = status_kib("VmRSS")
    if reset_peak():
        read_peak = lambda: status_kib("VmHWM")  # noqa: E731
    else:  # no reset here: getrusage, which may include the parent's size
        read_peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    for _ in range(2):
        parts["epoch"]()
    print(json.dumps({"peak_kib": read_peak(), "before_kib": before}))


def wall_and_cpu(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call of ``fn``: with one thread the CPU time is
    the work done, also while other processes share the cores (the wall clock then
    includes waiting for a core)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def median_pair(pairs: list) -> tuple[float, float]:
    """The median wall and the median CPU seconds of ``[(wall, cpu), ...]``."""
    walls, cpus = sorted(p[0] for p in pairs), sorted(p[1] for p in pairs)
    return walls[len(walls) // 2], cpus[len(cpus) // 2]


def relgan_comparison(t, rows: int, repeats: int) -> None:
    torch.manual_seed(0)
    mine = ours_relgan(rows)
    torch.manual_seed(0)
    theirs = theirs_relgan(t, rows)
    for fn in (*mine.values(), *theirs.values()):  # warm-up (allocator, oneDNN primitives)
        fn()
    scale = {"MLE epoch": RELGAN_MLE_ROWS / rows}
    labels = {"epoch": "adversarial epoch (1 g + 5 d)", "MLE epoch": "MLE epoch (10,000)"}
    for part in ("g-step", "d-step", "epoch", "MLE epoch"):
        times: dict = {"ours": [], "theirs": []}
        for _ in range(repeats):  # alternating: both sides under the same load
            for side, fn in (("ours", mine[part]), ("theirs", theirs[part])):
                times[side].append([x * scale.get(part, 1.0) for x in wall_and_cpu(fn)])
        (a, a_cpu), (b, b_cpu) = (median_pair(times[side]) for side in ("ours", "theirs"))
        print(
            f"relgan   {labels.get(part, part):30s} ours {a:8.3f} s   TextGAN-PyTorch "
            f"{b:8.3f} s   speedup {b / a:5.2f}x   (CPU time {a_cpu:8.3f} s vs "
            f"{b_cpu:8.3f} s: {b_cpu / a_cpu:5.2f}x)"
        )
    batch_s = timed(theirs["random_batch"], repeats)[0]
    print(
        f"relgan   TextGAN-PyTorch's GenDataIter.random_batch, as its instructor calls it "
        f"(6 per epoch, not counted above): {batch_s:.3f} s each"
    )
    for side in ("ours", "theirs"):
        done = subprocess.run(
            [sys.executable, __file__, "--peak", side, "--rows", str(rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
        name = "ours" if side == "ours" else "TextGAN-PyTorch"
        print(
            f"relgan   peak memory {name:16s} {found['peak_kib'] / 1024:8.0f} MiB "
            f"(+{(found['peak_kib'] - found['before_kib']) / 1024:.0f} MiB over the "
            f"{found['before_kib'] / 1024:.0f} MiB resident before two adversarial epochs)"
        )


def epoch_seconds(parts: dict, rows: int, repeats: int) -> tuple[float, dict]:
    seconds = {name: timed(fn, repeats)[0] for name, fn in parts.items()}
    return composed(seconds, rows), seconds


def composed(seconds: dict, rows: int) -> float:
    """The paper epoch from its parts' seconds on ``rows`` sequences."""
    return PAPER["g"] * seconds["g-step"] + PAPER["d"] * (
        seconds["negatives"] * PAPER["negatives"] / rows
        + PAPER["k"] * seconds["D epoch"] * PAPER["d_rows"] / (2 * rows)
    )


def paired_epoch_seconds(mine: dict, theirs: dict, rows: int, repeats: int) -> tuple:
    """``epoch_seconds`` of both sides, each part timed ours then theirs ``repeats`` times
    (medians): a change of the machine's load during the run hits both sides alike."""
    seconds: dict = {"ours": {}, "theirs": {}}
    for part in mine:
        for _ in range(repeats):
            for side, parts in (("ours", mine), ("theirs", theirs)):
                seconds[side].setdefault(part, []).append(timed(parts[part])[0])
    medians = [{p: statistics.median(t) for p, t in seconds[s].items()} for s in seconds]
    return tuple((composed(m, rows), m) for m in medians)


# peak resident memory, each side in its own process (MaliGAN and LeakGAN)
PEAK_PARTS = {
    ("ours", "maligan"): lambda rows: ours("maligan-synthetic", rows),
    ("ours", "leakgan"): lambda rows: ours("leakgan-synthetic-20", rows),
    ("theirs", "maligan"): lambda rows: theirs_maligan(textgan(), rows),
    ("theirs", "leakgan"): lambda rows: theirs_leakgan(textgan(), rows),
}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_of(side: str, name: str, rows: int) -> None:
    """``--peak-of``: build one side's parts on ``rows`` sequences, run each once, print
    the peaks after building and at the end (one JSON line)."""
    torch.manual_seed(0)
    parts = PEAK_PARTS[side, name](rows)
    built = peak_resident_mib()
    for fn in parts.values():
        fn()
    print(json.dumps({"built": built, "peak": peak_resident_mib()}))


def peak_in_subprocess(side: str, name: str, rows: int) -> dict:
    """``{"built": MiB, "peak": MiB}`` of ``peak_of(side, name, rows)`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--peak-of", f"{side}:{name}", "--rows", str(rows)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_peaks(names: list[str], rows: int) -> None:
    """Each side's peak resident memory for each algorithm in ``names``."""
    print(
        f"peak resident memory (MiB), one process per side: one g-step, {rows} negatives, "
        f"one D epoch over {rows} + {rows}; 'set-up' = imports, models, first negatives"
    )
    for name in names:
        mine, theirs = (peak_in_subprocess(side, name, rows) for side in ("ours", "theirs"))
        print(
            f"{name:8s} ours peak {mine['peak']:7.0f} (set-up {mine['built']:5.0f})   "
            f"TextGAN-PyTorch peak {theirs['peak']:7.0f} (set-up {theirs['built']:5.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1024, help="sequences sampled / per D class")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--algorithms", default="maligan,leakgan,relgan")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="also the peak resident memory of each side, each in its own process, at the "
        "paper's sizes (--memory-rows)",
    )
    parser.add_argument("--memory-rows", type=int, default=PAPER["negatives"])
    parser.add_argument("--peak-of", help=argparse.SUPPRESS)  # SIDE:ALGORITHM, in a subprocess
    parser.add_argument("--peak", choices=("ours", "theirs"), help=argparse.SUPPRESS)  # RelGAN
    args = parser.parse_args()
    if args.peak_of:
        side, name = args.peak_of.split(":")
        return peak_of(side, name, args.rows)
    if args.peak:
        relgan_peak(args.peak, args.rows)
        return
    t = textgan()
    print(f"load average at start: {load_average()}")
    print(f"machine: {machine()}")
    if set(args.algorithms.split(",")) - {"relgan"}:
        print(
            f"parts on {args.rows} sequences, composed to the paper epoch "
            f"(g {PAPER['g']}, d {PAPER['d']}, k {PAPER['k']}, 10,000 + 10,000 sequences)"
        )
    for name in args.algorithms.split(","):
        if name == "relgan":
            relgan_comparison(t, args.rows, max(args.repeats, 3))
            continue
        torch.manual_seed(0)
        preset = {"maligan": "maligan-synthetic", "leakgan": "leakgan-synthetic-20"}[name]
        my_fns = ours(preset, args.rows)
        torch.manual_seed(0)
        build = theirs_maligan if name == "maligan" else theirs_leakgan
        (mine, mine_parts), (theirs, their_parts) = paired_epoch_seconds(
            my_fns, build(t, args.rows), args.rows, args.repeats
        )
        for part in mine_parts:
            print(
                f"{name:8s} {part:10s} ours {mine_parts[part]:8.2f} s   TextGAN-PyTorch "
                f"{their_parts[part]:8.2f} s   ratio {their_parts[part] / mine_parts[part]:6.2f}"
            )
        print(
            f"{name:8s} paper epoch  ours {mine:8.1f} s   TextGAN-PyTorch {theirs:8.1f} s   "
            f"speedup {theirs / mine:.2f}x"
        )
    print(f"load average at end: {load_average()}")
    if args.memory:  # RelGAN's peaks are printed with its comparison
        print_peaks([n for n in args.algorithms.split(",") if n != "relgan"], args.memory_rows)


if __name__ == "__main__":
    main()
