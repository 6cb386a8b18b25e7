"""``python -m resnet_course reproduce``: the stored files, resuming, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resnet_course.experiments import experiments
from resnet_course.results import (
    check_schema,
    load_result,
    partial_path,
    result_path,
    write_json_atomically,
)

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "RESNET_COURSE_NO_DOWNLOAD": "1"}


def reproduce(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "resnet_course",
            "reproduce",
            *args,
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )


def test_help_lists_every_experiment_with_its_expected_minutes():
    out = subprocess.run(
        [sys.executable, "-m", "resnet_course", "reproduce", "--help"],
        capture_output=True,
        text=True,
        env=ENV,
    ).stdout
    for name, exp in experiments().items():
        line = next(
            line for line in out.splitlines() if line.startswith(name + " ")
        )
        assert f"{exp.minutes['long']:.1f}" in line, line


def test_reproduce_all_at_smoke_size_writes_every_result_with_provenance(
    tmp_path,
):
    done = reproduce("all", "--size", "smoke", "--results", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    for name in experiments():
        result = json.loads(result_path(name, "smoke", tmp_path).read_text())
        assert check_schema(result) == [], name
        assert result["experiment"] == name and result["size"] == "smoke"
        assert sorted({r["seed"] for r in result["runs"]}) == [0, 1, 2]
        p = result["provenance"]
        assert p["command"].endswith(f"reproduce {name} --size smoke --seeds 3")
        assert p["device"].startswith("CPU") and p["wall_seconds"] > 0
        assert len(p["commit"]) >= 40 or p["commit"].startswith("unknown")
        assert not partial_path(name, "smoke", tmp_path).exists()
    assert not list(tmp_path.rglob("*.tmp"))
    # final chose its recipe from the ablation in the same --results folder
    final = json.loads(result_path("final", "smoke", tmp_path).read_text())
    assert {r["settings"]["chosen_on"] for r in final["runs"]} == {"smoke"}


def test_a_killed_run_continues_where_it_stopped(tmp_path):
    partial = partial_path("mlp_degradation", "smoke", tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "resnet_course",
        "reproduce",
        "mlp_degradation",
        "--size",
        "smoke",
        "--results",
        str(tmp_path),
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (
        partial.exists() and len(json.loads(partial.read_text())["runs"]) >= 2
    ):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {r["key"]: r for r in json.loads(partial.read_text())["runs"]}
    assert not result_path("mlp_degradation", "smoke", tmp_path).exists()
    total = len(
        experiments()["mlp_degradation"].plan(
            experiments()["mlp_degradation"].sizes["smoke"], 3
        )
    )
    assert 2 <= len(before) < total
    again = reproduce(
        "mlp_degradation", "--size", "smoke", "--results", str(tmp_path)
    )
    assert again.returncode == 0, again.stderr
    assert f"{total - len(before)} of {total} runs to do" in again.stdout
    result = load_result("mlp_degradation", "smoke", tmp_path)
    after = {r["key"]: r for r in result["runs"]}
    assert len(after) == total and not partial.exists()
    assert all(after[k] == r for k, r in before.items())  # reused, not rerun


@pytest.mark.parametrize(
    "args, message",
    [
        (("no_such_experiment",), "unknown experiment 'no_such_experiment'"),
        (("identity", "--size", "huge"), "invalid choice: 'huge'"),
        (("identity", "--seeds", "0"), "--seeds must be at least 1"),
        (("identity", "--device", "tpu"), "--device must be auto, cpu or cuda"),
    ],
)
def test_bad_input_is_one_clear_message(args, message, tmp_path):
    done = reproduce(*args, "--results", str(tmp_path))
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_results_folder_is_refused_before_any_run(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    done = reproduce(
        "identity", "--size", "smoke", "--results", str(blocker / "x")
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        "cannot write results into" in done.stderr and "--results" in done.stderr
    )
    assert "runs to do" not in done.stdout


def test_a_partial_file_from_other_settings_is_not_mixed_in(tmp_path):
    partial = partial_path("identity", "smoke", tmp_path)
    write_json_atomically(
        {
            "experiment": "identity",
            "size": "smoke",
            "settings": {"steps": 1},
            "runs": [],
        },
        partial,
    )
    done = reproduce("identity", "--size", "smoke", "--results", str(tmp_path))
    assert done.returncode == 1 and "other settings" in done.stderr
    assert "Traceback" not in done.stderr and partial.exists()


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary_one(tmp_path):
    path = tmp_path / "x" / "smoke.json"
    write_json_atomically({"ok": 1}, path)
    with pytest.raises(TypeError):
        write_json_atomically({"not json": object()}, path)
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in path.parent.iterdir()] == ["smoke.json"]


def test_every_committed_result_is_complete():
    root = Path(__file__).resolve().parents[1] / "results"
    for path in root.glob("*/[!.]*.json"):
        if (
            path.parent.name == "bench"
        ):  # the benchmark's rows: tests/test_benchmarks.py
            continue
        result = json.loads(path.read_text())
        assert check_schema(result) == [], path
        assert (
            path.stem == result["size"]
            and path.parent.name == result["experiment"]
        )


def test_no_progress_silences_the_training_loops_bars_too(tmp_path):
    # preact trains through training.train_classifier, whose bar has its own switch
    done = reproduce(
        "preact", "--size", "smoke", "--seeds", "1", "--results", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "it/s" not in done.stderr and "%|" not in done.stderr, done.stderr[
        -500:
    ]


def test_a_stored_run_made_with_other_settings_is_run_again(tmp_path):
    # The final model's recipe is chosen from the stored ablation: when a later call
    # completes the ablation and the choice changes, the final runs kept from before
    # must not be mixed into the new result.
    first = reproduce(
        "final", "--size", "smoke", "--seeds", "1", "--results", str(tmp_path)
    )
    assert first.returncode == 0, first.stderr
    path = tmp_path / "final" / "smoke.json"
    stored = json.loads(path.read_text())
    stored["runs"][0]["settings"]["dropped"] = [
        "no random erasing"
    ]  # another recipe
    path.write_text(json.dumps(stored))
    again = reproduce(
        "final", "--size", "smoke", "--seeds", "1", "--results", str(tmp_path)
    )
    assert again.returncode == 0, again.stderr
    assert "1 stored run(s) made with other settings, run again" in again.stdout
    assert json.loads(path.read_text())["runs"][0]["settings"]["dropped"] == []
