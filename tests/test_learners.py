"""Notebooks and learners: tab completion of the API, the tutorial notebook runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_dir_lists_the_api_without_importing_it():
    """``dir()`` is what tab completion shows: the API and the lazily imported parts are
    listed before any of them is used, and listing them imports nothing heavy."""
    code = (
        "import sys, seqgan, seqgan.models, seqgan.metrics, seqgan.rl\n"
        "print(' '.join(dir(seqgan)))\n"
        "print(' '.join(dir(seqgan.models)))\n"
        "print(' '.join(dir(seqgan.rl)))\n"
        "print(' '.join(dir(seqgan.metrics)))\n"
        "print(sorted(m for m in ('torch', 'numpy', 'scipy', 'matplotlib') "
        "if m in sys.modules))"
    )
    top, models, rl, metrics, heavy = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert {
        "Run",
        "Samples",
        "Comparison",
        "train",
        "compare",
        "__version__",
        "models",
        "rl",
        "metrics",
    } <= set(top.split())
    assert {"Generator", "Discriminator", "LatentGenerator", "Encoder"} <= set(models.split())
    assert {"Sampling", "mc_search_q", "DiscriminatorReward", "policy_gradient_loss"} <= set(
        rl.split()
    )
    assert {"Evaluator", "sequence_nll", "welch_t_test"} <= set(metrics.split())
    assert heavy == "[]"


def test_every_name_dir_lists_can_be_used():
    """No name in ``dir()`` fails on access (what tab completion would then evaluate)."""
    code = (
        "import seqgan\n"
        "for name in dir(seqgan):\n"
        "    getattr(seqgan, name)\n"
        "for part in (seqgan.models, seqgan.rl, seqgan.metrics):\n"
        "    for name in dir(part):\n"
        "        getattr(part, name)\n"
        "print('ok')"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "ok"
    )


TUTORIAL = Path(__file__).resolve().parents[1] / "examples" / "tutorial.ipynb"


@pytest.mark.slow
def test_the_tutorial_notebook_runs(tmp_path):
    """examples/tutorial.ipynb runs top to bottom without an error, in a kernel of this
    interpreter (a kernel spec written here, so no other Python's kernel is picked up),
    in an empty folder; each cell within the time a CI runner needs."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "kernels" / "seqgan-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "seqgan test",
                "language": "python",
            }
        )
    )
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    notebook = nbformat.read(TUTORIAL, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells)  # kept without outputs
    work = tmp_path / "work"
    work.mkdir()
    client = nbclient.NotebookClient(
        notebook,
        km=KernelManager(kernel_name="seqgan-test", kernel_spec_manager=specs),
        timeout=120,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in outputs)
    assert "last column = D(Y) (Eq. 4, t = T): True" in text
    assert "seqgan  final NLL-oracle" in text and "mle     final NLL-oracle" in text
    assert any("image/png" in out.get("data", {}) for out in outputs)  # the curves
    assert sys.executable in "".join(json.loads((spec / "kernel.json").read_text())["argv"])
