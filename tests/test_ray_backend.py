"""``seqgan compare --backend ray`` on one local Ray instance (``num_cpus=2``) started by
seqgan's own ``start_local``, inside a loopback-only network namespace (tests marked
``ray`` refuse to run elsewhere: docs/scale-out.md).  Checked: the table equals the local
backend's bit for bit; a training SIGKILLed mid-run is retried and resumed (metrics.csv
identical to the uninterrupted run's); a user error is not retried; SIGTERM on the
driver leaves checkpoints and the same command then completes; the instance listens on
127.0.0.1 only and wants its token; missing Ray / an unreachable address are one-line
errors."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tomli_w

from seqgan import errors as compare_errors
from seqgan.cli import main
from seqgan.config import build_config
from seqgan.experiments.compare import plan
from seqgan.runtime import loopback
from tests.conftest import REPO, TINY, require_loopback_namespace
from tests.helpers import error_line, read_csv
from tests.test_resume import RESUME_CONFIG, _finish, _start, _wait_for_row

CONFIG = copy.deepcopy(TINY)
CONFIG["run"].update(tensorboard=False)
ALGORITHMS = "mle,seqgan"


def _attempts(log: Path) -> list[str]:
    lines = log.read_text().splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line.startswith("# ray attempt ")]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- no Ray started: the namespace guard and the one-line errors -------------------------


def test_ray_tests_refuse_outside_a_loopback_only_namespace(monkeypatch):
    assert loopback.non_loopback(["eth0", "lo"]) == ["eth0"]
    assert loopback.non_loopback(["lo"]) == [] and loopback.loopback_only(["lo"])
    assert not loopback.loopback_only([])  # not even lo: not the namespace we want
    monkeypatch.setattr(socket, "if_nameindex", lambda: [(1, "lo"), (2, "eth0")])
    with pytest.raises(pytest.skip.Exception) as info:
        require_loopback_namespace()
    assert "Ray tests run only in a loopback-only network namespace" in str(info.value)
    assert "docs/scale-out.md" in str(info.value) and "eth0" in str(info.value)


def test_benchmark_refuses_outside_the_namespace(monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "compare_backends", REPO / "benchmarks" / "compare_backends.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(socket, "if_nameindex", lambda: [(1, "lo"), (2, "eth0")])
    assert bench.main(["--out", "/nonexistent/never-made"]) == 2
    assert "loopback-only network namespace" in capsys.readouterr().err


def test_missing_ray_is_a_one_line_error_with_the_install_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    out = tmp_path / "cmp"
    assert main(["compare", "--out", str(out), "--backend", "ray"]) == 2
    error_line(capsys.readouterr().err, "--backend ray needs Ray", "pip install 'seqgan[ray]'")
    assert not out.exists()


def test_the_python_api_takes_the_backend(tmp_path, monkeypatch):
    import seqgan
    from seqgan.errors import UserError

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError, match=r"backend='ray' needs Ray: pip install 'seqgan\[ray\]'"):
        seqgan.compare(out=tmp_path / "cmp", algorithms="mle", backend="ray")
    with pytest.raises(UserError, match="backend= unknown value 'slurm'; choose from local, ray"):
        seqgan.compare(out=tmp_path / "cmp2", algorithms="mle", backend="slurm")
    assert not (tmp_path / "cmp").exists() and not (tmp_path / "cmp2").exists()


def test_unreachable_address_is_a_quick_one_line_error(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = tmp_path / "cmp"
    address = f"127.0.0.1:{_closed_port()}"  # this machine's loopback only, never a host
    start = time.monotonic()
    assert main(["compare", "--out", str(out), "--backend", "ray", "--ray-address", address]) == 2
    assert time.monotonic() - start < 10
    error_line(
        capsys.readouterr().err, f"cannot reach the Ray cluster at {address}", "ray start --head"
    )
    assert not out.exists()
    # the same from RAY_ADDRESS; and the Ray options need --backend ray
    monkeypatch.setenv("RAY_ADDRESS", address)
    assert main(["compare", "--out", str(out), "--backend", "ray"]) == 2
    error_line(capsys.readouterr().err, f"cannot reach the Ray cluster at {address}")
    assert main(["compare", "--out", str(out), "--max-retries", "1"]) == 2
    error_line(capsys.readouterr().err, "need --backend ray")


def test_ray_options_reach_run_compare_and_gpu_lists_are_refused(tmp_path, monkeypatch, capsys):
    from seqgan.experiments import compare

    seen = {}
    monkeypatch.setattr(compare, "run_compare", lambda *a, **kw: seen.update(kw) or "| table |")
    out = str(tmp_path / "cmp")
    assert (
        main(
            [
                "compare",
                "--out",
                out,
                "--backend",
                "ray",
                "--gpus",
                "all",
                "--runs-per-gpu",
                "4",
                "--ray-address",
                "127.0.0.1:1",
                "--max-retries",
                "5",
            ]
        )
        == 0
    )
    assert seen == {
        "gpus": ["all"],
        "runs_per_gpu": 4,
        "backend": "ray",
        "ray_address": "127.0.0.1:1",
        "max_retries": 5,
        "sweep": None,
    }
    assert main(["compare", "--out", out, "--backend", "ray", "--gpus", "0,1"]) == 2
    error_line(capsys.readouterr().err, "Ray chooses each run's GPU", "--gpus all")


# ---- the comparisons of the module (its Ray instance: conftest.ray_instance) --------------


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ray-cfg") / "tiny.toml"
    path.write_text(tomli_w.dumps(CONFIG))
    return path


@pytest.fixture(scope="module")
def local_reference(config_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "cmp"
    assert (
        main(
            [
                "compare",
                "--config",
                str(config_file),
                "--out",
                str(out),
                "--algorithms",
                ALGORITHMS,
                "--jobs",
                "2",
            ]
        )
        == 0
    )
    return out


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _kill_once_mid_training(
    run: Path, row: str, worker: bool, stop: threading.Event, killed: list
) -> None:
    """SIGKILL the training of ``run`` (the PID in its lock file) — or, with ``worker``,
    the Ray worker running it — once ``metrics.csv`` has a line starting with ``row``,
    before the run ends."""
    while not stop.is_set():
        try:
            rows = (run / "metrics.csv").read_text()
            pid = int((run / ".seqgan-lock").read_text().strip() or 0)
            if worker and pid:
                pid = _parent(pid)
                assert Path(f"/proc/{pid}/comm").read_text().startswith("ray::"), pid
        except (OSError, ValueError):
            pid, rows = 0, ""
        if pid and f"\n{row}" in rows and not (run / "summary.json").exists():
            os.kill(pid, signal.SIGKILL)
            killed.append(run.name)
            return
        time.sleep(0.003)


@pytest.fixture(scope="module")
def ray_comparison(ray_instance, config_file, local_reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray") / "cmp"
    stop, killed = threading.Event(), []
    killers = [
        threading.Thread(
            target=_kill_once_mid_training,
            daemon=True,
            args=(out / "seed-3" / name, row, worker, stop, killed),
        )
        for name, row, worker in (("seqgan", "adversarial,1,", False), ("mle", "mle,1,", True))
    ]
    for killer in killers:
        killer.start()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            code = main(
                [
                    "compare",
                    "--config",
                    str(config_file),
                    "--out",
                    str(out),
                    "--algorithms",
                    ALGORITHMS,
                    "--backend",
                    "ray",
                    "--max-retries",
                    "2",
                ]
            )
    finally:
        stop.set()
        for killer in killers:
            killer.join()
    assert code == 0, err.getvalue()
    return out, killed, err.getvalue()


@pytest.mark.ray
def test_local_instance_listens_on_loopback_only_and_wants_its_token(ray_instance):
    gcs = ray_instance.address_info["gcs_address"]
    assert gcs.startswith("127.0.0.1:") and os.environ["RAY_AUTH_MODE"] == "token"
    listening = subprocess.run(
        ["ss", "-H", "-ltnu"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    local = [line.split()[4] for line in listening]
    assert len(local) >= 3, listening  # GCS, raylet, workers: not a vacuous check
    hosts = {address.rsplit(":", 1)[0] for address in local}
    assert hosts <= {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}, listening
    # token authentication: a client with the wrong token is refused, the right one served
    probe = (
        "from ray._raylet import GcsClient\n"
        f"print(len(GcsClient(address='{gcs}').internal_kv_keys(b'', namespace=None, "
        "timeout=5)))"
    )
    for token, refused in (("0" * 64, True), (os.environ["RAY_AUTH_TOKEN"], False)):
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            env={**os.environ, "RAY_AUTH_TOKEN": token},
            timeout=60,
        )
        assert ("InvalidAuthToken" in done.stderr) is refused, done.stderr
        assert (done.returncode != 0) is refused, done.stderr


@pytest.mark.ray
@pytest.mark.slow
def test_ray_table_equals_local_table_bit_for_bit(ray_comparison, local_reference):
    out, _, _ = ray_comparison
    for name in ("table.csv", "table.md"):
        assert (out / name).read_bytes() == (local_reference / name).read_bytes(), name
    for run in ("pretrain", "mle", "seqgan"):
        assert (out / "seed-3" / run / "summary.json").is_file()


@pytest.mark.ray
@pytest.mark.slow
def test_killed_training_or_worker_is_retried_with_resume_and_ends_identical(
    ray_comparison, local_reference
):
    """seqgan's training is SIGKILLed; mle's Ray worker is SIGKILLed (its training gets
    SIGTERM, checkpoints and exits; Ray retries the task once the worker is gone)."""
    out, killed, _ = ray_comparison
    assert sorted(killed) == ["mle", "seqgan"]
    for name in ("seqgan", "mle"):
        attempts = _attempts(out / "logs" / f"seed-3-{name}.log")
        assert len(attempts) == 2, attempts
        assert "--config" in attempts[0] and "--resume" in attempts[1]
        assert list((out / "seed-3" / name / "checkpoints").glob("*.pt"))
        ours = (out / "seed-3" / name / "metrics.csv").read_bytes()
        assert ours == (local_reference / "seed-3" / name / "metrics.csv").read_bytes(), name
    assert len(_attempts(out / "logs" / "seed-3-pretrain.log")) == 1  # ran once


@pytest.mark.ray
@pytest.mark.slow
def test_driver_prints_node_phase_and_epoch_of_each_run(ray_comparison):
    _, _, err = ray_comparison
    node = r"\S+ \(node [0-9a-f]{8}\)"
    for run in ("pretrain", "mle", "seqgan"):
        assert re.search(rf"^started seed 3 {run} on {node}: ", err, re.M), err
        assert re.search(rf"^\[\d/3\] seed 3 {run} on {node}: done \(", err, re.M), err
    progress = re.findall(rf"^  seed 3 (\S+) on {node}: (\w+) epoch (\d+)$", err, re.M)
    assert progress and {phase for _, phase, _ in progress} <= {
        "init",
        "pretrain_generator",
        "pretrain_discriminator",
        "adversarial",
        "mle",
    }, err


@pytest.mark.ray
@pytest.mark.slow
def test_the_comparison_set_on_ray_finishes_and_writes_its_table(ray_instance, tmp_path):
    # MaliGAN, RankGAN (the shared MLE pre-training), LeakGAN and RelGAN (their own) as
    # Ray tasks (a Ray run equals a local one: test_ray_table_equals_local_table_bit_for_bit)
    config = copy.deepcopy(CONFIG)
    config["pretrain"].update(generator_epochs=2, discriminator_rounds=1)
    config["adversarial"]["epochs"] = 1
    config["leakgan"] = {"step": 3, "num_rollouts": 2}
    config["relgan"] = {"head_size": 4, "num_representations": 4}
    path = tmp_path / "set.toml"
    path.write_text(tomli_w.dumps(config))
    out, names = tmp_path / "cmp", ["mle", "maligan", "rankgan", "leakgan", "relgan"]
    args = ["compare", "--config", str(path), "--out", str(out), "--backend", "ray"]
    assert main([*args, "--algorithms", ",".join(names)]) == 0
    rows = read_csv(out / "table.csv")
    assert [r["label"] for r in rows] == names
    assert all(float(r["nll_oracle"]) > 0 and float(r["nll_test"]) > 0 for r in rows)
    table = (out / "table.md").read_text()
    assert all(name in table for name in names)
    for name in ("pretrain", *names):
        assert len(_attempts(out / "logs" / f"seed-3-{name}.log")) == 1, name
        assert (out / "seed-3" / name / "summary.json").is_file(), name


def test_a_task_that_cannot_see_the_folder_names_its_node(tmp_path):
    from seqgan.experiments.ray_task import MARKER, FolderNotVisible, check_marker

    (tmp_path / MARKER).write_text("abc\n")
    check_marker(str(tmp_path), "abc")  # the driver's folder: fine
    for folder, nonce, why in (
        (tmp_path, "xyz", "another folder of that name"),
        (tmp_path / "absent", "abc", "No such file"),
    ):
        with pytest.raises(FolderNotVisible) as info:
            check_marker(str(folder), nonce)
        message = str(info.value)
        assert message.startswith(f"node {socket.gethostname()} (node ")
        assert f"cannot see the comparison folder {folder}" in message and why in message


@pytest.mark.ray
def test_shared_folder_check_runs_on_every_node(ray_instance, tmp_path):
    import ray

    from seqgan.experiments.ray_backend import check_shared_folder
    from seqgan.experiments.ray_task import MARKER

    (tmp_path / MARKER).write_text("session-1\n")
    check_shared_folder(ray, tmp_path, "session-1")
    with pytest.raises(compare_errors.UserError) as info:
        check_shared_folder(ray, tmp_path, "session-2")  # as a node with another folder
    assert "cannot see the comparison folder" in str(info.value)
    assert "(node " in str(info.value) and "docs/scale-out.md" in str(info.value)


@pytest.mark.ray
def test_user_error_in_a_run_is_not_retried(ray_instance, tmp_path):
    from seqgan.experiments.ray_backend import RayRunner

    out = tmp_path / "cmp"
    job = next(j for j in plan(build_config(CONFIG), ["mle"], [], 1, out, 2) if j.name == "mle")
    data = job.config.to_dict()
    data["pretrain"]["generator_from"] = str(tmp_path / "no-such-run")  # train exits 2
    job.config, job.needs = build_config(data), None
    out.mkdir()
    lines: list[str] = []
    RayRunner([job], out, None, max_retries=2, log=lines.append).run()
    assert job.status == "failed"
    assert len(_attempts(job.log)) == 1
    assert any("exited with code 2" in line and "not retried" in line for line in lines), lines
    assert "generator_from" in job.log.read_text()


@pytest.mark.ray
@pytest.mark.slow
def test_sigterm_on_the_driver_leaves_checkpoints_and_the_same_command_completes(
    ray_instance, tmp_path
):
    # Long enough that the cancellation, which goes driver -> Ray -> task -> training,
    # lands before the end even on a loaded 2-core machine: with 8 tiny epochs the rest
    # took 0.3 s and CI once finished first. Measured on an idle 2-core machine: the
    # cancellation takes about 3 s, 200 epochs took about 25 s after the row waited for
    # (all of it paid again by the rerun); 80 epochs leave about 10 s.
    config = copy.deepcopy(RESUME_CONFIG)
    config["adversarial"].update(epochs=80)
    config["pretrain"].update(generator_epochs=0)  # no shared pre-training: one run
    config["eval"].update(every=40)
    config["run"].update(checkpoint_every=40)
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(config))
    out = tmp_path / "cmp"
    args = [
        "compare",
        "--config",
        str(path),
        "--out",
        str(out),
        "--algorithms",
        "seqgan",
        "--backend",
        "ray",
    ]
    proc = _start(args)  # its own local Ray instance, stopped when it ends
    _wait_for_row(proc, out / "seed-3" / "seqgan", "adversarial", 1, timeout=90)
    proc.send_signal(signal.SIGTERM)
    code, _, err = _finish(proc, timeout=120)
    assert code == 143, err
    assert "the same command" in err.strip().splitlines()[-1]
    assert list((out / "seed-3" / "seqgan" / "checkpoints").glob("ckpt-*.pt"))
    assert not (out / "seed-3" / "seqgan" / "summary.json").exists()
    started = next(line for line in err.splitlines() if "local Ray instance at" in line)
    port = int(started.split("127.0.0.1:")[1].split()[0])
    with pytest.raises(OSError):  # that instance was stopped with the driver
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # the same command again, on this module's instance: continues and completes
    gcs = ray_instance.address_info["gcs_address"]
    # the 80 epochs again (a hang guard: on a 2-core machine shared with two other
    # trainings they once took over 120 s)
    code, _, err = _finish(_start([*args, "--ray-address", gcs]), timeout=300)
    assert code == 0, err
    assert "[1/1] seed 3 seqgan on " in err
    assert (out / "seed-3" / "seqgan" / "summary.json").is_file()
    assert "--resume" in _attempts(out / "logs" / "seed-3-seqgan.log")[-1]
