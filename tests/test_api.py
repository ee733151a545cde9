"""The Python API: the examples of docs/api.md run as written; errors as the CLI's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import seqgan
from seqgan.errors import UserError
from tests.conftest import TINY

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_the_examples_of_docs_api_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", API_DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            raise AssertionError(f"docs/api.md block {number} failed: {exc!r}\n{block}") from exc
    assert (tmp_path / "runs" / "mine" / "summary.json").is_file()


def test_import_seqgan_loads_nothing_heavy():
    code = (
        "import sys, seqgan, seqgan.models, seqgan.metrics, seqgan.rl; "
        "print(sorted(m for m in ('torch', 'numpy', 'scipy', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_train_takes_a_config_or_dict_and_errors_are_user_errors(tmp_path):
    run = seqgan.train(TINY, out=tmp_path / "a", adversarial__epochs=1)
    assert run.config.adversarial.epochs == 1 and run.summary["epochs"] == 4
    again = seqgan.train(run.config, out=tmp_path / "b", **{"adversarial.epochs": 2})
    assert again.config.adversarial.epochs == 2
    with pytest.raises(UserError, match="exists; pass overwrite=True"):
        seqgan.train(TINY, out=tmp_path / "a")
    with pytest.raises(UserError, match="did you mean 'adversarial.epochs'"):
        seqgan.train(TINY, out=tmp_path / "c", adversarial__epoch=1)
    with pytest.raises(UserError, match="needs out="):
        seqgan.train(TINY)
    with pytest.raises(UserError, match="not a seqgan run folder"):
        seqgan.Run.load(tmp_path)
    rows = run.metrics
    assert rows[0]["phase"] == "init" and isinstance(rows[0]["epoch"], int)
