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

from seqgan.config import (Config, assemble, build_config, encoding_length, parse_override,
                           preset_names, read_toml)
from seqgan.data.paths import data_root as default_data_root
from seqgan.errors import UserError
from seqgan.rl.sampling import Sampling


def _overrides(overrides: dict[str, Any]) -> list[str]:
    """Keyword overrides as ``--set`` strings: ``adversarial__epochs=3`` ->
    ``"adversarial.epochs=3"`` (values written as TOML, so types are kept)."""
    import tomli_w
    out = []
    for key, value in overrides.items():
        toml = tomli_w.dumps({"v": value}).split("=", 1)[1].strip()
        out.append(f"{key.replace('__', '.')}={toml}")
    return out


def _config(preset_or_config, seed: int | None, overrides: dict) -> Config:
    """A preset name, a TOML file path, a ``Config`` or a dict of settings, then the
    overrides — as ``seqgan train --preset/--config ... --set ...`` builds it."""
    if isinstance(preset_or_config, (Config, dict)):
        base = (preset_or_config.to_dict() if isinstance(preset_or_config, Config)
                else preset_or_config)
        sets = _overrides(overrides)
        cfg = build_config(base, sets, seed)
        notes = encoding_length(cfg, build_config(base, complete=False),
                                [parse_override(text)[0] for text in sets])
        from seqgan.runs.progress import stderr_line
        for note in notes:
            stderr_line(note)
        return cfg
    path = Path(str(preset_or_config)) if preset_or_config is not None else None
    as_file = path is not None and (path.suffix == ".toml" or (
        path.is_file() and str(preset_or_config) not in preset_names()))  # a name wins
    cfg, notes = assemble(None if as_file else preset_or_config, path if as_file else None,
                          _overrides(overrides), seed)
    from seqgan.runs.progress import stderr_line
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
        if self.encoding is None:
            raise UserError("midi() needs a music run")
        from seqgan.music.encodings import get_encoding
        return get_encoding(self.encoding).decode(list(self.symbols[i]))

    def notes(self, i: int) -> list[tuple[int, float, float]]:
        return [(n.pitch, n.start, n.end) for inst in self.midi(i).instruments
                for n in inst.notes]

    def write_midi(self, folder: Path) -> list[Path]:
        """Every row as ``folder/sample-<i>.mid`` (atomic writes); the paths."""
        from seqgan.music.corpus import symbols_to_midi
        if self.encoding is None:
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
        from seqgan.runs.folder import RunFolder
        self.folder = RunFolder.open(Path(path))
        self.path = self.folder.root
        self.data_root = _root(data_root)

    @classmethod
    def load(cls, path, data_root=None) -> "Run":
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
            return [{k: _number(v) for k, v in row.items() if v not in ("", None)}
                    for row in csv.DictReader(handle)]

    @cached_property
    def _trained(self):
        from seqgan.training.session import load_trained
        return load_trained(self.path, self.data_root)

    @property
    def generator(self) -> torch.nn.Module:
        return self._trained[2]["generator"]

    def sample(self, n: int, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
               greedy: bool = False, seed: int = 0) -> Samples:
        """``n`` sequences drawn with these sampling controls (``rl.sampling.Sampling``)
        from a generator seeded with ``seed`` (the global RNG is left as it was)."""
        if n < 1:
            raise UserError(f"n must be a positive number of sequences, got {n}")
        sampling = Sampling(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
        cfg, task, _ = self._trained
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ids = self.generator.sample(n, cfg.generator.sample_batch, sampling=sampling)
        texts = task.texts(ids) if task.kind == "text" else None
        symbols = task.symbols(ids) if task.kind in ("text", "music") else None
        encoding = cfg.data.encoding if task.kind == "music" else None
        return Samples(ids, texts, symbols, encoding)

    def evaluate(self, metrics: list[str] | None = None, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, samples: int | None = None,
                 seed: int = 0) -> dict:
        """The run's metrics on fresh samples drawn with these controls (the data are read
        again from the data root): ``metrics`` names the ones wanted (e.g. ``["nll_test",
        "bleu3", "self_bleu3"]``: BLEU / Self-BLEU orders are computed as named), default
        every metric the run's config asks for. Nothing is written to the run folder."""
        from seqgan.metrics.evaluation import Evaluator
        from seqgan.training.session import data_task
        cfg = build_config(self.config.to_dict())
        if metrics is not None:
            metrics = self._ask_for(cfg, metrics)
        if samples is not None:
            cfg.eval.num_samples = samples
        task = data_task(self.path, cfg, self.data_root)
        sampling = Sampling(temperature=temperature, top_k=top_k, top_p=top_p)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            means, _, drawn = Evaluator(cfg, task)(self.generator, sampling=sampling)
        if metrics:
            missing = [name for name in metrics if name not in means]
            if missing:
                raise UserError(f"metric '{missing[0]}' could not be computed on this run "
                                f"(no held-out data, or fewer than 2 samples)")
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


def train(preset_or_config=None, out=None, *, seed: int | None = None, data_root=None,
          overwrite: bool = False, resume=None, **overrides) -> Run:
    """Train a run (``seqgan train``) and return it as a ``Run``.

    ``preset_or_config``: a preset name (default ``synthetic-quick``), a TOML file, a
    ``Config`` or a dict; ``out``: the run folder (required); ``resume``: a run folder to
    continue (or extend, with overrides of phase lengths) instead."""
    from seqgan.training.session import open_session
    root = _root(data_root)
    if resume is not None:
        if preset_or_config is not None or out is not None or seed is not None:
            raise UserError("resume= takes its settings from the run folder; drop the "
                            "preset/config, out and seed")
        session = open_session(None, Path(resume), root, resume=True,
                               overrides=_overrides(overrides))
    else:
        if out is None:
            raise UserError("train() needs out= (the run folder)")
        cfg = _config(preset_or_config, seed, overrides)
        session = open_session(cfg, Path(out), root, overwrite=overwrite)
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


def compare(preset_or_config=None, out=None, *, algorithms="random,mle,ss,pg-bleu,seqgan",
            seeds: int = 1, jobs: int = 1, strategies: str | None = None, seed=None,
            data_root=None, backend: str = "local", ray_address: str | None = None,
            max_retries: int = 3, **overrides) -> Comparison:
    """Run (or continue) a comparison (``seqgan compare``); ``algorithms`` a list or a
    comma-separated string; ``backend="ray"`` runs it on a Ray cluster (``ray_address``,
    else ``RAY_ADDRESS``, else a local instance; docs/scale-out.md)."""
    from seqgan.runs.compare import parse_algorithms, parse_strategies, run_compare
    if out is None:
        raise UserError("compare() needs out= (the comparison folder)")
    names = parse_algorithms(algorithms if isinstance(algorithms, str) else ",".join(algorithms),
                             "algorithms=")
    cfg = _config(preset_or_config, seed, overrides)
    folder = Path(out).resolve()
    root = Path(data_root).resolve() if data_root is not None else None
    table = run_compare(cfg, names, parse_strategies(strategies), seeds, jobs, folder, root,
                        backend=backend, ray_address=ray_address, max_retries=max_retries)
    with open(folder / "table.csv", encoding="utf-8") as handle:
        rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    runs = {f"{p.parent.name}/{p.name}": Run(p, data_root)
            for p in sorted(folder.glob("seed-*/*")) if (p / "config.toml").is_file()}
    return Comparison(folder, table, rows, runs)
