"""A run folder whose name is not UTF-8 (``--out $'runs/caf\\xe9'``) trains, writes its
TensorBoard events and resumes; what cannot hold such a name (a config value, a
comparison whose runs' configs record it) is refused in one line before anything is
written."""

import os
import sys

import pytest
import tomli_w

from seqgan.cli import main
from tests.conftest import TINY
from tests.helpers import refused_and_unchanged

pytestmark = pytest.mark.skipif(
    sys.platform in ("darwin", "win32"), reason="this file system takes only Unicode names"
)
NAME = os.fsdecode(b"caf\xe9")  # 'caf\udce9': the byte 0xe9 as a surrogate escape
QUICK = {
    **TINY,
    "pretrain": {"generator_epochs": 1, "discriminator_rounds": 1, "discriminator_epochs": 1},
    "adversarial": {**TINY["adversarial"], "epochs": 1},
}


def test_a_run_folder_named_in_other_bytes_trains_and_resumes(tmp_path, capsys):
    config = tmp_path / "quick.toml"
    config.write_text(tomli_w.dumps(QUICK))
    out = tmp_path / NAME
    assert main(["train", "--config", str(config), "--out", str(out)]) == 0
    first = sorted((out / "tensorboard").glob("events.out.tfevents.*"))
    assert len(first) == 1 and first[0].stat().st_size > 0
    assert main(["train", "--resume", str(out), "--set", "adversarial.epochs=2"]) == 0
    assert len(list((out / "tensorboard").glob("events.out.tfevents.*"))) == 2
    assert os.fsencode(str(out)).endswith(b"caf\xe9")  # the bytes the user gave


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            lambda inputs: ["compare", "--algorithms", "mle", "--out", str(inputs / NAME)],
            ["comparison folder", "not UTF-8"],
        ),
        (
            lambda inputs: ["train", "--set", f"name={NAME}", "--out", str(inputs / "run")],
            ["config key 'name' is not UTF-8"],
        ),
    ],
)
def test_what_cannot_record_such_a_name_refuses_it_in_one_line(
    argv, words, tmp_path, monkeypatch, capsys
):
    refused_and_unchanged(argv, words, tmp_path, monkeypatch, capsys)
