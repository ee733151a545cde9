"""The algorithm and metric registries (``seqgan.registry``): the built-ins as declared in
pyproject.toml, plug-ins found through entry points, a broken plug-in as one warning line,
unknown names with "did you mean", a plug-in's config section and metric in-process."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from seqgan import registry
from seqgan.cli import main
from seqgan.config import build_config
from seqgan.errors import UserError
from tests.conftest import REPO, TINY

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def fake_package(
    folder: Path, name: str, entry_points: str, modules: dict[str, str] | None = None
) -> Path:
    """An installed package ``name`` in ``folder`` (its ``.dist-info`` with
    ``entry_points.txt``, and module files), found by importlib.metadata once ``folder``
    is on sys.path."""
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in (modules or {}).items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture
def fresh_registry(monkeypatch):
    """A registry that reads the entry points again (and forgets them after the test)."""
    registry.reset()
    yield monkeypatch
    registry.reset()


def test_pyproject_declares_exactly_the_builtin_table():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    assert {group: dict(declared[group]) for group in registry.BUILTIN} == registry.BUILTIN


def test_installed_metadata_of_seqgan_matches_when_it_declares_entry_points():
    """An install made from today's pyproject gives the same entry points; one made before
    the registry (no seqgan.algorithms group) is covered by the built-in table."""
    for group, table in registry.BUILTIN.items():
        ours = {e.name: e.value for e in registry._installed(group) if e.package == "seqgan"}
        assert not ours or ours == table


def test_every_builtin_loads_under_its_name():
    registry.reset()
    assert [a.name for a in registry.algorithms()] == list(
        registry.BUILTIN[registry.ALGORITHM_GROUP]
    )
    assert [m.name for m in registry.builtin_metrics()] == list(
        registry.BUILTIN[registry.METRIC_GROUP]
    )
    assert registry.algorithm("vae").vae and registry.algorithm("seqvae2").pretraining == "vae"
    assert registry.algorithm("random").pretraining is None
    assert registry.algorithm("seqgan").discriminator and not registry.algorithm("mle").rollout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--set", "algorithm=seqgn"], "did you mean 'seqgan'"),
        (["compare", "--algorithms", "mle,pg-blue", "--out", "x"], "did you mean 'pg-bleu'"),
    ],
)
def test_an_unknown_algorithm_is_one_line_with_did_you_mean(
    argv, message, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


BROKEN = """
    [seqgan.algorithms]
    broken = no_such_module_anywhere:ALGORITHM
    [seqgan.metrics]
    broken_metric = no_such_module_anywhere:METRIC
"""


def test_a_broken_plugin_is_one_warning_and_other_commands_work(tmp_path, fresh_registry, capsys):
    fresh_registry.syspath_prepend(str(fake_package(tmp_path / "site", "broken-pkg", BROKEN)))
    assert main(["presets"]) == 0  # lists every algorithm: loads (and skips) the broken one
    out, err = capsys.readouterr()
    assert "seqgan " in out and "broken" not in out
    warnings = err.strip().splitlines()
    assert len(warnings) == 2, err  # one per entry point (an algorithm and a metric)
    assert all(
        w.startswith("seqgan: warning: could not load package 'broken-pkg'") for w in warnings
    ), err
    assert all("ModuleNotFoundError" in w for w in warnings)
    # commands that do not use it: no warning, no error
    assert main(["config", "show", "--set", "algorithm=mle"]) == 0
    assert capsys.readouterr().err == ""
    # the name is known (listed, suggested); choosing it is one line naming the package
    assert main(["config", "show", "--set", "algorithm=broken"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "'broken' is not usable" in err and "broken-pkg" in err


def test_a_plugin_cannot_take_a_builtin_name(tmp_path, fresh_registry, capsys):
    clash = "[seqgan.algorithms]\nseqgan = clash_module:ALGORITHM\n"
    fresh_registry.syspath_prepend(str(fake_package(tmp_path / "site", "clash-pkg", clash)))
    assert registry.algorithm("seqgan").build.__module__ == "seqgan.training.seqgan"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "clash-pkg" in err[0] and "ignored" in err[0]


PLUGIN = """
    [seqgan.algorithms]
    tiny-plug = tinyplug:ALGORITHM
    [seqgan.metrics]
    mean_token = tinyplug:MEAN_TOKEN
    odd_shape = tinyplug:ODD_SHAPE
"""

PLUGIN_SOURCE = """
    from dataclasses import dataclass
    from seqgan.extend import Algorithm, Metric, UserError, knob, parts

    @dataclass
    class TinyPlugConfig:
        scale: float = knob(1.0, low=0.0)  # how much of nothing to do
        mode: str = knob("a", choices=("a", "b"))  # which nothing

    def check(cfg):
        if cfg.section("tiny_plug").mode == "b" and cfg.section("tiny_plug").scale == 0:
            raise UserError("tiny_plug.mode = 'b' needs tiny_plug.scale > 0")

    def build(cfg, task):
        generator = parts.build_generator(cfg, task)
        return {"generator": generator}, {}, []

    ALGORITHM = Algorithm("tiny-plug", build, "does nothing", config=TinyPlugConfig,
                          validate=check, pretraining=None)
    MEAN_TOKEN = Metric("mean_token", lambda samples, task: samples.float().mean(1),
                        "mean token id of each sample")
    ODD_SHAPE = Metric("odd_shape", lambda samples, task: "no", "returns a string")
"""


@pytest.fixture
def plugin(tmp_path, fresh_registry):
    site = fake_package(tmp_path / "site", "tiny-plug-pkg", PLUGIN, {"tinyplug": PLUGIN_SOURCE})
    fresh_registry.syspath_prepend(str(site))
    return site


def test_a_plugin_section_is_typed_checked_saved_and_restored(plugin):
    cfg = build_config(TINY, ["algorithm=tiny-plug", "tiny_plug.scale=2.5"])
    assert cfg.section("tiny_plug").scale == 2.5
    again = build_config(tomllib.loads(cfg.to_toml()))  # what config.toml holds
    assert again == cfg and again.section("tiny_plug").scale == 2.5
    for override, message in [
        ("tiny_plug.scale=-1", "'tiny_plug.scale' must be >= 0.0"),
        ("tiny_plug.mode=c", "'tiny_plug.mode' must be one of a, b"),
        ("tiny_plug.scal=1", "did you mean 'tiny_plug.scale'"),
        ("tiny_plug.scale=x", "must be float"),
    ]:
        with pytest.raises(UserError, match=message.replace("(", r"\(")):
            build_config(TINY, ["algorithm=tiny-plug", override])
    with pytest.raises(UserError, match="needs tiny_plug.scale > 0"):  # its validate
        build_config(TINY, ["algorithm=tiny-plug", "tiny_plug.mode=b", "tiny_plug.scale=0"])
    # another algorithm's config has no plug-in section, unless its keys are set
    assert "tiny_plug" not in build_config(TINY).to_dict()
    assert build_config(TINY, ["tiny_plug.scale=3"]).to_dict()["tiny_plug"]["scale"] == 3.0


def test_a_config_made_in_python_gets_its_plugin_section_when_validated(plugin):
    from seqgan.config import Config, validate

    cfg = Config(algorithm="tiny-plug")
    validate(cfg)
    assert cfg.section("tiny_plug").scale == 1.0


def test_config_show_documents_a_plugin_section(plugin, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["config", "show", "--set", "algorithm=tiny-plug"]) == 0
    out = capsys.readouterr().out
    assert "[tiny_plug]\n# how much of nothing to do\nscale = 1.0\n" in out


def test_a_plugin_metric_is_evaluated_per_sequence_and_signed(plugin, tiny_config):
    from seqgan.data.build import build_task
    from seqgan.metrics.evaluation import Evaluator
    from seqgan.training import parts

    cfg = build_config(TINY, ['eval.metrics=["mean_token"]'])
    task = build_task(cfg, Path("."))
    torch.manual_seed(0)
    means, per_sequence, samples = Evaluator(cfg, task)(parts.build_generator(cfg, task))
    expected = samples.float().mean(1).numpy()
    assert np.allclose(per_sequence["mean_token"], expected)
    assert means["mean_token"] == pytest.approx(float(expected.mean()))
    assert list(means)[-1] == "mean_token"  # after the built-in columns
    assert Evaluator(cfg, task).signatures(7)["mean_token"] == "mean_token|hyps=7|tok=ids"
    # the plug-in metric does not move torch's random state (training is unchanged)
    torch.manual_seed(0)
    Evaluator(build_config(TINY), task)(parts.build_generator(cfg, task))
    plain = torch.rand(3)
    torch.manual_seed(0)
    Evaluator(cfg, task)(parts.build_generator(cfg, task))
    assert torch.equal(torch.rand(3), plain)


def test_a_plugin_metric_of_a_wrong_kind_or_name_is_one_line(plugin):
    from seqgan.data.build import build_task
    from seqgan.metrics.evaluation import Evaluator
    from seqgan.training import parts

    cfg = build_config(TINY, ['eval.metrics=["odd_shape"]'])
    task = build_task(cfg, Path("."))
    with pytest.raises(UserError, match="metric 'odd_shape' returned str"):
        Evaluator(cfg, task)(parts.build_generator(cfg, task))
    with pytest.raises(UserError, match="did you mean 'mean_token'"):
        build_config(TINY, ['eval.metrics=["mean_tokens"]'])
    with pytest.raises(UserError, match="'bleu' is built in"):
        build_config(TINY, ['eval.metrics=["bleu"]'])
