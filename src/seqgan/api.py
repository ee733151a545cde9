"""The Python API for notebooks and scripts: ``Run``, ``train``, ``compare`` (docs/api.md).

Same semantics as the command line: the same configuration rules (``config.assemble``),
the same run folders, checks and resume; a mistake raises ``seqgan.errors.UserError``
(one line, as the CLI prints it) instead of exiting, and SIGINT/SIGTERM during training
save a checkpoint and raise ``seqgan.errors.Interrupted``.

Overrides are keyword arguments: ``adversarial__epochs=3`` (``__`` for the dot) or a dict
unpacked as ``**{"adversarial.epochs": 3}``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

import seqgan.arguments as arguments
from seqgan.arguments import API
from seqgan.config import (
    Config,
    assemble,
    build_config,
    encoding_length,
    parse_override,
    preset_names,
    read_toml,
)
from seqgan.data.paths import data_root as default_data_root
from seqgan.errors import UserError
from seqgan.models.generator import Generator
from seqgan.models.sampling import Sampling

MAX_SAMPLES = 2**31 - 1  # samples of one evaluation (a tensor dimension)


def _overrides(overrides: dict[str, Any]) -> list[str]:
    """Keyword overrides as ``--set`` strings: ``adversarial__epochs=3`` ->
    ``"adversarial.epochs=3"`` (values written as TOML, so types are kept; numpy scalars
    and arrays as the Python numbers and lists they hold, paths as text).  A setting
    given twice (``adversarial__epochs=`` and ``**{"adversarial.epochs": ...}``) or a
    value TOML cannot hold is a one-line ``UserError``."""
    import tomli_w

    out: list[str] = []
    seen: dict[str, str] = {}
    for key, value in overrides.items():
        dotted = key.replace("__", ".")
        if dotted in seen:
            raise UserError(
                f"setting {dotted} given twice ({seen[dotted]}= and {key}=); give it once"
            )
        seen[dotted] = key
        toml = tomli_w.dumps({"v": _plain(key, value)}).split("=", 1)[1].strip()
        out.append(f"{dotted}={toml}")
    return out


def _plain(key: str, value: Any) -> Any:
    """``value`` as what a TOML setting holds (bool, int, float, str or a list of them):
    numpy scalars and arrays become Python numbers and lists, paths text; anything else
    (``None``, a dict, an object) is a one-line ``UserError`` naming the keyword."""
    import os

    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if type(value).__module__ == "numpy":  # numpy scalars and arrays, without importing it
        return _plain(key, value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(key, item) for item in value]
    raise UserError(
        f"{key}={value!r}: a setting is a number, text, True/False or a list "
        f"of them, not {type(value).__name__}"
    )


# the command line's words in messages of the shared layers -> Python's
_PYTHON_TERMS: list[tuple[str, Any]] = [
    (r"--overwrite", "overwrite=True"),
    (r"--resume --set", "resume= with keyword settings"),
    (r"--resume (\S+) to continue", r"resume='\1' to continue"),
    (r"--config (\S+) --set \.\.\.", r"train('\1', out=..., KEY=VALUE)"),
    (r"--device (\w+)", r"run__device='\1'"),
    (r"--backend (\w+)", r"backend='\1'"),
    (r"--set ([\w.]+)=([^\s)]+)", lambda m: f"{m.group(1).replace('.', '__')}={m.group(2)!r}"),
]


def _python_terms(function):
    """``function`` with every ``UserError`` message in the API's terms (keywords, not
    the command line's options; ``_PYTHON_TERMS``)."""
    import functools
    import re

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UserError as exc:
            message = str(exc)
            for pattern, replacement in _PYTHON_TERMS:
                message = re.sub(pattern, replacement, message)
            if message == str(exc):
                raise
            raise UserError(message) from None

    return wrapper


def _config(preset_or_config, seed: int | None, overrides: dict) -> Config:
    """A preset name, a TOML file path, a ``Config`` or a dict of settings, then the
    overrides — as ``seqgan train --preset/--config ... --set ...`` builds it."""
    seed = None if seed is None else arguments.seed(seed, API)
    if isinstance(preset_or_config, (Config, dict)):
        base = (
            preset_or_config.to_dict() if isinstance(preset_or_config, Config) else preset_or_config
        )
        sets = _overrides(overrides)
        cfg = build_config(base, sets, seed)
        notes = encoding_length(
            cfg, build_config(base, complete=False), [parse_override(text)[0] for text in sets]
        )
        from seqgan.runtime.console import stderr_line

        for note in notes:
            stderr_line(note)
        return cfg
    path = Path(str(preset_or_config)) if preset_or_config is not None else None
    as_file = path is not None and (
        path.suffix == ".toml" or (path.is_file() and str(preset_or_config) not in preset_names())
    )  # a name wins
    cfg, notes = assemble(
        None if as_file else preset_or_config,
        path if as_file else None,
        _overrides(overrides),
        seed,
    )
    from seqgan.runtime.console import stderr_line

    for note in notes:
        stderr_line(note)
    return cfg


def _root(data_root) -> Path:
    return Path(data_root) if data_root is not None else default_data_root()


@dataclass
class Samples:
    """Sequences drawn from a run's generator.

    ``ids``: ``[n, T]`` token ids (``<eos>`` then ``<pad>`` on text runs); ``texts``: text
    runs, one string per row; ``symbols``: text and music runs, the tokens before
    ``<eos>``; ``midi(i)``: music runs, row ``i`` as a ``pretty_midi.PrettyMIDI``;
    ``notes(i)``: its notes as ``(pitch, start_s, end_s)``."""

    ids: torch.Tensor
    texts: list[str] | None = None
    symbols: list[list[str]] | None = None
    encoding: str | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def midi(self, i: int):
        if self.encoding is None or self.symbols is None:
            raise UserError("midi() needs a music run")
        from seqgan.music.encodings import get_encoding

        return get_encoding(self.encoding).decode(list(self.symbols[i]))

    def notes(self, i: int) -> list[tuple[int, float, float]]:
        return [(n.pitch, n.start, n.end) for inst in self.midi(i).instruments for n in inst.notes]

    def write_midi(self, folder: Path) -> list[Path]:
        """Every row as ``folder/sample-<i>.mid`` (atomic writes); the paths."""
        from seqgan.music.corpus import symbols_to_midi

        if self.encoding is None or self.symbols is None:
            raise UserError("write_midi() needs a music run")
        paths = [Path(folder) / f"sample-{i:04d}.mid" for i in range(len(self))]
        for path, row in zip(paths, self.symbols):
            symbols_to_midi(self.encoding, row, path)
        return paths


class Run:
    """A run folder opened for analysis: ``Run.load("runs/quick")``.

    ``config`` (``Config``), ``summary`` (dict of ``summary.json``, empty until the run
    finished), ``metrics`` (the rows of ``metrics.csv``, numbers as floats),
    ``generator`` (the trained generator, eval mode); ``sample(...)`` and
    ``evaluate(...)``."""

    def __init__(self, path: Path, data_root: Path | None = None):
        from seqgan.storage.folder import RunFolder

        self.folder = RunFolder.open(Path(path))
        self.path = self.folder.root
        self.data_root = _root(data_root)

    @classmethod
    @_python_terms
    def load(cls, path, data_root=None) -> Run:
        return cls(Path(path), data_root)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, algorithm={self.config.algorithm!r})"

    @cached_property
    def config(self) -> Config:
        return build_config(read_toml(self.folder.config))

    @property
    def summary(self) -> dict:
        return self.folder.read_summary()

    @property
    def metrics(self) -> list[dict]:
        """``metrics.csv`` rows; numeric cells as floats, empty cells left out."""
        if not self.folder.metrics.is_file():
            return []
        with open(self.folder.metrics, encoding="utf-8") as handle:
            return [
                {k: _number(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(handle)
            ]

    @cached_property
    def _trained(self):
        from seqgan.training.session import load_trained

        return load_trained(self.path, self.data_root)

    @property
    def generator(self) -> Generator:
        return self._trained[2]["generator"]

    @_python_terms
    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int = 0,
    ) -> Samples:
        """``n`` sequences drawn with these sampling controls (``models.sampling.Sampling``)
        from a generator seeded with ``seed`` (the global RNG is left as it was)."""
        n = arguments.count(n, "n", API, "sequences")
        seed = arguments.seed(seed, API)
        sampling = Sampling.of(temperature, top_k, top_p, greedy, API)
        cfg, task, _ = self._trained
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ids = self.generator.sample(n, cfg.generator.sample_batch, sampling=sampling)
        texts = task.texts(ids) if task.kind == "text" else None
        symbols = task.symbols(ids) if task.kind in ("text", "music") else None
        encoding = cfg.data.encoding if task.kind == "music" else None
        return Samples(ids, texts, symbols, encoding)

    @_python_terms
    def evaluate(
        self,
        metrics: list[str] | None = None,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        samples: int | None = None,
        seed: int = 0,
    ) -> dict:
        """The run's metrics on fresh samples drawn with these controls (the data are read
        again from the data root): ``metrics`` names the ones wanted (e.g. ``["nll_test",
        "bleu3", "self_bleu3"]``: BLEU / Self-BLEU orders are computed as named), default
        every metric the run's config asks for. Nothing is written to the run folder."""
        from seqgan.metrics.evaluation import Evaluator
        from seqgan.training.session import data_task

        cfg = build_config(self.config.to_dict())
        if metrics is not None:
            metrics = self._ask_for(cfg, metrics)
        seed = arguments.seed(seed, API)
        Sampling.of(temperature, top_k, top_p, caller=API)  # checked before data are read
        if samples is not None:
            cfg.eval.num_samples = arguments.count(samples, "samples", API, "samples", MAX_SAMPLES)
        task = data_task(self.path, cfg, self.data_root)
        sampling = Sampling.of(temperature, top_k, top_p, caller=API)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            means, _, drawn = Evaluator(cfg, task)(self.generator, sampling=sampling)
        if metrics:
            missing = [name for name in metrics if name not in means]
            if missing:
                raise UserError(
                    f"metric '{missing[0]}' could not be computed on this run "
                    f"(no held-out data, or fewer than 2 samples)"
                )
            means = {name: means[name] for name in metrics}
        return {**means, "samples": len(drawn)}

    @staticmethod
    def _ask_for(cfg: Config, metrics) -> list[str]:
        """``metrics`` checked (``metrics.names``: an unknown name is a one-line error
        with the closest one), and ``cfg.eval`` set to compute the (Self-)BLEU orders
        and conventions they name and the entropy if named; an empty list keeps the
        run's own."""
        from seqgan.metrics.names import bleu_request, check_metric_names

        metrics = check_metric_names(metrics, cfg.data.kind, cfg.data.encoding)
        if not metrics:
            return metrics
        orders: dict[str, list[int]] = {"bleu": [], "self_bleu": []}
        conventions: list[str] = []
        for name in metrics:
            request = bleu_request(name)
            if request:
                kind, n, convention = request
                orders[kind] += [] if n in orders[kind] else [n]
                conventions += [] if convention in conventions else [convention]
        e = cfg.eval
        e.bleu, e.self_bleu = orders["bleu"], orders["self_bleu"]
        e.bleu_conventions = conventions or ["current"]
        e.diagnostics = "entropy" in metrics
        return metrics


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


@_python_terms
def train(
    preset_or_config=None,
    out=None,
    *,
    seed: int | None = None,
    data_root=None,
    overwrite: bool = False,
    resume=None,
    **overrides,
) -> Run:
    """Train a run (``seqgan train``) and return it as a ``Run``.

    ``preset_or_config``: a preset name (default ``synthetic-quick``), a TOML file, a
    ``Config`` or a dict; ``out``: the run folder (required); ``resume``: a run folder to
    continue (or extend, with overrides of phase lengths) instead."""
    from seqgan.training.session import open_session

    root = _root(data_root)
    overwrite = arguments.switch(overwrite, "overwrite", API)
    if resume is not None:
        if preset_or_config is not None or out is not None or seed is not None:
            raise UserError(
                "resume= takes its settings from the run folder; drop the "
                "preset/config, out and seed"
            )
        session = open_session(
            None,
            arguments.path(resume, "resume", API),
            root,
            resume=True,
            overrides=_overrides(overrides),
        )
    else:
        if out is None:
            raise UserError("train() needs out= (the run folder)")
        out = arguments.path(out, "out", API)
        cfg = _config(preset_or_config, seed, overrides)
        session = open_session(cfg, out, root, overwrite=overwrite)
    session.train(resume=resume is not None)
    return Run(session.run.root, root)


@dataclass
class Comparison:
    """A finished comparison: ``table`` (markdown), ``rows`` (``table.csv``), ``runs``
    (``"seed-88/seqgan"`` -> ``Run``) and its folder."""

    path: Path
    table: str
    rows: list[dict]
    runs: dict[str, Run]


@_python_terms
def compare(
    preset_or_config=None,
    out=None,
    *,
    algorithms="random,mle,ss,pg-bleu,seqgan",
    seeds: int = 1,
    jobs: int = 1,
    strategies: str | None = None,
    sweep: str | None = None,
    seed=None,
    data_root=None,
    backend: str = "local",
    ray_address: str | None = None,
    max_retries: int = 3,
    **overrides,
) -> Comparison:
    """Run (or continue) a comparison (``seqgan compare``); ``algorithms`` a list or a
    comma-separated string; ``sweep="relgan.beta_max=1,10,100"`` replaces that algorithm's
    run by one run per value (``seqgan compare --sweep``); ``backend="ray"`` runs it on a
    Ray cluster (``ray_address``, else ``RAY_ADDRESS``, else a local instance;
    docs/scale-out.md)."""
    from seqgan.experiments.compare import (
        parse_algorithms,
        parse_strategies,
        parse_sweep,
        run_compare,
    )

    if out is None:
        raise UserError("compare() needs out= (the comparison folder)")
    if not isinstance(algorithms, str) and not (
        isinstance(algorithms, (list, tuple)) and all(isinstance(a, str) for a in algorithms)
    ):
        raise UserError(
            f"algorithms= must be a list of names or a comma-separated text, got {algorithms!r}"
        )
    names = parse_algorithms(
        algorithms if isinstance(algorithms, str) else ",".join(algorithms), "algorithms="
    )
    if sweep is not None and not isinstance(sweep, str):
        raise UserError(f"sweep= must be a text like 'relgan.beta_max=1,10,100', got {sweep!r}")
    parsed_sweep = parse_sweep(sweep, names, "sweep=")
    seeds, jobs = (arguments.whole(seeds, "seeds", API, 1), arguments.whole(jobs, "jobs", API, 1))
    max_retries = arguments.whole(max_retries, "max_retries", API, 0)
    backend = arguments.choice(backend, "backend", API, ("local", "ray"))
    cfg = _config(preset_or_config, seed, overrides)
    folder = arguments.path(out, "out", API).resolve()
    root = Path(data_root).resolve() if data_root is not None else None
    table = run_compare(
        cfg,
        names,
        parse_strategies(strategies),
        seeds,
        jobs,
        folder,
        root,
        backend=backend,
        ray_address=ray_address,
        max_retries=max_retries,
        sweep=parsed_sweep,
    )
    with open(folder / "table.csv", encoding="utf-8") as handle:
        rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    runs = {
        f"{p.parent.name}/{p.name}": Run(p, data_root)
        for p in sorted(folder.glob("seed-*/*"))
        if (p / "config.toml").is_file()
    }
    return Comparison(folder, table, rows, runs)
