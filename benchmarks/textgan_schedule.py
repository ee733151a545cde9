"""TextGAN-PyTorch's MaliGAN, LeakGAN and RelGAN trained at one of our runs' schedules,
on that run's data and seed, and scored with our metrics: the rows that stand beside
ours in a comparison table.

TextGAN-PyTorch (williamSYSU/TextGAN-PyTorch) is not a dependency and is not vendored:
``TEXTGAN_PYTORCH`` names a checkout (``vs_textgan.textgan`` imports it).  Its own
training loop runs, unchanged: the instructor's ``_run`` (MLE pre-training, D
pre-training, adversarial epochs; LeakGAN's interleaved rounds), on an instructor object
built here without its ``__init__`` (which reads its own oracle and data files): its
generator, discriminator and optimisers are made as its ``__init__`` makes them, and its
data are ours.

``--like RUN`` names one of our finished runs (a ``seqgan compare`` member, e.g.
``runs/compset-small/seed-88/maligan``); its ``config.toml`` gives

* the data: the same oracle training sequences (``data.num_train`` of them, drawn with
  the run's seed), the same held-out set and the oracle itself;
* the schedule, mapped onto TextGAN-PyTorch's settings: MLE epochs
  (``pretrain.generator_epochs``), D pre-training rounds x epochs
  (``pretrain.discriminator_rounds`` x ``_epochs``, on ``discriminator.num_positives``
  negatives), adversarial epochs, g-steps, d-steps x k epochs, MaliGAN's reward calls
  (``adversarial.num_rollouts``), LeakGAN's roll-outs, goal size and step, RelGAN's
  memory, representations, filters, learning rates and ``beta_max``;
* the seed, for ``torch``, ``random`` and ``numpy`` before the models are built.

What stays TextGAN-PyTorch's own, by design (it is what its users run; see
``docs/algorithms/*.md`` for each point): its models and losses, its unshuffled MLE
loader with start letter 1 and token 0 as padding (a real oracle token here), LeakGAN's
interleaved pre-training (D rounds, then the MLE epochs, ``inter_epoch`` = 1 round) and
its sampling with logits x 1.5 when not training; no L2 on D.  Two settings are ours:
LeakGAN's D rounds read our fixed positives, as ours do (its own code re-samples its
oracle), and RelGAN's exponential temperature schedule runs over the run's adversarial
epochs (its helper fixes N = 5,000, so a short schedule would end at beta ~ 1).  Its
in-training metrics (``cal_metrics``) are switched off: they are not part of the schedule.

After the MLE pre-training and at the end: NLL-oracle (ours: the oracle's NLL of
``eval.num_samples`` samples of the generator, per token) and NLL-test (the generator's
NLL of our held-out set, per token, through its own forward / ``batchNLLLoss``), with
its models in eval mode; the seconds of training (without that scoring) and the
process's peak resident memory over the training (``VmHWM``: our data and oracle
included, the scoring after the pre-training left out), written as one JSON file per
run into ``--out`` (a run whose file exists is skipped: re-running a loop continues
it).  ``--summarize DIR`` prints their table.

Run: TEXTGAN_PYTORCH=PATH python benchmarks/textgan_schedule.py --like RUN
         --data-root DATA --out DIR [--algorithm maligan|leakgan|relgan]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

from seqgan.config import build_config, read_toml
from seqgan.data.build import build_task
from seqgan.metrics.nll import sequence_nll
from seqgan.runtime.memory import peak_resident_mib, reset_peak
from vs_textgan import textgan


class FixedPositives:
    """Stands for TextGAN-PyTorch's oracle where its instructors sample positives for D:
    ``sample(n, batch)`` gives ``n`` of the fixed training sequences (all of them when
    ``n`` is their number, as our D rounds use), in a seeded random order."""

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data

    def sample(self, n: int, batch_size: int) -> torch.Tensor:
        return self.data[torch.randperm(len(self.data))[:n]]


def configure(t, cfg, task, algorithm: str) -> None:
    """TextGAN-PyTorch's global settings from our run's config ``cfg`` and ``task``."""
    c, a = t.cfg, cfg.adversarial
    c.vocab_size, c.max_seq_len, c.batch_size = task.vocab_size, task.seq_len, 64
    c.samples_num = cfg.discriminator.num_positives or len(task.train)
    c.gen_pretrain = c.dis_pretrain = c.if_save = False
    c.MLE_train_epoch, c.ADV_train_epoch = cfg.pretrain.generator_epochs, a.epochs
    c.d_step, c.d_epoch = cfg.pretrain.discriminator_rounds, cfg.pretrain.discriminator_epochs
    c.ADV_g_step, c.ADV_d_step, c.ADV_d_epoch = a.g_steps, a.d_steps, a.k_epochs
    c.gen_lr, c.dis_lr = cfg.generator.lr, cfg.discriminator.lr
    c.gen_embed_dim, c.gen_hidden_dim = cfg.generator.emb_dim, cfg.generator.hidden_dim
    c.dis_embed_dim = cfg.discriminator.emb_dim
    c.pre_log_step = c.adv_log_step = 10**9  # their logging, whose metrics are off anyway
    c.inter_epoch = 1
    if algorithm == "maligan":
        c.rollout_num = a.num_rollouts  # its reward: the mean of this many D calls
    elif algorithm == "leakgan":
        lk = cfg.section("leakgan")
        c.rollout_num, c.goal_size, c.step_size = (
            lk.num_rollouts,
            lk.goal_size,
            lk.step,
        )
    else:
        r = cfg.section("relgan")
        c.mem_slots, c.num_heads, c.head_size = r.mem_slots, r.num_heads, r.head_size
        c.num_rep, c.gen_adv_lr, c.clip_norm = r.num_representations, r.g_lr, r.d_grad_clip
        c.loss_type, c.temp_adpt, c.temperature = r.loss, r.schedule, r.beta_max
        c.model_type = "vanilla"


def optimize_multi(opts: list, losses: list) -> None:
    """Their ``BasicInstructor.optimize_multi`` (for each optimiser in turn: zero, the
    backward of its loss, step) as torch 2 allows it: their manager's Adam step changes
    weights the worker's loss saved for its backward, which torch 2 refuses.  Each loss's
    gradient for its own optimiser's weights is taken first, from the weights as they
    were, then the steps: what ``torch.autograd.graph.allow_mutation_on_saved_tensors``
    gives (``vs_textgan``), without its copies of every saved tensor (9 GB peak over a
    MaliGAN schedule that needs 0.7 GB)."""
    grads = []
    for opt, loss in zip(opts, losses):
        params = [p for group in opt.param_groups for p in group["params"]]
        grads.append(
            (params, torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True))
        )
    for opt, (params, found) in zip(opts, grads):
        opt.zero_grad()
        for param, grad in zip(params, found):
            param.grad = grad
        opt.step()


def instructor(t, algorithm: str, cfg, task):
    """Their instructor for ``algorithm`` with its models and optimisers made as its
    ``__init__`` makes them, and our data."""
    from instructor.oracle_data import leakgan_instructor  # theirs, on the path now

    c = t.cfg
    V, T, pad = c.vocab_size, c.max_seq_len, c.padding_idx
    kind = {
        "maligan": t.MaliGANInstructor,
        "leakgan": leakgan_instructor.LeakGANInstructor,
        "relgan": t.RelGANInstructor,
    }[algorithm]
    inst = kind.__new__(kind)
    if algorithm == "maligan":
        inst.gen = t.MaliGAN_G(c.gen_embed_dim, c.gen_hidden_dim, V, T, pad, gpu=False)
        inst.dis = t.MaliGAN_D(c.dis_embed_dim, V, pad, gpu=False)
    elif algorithm == "leakgan":
        args = (c.gen_embed_dim, c.gen_hidden_dim, V, T, pad, c.goal_size, c.step_size, False)
        inst.gen = t.LeakGAN_G(*args)
        inst.dis = t.LeakGAN_D(c.dis_embed_dim, V, pad, gpu=False)
    else:
        module = sys.modules[t.RelGAN_D.__module__]
        module.dis_filter_sizes = list(cfg.discriminator.filter_sizes)
        module.dis_num_filters = list(cfg.discriminator.num_filters)
        inst.gen = t.RelGAN_G(
            c.mem_slots, c.num_heads, c.head_size, c.gen_embed_dim, c.gen_hidden_dim, V, T, pad
        )
        inst.dis = t.RelGAN_D(c.dis_embed_dim, T, c.num_rep, V, pad, gpu=False)
        r = cfg.section("relgan")
        beta_max, steps = r.beta_max, r.temperature_steps or c.ADV_train_epoch

        def update_temperature(i: int, n: int) -> None:
            # their 'exp' over our N (see above), called after their epoch i (0-based):
            # epoch i + 1 runs at beta_max ** ((i + 1) / N), as our epoch i + 2
            # (training.relgan.beta_at); epoch 0 at their initial 1, as ours
            inst.gen.temperature = beta_max ** ((i + 1) / steps)

        inst.update_temperature = update_temperature
    if algorithm == "leakgan":
        manager, worker = inst.gen.split_params()
        inst.gen_opt = [torch.optim.Adam(p, lr=c.gen_lr) for p in (manager, worker)]
        inst.optimize_multi = optimize_multi
    else:
        inst.gen_opt = torch.optim.Adam(inst.gen.parameters(), lr=c.gen_lr)
        adv_lr = c.gen_adv_lr if algorithm == "relgan" else c.gen_lr
        inst.gen_adv_opt = torch.optim.Adam(inst.gen.parameters(), lr=adv_lr)
    inst.dis_opt = torch.optim.Adam(inst.dis.parameters(), lr=c.dis_lr)
    inst.oracle = FixedPositives(task.train)
    inst.oracle_samples = task.train
    inst.oracle_data = t.GenDataIter(task.train)
    inst.mle_criterion = torch.nn.NLLLoss()
    inst.dis_criterion = torch.nn.CrossEntropyLoss()
    inst.log = logging.getLogger("textgan")
    inst.sig = types.SimpleNamespace(update=lambda: None, pre_sig=True, adv_sig=True)
    inst.cal_metrics = lambda fmt_str=False: "(metrics: at the end, by the harness)"
    return inst


@torch.no_grad()
def their_samples(inst, algorithm: str, n: int) -> torch.Tensor:
    """``n`` samples of their generator, as their ``cal_metrics`` draws them."""
    if algorithm == "leakgan":
        return inst.gen.sample(n, 64, inst.dis)
    return inst.gen.sample(n, 64)


@torch.no_grad()
def their_nll_test(t, inst, algorithm: str, test: torch.Tensor) -> float:
    """Their generator's NLL of ``test`` per token, in chunks of 64 (the last one
    smaller), through their own forward (``batchNLLLoss`` for LeakGAN)."""
    total, tokens = 0.0, 0
    for chunk in test.split(64):
        n = len(chunk)
        if algorithm == "leakgan":
            loss = float(inst.gen.batchNLLLoss(chunk, inst.dis))  # a mean over the tokens
        else:
            inp, target = t.GenDataIter.prepare(chunk)
            pred = inst.gen.forward(inp, inst.gen.init_hidden(n))
            loss = float(torch.nn.functional.nll_loss(pred, target.reshape(-1)))
        total, tokens = total + loss * chunk.numel(), tokens + chunk.numel()
    return total / tokens


def score(t, inst, algorithm: str, task, n: int) -> tuple[float, float]:
    """NLL-oracle of ``n`` samples of their generator and its NLL-test, per token, with
    their models in eval mode (then back in training mode) and the random generators'
    states put back afterwards: scoring does not change the training that follows."""
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()
    inst.gen.eval()
    inst.dis.eval()
    try:
        samples = their_samples(inst, algorithm, n)
        nll_oracle = float(sequence_nll(task.oracle, samples).mean()) / task.seq_len
        return nll_oracle, their_nll_test(t, inst, algorithm, task.test)
    finally:
        inst.gen.train()
        inst.dis.train()
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])


def run(args) -> dict:
    cfg = build_config(read_toml(Path(args.like) / "config.toml"))
    cfg.pretrain.generator_from = ""
    algorithm = args.algorithm or cfg.algorithm
    if algorithm not in ("maligan", "leakgan", "relgan") or cfg.data.kind != "oracle":
        sys.exit(f"{args.like}: an oracle run of maligan, leakgan or relgan is needed")
    task = build_task(cfg, Path(args.data_root))
    print(f"peak after the data: {peak_resident_mib():.0f} MiB")
    t = textgan()
    configure(t, cfg, task, algorithm)
    for seed_fn in (torch.manual_seed, random.seed, np.random.seed):
        seed_fn(cfg.seed)
    torch.set_num_threads(args.threads)
    inst = instructor(t, algorithm, cfg, task)
    scored: dict = {"seconds": 0.0}
    pretrain = inst.pretrain_generator

    def pretrain_then_score(epochs: int) -> None:  # their MLE epochs, then our metrics
        pretrain(epochs)
        start, scored["peak"] = time.perf_counter(), peak_resident_mib()
        scored["after_pretraining"] = score(t, inst, algorithm, task, cfg.eval.num_samples)
        scored["seconds"] += time.perf_counter() - start
        reset_peak()  # the training's peak: the larger of the one before and after (where
        # the peak cannot be reset, it keeps the scoring's)

    inst.pretrain_generator = pretrain_then_score
    start = time.perf_counter()
    inst._run()
    seconds = time.perf_counter() - start - scored["seconds"]
    training_peak = max(scored.get("peak", 0.0), peak_resident_mib())
    nll_oracle, nll_test = score(t, inst, algorithm, task, cfg.eval.num_samples)
    return {
        "algorithm": f"textgan-{algorithm}",
        "like": str(args.like),
        "seed": cfg.seed,
        "nll_oracle": nll_oracle,
        "nll_test": nll_test,
        "after_pretraining": scored.get("after_pretraining"),  # [NLL-oracle, NLL-test]
        "train_seconds": seconds,  # without the scoring after the pre-training
        "peak_mib_training": training_peak,  # VmHWM after training (data and oracle in it)
        "peak_mib": peak_resident_mib(),  # ... and after the evaluation
        "threads": torch.get_num_threads(),
        "textgan_pytorch": os.environ.get("TEXTGAN_PYTORCH", ""),
    }


def summarize(folder: Path) -> None:
    """``--summarize DIR``: a Markdown table of the result files in ``DIR``, per algorithm
    and run name: NLL-oracle and NLL-test per seed, mean +- std over seeds (sample std),
    ours (the ``--like`` runs' ``summary.json``) beside them, and Welch's two-sided t-test
    of their per-seed values against ours (``scipy.stats.ttest_ind``, unequal variances)."""
    from scipy.stats import ttest_ind

    groups: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.json")):
        found = json.loads(path.read_text(encoding="utf-8"))
        groups.setdefault(Path(found["like"]).name, []).append(found)
    header = "| run | side | seeds | NLL-oracle | NLL-test | p vs ours (oracle / test)"
    print(f"{header} | train s | peak MiB |")
    print("| --- | --- | --- | ---: | ---: | --- | ---: | ---: |")
    for name, rows in groups.items():
        ours = [json.loads((Path(r["like"]) / "summary.json").read_text()) for r in rows]
        seeds = ", ".join(str(r["seed"]) for r in rows)
        cells, tests = {}, []
        for key in ("nll_oracle", "nll_test"):
            theirs_v, ours_v = [r[key] for r in rows], [o[key] for o in ours]
            cells[key] = [_mean_std(theirs_v), _mean_std(ours_v)]
            p = ttest_ind(theirs_v, ours_v, equal_var=False).pvalue if len(rows) > 1 else None
            tests.append("—" if p is None else f"{p:.2g}")
        train = _mean_std([r["train_seconds"] for r in rows], 0)
        peak = f"{max(r['peak_mib_training'] for r in rows):.0f}"
        ours_train = _mean_std([o["total_seconds"] for o in ours], 0)
        ours_peaks = [o.get("peak_resident_mib") for o in ours]  # runs since 2026-12-07
        ours_peak = "—" if None in ours_peaks else f"{max(ours_peaks):.0f}"
        print(
            f"| {name} | TextGAN-PyTorch | {seeds} | {cells['nll_oracle'][0]} | "
            f"{cells['nll_test'][0]} | {' / '.join(tests)} | {train} | {peak} |"
        )
        print(
            f"| {name} | seqgan (ours) | {seeds} | {cells['nll_oracle'][1]} | "
            f"{cells['nll_test'][1]} | | {ours_train} | {ours_peak} |"
        )


def _mean_std(values: list[float], digits: int = 3) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summarize", metavar="DIR", help="print the table of DIR's results")
    parser.add_argument("--like", help="one of our finished runs (its folder)")
    parser.add_argument("--data-root")
    parser.add_argument("--out", help="folder of the result files")
    parser.add_argument("--algorithm", help="theirs to train (default: the run's algorithm)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.summarize:
        return summarize(Path(args.summarize))
    if not (args.like and args.data_root and args.out):
        parser.error("--like, --data-root and --out are needed (or --summarize DIR)")
    name = Path(args.like)
    target = Path(args.out) / f"{name.parent.name}-{args.algorithm or name.name}.json"
    if target.is_file():
        print(f"{target} exists: skipped")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    found = run(args)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
