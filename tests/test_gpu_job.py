"""The GPU job (tools/gpu_job.py), its preflight and the carry check, with small fake
steps: no GPU, no training, a few seconds in all."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from resnet_course import results

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "tools" / "gpu_job.py"
PREFLIGHT = ROOT / "tools" / "gpu_preflight.py"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def run_job(
    tmp_path: Path, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess:
    out, work = tmp_path / "out", tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    return subprocess.run(
        [
            sys.executable,
            str(JOB),
            "--no-setup",
            "--out",
            str(out),
            "--work",
            str(work),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def members(tar_path: Path) -> list[str]:
    with tarfile.open(tar_path) as tar:
        return tar.getnames()


def test_a_failing_or_hanging_step_does_not_stop_the_job(tmp_path):
    # 'check' runs after 'made' and sees made's file already packed into $OUT.
    result = run_job(
        tmp_path,
        "--steps",
        "",
        "--budget",
        "60",
        "--reserve",
        "1",
        "--add",
        "made=echo made > $GPU_RUN/made.txt",
        "--add",
        "boom=echo going down; exit 3",
        "--add",
        "hang:2=sleep 60",
        "--add",
        "check=tar -tzf $OUT/results.tar.gz | grep -q gpu-run/made.txt && echo seen",
        "--add",
        "after=echo after > $GPU_RUN/after.txt",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    status = {s["name"]: s["status"] for s in summary["steps"]}
    assert status == {
        "+made": "ok",
        "+boom": "failed (rc 3)",
        "+hang": "timeout",
        "+check": "ok",
        "+after": "ok",
    }
    hang = next(s for s in summary["steps"] if s["name"] == "+hang")
    assert 2 <= hang["seconds"] < 15  # killed at its own limit
    names = members(tmp_path / "out" / "results.tar.gz")
    assert {
        "gpu-run/made.txt",
        "gpu-run/after.txt",
        "gpu-run/logs/+boom.log",
    } <= set(names)
    assert "going down" in (tmp_path / "out" / "job.log").read_text()


def test_the_summary_table_is_printed_last(tmp_path):
    result = run_job(
        tmp_path,
        "--steps",
        "",
        "--add",
        "one=echo first",
        "--add",
        "two=echo second; exit 1",
    )
    table = (tmp_path / "out" / "summary.txt").read_text().strip().splitlines()
    printed = result.stdout.strip().splitlines()
    assert printed[-len(table) :] == table
    assert table[0].split()[:3] == ["step", "status", "seconds"]
    assert re.search(r"\+two\s+failed \(rc 1\)", "\n".join(table))
    assert "1 of 2 steps ok" in table[-1]


def test_steps_without_time_left_are_skipped_and_named_for_the_next_call(
    tmp_path,
):
    # A budget too small for any real step: nothing is started, every step is named.
    result = run_job(
        tmp_path,
        "--budget",
        "5",
        "--reserve",
        "0",
        "--steps",
        "bench,reproduce-final,chapters",
        "--best-seeds",
        "3",
    )
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [s["status"] for s in summary["steps"]] == ["skipped"] * 8
    assert "bench,reproduce-final,chapter-01" in summary["rerun"]
    assert summary["rerun"].endswith(
        "--best-seeds 3"
    ), "the next call keeps the flags"
    assert "next call: python3 tools/gpu_job.py --steps bench," in result.stdout


def test_out_stays_within_what_a_device_call_brings_back(tmp_path):
    run_job(
        tmp_path,
        "--steps",
        "",
        *[f"--add=s{i}=echo {i} > $GPU_RUN/f{i}.txt" for i in range(12)],
    )
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(files) <= 8
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in files)
    assert all(p.parent == tmp_path / "out" for p in files)


def test_the_plan_runs_in_the_order_of_value():
    job = load(JOB)
    names = [s.name for s in job.default_steps("gpu", 1, "auto", Path("/tmp"))]
    assert names[0] == "bench"
    assert (
        names.index("reproduce-final")
        < names.index("best")
        < names.index("chapter-01")
    )
    # final chooses its recipe from the ablation's stored result: ablation runs first,
    # also in the parallel step, where the two run one after the other.
    assert names.index("reproduce-ablation") < names.index("reproduce-final")
    steps = {s.name: s for s in job.default_steps("gpu", 1, "auto", Path("/tmp"))}
    parallel = steps["reproduce-parallel"].argv[-1]
    assert "(for n in ablation final; do" in parallel and "|| exit 1" in parallel
    assert all(
        s.limit <= 570 for s in job.default_steps("gpu", 1, "auto", Path("/tmp"))
    )
    # The best recipe runs as many seeds (1 to 3) as fit in what is left.
    best = next(
        s
        for s in job.default_steps("gpu", 1, "auto", Path("/tmp"))
        if s.name == "best"
    )
    assert best.argv(200)[best.argv(200).index("--seeds") + 1] == "1"
    assert best.argv(350)[best.argv(350).index("--seeds") + 1] == "2"
    assert best.argv(600)[best.argv(600).index("--seeds") + 1] == "3"


def test_listing_the_plan_writes_nothing(tmp_path):
    job = load(JOB)
    out, work = tmp_path / "out", tmp_path / "work"
    (work / "gpu-run").mkdir(parents=True)
    (work / "gpu-run" / "kept").write_text("an earlier run's file")
    assert job.main(["--list", "--out", str(out), "--work", str(work)]) == 0
    assert not out.exists() and (work / "gpu-run" / "kept").exists()


def test_without_carry_the_job_says_to_run_make_gpu_carry(
    tmp_path, capsys, monkeypatch
):
    job = load(JOB)
    monkeypatch.setattr(job, "CARRY", tmp_path / "no-carry")
    j = job.Job(tmp_path / "out", tmp_path / "work", 100, 0, {})
    (tmp_path / "work").mkdir()
    steps = job.setup_steps(j, sys.executable, False, tmp_path / "site", None)
    assert steps[0].name == "wheels" and steps[0].status == "failed"
    assert "make gpu-carry" in capsys.readouterr().out


def preflight(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PREFLIGHT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_preflight_lists_every_missing_module_in_one_go(tmp_path):
    # A package that is there but needs one that is not: found through its metadata.
    (tmp_path / "fakepkg_gpu_job.py").write_text("")
    info = tmp_path / "fakepkg_gpu_job-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakepkg_gpu_job\nVersion: 1.0\n"
        "Requires-Dist: no-such-dependency-xyz\n"
        "Requires-Dist: other-extra-xyz; extra == 'docs'\n"
    )
    result = preflight(
        "--group",
        "core",
        "--no-data",
        "--need",
        "no_such_module_abc",
        "--need",
        "no_such_module_def",
        "--need",
        "fakepkg_gpu_job",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1
    out = result.stdout
    assert "missing module: no_such_module_abc" in out
    assert "missing module: no_such_module_def" in out
    assert (
        "no-such-dependency-xyz (distribution no-such-dependency-xyz; required by fakepkg-gpu-job"
        in out
    )
    assert "other-extra-xyz" not in out
    assert "make gpu-carry" in out


def test_preflight_reports_missing_data(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"x")
    result = preflight("--group", "core", "--data", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.count("missing data:") == 3


def make_carry(
    folder: Path, mib: float, wheels=("d2l-1.0.3-py3-none-any.whl",)
) -> Path:
    (folder / "wheels").mkdir(parents=True)
    for name in wheels:
        (folder / "wheels" / name).write_bytes(b"w")
    with open(folder / "big.bin", "wb") as f:
        # sparse: its size counts, no disk is used
        f.truncate(int(mib * 1024 * 1024))
    return folder


def test_the_carry_check_refuses_more_than_a_call_may_send(tmp_path):
    big = make_carry(tmp_path / "big", 65)
    result = preflight("--carry", str(big))
    assert result.returncode == 1
    assert "too large" in result.stdout and "of the 64 MiB" in result.stdout
    small = make_carry(tmp_path / "small", 0.5)
    ok = preflight("--carry", str(small), env={"GPU_CARRY_LIMIT_MIB": "500"})
    assert ok.returncode == 0, ok.stdout
    assert "carry: OK" in ok.stdout
    tight = preflight("--carry", str(small), env={"GPU_CARRY_LIMIT_MIB": "0.1"})
    assert tight.returncode == 1


def test_the_carry_check_refuses_two_versions_of_a_wheel(tmp_path):
    carry = make_carry(
        tmp_path / "c",
        0,
        wheels=("tornado-6.5-py3-none-any.whl", "tornado-6.6.1-py3-none-any.whl"),
    )
    result = preflight("--carry", str(carry), env={"GPU_CARRY_LIMIT_MIB": "500"})
    assert result.returncode == 1
    assert "two versions of tornado" in result.stdout


@pytest.mark.parametrize("script", ["gpu_execute.sh", "gpu_bench.sh"])
def test_the_old_entry_points_say_to_run_make_gpu_carry_without_carry(
    tmp_path, script
):
    env = {
        **os.environ,
        "GPU_JOB_CARRY": str(tmp_path / "none"),
        "OUT": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(ROOT / "tools" / script)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert result.returncode != 0
    assert "make gpu-carry" in result.stdout + result.stderr


def test_a_step_killed_at_its_limit_takes_its_own_sessions_along(tmp_path):
    # Like a Jupyter kernel: a child in a session of its own, outside the step's group.
    run_job(
        tmp_path,
        "--steps",
        "",
        "--add",
        "orphan:2=setsid sleep 300 & echo $! > $GPU_RUN/pid; wait",
    )
    pid = int((tmp_path / "work" / "gpu-run" / "pid").read_text())
    assert (
        not Path(f"/proc/{pid}").exists()
        or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    )


def test_notebook_channels_are_polled_in_slices(monkeypatch):
    # A reply whose wake-up the first poll misses is still read within one slice.
    import asyncio
    from queue import Empty

    job = load(JOB)
    calls = []

    async def get_msg(self, timeout=None):
        calls.append(timeout)
        if len(calls) < 3:
            raise Empty
        return {"msg": "reply"}

    sliced = job.polling(get_msg, every=0.01)
    assert asyncio.run(sliced(None, 100)) == {"msg": "reply"}
    assert calls == [0.01, 0.01, 0.01]
    calls.clear()

    async def never(self, timeout=None):
        calls.append(timeout)
        await asyncio.sleep(timeout)
        raise Empty

    with pytest.raises(Empty):
        asyncio.run(job.polling(never, every=0.01)(None, 0.05))
    assert 3 <= len(calls) <= 10


def test_progress_bars_reach_the_output_as_their_last_frame(tmp_path):
    bar = r"printf 'a  0%%\rb 50%%\rc 100%%\r   \r\ndone\n'"
    run_job(tmp_path, "--steps", "", "--add", f"bar={bar}")
    shown = (tmp_path / "out" / "job.log").read_bytes()  # what stdout got, too
    assert b"\nc 100%\ndone\n" in shown and b"\r" not in shown
    own = (tmp_path / "work" / "gpu-run" / "logs" / "+bar.log").read_bytes()
    assert b"b 50%" in own  # the step's own log keeps every frame


def test_each_experiments_time_limit_is_one_and_a_half_times_its_estimate():
    # gpu_job uses the standard library only, so it cannot read the estimates itself.
    from resnet_course.experiments import experiments

    job = load(JOB)
    for name, limit in job.EXPERIMENT_LIMITS.items():
        per_seed = experiments()[name].minutes["gpu"] * 60 / 3
        assert limit == round(
            1.5 * per_seed
        ), f"{name}: {limit} s, estimate {per_seed} s"


def test_results_made_on_the_device_name_the_carried_commit(
    tmp_path, monkeypatch
):
    # The device's copy of the tree has no .git: without the carried commit every
    # result's provenance would say "unknown (not a git checkout)".
    job = load(JOB)
    monkeypatch.setattr(job, "CARRY", tmp_path)
    (tmp_path / "commit").write_text("0123abc-dirty\n")
    env = job.child_env(None, None, tmp_path / "run", tmp_path / "out")
    assert env["RESNET_COURSE_COMMIT"] == "0123abc-dirty"
    (tmp_path / "commit").unlink()
    monkeypatch.delenv("RESNET_COURSE_COMMIT", raising=False)
    assert "RESNET_COURSE_COMMIT" not in job.child_env(
        None, None, tmp_path, tmp_path
    )
    assert job.COMMIT_ENV_VAR == results.COMMIT_ENV_VAR  # what git_commit reads


def test_each_chapter_step_records_its_time_and_the_record_comes_back(
    tmp_path, monkeypatch
):
    # The T4 estimate (tools/GPU.md) is made from each chapter's recorded GPU time.
    job = load(JOB)
    chapters = [
        s
        for s in job.default_steps("gpu", 1, "auto", Path("/tmp"))
        if s.name.startswith("chapter-")
    ]
    assert chapters
    for step in chapters:
        argv = step.argv(500)
        assert argv[argv.index("--record") + 1].endswith("results/execution.json")
    root, work = tmp_path / "tree", tmp_path / "work"
    monkeypatch.setattr(job, "ROOT", root)
    (root / "results").mkdir(parents=True)
    (work / "gpu-run").mkdir(parents=True)
    (root / "results" / "execution.json").write_text("{}")
    j = job.Job(tmp_path / "out", work, 100, 0, {})
    j.out.mkdir()
    job.collect(j, "gpu", since=0)
    assert "results/execution.json" in members(j.out / "results.tar.gz")


def test_final_never_runs_without_the_ablation_it_chooses_from(tmp_path):
    # Without results/ablation/SIZE.json, reproduce would train the recipe "as designed"
    # and store it as the chapter's final model.
    job = load(JOB)
    step = {s.name: s for s in job.default_steps("gpu", 3, "auto", tmp_path)}[
        "reproduce-final"
    ]
    done = subprocess.run(step.argv, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == job.WAIT_RC
    assert "final waits for results/ablation/gpu.json" in done.stdout
    # ... and the next call's line names it again, as a step not reached.
    j = job.Job(tmp_path / "out", tmp_path / "work", 100, 0, {})
    step.status = "waiting"
    j.steps = [step]
    rerun = job.rerun_command(j, job.parse_args(["--best-seeds", "auto"]))
    assert rerun and "reproduce-final" in rerun


def test_without_what_compile_needs_bench_and_best_run_uncompiled(
    tmp_path, monkeypatch, capsys
):
    """The compile check marks a machine where torch.compile cannot build GPU
    kernels; bench and best then ask for --compile none (and only then)."""
    job, pre = load(JOB), load(PREFLIGHT)
    steps = {s.name: s for s in job.default_steps("gpu", 1, "3", tmp_path)}
    for name in ("bench", "best"):
        assert "--compile" not in steps[name].argv(600)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(pre.shutil, "which", lambda name: None)
    monkeypatch.delenv("CC", raising=False)
    marker = tmp_path / job.COMPILE_FAILED
    assert pre.compile_check(marker) == 1
    assert "a C compiler" in marker.read_text()
    assert "bench and best run with --compile none" in capsys.readouterr().out
    for name in ("bench", "best"):
        argv = steps[name].argv(600)
        assert argv[argv.index("--compile") + 1] == "none"


def test_the_compile_check_passes_where_nothing_is_missing(tmp_path, monkeypatch):
    pre = load(PREFLIGHT)
    monkeypatch.setattr(pre, "compile_gaps", lambda: [])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    marker = tmp_path / "compile.failed"
    marker.write_text("from an earlier run")
    assert pre.compile_check(marker) == 0 and not marker.exists()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pre.compile_check(marker) == 0 and not marker.exists()
