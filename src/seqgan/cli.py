"""The ``seqgan`` command: train | compare | presets | config show | generate | evaluate |
data inspect | runs.

User mistakes are printed as one line ``seqgan: error: ...`` with exit code 2, a
diverging run with exit code 3 (a traceback only with ``--debug``); SIGINT / SIGTERM
during training save a checkpoint, print the resume command and exit 130 / 143.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import torch

import seqgan.arguments as arguments
from seqgan._version import __version__
from seqgan.arguments import CLI
from seqgan.config import (
    BLEU_CONVENTIONS,
    DEFAULT_PRESET,
    Config,
    assemble,
    commented_toml,
    load_preset,
    parse_override,
    preset_names,
    preset_text,
)
from seqgan.data.paths import data_root, resolve
from seqgan.errors import Interrupted, RunsFailed, TrainingDiverged, UserError, unknown_name
from seqgan.runtime.interrupt import HANDLED, handle_signals, note_inherited_hangup

FORMATS = ("ids", "symbols", "text", "midi", "pianoroll", "wav")


TRAIN_EXAMPLES = """examples:
  seqgan train                                   # SeqGAN on the embedded oracle (synthetic-quick)
  seqgan train --preset text --set data.train_file=my_corpus.txt --out runs/mine
                                                 # your text file, one sequence a line
  seqgan train --preset midi --set data.train_file=my_midi/ --out runs/tunes
                                                 # your folder of MIDI files
  seqgan train --resume runs/mine --set adversarial.epochs=40
                                                 # continue, or extend a finished run
see also: seqgan presets, seqgan config show --preset P --set KEY=VALUE (a dry run)
algorithms (--set algorithm=NAME; installed plug-ins included): {algorithms}"""


def _algorithm_list() -> str:
    """The registered algorithms' names, built-ins first (``registry``; nothing imported)."""
    from seqgan import registry

    return ", ".join(registry.algorithm_names())


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UserError(_with_closest_choice(message))


def _with_closest_choice(message: str) -> str:
    """argparse's ``argument --format: invalid choice: 'mid' (choose from 'ids', ...)``
    with ``; did you mean 'midi'?`` when one choice is close."""
    import difflib

    found = re.search(r"invalid choice: '(.*)' \(choose from (.*)\)$", message)
    if not found:
        return message
    choices = re.findall(r"'([^']*)'", found.group(2))
    close = difflib.get_close_matches(found.group(1), choices, n=1)
    return f"{message}; did you mean '{close[0]}'?" if close else message


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", help=f"named settings (default: {DEFAULT_PRESET}; see `seqgan presets`)"
    )
    parser.add_argument(
        "--config", type=Path, help="TOML file of settings (applied after --preset)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set adversarial.epochs=10",
    )
    parser.add_argument("--seed", type=_seed, help="random seed (overrides the config's)")


def _seed(text: str) -> int:
    """``--seed``: an integer in [0, 2**63) (what torch.manual_seed and the config's
    ``seed`` take; ``arguments.seed``, the API's rule)."""
    try:
        value: int | str = int(text)
    except ValueError:
        value = text
    return arguments.seed(value, CLI)


def _add_sampling_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--temperature``, ``--top-k``, ``--top-p``, ``--greedy`` (``models.sampling.Sampling``;
    docs/metrics.md, "Sampling controls"), checked by ``_sampling``."""
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        metavar="T",
        help=f"{what} from softmax(logits / T) (default 1)",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=0,
        metavar="K",
        help="keep only the K most probable tokens (default 0: off)",
    )
    parser.add_argument(
        "--top-p",
        type=float,
        default=1.0,
        metavar="P",
        help="keep only the smallest set of most probable tokens whose "
        "probability reaches P (nucleus; default 1: off)",
    )
    parser.add_argument(
        "--greedy",
        action="store_true",
        help="take the most probable "
        "token instead of sampling (any run; VAE runs: decode z greedily)",
    )


def _sampling(args):
    """The ``Sampling`` of the command's options (a one-line error for invalid values)."""
    from seqgan.models.sampling import Sampling

    return Sampling.of(args.temperature, args.top_k, args.top_p, args.greedy, CLI)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="seqgan", description="Train and evaluate SeqGAN-family sequence generators."
    )
    parser.add_argument("--version", action="version", version=f"seqgan {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument(
        "--data-root", help="folder that holds data files (default: $SEQGAN_DATA or ./data)"
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks")

    train = sub.add_parser(
        "train",
        parents=[common],
        help="train a model into a run folder",
        epilog=TRAIN_EXAMPLES.format(algorithms=_algorithm_list()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_config_options(train)
    train.add_argument("--out", type=Path, help="run folder (default: runs/<preset>-<time>)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue the run in folder RUN from its newest checkpoint",
    )
    train.add_argument(
        "--device",
        metavar="DEVICE",
        help="where to train: auto (CUDA, else "
        "Apple mps, else the CPU), cpu, cuda, cuda:N, mps; = --set "
        "run.device=DEVICE (allowed with --resume; docs/devices.md)",
    )

    comp = sub.add_parser(
        "compare",
        parents=[common],
        help="train several algorithms over seeds and write the paper's table and figures",
    )
    _add_config_options(comp)
    comp.add_argument(
        "--algorithms",
        default="random,mle,ss,pg-bleu,seqgan",
        help="comma-separated (default: random,mle,ss,pg-bleu,seqgan) from: "
        f"{_algorithm_list()}; and ordinary, baseline, merl (SeqGAN with "
        "that estimator)",
    )
    comp.add_argument("--out", type=Path, required=True, help="comparison folder")
    comp.add_argument("--seeds", type=int, default=1, help="seeds per algorithm (default 1)")
    comp.add_argument("--jobs", type=int, help="runs at a time on the CPU (default 1)")
    comp.add_argument(
        "--gpus",
        metavar="0,1|all",
        help="train on these GPUs (all: every "
        "visible one); each run sees one GPU as cuda:0, placed round-robin; "
        "replaces --jobs (docs/devices.md)",
    )
    comp.add_argument(
        "--runs-per-gpu",
        type=int,
        metavar="K",
        help="with --gpus: runs at a time on each GPU (default 1)",
    )
    comp.add_argument(
        "--strategies",
        metavar="G,D,K;...",
        help="also run SeqGAN with these g-steps,d-steps,k-epochs (Figure 3)",
    )
    comp.add_argument(
        "--sweep",
        metavar="SECTION.KNOB=V1,V2,...",
        help="replace an algorithm's run by one run per value of a knob of its own "
        "section, sharing its pre-training (e.g. relgan.beta_max=1,10,100,1000,10000)",
    )
    comp.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: subprocesses on this machine (default); ray: Ray tasks "
        "on a cluster, or a local Ray instance (pip install 'seqgan[ray]'; "
        "docs/scale-out.md)",
    )
    comp.add_argument(
        "--ray-address",
        metavar="HOST:PORT",
        help="with --backend ray: the "
        "cluster's head (default: $RAY_ADDRESS, else a local instance)",
    )
    comp.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help="with --backend ray: retries of a run whose process, worker or node died (default 3)",
    )

    presets = sub.add_parser(
        "presets",
        help="list the named presets, the algorithms and "
        "plug-in metrics, or show a preset (seqgan presets show NAME)",
    )
    presets.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    presets.add_argument("name", nargs="?", help="the preset to show")

    config = sub.add_parser(
        "config",
        help="print the resolved configuration of "
        "--preset/--config/--set, commented and checked (a dry run)",
    )
    config_sub = config.add_subparsers(dest="config_command", parser_class=_Parser)
    show = config_sub.add_parser(
        "show",
        parents=[common],
        help="the resolved config.toml, each key with its comment; data files are looked up",
    )
    _add_config_options(show)

    gen = sub.add_parser("generate", parents=[common], help="sample from a trained generator")
    gen.add_argument("--run", type=Path, required=True, help="run folder")
    gen.add_argument("-n", type=int, default=10, help="number of sequences (default 10)")
    gen.add_argument(
        "--out",
        type=_output_path,
        help="write here instead of standard "
        "output (- for standard output; a folder for --format midi or wav, a "
        ".png for --format pianoroll)",
    )
    gen.add_argument(
        "--format",
        choices=FORMATS,
        help="ids (vocabulary ids), symbols "
        "(tokens as the vocabulary spells them; music runs' default), text "
        "(text runs; their default), midi, pianoroll or wav (music runs; wav "
        "renders with FluidSynth, see docs/music.md)",
    )
    gen.add_argument(
        "--soundfont",
        type=Path,
        help="--format wav: the General-MIDI soundfont "
        "(default: $SEQGAN_SOUNDFONT, else Debian's fluid-soundfont-gm)",
    )
    gen.add_argument("--seed", type=_seed, default=0, help="sampling seed (default 0)")
    gen.add_argument(
        "--device",
        metavar="DEVICE",
        help="where to sample: cpu, cuda, cuda:N, "
        "mps, auto (default: the run's run.device if available here, else the CPU)",
    )
    latent = gen.add_mutually_exclusive_group()
    latent.add_argument(
        "--from-prior",
        action="store_true",
        help="VAE runs: decode -n draws "
        "of z ~ N(0, I) (also what plain sampling of a VAE run does)",
    )
    latent.add_argument(
        "--interpolate",
        nargs=2,
        metavar=("A", "B"),
        help="VAE runs: decode "
        "--steps points on the line between the posterior means of A and B, "
        "each an index into the run's training set or a quoted sequence "
        "(token ids, text, or music symbols); -n is ignored",
    )
    gen.add_argument(
        "--steps",
        type=int,
        default=5,
        help="points of --interpolate, both ends included (default 5)",
    )
    _add_sampling_options(gen, "sample each token")

    data = sub.add_parser("data", help="look at a data set before training on it")
    data_sub = data.add_subparsers(dest="data_command", parser_class=_Parser)
    inspect = data_sub.add_parser(
        "inspect",
        parents=[common],
        help="counts, vocabulary, lengths (and a piano roll of one music example)",
    )
    inspect.add_argument("path", type=Path, help="a text file, or a MIDI file or folder")
    inspect.add_argument(
        "--encoding",
        help="music encoding: pitch88, melody16, melody_chord "
        "(omit for a text file; for MIDI files, a summary of every encoding)",
    )
    inspect.add_argument(
        "--tokenizer",
        default="word",
        choices=("word", "regex", "char"),
        help="text files: tokenizer (default word)",
    )
    inspect.add_argument("--seq-len", type=int, help="window length (default: the encoding's)")
    inspect.add_argument(
        "--out",
        "--png",
        type=Path,
        metavar="PNG",
        dest="out",
        help="music: write a piano roll of one example window here (none without it)",
    )

    runs = sub.add_parser(
        "runs",
        help="list the runs under a folder (finished and "
        "unfinished): algorithm, data, status, metric, age",
    )
    runs.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help="where to look (default: runs, else the current folder)",
    )
    runs.add_argument("--debug", action="store_true", help="show tracebacks")

    ev = sub.add_parser(
        "evaluate",
        parents=[common],
        help="recompute a finished run's "
        "metrics, or score a samples file with them (prints; writes only "
        "to --out)",
    )
    ev.add_argument(
        "--run", type=Path, help="run folder (with --temperatures also a comparison folder)"
    )
    ev.add_argument(
        "--samples-file",
        type=Path,
        metavar="FILE",
        help="score these "
        "sequences (another system's output; one a line, tokenised as the run's "
        "data; token ids for oracle and music runs) with the run's metrics and "
        "conventions",
    )
    ev.add_argument(
        "--preset",
        help="with --samples-file and no --run: score against this "
        "data set (its held-out set and vocabulary, as a run of it would make)",
    )
    ev.add_argument(
        "--config",
        type=Path,
        help="with --samples-file and no --run: the data set of this TOML file",
    )
    ev.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --preset/--config: override a setting (e.g. data.train_file)",
    )
    ev.add_argument(
        "--temperatures",
        metavar="T1,T2,...",
        help="quality-diversity curves: "
        "evaluate every generator of --run at each temperature; prints the "
        "matched comparison (--out FOLDER: also quality_diversity.csv/.md and "
        "figures/quality_diversity.png there)",
    )
    ev.add_argument(
        "--bleu-order",
        type=int,
        metavar="N",
        help="with --temperatures: the "
        "n of BLEU-n / Self-BLEU-n on the curves (default: the run's largest "
        "eval.bleu order, else 4)",
    )
    ev.add_argument(
        "--reverse-lm",
        action="store_true",
        help="with --temperatures: also "
        "the reverse-LM score (an LM trained on the samples, NLL on the test set)",
    )
    ev.add_argument(
        "--compare-policies",
        type=Path,
        nargs="+",
        metavar="RUN",
        help="plot π(·|s_t) of these runs' generators on one fixed trajectory",
    )
    ev.add_argument("--step", type=int, default=15, help="t for --compare-policies (default 15)")
    ev.add_argument(
        "--out",
        type=_output_path,
        help="write the numbers as JSON here (- for "
        "standard output; default: print only, nothing written); with "
        "--temperatures a folder; with --compare-policies the figure (default "
        "policies_step<t>.png)",
    )
    ev.add_argument("--samples", type=int, help="samples for NLL-oracle (default: the run's)")
    ev.add_argument(
        "--bleu-conventions",
        metavar="NAMES",
        help="comma-separated BLEU "
        "conventions: current, nltk-3.2, texygen, texygen-full (default: the "
        "run's eval.bleu_conventions; docs/metrics.md)",
    )
    ev.add_argument("--seed", type=_seed, default=0, help="sampling seed (default 0)")
    ev.add_argument(
        "--device",
        metavar="DEVICE",
        help="where to evaluate: cpu, cuda, cuda:N, "
        "mps, auto (default: the run's run.device if available here, else the CPU)",
    )
    _add_sampling_options(ev, "evaluate samples drawn, and NLL-test,")
    return parser


# -- commands -------------------------------------------------------------------------


def _config_from_args(args) -> Config:
    """``config.assemble`` of the options; its notes on stderr."""
    from seqgan.runtime.console import stderr_line

    _check_once(args.set)
    cfg, notes = assemble(args.preset, args.config, args.set, args.seed)
    for note in notes:
        stderr_line(note)
    return cfg


def cmd_train(args) -> int:
    from seqgan.training.session import open_session, print_result_table

    if args.resume:
        if args.preset or args.config or args.seed is not None:
            raise UserError(
                "--resume takes its settings from the run folder; drop "
                "--preset/--config/--seed (--set may extend it: "
                "--set adversarial.epochs=N; --device may move it)"
            )
        if args.out or args.overwrite:
            raise UserError(
                "--resume continues the run in its own folder; drop "
                "--out/--overwrite (to start afresh: --out RUN --overwrite)"
            )
        session = open_session(
            None,
            args.resume,
            data_root(args.data_root),
            resume=True,
            overrides=_device_override(args),
        )
    else:
        args.set = _device_override(args)
        cfg = _config_from_args(args)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = args.out or Path("runs") / f"{_folder_name(cfg.name)}-{stamp}"
        session = open_session(cfg, out, data_root(args.data_root), overwrite=args.overwrite)
    try:
        summary = session.train(resume=bool(args.resume))
    except Interrupted as exc:
        command = ["seqgan", "train", "--resume", str(session.run.root)]
        if args.data_root:
            command += ["--data-root", args.data_root]
        exc.resume_command = shlex.join(command)
        raise
    print_result_table(summary, session.run.root)
    return 0


def _device_override(args) -> list[str]:
    """``args.set`` with ``--device X`` as a last ``--set run.device=X``; a setting given
    twice is a one-line error (as in the API: ``_check_once``)."""
    _check_once(args.set)
    if args.device is None:
        return list(args.set)
    if any(parse_override(text)[0] == "run.device" for text in args.set):
        raise UserError("--device and --set run.device both given; give one")
    return [*args.set, f"run.device={args.device}"]


def _check_once(sets: list[str]) -> None:
    """Each ``--set`` key at most once (the API refuses a keyword given twice too)."""
    seen: dict[str, str] = {}
    for text in sets:
        key, _ = parse_override(text)
        if key in seen:
            raise UserError(f"--set {key} given twice ({seen[key]} and {text}); give it once")
        seen[key] = text


def _folder_name(name: str) -> str:
    """``name`` as one folder name inside ``runs/``: separators and leading dots replaced,
    so a config's ``name = "../x"`` cannot place the run elsewhere."""
    safe = re.sub(r"[^\w.+-]", "_", name).lstrip(".")
    return safe or "run"


def cmd_compare(args) -> int:
    from seqgan.experiments.compare import (
        parse_algorithms,
        parse_gpus,
        parse_strategies,
        parse_sweep,
        run_compare,
        visible_gpus,
    )

    algorithms = parse_algorithms(args.algorithms)
    strategies = parse_strategies(args.strategies)
    sweep = parse_sweep(args.sweep, algorithms)
    gpus, per_gpu = None, 1
    ray = args.backend == "ray"
    if not ray and (args.ray_address is not None or args.max_retries is not None):
        raise UserError("--ray-address and --max-retries need --backend ray")
    if args.gpus is not None:
        if args.jobs is not None and not ray:
            raise UserError("--gpus runs len(gpus) x --runs-per-gpu at a time; drop --jobs")
        per_gpu = 1 if args.runs_per_gpu is None else args.runs_per_gpu
        if per_gpu < 1:
            raise UserError(f"--runs-per-gpu must be positive, got {per_gpu}")
        if ray and args.gpus.strip() != "all":
            raise UserError(
                "--backend ray: Ray chooses each run's GPU; use --gpus all "
                "(--runs-per-gpu K: each run takes 1/K of one)"
            )
        gpus = ["all"] if ray else parse_gpus(args.gpus, visible_gpus())
    elif args.runs_per_gpu is not None:
        raise UserError("--runs-per-gpu needs --gpus (on the CPU: --jobs N)")
    cfg = _config_from_args(args)
    root = Path(args.data_root).resolve() if args.data_root else None
    try:
        table = run_compare(
            cfg,
            algorithms,
            strategies,
            args.seeds,
            1 if args.jobs is None else args.jobs,
            args.out.resolve(),
            root,
            gpus=gpus,
            runs_per_gpu=per_gpu,
            sweep=sweep,
            **(
                {
                    "backend": "ray",
                    "ray_address": args.ray_address,
                    "max_retries": 3 if args.max_retries is None else args.max_retries,
                }
                if ray
                else {}
            ),
        )
    except Interrupted as exc:
        exc.resume_command = shlex.join(["seqgan", *args.argv]) + "  (the same command)"
        raise
    print(f"\n{table}\nwritten to {args.out}: table.md, table.csv, figures/")
    return 0


def cmd_presets(args) -> int:
    if args.action == "show":
        if not args.name:
            raise UserError("usage: seqgan presets show NAME (names: seqgan presets)")
        load_preset(args.name)  # an unknown name: one line with the closest one
        print(preset_text(args.name), end="")
        return 0
    if args.name:
        raise UserError(
            f"unexpected argument '{args.name}' (did you mean: seqgan presets show {args.name}?)"
        )
    for name in preset_names():  # templates (text, midi) are complete only with a data file
        print(f"{name:20s} {load_preset(name).get('description', '')}")
    _print_registered()
    return 0


def _print_registered() -> None:
    """The algorithms (--set algorithm=NAME) and the plug-in metrics (eval.metrics), each
    with its package when it is not seqgan's own; one that does not load is skipped (its
    warning line names its package)."""
    from seqgan import registry

    print("\nalgorithms (--set algorithm=NAME):")
    entries = registry.entries(registry.ALGORITHM_GROUP)
    for spec in registry.algorithms():
        package = entries[spec.name].package
        origin = "" if package == registry.PACKAGE else f" [{package}]"
        print(f"  {spec.name:18s} {spec.summary}{origin}")
    names = registry.metric_names(plugins_only=True)
    print("\nplug-in metrics (--set eval.metrics=[...]):" + ("" if names else " none installed"))
    entries = registry.entries(registry.METRIC_GROUP)
    for name in names:
        try:
            metric = registry.metric(name)
        except UserError:
            continue  # its warning is printed
        print(f"  {name:18s} {metric.summary} [{entries[name].package}]")


def cmd_config(args) -> int:
    """``seqgan config show``: the configuration a ``train`` with these options would
    use, each key commented; its data files looked up (not read)."""
    if args.config_command != "show":
        raise UserError("usage: seqgan config show [--preset P] [--config F] [--set K=V]")
    cfg = _config_from_args(args)
    _check_data_files(cfg, data_root(args.data_root))
    print(commented_toml(cfg), end="")
    return 0


def _check_data_files(cfg: Config, root: Path) -> None:
    """Each data file ``cfg`` names exists where ``train`` would look (else one line)."""
    folder_ok = cfg.data.kind == "music"
    for value in (cfg.data.train_file, cfg.data.test_file):
        if value:
            resolve(value, root, folder_ok=folder_ok)
    if cfg.data.kind == "oracle" and cfg.oracle.source == "file":
        resolve(cfg.oracle.path, root)


def cmd_generate(args) -> int:
    from seqgan.data.export import check_output_size, export_samples
    from seqgan.training.session import load_trained

    arguments.count(args.n, "n", CLI, "sequences")
    args.sampling = _sampling(args)
    cfg, task, models = load_trained(args.run, data_root(args.data_root), args.device)
    fmt = args.format or {"text": "text", "music": "symbols"}.get(task.kind, "ids")
    if not args.interpolate:
        check_output_size(args.n, task, fmt, args.out)
    torch.manual_seed(args.seed)
    batches, total = _sample_batches(args, cfg, task, models["generator"])
    with handle_signals():  # SIGINT / SIGTERM: the output file is left as it was
        message = export_samples(batches, total, task, cfg, fmt, args.out, soundfont=args.soundfont)
    if message:
        from seqgan.runtime.console import stderr_line

        stderr_line(message)
    return 0


def _output_path(text: str) -> Path | str:
    """``generate --out``: ``-`` (standard output) as the string, anything else a path."""
    if not text:
        raise UserError("--out must not be empty (use - for standard output)")
    return text if text == "-" else Path(text)


def _sample_batches(args, cfg: Config, task, generator) -> tuple[Iterable[torch.Tensor], int]:
    """``(batches, how many rows in all)``: batches of at most ``generator.sample_batch``
    rows, each drawn when asked for (memory holds one) — the same sequences as
    ``generator.sample(n, sample_batch, sampling=...)`` draws at once, each token drawn
    with the sampling controls ``args.sampling``."""
    if args.interpolate or args.from_prior:
        return _latent_samples(args, cfg, task, generator)
    from seqgan.models.pass_rows import sample_rows

    size = sample_rows(
        cfg.generator.sample_batch, generator, args.sampling is not None and args.sampling.filters
    )
    return (
        generator.sample(min(size, args.n - start), size, sampling=args.sampling)
        for start in range(0, args.n, size)
    ), args.n


def _latent_samples(args, cfg: Config, task, generator) -> tuple[Iterable[torch.Tensor], int]:
    """``generate --from-prior`` (batches drawn when asked for) / ``--interpolate A B
    --steps K`` (one batch of K), as ``_sample_batches`` (``training.latent``)."""
    from seqgan.training import latent
    from seqgan.training.session import data_task

    if not args.interpolate:
        return latent.prior_batches(
            generator, args.n, cfg.generator.sample_batch, args.sampling
        ), args.n
    training_set = functools.cache(
        lambda: data_task(args.run, cfg, data_root(args.data_root)).train
    )
    a, b = (latent.parse_sequence(spec, cfg, task, training_set) for spec in args.interpolate)
    return [latent.interpolate(generator, a, b, args.steps, args.sampling)[1]], args.steps


def cmd_data(args) -> int:
    if args.data_command != "inspect":
        raise UserError("usage: seqgan data inspect PATH [--encoding E]")
    # PATH as given, else under the data root (as a preset's data paths)
    path = (
        args.path
        if args.path.exists()
        else resolve(str(args.path), data_root(args.data_root), folder_ok=bool(args.encoding))
    )
    if args.encoding:
        from seqgan.music.inspect import inspect_music

        print(inspect_music(path, args.encoding, args.out, args.seq_len))
    else:
        if args.out is not None:
            raise UserError("--out writes a piano roll of a music example; it needs --encoding")
        from seqgan.music.corpus import MIDI_SUFFIXES

        if path.is_dir() or path.suffix.lower() in MIDI_SUFFIXES:
            from seqgan.music.inspect import compare_encodings

            print(compare_encodings(path))  # MIDI: what each encoding keeps and drops
            return 0
        from seqgan.data.text import inspect_text

        print(inspect_text(path, args.tokenizer))
    return 0


def cmd_evaluate(args) -> int:
    from seqgan.training.session import check_sample_count, compare_run_policies, evaluate_run

    if args.compare_policies:
        if args.out is not None and not isinstance(args.out, Path):
            raise UserError("--compare-policies --out takes the figure's path")
        out = args.out or Path(f"policies_step{args.step}.png")
        for name, value in compare_run_policies(
            args.compare_policies, args.step, out, data_root(args.data_root), args.device
        ).items():
            print(f"{name:40s} H(π(·|s_{args.step})) = {value:.4f} nats")
        print(f"wrote {out}")
        return 0
    if args.run is None and args.samples_file is not None and (args.preset or args.config):
        return _samples_against_data(args)
    if args.preset or args.config or args.set:
        raise UserError(
            "--preset/--config/--set choose a data set for --samples-file "
            "without --run (a run brings its own settings)"
        )
    if args.run is None:
        raise UserError(
            "evaluate needs --run RUN (or --compare-policies RUN..., or "
            "--samples-file FILE --preset P)"
        )
    if args.samples is not None:
        check_sample_count("--samples", args.samples)
    if args.bleu_order is not None and args.temperatures is None:
        raise UserError("--bleu-order chooses the curves' BLEU order: it needs --temperatures")
    if args.temperatures is not None:
        return _quality_diversity(args)
    sampling = _sampling(args)
    conventions = (
        _name_list("--bleu-conventions", args.bleu_conventions)
        if args.bleu_conventions is not None
        else None
    )
    for name in conventions or ():
        if name not in BLEU_CONVENTIONS:
            raise UserError(
                f"--bleu-conventions: {unknown_name('BLEU convention', name, BLEU_CONVENTIONS)}"
            )
    evaluate_run(
        args.run,
        data_root(args.data_root),
        args.samples,
        args.seed,
        conventions,
        sampling,
        args.device,
        out=args.out,
        samples_file=args.samples_file,
    )
    return 0


def _samples_against_data(args) -> int:
    """``evaluate --samples-file FILE --preset P|--config C [--set ...]``: the file scored
    against that data set (``training.session.evaluate_samples``)."""
    from seqgan.training.session import evaluate_samples

    if args.temperatures is not None or args.samples is not None or args.bleu_order:
        raise UserError(
            "--samples-file scores the file's sequences; drop --temperatures/--samples/--bleu-order"
        )
    sets = list(args.set)
    if args.bleu_conventions is not None:
        names = _name_list("--bleu-conventions", args.bleu_conventions)
        sets.append(f"eval.bleu_conventions={names!r}")
    cfg, notes = assemble(args.preset, args.config, sets, None)
    from seqgan.runtime.console import stderr_line

    for note in notes:
        stderr_line(note)
    evaluate_samples(cfg, data_root(args.data_root), args.samples_file, args.out)
    return 0


def _name_list(flag: str, text: str) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``; an empty list or an empty name is one line."""
    names = [name.strip() for name in text.split(",")]
    if not any(names):
        raise UserError(f"{flag} is empty; give one or more comma-separated names")
    if not all(names):
        raise UserError(f"{flag} {text!r} has an empty name")
    return names


def _quality_diversity(args) -> int:
    """``evaluate --temperatures``: ``experiments.quality_diversity`` on a run or comparison."""
    from seqgan.experiments.quality_diversity import parse_temperatures, quality_diversity

    if args.temperature != 1.0 or args.top_k or args.top_p != 1.0 or args.greedy:
        raise UserError(
            "--temperatures sweeps the temperature itself; drop "
            "--temperature/--top-k/--top-p/--greedy"
        )
    if args.samples_file is not None or args.bleu_conventions is not None:
        raise UserError(
            "--temperatures samples the runs' generators under the run's first "
            "BLEU convention; drop --samples-file/--bleu-conventions"
        )
    if args.bleu_order is not None and args.bleu_order < 1:
        raise UserError(f"--bleu-order must be positive, got {args.bleu_order}")
    if args.out is not None and not isinstance(args.out, Path):
        raise UserError("--temperatures --out takes a folder (the report is printed anyway)")
    temperatures = parse_temperatures(args.temperatures)
    report = quality_diversity(
        args.run,
        temperatures,
        data_root(args.data_root),
        args.seed,
        args.samples,
        args.reverse_lm,
        args.device,
        out=args.out,
        bleu_n=args.bleu_order,
    )
    print(report, end="")
    if args.out is not None:
        print(
            f"wrote {args.out / 'quality_diversity.csv'}, quality_diversity.md, "
            f"figures/quality_diversity.png"
        )
    return 0


def cmd_runs(args) -> int:
    """``seqgan runs [FOLDER]``: ``runs.listing``'s table."""
    from seqgan.experiments.listing import runs_table

    folder = args.folder or (Path("runs") if Path("runs").is_dir() else Path("."))
    print(runs_table(folder), end="")
    return 0


COMMANDS = {
    "runs": cmd_runs,
    "train": cmd_train,
    "compare": cmd_compare,
    "presets": cmd_presets,
    "config": cmd_config,
    "generate": cmd_generate,
    "evaluate": cmd_evaluate,
    "data": cmd_data,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    _printable_streams()
    # the whole command under our signal handlers: SIGINT/SIGTERM/SIGHUP anywhere is an
    # ``Interrupted`` (one line, 128 + signal), and only the first one counts
    with handle_signals():
        try:
            args = _parser().parse_args(argv)
            if args.command is None:
                _parser().print_help()
                return 2
            args.argv = argv
            return COMMANDS[args.command](args)
        except (UserError, TrainingDiverged, RunsFailed) as exc:
            if debug:
                raise
            print(f"seqgan: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except Interrupted as exc:
            print(f"seqgan: {_interruption_note(exc)}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("seqgan: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            if debug or not _closed_pipe():
                raise
            return _quiet_exit()


CLOSED_PIPE = 128 + signal.SIGPIPE  # the status of a Unix tool that a closed pipe ended


def _closed_pipe() -> bool:
    """Whether standard output or error is a pipe whose reader has gone
    (``seqgan presets | head -1``), rather than another pipe of the program."""
    import select

    if not hasattr(select, "poll"):
        return True  # no way to tell here: the likely cause
    for stream in (sys.stdout, sys.stderr):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)
        except (AttributeError, ValueError, OSError):
            continue
        if any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
            return True
    return False


def _quiet_exit() -> int:
    """What a Unix tool does when its reader closed the pipe (Python's docs, "Note on
    SIGPIPE"): stop quietly.  Standard output and error are pointed at the null device,
    so that the interpreter's last flush of what is left cannot fail again; the status
    is ``CLOSED_PIPE``."""
    null = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(null, stream.fileno())
        except (AttributeError, ValueError, OSError):
            pass
    os.close(null)
    return CLOSED_PIPE


def _printable_streams() -> None:
    """Escape what stdout/stderr cannot encode (a path that is not UTF-8 holds surrogate
    escapes) instead of failing on it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass


def run() -> None:
    """The console script: ``main`` with SIGINT/SIGTERM/SIGHUP ignored outside it, so a
    signal that comes while the process ends (the fifth Ctrl-C) cannot kill it mid-exit;
    a SIGHUP ignored from the start (``nohup``) stays ignored throughout."""
    note_inherited_hangup()
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_IGN)
    code = main()
    try:
        sys.stdout.flush()  # what is still buffered, while a closed pipe can be told
    except BrokenPipeError:
        code = _quiet_exit()
    raise SystemExit(code)


def _interruption_note(exc: Interrupted) -> str:
    """``interrupted by SIGINT in adversarial, epoch 3 of 200; state saved in ...; resume
    with: seqgan train --resume DIR``"""
    text = str(exc)
    position = getattr(exc, "position", None)
    if position and position[0] != "init":
        text += f" in {position[0]}, epoch {position[1]} of {position[2]}"
    checkpoint = getattr(exc, "checkpoint", None)
    if checkpoint:
        text += f"; state saved in {checkpoint}"
    if getattr(exc, "resume_command", None):
        text += f"; resume with: {exc.resume_command}"
    return text
