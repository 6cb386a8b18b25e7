"""``python -m resnet_course train`` and ``bench``: flags, errors before work, and a
tiny real run."""

from __future__ import annotations

import dataclasses
import json
import pytest

from resnet_course.cli import build_parser, main
from resnet_course.trainer import TrainConfig

TINY_FLAGS = [
    "--width",
    "4",
    "--n-train",
    "128",
    "--n-test",
    "64",
    "--batch-size",
    "64",
    "--epochs",
    "1",
    "--device",
    "cpu",
    "--no-progress",
]


def test_every_training_setting_is_a_flag_with_the_same_default():
    args = build_parser().parse_args(["train"])
    for f in dataclasses.fields(TrainConfig):
        expected = (
            True if f.name == "verbose" else f.default
        )  # the command line prints each epoch
        assert (
            getattr(args, f.name) == expected
        ), f"--{f.name.replace('_', '-')} default differs from TrainConfig"
    flipped = build_parser().parse_args(
        ["train", "--no-augment", "--ema", "0.99", "--compile", "none"]
    )
    assert (flipped.augment, flipped.ema, flipped.compile) == (False, 0.99, "none")


def test_train_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for flag in (
        "--epochs",
        "--batch-size",
        "--precision",
        "--resume",
        "--checkpoint-dir",
        "--random-erasing",
    ):
        assert flag in out


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--epochs", "-2"], "epochs must be at least 1"),
        (["--batch-size", "1000", "--n-train", "500"], "larger than the training set"),
    ],
)
def test_invalid_training_settings_exit_with_a_message(capsys, flags, message):
    assert main(["train", *flags]) == 2
    assert message in capsys.readouterr().err


def test_unknown_model_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "resnet9000"])
    assert (
        exc.value.code == 2
        and "invalid choice: 'resnet9000'" in capsys.readouterr().err
    )


def test_train_runs_checkpoints_and_resumes(tmp_path, capsys):
    history = tmp_path / "h.json"
    flags = [
        *TINY_FLAGS,
        "--checkpoint-dir",
        str(tmp_path / "ck"),
        "--history-json",
        str(history),
    ]
    assert main(["train", *flags]) == 0
    out = capsys.readouterr().out
    assert "final test accuracy" in out and (tmp_path / "ck" / "last.pt").is_file()
    assert json.loads(history.read_text())["history"]["epoch"] == [1]
    assert main(["train", *flags, "--resume"]) == 0  # already finished: returns at once
    assert main(["train", *flags, "--resume", "--lr", "0.3"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_bench_prints_the_figures_it_promises(tmp_path, capsys):
    out_json = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "--profile",
                "smoke",
                "--device",
                "cpu",
                "--recipes",
                "fast",
                "--no-progress",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    for column in (
        "time to 91.4 %",
        "final test acc",
        "images/s",
        "peak GPU mem",
        "warm-up",
    ):
        assert column in out, f"bench output lacks {column!r}"
    row = json.loads(out_json.read_text())["rows"][0]
    assert (
        row["recipe"] == "fast"
        and 0 <= row["final_acc"] <= 1
        and row["images_per_second"] > 0
    )


def test_bench_rejects_an_unknown_recipe(capsys):
    assert main(["bench", "--recipes", "d2l,turbo"]) == 2
    assert "unknown recipe(s) turbo" in capsys.readouterr().err
