"""Shared fixtures: tiny configs and models made in the tests (no data files)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

from seqgan.config import build_config

REPO = Path(__file__).resolve().parents[1]

# kernel choices measured by the tests (models.kernel_choice) go to a folder of this test
# session, not the user's cache; subprocesses inherit it
_CACHE = tempfile.TemporaryDirectory(prefix="seqgan-test-cache-")
os.environ["SEQGAN_CACHE"] = _CACHE.name


def shared_data_root() -> Path | None:
    """The real data sets: $SEQGAN_DATA, else ../shared/data beside the repository."""
    for candidate in (os.environ.get("SEQGAN_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "seqgan_oracle").is_dir():
            return Path(candidate)
    return None


MISSING_DATA = (
    "shared data sets not found: set SEQGAN_DATA to the folder holding "
    "seqgan_oracle/ (they are not needed by the other tests)"
)


def _require_data() -> Path:
    """The data sets' root; without them a skip, or a failure when SEQGAN_REQUIRE_DATA=1
    (as ``.ci/run`` sets it)."""
    root = shared_data_root()
    if root is None:
        if os.environ.get("SEQGAN_REQUIRE_DATA") == "1":
            pytest.fail(MISSING_DATA + "; SEQGAN_REQUIRE_DATA=1 requires them")
        pytest.skip(MISSING_DATA)
    return root


NO_GPU = "needs a CUDA GPU (torch.cuda.is_available() is False here)"


# The longest test files first (seconds per file in one suite run on a 2-core AMD EPYC VM,
# `pytest --durations=0` summed per file, 2026-12-07: 228, 151, 145, 90, 83, 75, 72, 43,
# 42, 41, 40 s of 1,349 s in all), the rest in their order: pytest-xdist hands whole
# files to its workers in this order (addopts: --dist loadfile --no-loadscope-reorder), so
# the longest is not started last and run alone while the other worker is idle.
LONGEST_FIRST = (
    "test_ray_backend.py",
    "test_compare.py",
    "test_files_safety.py",
    "test_comparison_set_resume.py",
    "test_seqvae.py",
    "test_resume.py",
    "test_plugin_example.py",
    "test_comparison_set.py",
    "test_own_data.py",
    "test_music_data.py",
    "test_api.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept


def pytest_runtest_setup(item):
    if item.get_closest_marker("data") is not None:
        _require_data()
    if item.get_closest_marker("gpu") is not None and not torch.cuda.is_available():
        pytest.skip(NO_GPU)
    if item.get_closest_marker("ray") is not None:
        require_loopback_namespace()


def require_loopback_namespace() -> None:
    """Tests marked ``ray`` start Ray: only in a network namespace that has nothing but
    the loopback interface (docs/scale-out.md), and only with Ray installed."""
    from seqgan.runtime.loopback import REFUSAL, non_loopback

    others = non_loopback()
    if others:
        pytest.skip(f"{REFUSAL} (this one also has {', '.join(others)})")
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.skip("Ray is not installed: pip install -e '.[test,ray]'")


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance for the tests of a module (seqgan's own ``start_local``)."""
    require_loopback_namespace()
    import ray

    from seqgan.experiments.ray_backend import start_local

    context = start_local(num_cpus=2)
    yield context
    ray.shutdown()


@pytest.fixture
def data_root() -> Path:
    """The shared data sets (tests using them are marked ``data``)."""
    return _require_data()


TINY = {
    "name": "tiny",
    "seed": 3,
    "oracle": {
        "source": "random",
        "seed": 5,
        "vocab_size": 40,
        "emb_dim": 8,
        "hidden_dim": 8,
        "seq_len": 8,
    },
    "data": {"num_train": 256, "num_test": 64},
    "generator": {"emb_dim": 8, "hidden_dim": 8, "batch_size": 32, "sample_batch": 128},
    "discriminator": {
        "emb_dim": 8,
        "filter_sizes": [1, 2, 4],
        "num_filters": [6, 6, 4],
        "batch_size": 32,
    },
    "pretrain": {"generator_epochs": 3, "discriminator_rounds": 2, "discriminator_epochs": 1},
    "adversarial": {"epochs": 3, "g_steps": 1, "d_steps": 1, "k_epochs": 1, "num_rollouts": 4},
    "eval": {"every": 2, "num_samples": 128},
    "run": {"checkpoint_every": 2, "tensorboard": True, "threads": 1},
}


@pytest.fixture
def tiny_config():
    return build_config(TINY)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)
