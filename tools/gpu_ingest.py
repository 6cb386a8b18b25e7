"""Bring a GPU run's files into the repository, checked, in one command.

    .venv/bin/python tools/gpu_ingest.py FILES_AT            # FILES_AT: where the device call's files lie
    .venv/bin/python tools/gpu_ingest.py FILES_AT --dry-run  # say what it would do, write nothing

FILES_AT holds ``results.tar.gz`` and, when chapters ran, ``notebooks.tar.gz``, as
``tools/gpu_job.py`` packs them.  Each file is taken only if a GPU made it:

* ``results/NAME/gpu.json`` -> ``results/NAME/gpu.json`` (its provenance names a GPU)
  when it has the 3 seeds the chapters compare, unless ours has more runs; the chapters
  then plot it instead of the CPU run.  With fewer seeds, and for a killed run's
  ``results/NAME/.gpu.partial.json``: -> ``results/NAME/.gpu.partial.json``, which the
  chapters do not read; ``git add -f`` it, and it travels with the tree to the next
  call, whose ``reproduce`` continues it;
* ``gpu-run/bench_NAME.json`` -> ``results/bench/NAME.json`` (every row on a GPU, the
  gpu profile); BENCHMARKS.md's goals are computed from these;
* ``results/execution.json``: each chapter's time at the gpu profile, merged into ours
  (the Colab T4 bound of tools/GPU.md is computed from it);
* ``book/NN_*.ipynb`` -> ``book/`` when executed at the gpu profile.

A file in the repository with uncommitted changes is never overwritten.  Everything the
archives hold, logs included, is unpacked into ``--staging`` (not committed).
``--allow-cpu`` also takes CPU-made files of any size: for a rehearsal's output, with
``--root`` on a copy of the repository (tests/test_gpu_ingest.py).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

from resnet_course.experiments import experiments  # noqa: E402
from resnet_course.profiles import names_a_cpu  # noqa: E402
from resnet_course.reproduce import normalised  # noqa: E402
from resnet_course.results import (  # noqa: E402
    check_schema,
    json_text,
    partial_path,
    result_path,
)

RESULT = re.compile(
    r"^results/([a-z0-9_]+)/(\.)?(smoke|cpu|long|gpu)(\.partial)?\.json$"
)
BENCH = re.compile(r"^gpu-run/bench_([a-z0-9_]+)\.json$")
NOTEBOOK = re.compile(r"^book/(\d\d_[a-z0-9_]+\.ipynb)$")
EXECUTION = "results/execution.json"
#: Stored results, relative to the repository (the layout of results.result_path).
RESULTS = Path("results")
PROFILE_LINE = re.compile(r"profile: (smoke|cpu|gpu)\b")
#: The chapters compare at least this many seeds: a GPU result with fewer is kept as a
#: partial file (committed with ``git add -f``), which the next call continues.
MIN_SEEDS = 3


class IngestError(Exception):
    """Bad input: one line for the user, exit 2."""


@dataclass
class Ingest:
    root: Path
    staging: Path
    dry_run: bool = False
    allow_cpu: bool = False
    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    commits: set[str] = field(default_factory=set)

    def say(self, verb: str, rel: str, why: str) -> None:
        line = f"{verb:9s} {rel}: {why}"
        (self.refused if verb == "refused" else self.done).append(line)
        print(("would be " if self.dry_run and verb == "wrote" else "") + line)

    def write(self, rel: str, data: bytes, why: str) -> None:
        """Write ``data`` to ``rel`` unless git has uncommitted changes there."""
        target = self.root / rel
        if target.exists() and target.read_bytes() == data:
            self.say("unchanged", rel, why)
        elif target.exists() and uncommitted(self.root, rel):
            self.say(
                "refused", rel, "it has uncommitted changes; commit or move them"
            )
        else:
            if not self.dry_run:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.ingest")
                tmp.write_bytes(data)
                tmp.replace(target)
            self.say("wrote", rel, why)


def uncommitted(root: Path, rel: str) -> bool:
    """Whether ``rel`` holds work git has not committed: changes, or a file git does
    not track (an ignored partial result too, hence ``--ignored``).  True where git
    cannot tell."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--", rel],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return True
    return bool(out.strip())


def changed_since(root: Path, commit: str, rel: str) -> bool:
    """Whether ``rel`` differs between ``commit`` and HEAD (True where git cannot
    tell, e.g. a commit this checkout does not have)."""
    try:
        done = subprocess.run(
            ["git", "diff", "--quiet", commit, "HEAD", "--", rel],
            cwd=root,
            capture_output=True,
        )
    except OSError:
        return True
    return done.returncode != 0


def members(archive: Path, staging: Path) -> dict[str, bytes]:
    """The regular files of ``archive`` by name, each also unpacked under ``staging``
    (names that would leave it are refused)."""
    files = {}
    try:
        with tarfile.open(archive) as tar:
            for m in tar.getmembers():
                name = PurePosixPath(m.name)
                if not m.isfile() or name.is_absolute() or ".." in name.parts:
                    continue
                files[str(name)] = tar.extractfile(m).read()
    except (tarfile.TarError, OSError) as exc:
        raise IngestError(f"cannot read {archive}: {exc}") from None
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    return files


def read_json(data: bytes) -> dict | None:
    try:
        return json.loads(data)
    except ValueError:
        return None


def read_file(path: Path) -> dict:
    """A file of ours as JSON ({} when it is missing or not JSON)."""
    return (read_json(path.read_bytes()) if path.exists() else None) or {}


def result_problem(
    result: dict | None, experiment: str, size: str, partial: bool
):
    """Why a stored (or partial) result cannot be taken, or None."""
    if result is None:
        return "not JSON"
    if partial:
        missing = [k for k in ("settings", "runs") if k not in result]
    else:
        missing = check_schema(result)
    if missing:
        return "incomplete: " + ", ".join(missing)
    known = experiments()
    if experiment not in known:
        return f"no experiment {experiment!r} in this checkout"
    if normalised(known[experiment].sizes[size]) != result["settings"]:
        return (
            f"made with other settings than {experiment}'s size {size!r} has in this"
            " checkout (the code changed since the carry was made)"
        )
    return None


def take_result(job: Ingest, name: str, data: bytes, match: re.Match) -> None:
    experiment, hidden, size, partial = match.groups()
    if bool(hidden) != bool(partial):
        return
    result = read_json(data)
    problem = result_problem(result, experiment, size, bool(partial))
    if problem:
        return job.say("refused", name, problem)
    devices = sorted({r.get("device", "") for r in result["runs"]})
    if not partial:
        devices = sorted({*devices, result["provenance"]["device"]})
    if not job.allow_cpu and (
        size != "gpu" or any(names_a_cpu(d) for d in devices)
    ):
        why = (
            f"made at size {size} on {', '.join(devices) or 'no run'}, not a GPU"
        )
        return job.say("refused", name, why)
    if not partial:
        job.commits.add(result["provenance"]["commit"])
    if not result["runs"]:
        return job.say("refused", name, "no finished run in it")
    seeds = seed_count(result["runs"])
    final = result_path(experiment, size, RESULTS).as_posix()
    partial_rel = partial_path(experiment, size, RESULTS).as_posix()
    rel = final if seeds >= MIN_SEEDS and not partial else partial_rel
    if rel != final and complete(job.root / final):
        return job.say(
            "kept", final, "complete already; the device's runs add nothing"
        )
    old = runs_kept(job.root / rel, result)
    if old is not None:
        return job.say(
            "kept",
            rel,
            f"ours has {old} runs, the device's {len(result['runs'])}",
        )
    if rel == final:
        job.write(
            rel, data, f"{len(result['runs'])} runs on {', '.join(devices)}"
        )
        return drop_partial(job, partial_rel)
    job.write(
        rel,
        data,
        f"{len(result['runs'])} runs, {seeds} of the {MIN_SEEDS} seeds the chapters"
        f" compare, so they keep their stored result; `git add -f {rel}` commits it,"
        " and the next call's reproduce continues it",
    )


def runs_kept(path: Path, result: dict) -> int | None:
    """The number of runs of the file at ``path`` if it is to be kept: more runs than
    ``result``, or as many and not older; else None."""
    have = read_file(path)
    if not have:
        return None
    old, new = len(have.get("runs", [])), len(result["runs"])
    date = result.get("provenance", {}).get("date", "")
    newer = date > have.get("provenance", {}).get("date", "")
    return old if old > new or (old == new and not newer) else None


def seed_count(runs: list[dict]) -> int:
    """How many seeds the runs of a result cover."""
    return len({r.get("seed") for r in runs})


def complete(path: Path) -> bool:
    """Whether the stored result at ``path`` has the seeds the chapters compare."""
    return seed_count(read_file(path).get("runs", [])) >= MIN_SEEDS


def drop_partial(job: Ingest, rel: str) -> None:
    """A complete result replaces the partial one a call continued: ``git rm`` it
    when committed; anything else is left for the user."""
    if not (job.root / rel).exists():
        return
    if uncommitted(job.root, rel):
        return job.say(
            "kept", rel, "not committed, so not removed: delete it by hand"
        )
    if not job.dry_run:
        subprocess.run(["git", "rm", "-q", "--", rel], cwd=job.root, check=True)
    job.say("removed", rel, "git rm: the complete result replaces it")


def take_bench(job: Ingest, name: str, data: bytes, match: re.Match) -> None:
    stored = read_json(data)
    if stored is None or "rows" not in stored or not stored["rows"]:
        return job.say("refused", name, "no benchmark rows in it")
    meta, rows = stored.get("meta", {}), stored["rows"]
    cpu = [r["device"] for r in rows if names_a_cpu(r["device"])]
    if not job.allow_cpu and (meta.get("profile") != "gpu" or cpu):
        why = f"profile {meta.get('profile')}, devices {sorted({r['device'] for r in rows})}"
        return job.say("refused", name, f"not a GPU run ({why})")
    if "commit" in meta.get("provenance", {}):
        job.commits.add(meta["provenance"]["commit"])
    rel = f"results/bench/{match.group(1)}.json"
    old = len(read_file(job.root / rel).get("rows", []))
    if old > len(rows):
        return job.say(
            "kept", rel, f"ours has {old} rows, the device's {len(rows)}"
        )
    job.write(rel, data, f"{len(rows)} rows on {rows[0]['device']}")


def take_execution(job: Ingest, data: bytes) -> None:
    """Merge the device's newer chapter times (gpu profile) into ours."""
    theirs = read_json(data) or {}
    ours = read_file(job.root / EXECUTION)
    ours.setdefault("chapters", {})
    added = []
    for profile, chapters in theirs.get("chapters", {}).items():
        for notebook, entry in chapters.items():
            made = entry.get("provenance", {})
            if not job.allow_cpu and (
                profile != "gpu" or names_a_cpu(made.get("device", ""))
            ):
                continue
            mine = ours["chapters"].get(profile, {}).get(notebook)
            if mine and mine["provenance"]["date"] >= made.get("date", ""):
                continue
            ours["chapters"].setdefault(profile, {})[notebook] = entry
            ours["provenance"] = made
            if "commit" in made:
                job.commits.add(made["commit"])
            added.append(f"{notebook} ({profile}, {entry['seconds']:.0f} s)")
    if not added:
        return job.say("unchanged", EXECUTION, "no newer chapter time from a GPU")
    job.write(EXECUTION, json_text(ours).encode(), "added " + ", ".join(added))


def take_notebook(job: Ingest, name: str, data: bytes) -> None:
    if not (job.root / name).exists():
        return job.say("refused", name, "no such chapter in book/")
    try:
        cells = json.loads(data)["cells"]
    except (ValueError, KeyError):
        return job.say("refused", name, "not a notebook")
    text = json.dumps([c.get("outputs", []) for c in cells[:4]])
    found = PROFILE_LINE.search(text)
    profile = found.group(1) if found else "unknown"
    if not job.allow_cpu and profile != "gpu":
        return job.say(
            "refused", name, f"executed at the {profile} profile, not gpu"
        )
    ran = {
        c.removesuffix("-dirty")
        for c in job.commits
        if not c.startswith("unknown")
    }
    if len(ran) != 1 or changed_since(job.root, ran.pop(), name):
        return job.say(
            "refused",
            name,
            "the chapter changed since the device's copy (or its commit is unknown);"
            " re-execute it here instead",
        )
    job.write(name, data, f"executed at the {profile} profile")


def ingest(job: Ingest, files_at: Path) -> None:
    results = files_at / "results.tar.gz"
    if not results.is_file():
        raise IngestError(
            f"no results.tar.gz in {files_at}: give the folder the device call's files"
            " came to (its files_at)"
        )
    for name, data in sorted(members(results, job.staging).items()):
        if match := RESULT.match(name):
            take_result(job, name, data, match)
        elif match := BENCH.match(name):
            take_bench(job, name, data, match)
        elif name == EXECUTION:
            take_execution(job, data)
    notebooks = files_at / "notebooks.tar.gz"
    if notebooks.is_file():
        for name, data in sorted(members(notebooks, job.staging).items()):
            if NOTEBOOK.match(name):
                take_notebook(job, name, data)


def head_commit(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


def report(job: Ingest) -> int:
    print(f"\nthe archives, logs included, are unpacked in {job.staging}")
    head = head_commit(job.root)
    other = {c for c in job.commits if c.split("-")[0] != head}
    if head and other:
        print(
            f"note: the device ran commit(s) {', '.join(sorted(other))}; this checkout is at {head}"
        )
    if job.refused:
        print(
            f"{len(job.refused)} file(s) refused (see above), {len(job.done)} taken or"
            " already in place"
        )
    if not job.dry_run and any(line.startswith("wrote") for line in job.done):
        print(
            "next: .venv/bin/python tools/benchmarks_tables.py --write; .venv/bin/pytest"
            " tests/test_prose_settings.py tests/test_claims.py tests/test_benchmarks.py"
            " (a failing test names the paragraph to rewrite); re-execute the chapters"
            " that plot a new result (tools/GPU.md, step 5); then commit"
        )
    return 1 if job.refused else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files_at", type=Path, help="the folder with results.tar.gz")
    p.add_argument("--dry-run", action="store_true", help="write nothing")
    p.add_argument(
        "--allow-cpu", action="store_true", help="take CPU-made files too"
    )
    p.add_argument(
        "--root", type=Path, default=ROOT, help="the repository to fill"
    )
    p.add_argument(
        "--staging",
        type=Path,
        help="unpack here (default /tmp/gpu-back/<FILES_AT's name>)",
    )
    args = p.parse_args(argv)
    args.staging = (
        args.staging or Path("/tmp/gpu-back") / args.files_at.resolve().name
    )
    job = Ingest(args.root, args.staging, args.dry_run, args.allow_cpu)
    try:
        args.staging.mkdir(parents=True, exist_ok=True)
        ingest(job, args.files_at)
    except (IngestError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return report(job)


if __name__ == "__main__":
    sys.exit(main())
