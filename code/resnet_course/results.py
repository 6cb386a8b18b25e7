"""Stored experiment results: ``results/NAME/SIZE.json``, written atomically.

A result file holds ``experiment``, ``size``, ``settings``, ``runs`` (one per
network and seed, each with its ``seed``, ``settings``, ``metrics``, ``curves``
and ``wall_seconds``) and ``provenance``: the ``command`` that reproduces it, the
git ``commit``, the ``date``, the ``device``, the ``torch`` version and
``wall_seconds``.

While ``reproduce`` works, finished runs are kept in
``results/NAME/.SIZE.partial.json`` so that a killed run continues where it
stopped; the final file replaces it at the end. Both are written to a temporary
file first and renamed, so no half-written file is ever left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

#: The sizes from the largest to the smallest: a chapter shows the largest stored
#: one.
SIZE_ORDER = ("gpu", "long", "cpu", "smoke")
RESULTS_ENV_VAR = "RESNET_COURSE_RESULTS"
REQUIRED_KEYS = ("experiment", "size", "runs", "provenance")
PROVENANCE_KEYS = ("command", "commit", "date", "device", "torch", "wall_seconds")


class ResultError(RuntimeError):
    """A result file is missing or unreadable; the message says which and what to
    do."""


def results_dir() -> Path:
    """``$RESNET_COURSE_RESULTS``, else ``results/`` at the repository root."""
    if os.environ.get(RESULTS_ENV_VAR):
        return Path(os.environ[RESULTS_ENV_VAR])
    return Path(__file__).resolve().parents[2] / "results"


def result_path(name: str, size: str, folder: Path | None = None) -> Path:
    return (folder or results_dir()) / name / f"{size}.json"


def partial_path(name: str, size: str, folder: Path | None = None) -> Path:
    return (folder or results_dir()) / name / f".{size}.partial.json"


def json_text(data: dict[str, Any]) -> str:
    """How every file under ``results/`` is written."""
    return json.dumps(data, indent=1, allow_nan=True) + "\n"


def write_json_atomically(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json_text(data))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultError(
            f"cannot read {path}: {exc}. Delete it, or restore it with "
            f"`git checkout -- {path}`"
        ) from None


def load_result(
    name: str,
    size: str | None = None,
    folder: Path | None = None,
    missing_ok: bool = False,
) -> dict[str, Any] | None:
    """The stored result of ``name`` at ``size``, or at the largest stored
    size."""
    sizes = [size] if size else list(SIZE_ORDER)
    for s in sizes:
        path = result_path(name, s, folder)
        if path.is_file():
            return read_json(path)
    if missing_ok:
        return None
    raise ResultError(
        f"no stored result for {name!r} (looked for "
        f"{', '.join(str(result_path(name, s, folder)) for s in sizes)}); run "
        f"`python -m resnet_course reproduce {name} --size {size or 'long'}`"
    )


#: Where a copy of the tree without ``.git`` (the lent GPU machine's) finds its
#: commit: ``tools/gpu_job.py`` sets it from ``.carry/commit``, which ``make
#: gpu-carry`` writes.
COMMIT_ENV_VAR = "RESNET_COURSE_COMMIT"


def git_commit(paths: tuple[str, ...] = ("code",)) -> str:
    """The commit of the code that ran, with ``-dirty`` if tracked files under
    ``paths`` had uncommitted changes; outside a git checkout,
    ``$RESNET_COURSE_COMMIT`` (the commit the copy was made from).
    """
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                *paths,
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get(COMMIT_ENV_VAR) or "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


def cli_command(*args: str) -> str:
    """The shell line of ``python -m resnet_course ARGS...``: a provenance's
    command."""
    return shlex.join(["python", "-m", "resnet_course", *args])


def provenance(command: str, device: str, wall_seconds: float) -> dict[str, Any]:
    import torch

    return {
        "command": command,
        "commit": git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": device,
        "torch": torch.__version__,
        "wall_seconds": round(wall_seconds, 1),
    }


def check_schema(result: dict[str, Any]) -> list[str]:
    """What is missing from a result (an empty list when it is complete)."""
    problems = [f"no {k!r}" for k in REQUIRED_KEYS if k not in result]
    for k in PROVENANCE_KEYS:
        if k not in result.get("provenance", {}):
            problems.append(f"provenance has no {k!r}")
    for i, run in enumerate(result.get("runs", [])):
        for k in ("seed", "settings", "metrics", "curves"):
            if k not in run:
                problems.append(f"run {i} has no {k!r}")
    return problems


def caption(result: dict[str, Any]) -> str:
    """Where a stored figure comes from: size, seeds, machine, date and
    command."""
    p = result["provenance"]
    seeds = sorted({r["seed"] for r in result["runs"]})
    minutes = p["wall_seconds"] / 60
    return (
        f"Stored result: size `{result['size']}`, {len(seeds)} seed(s), "
        f"{len(result['runs'])} runs, {minutes:.0f} min on {p['device']} "
        f"(torch {p['torch']}, {p['date'][:10]}, commit {p['commit'][:10]}). "
        f"Reproduce: `{p['command']}`."
    )
