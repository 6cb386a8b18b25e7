"""``python -m resnet_course train`` and ``bench``: flags, errors before work, and a
tiny real run."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
import torch

from resnet_course import checkpoint, data
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


#: The defaults the chapter and the --help text promise, written out (not read from
#: TrainConfig), so a changed default is noticed.
DOCUMENTED_DEFAULTS = dict(
    model="cifar_resnet18",
    width=64,
    resize=0,
    epochs=8,
    batch_size=512,
    lr=0.4,
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-4,
    schedule="onecycle",
    warmup=0.2,
    label_smoothing=0.1,
    augment=True,
    crop_pad=2,
    random_erasing=0.0,
    ema=0.0,
    tta=True,
    precision="auto",
    channels_last="auto",
    compile="auto",
    warmup_steps=3,
    seed=0,
    deterministic=False,
    sync_batchnorm=False,
    n_train=0,
    n_test=0,
    eval_batch_size=1000,
    device="auto",
    checkpoint_dir="checkpoints",
    resume=False,
    check_every=25,
    target_acc=0.914,
    progress=True,
    live_plot=False,
    verbose=False,
)


def test_every_training_setting_is_a_flag_with_the_documented_default():
    assert dataclasses.asdict(TrainConfig()) == DOCUMENTED_DEFAULTS
    args = vars(build_parser().parse_args(["train"]))
    for name, documented in DOCUMENTED_DEFAULTS.items():
        # the CLI prints epochs
        expected = True if name == "verbose" else documented
        assert (
            args[name] == expected
        ), f"--{name.replace('_', '-')} default differs"
    flipped = build_parser().parse_args(
        ["train", "--no-augment", "--ema", "0.99", "--compile", "none"]
    )
    assert (flipped.augment, flipped.ema, flipped.compile) == (
        False,
        0.99,
        "none",
    )


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
        (
            ["--batch-size", "1000", "--n-train", "500"],
            "larger than the training set",
        ),
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
    assert (
        "final test accuracy" in out and (tmp_path / "ck" / "last.pt").is_file()
    )
    assert json.loads(history.read_text())["history"]["epoch"] == [1]
    # already finished: returns at once
    assert main(["train", *flags, "--resume"]) == 0
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
    stored = json.loads(out_json.read_text())
    row = stored["rows"][0]
    assert (
        row["recipe"] == "fast"
        and 0 <= row["final_acc"] <= 1
        and row["images_per_second"] > 0
    )
    # The JSON says where it came from, as every stored result does.
    made = stored["meta"]["provenance"]
    assert made["command"].startswith(
        "python -m resnet_course bench --profile smoke"
    )
    assert made["device"] == row["device"] and made["wall_seconds"] > 0
    assert made["commit"] and made["date"] and made["torch"]


def test_a_copy_without_git_names_the_commit_it_was_made_from(
    tmp_path, monkeypatch
):
    # The lent GPU machine runs a copy of the tree with no .git; tools/gpu_job.py sets
    # the carried commit in the environment.
    from resnet_course import results

    monkeypatch.setattr(
        results, "__file__", str(tmp_path / "code" / "x" / "r.py")
    )
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.delenv(results.COMMIT_ENV_VAR, raising=False)
    assert results.git_commit() == "unknown (not a git checkout)"
    monkeypatch.setenv(results.COMMIT_ENV_VAR, "0123abc")
    assert results.git_commit() == "0123abc"


def test_dirty_names_changes_under_the_paths_that_ran(tmp_path, monkeypatch):
    # A result's provenance looks at code/ only; a GPU call's copy (tools/tree_commit.py)
    # also at tools/ and book/, which the device job runs.
    import subprocess

    from resnet_course import results

    def git(*args):
        subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True
        )

    git("init", "-q")
    for folder in ("code", "tools"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "f.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    monkeypatch.setattr(
        results, "__file__", str(tmp_path / "code" / "x" / "r.py")
    )
    (tmp_path / "tools" / "f.py").write_text("x = 2\n")
    assert not results.git_commit().endswith("-dirty")
    assert results.git_commit(("code", "tools")).endswith("-dirty")
    (tmp_path / "code" / "f.py").write_text("x = 2\n")
    assert results.git_commit().endswith("-dirty")


def test_bench_rejects_an_unknown_recipe(capsys):
    assert main(["bench", "--recipes", "d2l,turbo"]) == 2
    assert "unknown recipe(s) turbo" in capsys.readouterr().err


# --- the command line as a user meets it: a real process, its exit code and stderr ---


TINY = [
    "--width",
    "4",
    "--n-train",
    "128",
    "--n-test",
    "64",
    "--batch-size",
    "64",
    "--device",
    "cpu",
    "--no-progress",
]

#: Run as root, chmod cannot take access away; this prelude makes the folder given as
#: its first argument refuse access as the kernel would (all of it when unreadable,
#: writing when read-only), then runs the command line.
DENY_PRELUDE = textwrap.dedent("""
    import os, runpy, sys
    denied, mode = os.path.abspath(sys.argv.pop(1)), sys.argv.pop(1)
    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT
    def guard(real, writes):
        def call(path, *args, **kwargs):
            if isinstance(path, (str, bytes, os.PathLike)):
                p = os.path.abspath(os.fsdecode(path))
                inside = p == denied or p.startswith(denied + os.sep)
                flags = args[0] if args and isinstance(args[0], int) else WRITE
                if inside and (mode == "unreadable" or (writes and flags & WRITE)):
                    raise PermissionError(13, "Permission denied", p)
            return real(path, *args, **kwargs)
        return call
    for name in ("stat", "open", "scandir", "listdir", "mkdir"):
        setattr(os, name, guard(getattr(os, name), name in ("open", "mkdir")))
    sys.argv[0] = "python -m resnet_course"
    runpy.run_module("resnet_course", run_name="__main__", alter_sys=True)
    """)


def run_cli(*args, env=None, denied=None, mode="unreadable", timeout=300):
    """``python -m resnet_course *args`` in a fresh process; ``denied``: a folder this
    user may not read (``mode="unreadable"``) or not write (``"read-only"``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    env["RESNET_COURSE_NO_DOWNLOAD"] = "1"
    command = [sys.executable, "-m", "resnet_course", *map(str, args)]
    if denied is not None and os.geteuid() == 0:
        command = [sys.executable, "-c", DENY_PRELUDE, str(denied), mode]
        command += list(map(str, args))
    elif denied is not None:
        os.chmod(denied, 0o000 if mode == "unreadable" else 0o500)
    try:
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout
        )
    finally:
        if denied is not None and os.geteuid() != 0:
            os.chmod(denied, 0o755)


def assert_one_clear_error(proc, code, *phrases):
    """Exit ``code``, an ``error:`` message holding ``phrases``, and no traceback."""
    out = proc.stdout + proc.stderr
    assert (
        proc.returncode == code
    ), f"exit {proc.returncode}, wanted {code}:\n{out}"
    assert "Traceback" not in out, f"a traceback reached the user:\n{out}"
    assert proc.stderr.count("error:") == 1, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, f"{phrase!r} missing from:\n{proc.stderr}"


def data_copy(fashion_dir, folder, damaged=None):
    """A data folder of links to the real files, with ``damaged`` (a stem) copied."""
    folder.mkdir()
    for stem in data.FILES:
        source = data._file_in(fashion_dir, stem)
        if stem == damaged:
            (folder / source.name).write_bytes(source.read_bytes())
        else:
            (folder / source.name).symlink_to(source.resolve())
    return folder


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """The checkpoint folder of a finished one-epoch run (made once: it costs a few
    seconds)."""
    folder = tmp_path_factory.mktemp("finished") / "ck"
    proc = run_cli("train", *TINY, "--epochs", "1", "--checkpoint-dir", folder)
    assert proc.returncode == 0, proc.stderr
    return folder


def test_a_corrupt_gzip_stream_is_one_clear_error(fashion_dir, tmp_path):
    stem = "t10k-labels-idx1-ubyte"
    raw = data._file_in(fashion_dir, stem).read_bytes()
    for pos in range(20, len(raw) - 8):  # a bit flip that breaks the deflate data
        flipped = bytearray(raw)
        flipped[pos] ^= 1
        try:
            gzip.decompress(bytes(flipped))
        except zlib.error:
            break
        except OSError:
            continue
    folder = data_copy(fashion_dir, tmp_path / "data", damaged=stem)
    (folder / f"{stem}.gz").write_bytes(bytes(flipped))
    proc = run_cli("data", "--root", folder)
    assert_one_clear_error(proc, 1, f"{stem}.gz is corrupt", "Delete or replace")
    proc = run_cli(
        "train",
        *TINY,
        "--checkpoint-dir",
        tmp_path / "ck",
        env={"FASHION_MNIST_DIR": str(folder)},
    )
    assert_one_clear_error(proc, 1, f"{stem}.gz is corrupt")


def test_missing_data_is_one_clear_error_for_train_and_bench(
    tmp_path, fashion_dir
):
    env = {"FASHION_MNIST_DIR": str(tmp_path / "no-such-folder")}
    proc = run_cli("train", *TINY, "--checkpoint-dir", tmp_path / "ck", env=env)
    assert_one_clear_error(proc, 1, "no-such-folder", "does not exist", "apt-get")
    proc = run_cli(
        "bench",
        "--profile",
        "smoke",
        "--device",
        "cpu",
        "--recipes",
        "fast",
        "--no-progress",
        env=env,
    )
    assert_one_clear_error(proc, 1, "does not exist")
    folder = data_copy(fashion_dir, tmp_path / "data")
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    proc = run_cli(
        "train",
        *TINY,
        "--checkpoint-dir",
        tmp_path / "ck",
        env={"FASHION_MNIST_DIR": str(folder)},
    )
    assert_one_clear_error(proc, 1, "lacks train-labels-idx1-ubyte")


def test_a_data_folder_that_cannot_be_listed_is_one_clear_error(
    tmp_path, fashion_dir
):
    folder = data_copy(fashion_dir, tmp_path / "data")
    proc = run_cli(
        "train",
        *TINY,
        "--checkpoint-dir",
        tmp_path / "ck",
        env={"FASHION_MNIST_DIR": str(folder)},
        denied=folder,
    )
    assert_one_clear_error(proc, 1, str(folder), "cannot be read", "read access")


def test_a_new_run_refuses_to_replace_a_finished_one(finished_run, tmp_path):
    before = (finished_run / "last.pt").read_bytes()
    proc = run_cli(
        "train", *TINY, "--epochs", "1", "--checkpoint-dir", finished_run
    )
    assert_one_clear_error(proc, 2, "last.pt", "--resume", "--overwrite")
    assert (
        finished_run / "last.pt"
    ).read_bytes() == before, "the run was changed"
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / "last.pt").write_bytes(before)
    proc = run_cli(
        "train", *TINY, "--epochs", "1", "--checkpoint-dir", folder, "--overwrite"
    )
    assert proc.returncode == 0, proc.stderr
    assert (folder / "last.pt").read_bytes() != before


def test_a_folder_in_use_by_another_run_is_refused(tmp_path):
    folder = tmp_path / "ck"
    with checkpoint.run_folder(folder):  # this process is the other run
        proc = run_cli(
            "train", *TINY, "--epochs", "1", "--checkpoint-dir", folder
        )
    assert_one_clear_error(proc, 2, "another run", f"process {os.getpid()}")
    assert not (folder / "last.pt").exists()


def test_bad_output_paths_fail_before_training(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    proc = run_cli("train", *TINY, "--epochs", "1", "--checkpoint-dir", a_file)
    assert_one_clear_error(proc, 2, "a-file is a file, not a folder")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    proc = run_cli(
        "train",
        *TINY,
        "--epochs",
        "1",
        "--checkpoint-dir",
        read_only / "ck",
        denied=read_only,
        mode="read-only",
    )
    assert_one_clear_error(proc, 2, "cannot be written")
    for history in (tmp_path / "no-folder" / "h.json", read_only / "h.json"):
        proc = run_cli(
            "train",
            *TINY,
            "--epochs",
            "1",
            "--checkpoint-dir",
            tmp_path / "ck",
            "--history-json",
            history,
            denied=read_only if history.parent == read_only else None,
            mode="read-only",
        )
        assert_one_clear_error(proc, 2, "--history-json", str(history))
        assert (
            "epoch" not in proc.stdout
        ), "training ran before the path was checked"
        assert not (tmp_path / "ck" / "last.pt").exists()
    proc = run_cli(
        "bench",
        "--profile",
        "smoke",
        "--recipes",
        "fast",
        "--json",
        tmp_path / "no-folder" / "b.json",
    )
    assert_one_clear_error(proc, 2, "--json", "does not exist")


def _damage(kind, folder, good):
    path = folder / "last.pt"
    if kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "not a checkpoint":
        path.write_text("these are my notes, not a checkpoint\n")
    elif kind == "flipped byte in the weights":
        flipped = bytearray(good)
        flipped[len(good) // 2] ^= 0x10
        path.write_bytes(bytes(flipped))
    else:
        state = checkpoint.load_checkpoint(folder)
        if kind == "older format":
            import torch

            torch.save(state, path)  # no header, no checksum
        elif kind == "older config":
            del state["config"]["check_every"]
            checkpoint.save_checkpoint(state, folder)
        elif kind == "code, not data":
            state["history"] = argparse.Namespace(epoch=[1])
            checkpoint.save_checkpoint(state, folder)


@pytest.mark.parametrize(
    "kind,says",
    [
        ("truncated", "is corrupt"),
        ("empty", "is empty"),
        ("not a checkpoint", "is not a resnet_course checkpoint"),
        ("flipped byte in the weights", "do not match the checksum"),
        ("older format", "older version"),
        ("older config", "lack check_every"),
        ("code, not data", "weights_only"),
    ],
)
def test_a_damaged_checkpoint_is_one_clear_error(
    finished_run, tmp_path, kind, says
):
    folder = tmp_path / "ck"
    folder.mkdir()
    good = (finished_run / "last.pt").read_bytes()
    (folder / "last.pt").write_bytes(good)
    _damage(kind, folder, good)
    proc = run_cli(
        "train", *TINY, "--epochs", "1", "--checkpoint-dir", folder, "--resume"
    )
    assert_one_clear_error(proc, 1, str(folder / "last.pt"), says, "--overwrite")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_keeps_the_checkpoint_and_says_how_to_resume(tmp_path):
    folder = tmp_path / "ck"
    flags = ["train", *TINY, "--epochs", "80", "--checkpoint-dir", folder]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RESNET_COURSE_NO_DOWNLOAD": "1"}
    # A command started in the background (``make test &``, nohup, some CI runners) has
    # SIGINT ignored, every child inherits that, and Python then installs no
    # KeyboardInterrupt handler: the run ignores the signal and finishes, which is how
    # this test failed in such runs. In a terminal, Ctrl-C meets the default handling;
    # so the test restores it in the child.
    proc = subprocess.Popen(
        [sys.executable, "-m", "resnet_course", *map(str, flags)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 120
    while not (folder / "last.pt").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within two minutes"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    proc.stdout, proc.stderr = stdout, stderr
    assert_one_clear_error(
        proc, 130, "interrupted", str(folder / "last.pt"), "--resume"
    )
    kept = checkpoint.load_checkpoint(folder)
    assert 1 <= kept["epoch"] < 80, "the checkpoint was lost"
    (folder / ".last.pt.killed-save.tmp").write_bytes(b"half a checkpoint")
    proc = run_cli(*flags, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "epoch   1/80" not in proc.stdout, "the resumed run started over"
    assert checkpoint.load_checkpoint(folder)["epoch"] == 80
    assert not list(folder.glob("*.tmp")), "the stale temporary file was kept"


@pytest.mark.parametrize(
    "flags,message",
    [
        (
            ["--recipes", "best", "--seeds", "0"],
            "--seeds: must be at least 1, got 0",
        ),
        (["--fast-epochs", "0"], "--fast-epochs: must be at least 1, got 0"),
        (["--best-epochs", "-3"], "--best-epochs: must be at least 1, got -3"),
        (
            ["--recipes", "d2l,fast", "--fast-epochs", "x"],
            "must be a whole number",
        ),
    ],
)
def test_bench_rejects_bad_counts_before_running_anything(flags, message):
    proc = run_cli("bench", "--profile", "smoke", "--device", "cpu", *flags)
    assert_one_clear_error(proc, 2, message)
    assert "d2l:" not in proc.stdout, "the d2l baseline ran before the check"


def test_a_run_killed_mid_epoch_resumes_to_the_very_same_weights(tmp_path):
    """SIGKILL in the middle of epoch 2 of 3, in a separate process; ``--resume`` must
    continue from the epoch-1 checkpoint (not start over) and end bit-identical.
    """
    flags = [
        *TINY, "--n-train", "256", "--epochs", "3", "--ema", "0.9",
        "--random-erasing", "0.5", "--deterministic", "--lr", "0.1",
    ]  # fmt: skip
    whole = run_cli("train", *flags, "--checkpoint-dir", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    folder = tmp_path / "killed"
    killed = run_cli(
        "train", *flags, "--checkpoint-dir", folder,
        env={"RESNET_COURSE_TEST_SIGKILL_AT_STEP": "6"},  # 4 steps per epoch
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "epoch   2/3" not in killed.stdout, "the kill came after epoch 2"
    at_kill = checkpoint.load_checkpoint(folder)
    assert at_kill["epoch"] == 1
    resumed = run_cli("train", *flags, "--checkpoint-dir", folder, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    # Only a resumed run skips epoch 1 and keeps the killed run's timing of it.
    assert "epoch   1/3" not in resumed.stdout and "epoch   2/3" in resumed.stdout
    a, b = (checkpoint.load_checkpoint(f) for f in (tmp_path / "whole", folder))
    assert (
        b["history"]["train_seconds"][0] == at_kill["history"]["train_seconds"][0]
    )
    assert b["history"]["epoch"] == [1, 2, 3]
    for part in ("model", "ema"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{part} {name} differs"
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
        assert a["history"][key] == b["history"][key], key
    assert a["history"]["train_loss"][-1] < a["history"]["train_loss"][0]
