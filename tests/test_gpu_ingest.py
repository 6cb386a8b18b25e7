"""tools/gpu_ingest.py takes a GPU run's files into the repository: only what a GPU
made, never over uncommitted work, nothing outside the repository.  Archives are made
here as tools/gpu_job.py packs them; the repository is a small git checkout in tmp.
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from resnet_course.experiments import experiments
from resnet_course.reproduce import normalised

ROOT = Path(__file__).resolve().parents[1]
H200 = "NVIDIA H200"


def tool():
    path = ROOT / "tools" / "gpu_ingest.py"
    spec = importlib.util.spec_from_file_location("gpu_ingest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_ingest"] = module
    spec.loader.exec_module(module)
    return module


def result(name, size, seeds, device=H200, date="2026-12-07", commit="0123abc"):
    runs = [
        dict(
            key=f"s{s}", seed=s, settings={}, metrics={}, curves={}, device=device
        )
        for s in range(seeds)
    ]
    return {
        "experiment": name,
        "size": size,
        "settings": normalised(experiments()[name].sizes[size]),
        "runs": runs,
        "provenance": dict(
            command="python -m resnet_course reproduce",
            commit=commit,
            date=f"{date}T10:00:00+00:00",
            device=device,
            torch="2.11.0",
            wall_seconds=60.0,
        ),
    }


def bench(profile: str, device: str, commit: str = "0123abc") -> dict:
    rows = [dict(recipe=r, device=device, final_acc=0.9) for r in ("d2l", "fast")]
    return {
        "meta": {"profile": profile, "provenance": {"commit": commit}},
        "rows": rows,
    }


def notebook(profile: str) -> dict:
    line = f"profile: {profile} | device: cuda = {H200}\n"
    out = {"output_type": "stream", "name": "stdout", "text": line}
    cells = [
        {"cell_type": "code", "source": "", "outputs": [out], "metadata": {}}
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def pack(path: Path, files: dict[str, object]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            data = (
                content
                if isinstance(content, bytes)
                else json.dumps(content).encode()
            )
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def call(folder: Path, results: dict[str, object]) -> Path:
    """A device call's files_at holding only results.tar.gz."""
    folder.mkdir()
    pack(folder / "results.tar.gz", results)
    return folder


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A checkout with a committed chapter, a CPU result and a chapter-time record."""
    repo = tmp_path / "repo"
    (repo / "book").mkdir(parents=True)
    (repo / "book" / "01_degradation.ipynb").write_text(
        json.dumps(notebook("cpu"))
    )
    (repo / "results" / "lesion").mkdir(parents=True)
    stored = result("lesion", "long", 3, "CPU (x86_64)", "2026-12-02")
    (repo / "results" / "lesion" / "long.json").write_text(json.dumps(stored))
    record = {"chapters": {"cpu": {"01_degradation.ipynb": {"seconds": 152}}}}
    (repo / "results" / "execution.json").write_text(json.dumps(record))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    return repo


#: A chapter time recorded here long ago, which the device's copy carries along.
OLD_CPU = {
    "commit": "e0a7274",
    "date": "2026-12-03T07:48:00+00:00",
    "device": "CPU",
}


def device_files(tmp_path, repo) -> Path:
    """What one device call brings back, made from the repository's HEAD: GPU files,
    CPU ones, a log, a stray path."""
    head = git(repo, "rev-parse", "HEAD")
    files_at = tmp_path / "files_at"
    files_at.mkdir()
    chapter_time = {
        "seconds": 30.0,
        "provenance": {
            "date": "2026-12-07T10:00:00+00:00",
            "device": H200,
            "commit": head,
        },
    }
    pack(
        files_at / "results.tar.gz",
        {
            "results/lesion/gpu.json": result("lesion", "gpu", 3, commit=head),
            "results/final/.gpu.partial.json": {
                "settings": normalised(experiments()["final"].sizes["gpu"]),
                "runs": [dict(key="s0", device=H200)],
            },
            "results/final/smoke.json": result(
                "final", "smoke", 1, "CPU (x86_64)"
            ),
            "gpu-run/bench_d2l_fast.json": bench("gpu", H200, head),
            "gpu-run/bench_best.json": bench("smoke", "CPU (x86_64)"),
            "gpu-run/logs/bench.log": b"bench log\n",
            "results/execution.json": {  # ours, as the device's copy had it, + gpu
                "chapters": {
                    "gpu": {"01_x.ipynb": chapter_time},
                    "cpu": {
                        "01_x.ipynb": {"seconds": 152, "provenance": OLD_CPU}
                    },
                }
            },
            "../escaped.json": {"rows": []},
        },
    )
    pack(
        files_at / "notebooks.tar.gz",
        {
            "book/01_degradation.ipynb": notebook("gpu"),
            "book/09_unknown.ipynb": notebook("gpu"),
        },
    )
    return files_at


def ingest(files_at, repo, tmp_path, *flags):
    staging = tmp_path / "staging"
    args = [str(files_at), "--root", str(repo), "--staging", str(staging), *flags]
    return tool().main(args)


def test_gpu_files_are_taken_and_cpu_files_refused(repo, tmp_path, capsys):
    files_at = device_files(tmp_path, repo)
    assert ingest(files_at, repo, tmp_path) == 1  # some refused
    out = capsys.readouterr().out
    taken = json.loads((repo / "results" / "lesion" / "gpu.json").read_text())
    assert taken["provenance"]["device"] == H200
    assert (repo / "results" / "final" / ".gpu.partial.json").is_file()
    assert (repo / "results" / "bench" / "d2l_fast.json").is_file()
    record = json.loads((repo / "results" / "execution.json").read_text())
    assert record["chapters"]["gpu"]["01_x.ipynb"]["seconds"] == 30.0
    assert record["chapters"]["cpu"], "the CPU chapter times were lost"
    assert "profile: gpu" in (repo / "book" / "01_degradation.ipynb").read_text()
    # Refused: CPU-made files, an unknown chapter; nothing outside the repository.
    assert not (repo / "results" / "final" / "smoke.json").exists()
    assert not (repo / "results" / "bench" / "best.json").exists()
    assert not (repo / "book" / "09_unknown.ipynb").exists()
    assert not (tmp_path / "escaped.json").exists()
    assert "refused   gpu-run/bench_best.json: not a GPU run" in out
    assert (tmp_path / "staging" / "gpu-run" / "logs" / "bench.log").is_file()


def test_uncommitted_work_is_never_overwritten(repo, tmp_path, capsys):
    chapter = repo / "book" / "01_degradation.ipynb"
    chapter.write_text(chapter.read_text() + " ")  # the user's unsaved edit
    mine = chapter.read_text()
    assert ingest(device_files(tmp_path, repo), repo, tmp_path) == 1
    assert chapter.read_text() == mine
    assert (
        "01_degradation.ipynb: it has uncommitted changes"
        in capsys.readouterr().out
    )


def test_a_stored_gpu_result_with_more_runs_is_kept(repo, tmp_path, capsys):
    stored = repo / "results" / "lesion" / "gpu.json"
    stored.write_text(json.dumps(result("lesion", "gpu", 5)))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "five seeds")
    ingest(device_files(tmp_path, repo), repo, tmp_path)
    assert len(json.loads(stored.read_text())["runs"]) == 5
    assert (
        "kept      results/lesion/gpu.json: ours has 5 runs"
        in capsys.readouterr().out
    )


def test_a_result_made_with_other_settings_is_refused(repo, tmp_path, capsys):
    other = result("lesion", "gpu", 3)
    other["settings"]["epochs"] = 1
    files_at = call(tmp_path / "files_at", {"results/lesion/gpu.json": other})
    assert ingest(files_at, repo, tmp_path) == 1
    assert not (repo / "results" / "lesion" / "gpu.json").exists()
    assert "other settings" in capsys.readouterr().out


def snapshot(repo: Path) -> dict:
    return {
        p: p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


def test_a_dry_run_writes_nothing(repo, tmp_path):
    before = snapshot(repo)
    ingest(device_files(tmp_path, repo), repo, tmp_path, "--dry-run")
    assert snapshot(repo) == before


def test_a_folder_without_the_archive_is_one_clear_error(repo, tmp_path, capsys):
    assert ingest(tmp_path, repo, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no results.tar.gz in") and "files_at" in err


def test_fewer_seeds_than_the_chapters_compare_stay_a_partial_result(
    repo, tmp_path, capsys
):
    # One seed at the gpu size must not replace the 3-seed result the chapters plot;
    # it is kept where reproduce continues it, and the complete result replaces it.
    files_at = call(
        tmp_path / "one", {"results/lesion/gpu.json": result("lesion", "gpu", 1)}
    )
    assert ingest(files_at, repo, tmp_path) == 0
    partial = repo / "results" / "lesion" / ".gpu.partial.json"
    assert (
        partial.is_file()
        and not (repo / "results" / "lesion" / "gpu.json").exists()
    )
    assert (
        "git add -f results/lesion/.gpu.partial.json" in capsys.readouterr().out
    )
    git(repo, "add", "-f", "results/lesion/.gpu.partial.json")
    git(repo, "commit", "-qm", "one seed at the gpu size")
    files_at = call(
        tmp_path / "three",
        {"results/lesion/gpu.json": result("lesion", "gpu", 3)},
    )
    assert ingest(files_at, repo, tmp_path) == 0
    assert (
        repo / "results" / "lesion" / "gpu.json"
    ).is_file() and not partial.exists()
    assert "results/lesion/.gpu.partial.json" not in git(repo, "ls-files")


def test_an_uncommitted_partial_result_is_not_overwritten(repo, tmp_path, capsys):
    (repo / ".gitignore").write_text("results/*/.*.partial.json\n")  # as ours
    mine = repo / "results" / "final" / ".gpu.partial.json"
    mine.parent.mkdir(parents=True)
    mine.write_text('{"runs": []}')  # ignored by git, and never committed
    ingest(device_files(tmp_path, repo), repo, tmp_path)
    assert mine.read_text() == '{"runs": []}'
    assert (
        "final/.gpu.partial.json: it has uncommitted changes"
        in capsys.readouterr().out
    )


def test_a_chapter_changed_since_the_devices_copy_is_refused(
    repo, tmp_path, capsys
):
    files_at = device_files(tmp_path, repo)  # made from this HEAD
    chapter = repo / "book" / "01_degradation.ipynb"
    chapter.write_text(chapter.read_text() + " ")
    git(repo, "commit", "-qam", "prose rewritten after the call")
    mine = chapter.read_text()
    ingest(files_at, repo, tmp_path)
    assert chapter.read_text() == mine
    assert "changed since the device's copy" in capsys.readouterr().out
