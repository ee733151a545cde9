"""The layers of docs/architecture.md hold, and the contracts in pyproject.toml that CI runs
(``lint-imports``) fail on a change that breaks them, naming the import: checked on a copy
of the package with an upward import inside a function and an import cycle added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with the project's contracts on the package under ``root/src``."""
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script) if script.exists() else shutil.which("lint-imports") or "lint-imports"]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}  # this copy, not the installed one
    return subprocess.run(
        [*command, "--no-cache", "--no-logo", str(REPO / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _append(path: Path, code: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + code, encoding="utf-8")


def test_the_contracts_hold_and_a_violation_fails_naming_the_import(tmp_path):
    shutil.copytree(
        REPO / "src" / "seqgan",
        tmp_path / "src" / "seqgan",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    kept = _lint_imports(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout

    package = tmp_path / "src" / "seqgan"
    # storage is below experiments: an import reaching up, even inside a function, breaks
    # the layers; jobs <-> compare (siblings in experiments) is a cycle
    _append(
        package / "storage" / "lock.py",
        "def _reaches_up():\n    from seqgan.experiments import compare\n    return compare\n",
    )
    _append(
        package / "experiments" / "jobs.py",
        "def _cycle():\n    from seqgan.experiments.compare import run_compare\n"
        "    return run_compare\n",
    )
    broken = _lint_imports(tmp_path)
    out = broken.stdout + broken.stderr
    assert broken.returncode != 0, out
    assert "seqgan.storage.lock -> seqgan.experiments.compare" in out
    assert "BROKEN" in out and "2 broken" in out, out
    assert "seqgan.experiments" in out and ".jobs -> .compare" in out  # the import to remove
