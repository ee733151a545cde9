import pytest

from seqgan.config import build_config, load_preset, parse_override, preset_names
from seqgan.errors import UserError


def test_presets_build_and_paper_preset_holds_reference_settings():
    assert {"synthetic-quick", "synthetic-paper"} <= set(preset_names())
    paper = build_config(load_preset("synthetic-paper"))
    assert (
        paper.pretrain.generator_epochs,
        paper.pretrain.discriminator_rounds,
        paper.pretrain.discriminator_epochs,
    ) == (120, 50, 3)
    a = paper.adversarial
    assert (a.epochs, a.g_steps, a.d_steps, a.k_epochs, a.num_rollouts) == (200, 1, 5, 3, 16)
    assert paper.eval.every == 5 and paper.eval.num_samples == 9984
    assert paper.discriminator.filter_sizes == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
    assert paper.oracle.source == "file"


def test_overrides_and_seed_apply_in_order():
    cfg = build_config(
        {"adversarial": {"epochs": 7}},
        ["adversarial.epochs=9", "generator.lr=0.5", "run.tensorboard=false"],
        seed=4,
    )
    assert cfg.adversarial.epochs == 9 and cfg.generator.lr == 0.5
    assert cfg.run.tensorboard is False and cfg.seed == 4
    assert parse_override("name=hello world") == ("name", "hello world")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["adversarial.epoch=3"],
            "unknown config key 'adversarial.epoch'; did you mean 'adversarial.epochs'",
        ),
        (["adversarial.epochs=-1"], "must be >= 0"),
        (["adversarial.num_rollouts=0"], "must be >= 1"),
        (["oracle.seq_len=0"], "must be >= 1"),
        (["discriminator.dropout=1.5"], "must be <= 0.99"),
        (["adversarial.rollout_update_rate=-0.1"], "must be >= 0.0"),
        (["adversarial.epochs=ten"], "must be int"),
        (["algorithm=seqgann"], "must be one of"),
        (["adversarial=3"], "is a section"),
        (["noequals"], "expects KEY=VALUE"),
    ],
)
def test_bad_values_are_one_line_errors(overrides, message):
    with pytest.raises(UserError) as info:
        build_config(load_preset("synthetic-quick"), overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_preset_suggests():
    with pytest.raises(UserError, match="did you mean 'synthetic-quick'"):
        load_preset("synthetic-quik")
