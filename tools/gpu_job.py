#!/usr/bin/env python3
"""The whole GPU job (issue 13) in one command, ON the lent GPU machine:

    python3 tools/gpu_job.py                   # device call with carry [".carry"]
    python3 tools/gpu_job.py --list            # the plan: steps, limits, order
    python3 tools/gpu_job.py --steps best,chapters --budget 170   # a second, shorter call

Made for a machine that is lent for 15 minutes (start-up included), one command at most
10 minutes, and whose files come back only from $OUT.  So:

* the steps run in the order of their value: the d2l-vs-fast benchmark, the chapters'
  key experiments at GPU size (``reproduce``), the best recipe, then the chapters
  executed at the gpu profile;
* each step has its own time limit and runs in its own process group, killed at the
  limit; a step that fails or times out is logged and the job goes on;
* after every step its results are packed into $OUT at once (``results.tar.gz``,
  ``notebooks.tar.gz``), with ``job.log`` (written as it runs), ``summary.txt`` and
  ``summary.json``: at most five files, so a command killed at its limit still brings
  back everything finished before;
* a total budget (``--budget``, default 560 s of the 600 s a command may run) is kept: a
  step is not started when less than its minimum is left, and the last step's limit
  is cut to what is left;
* the last lines printed are a summary table, preceded by the command that runs the
  steps that were not reached.

Only the standard library is used here, so the job starts even where a package is
missing; the preflight (tools/gpu_preflight.py) lists what is.  Back on the CPU
machine, ``.venv/bin/python tools/gpu_ingest.py <files_at>`` takes what came back into the
repository (results, benchmark rows, chapter times, executed chapters), checked.

Rehearse it on the CPU, as the device would run it, with ``make gpu-rehearsal``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
#: Each chapter's wall time and provenance, per profile (tools/execute_notebooks.py).
EXECUTION_RECORD = "results/execution.json"
#: What `make gpu-carry` made: wheels/, fashion-mnist/ and commit ($GPU_JOB_CARRY for
#: tests).
CARRY = Path(os.environ.get("GPU_JOB_CARRY") or ROOT / ".carry")
#: The chapters' key experiments (issue 13, item 2), in the order they are run: final
#: after ablation, since it chooses its recipe from the ablation's stored result.
EXPERIMENTS = ("cnn_degradation", "lesion", "ablation", "final")
#: In the parallel step these run one after the other, beside the others.
CHAINED = ("ablation", "final")
#: The exit code of a step that cannot start yet (final without a stored ablation): the
#: next call's line names it again.
WAIT_RC = 75
#: Seconds for one seed at GPU size: 1.5 x the estimate in ``reproduce --help`` (the gpu
#: column, 3 seeds, not yet measured), so a slower machine still finishes.
EXPERIMENT_LIMITS = {
    "cnn_degradation": 300,
    "lesion": 210,
    "final": 180,
    "ablation": 240,
}
#: Chapters executed at the gpu profile, the ones with full-size results first.
CHAPTERS = (
    "01_degradation",
    "04_ensembles",
    "06_training_resnet18",
    "02_residual_learning",
    "03_backprop",
    "05_residual_block_code",
)
#: What one best-recipe seed may take on the GPU (issue: at most 120 s of training) plus
#: its share of warm-up.
BEST_SEED_SECONDS = 140
#: Written (in the run folder) by the compile check when torch.compile cannot build
#: GPU kernels on the machine: bench and best then run with ``--compile none``.
COMPILE_FAILED = "compile.failed"
#: Files that come back from a device call: at most 8 (this job writes at most 5).
OUT_FILES = (
    "job.log",
    "summary.txt",
    "summary.json",
    "results.tar.gz",
    "notebooks.tar.gz",
)


#: No progress bars in the logs (a device call returns only the last 12,000 characters);
#: not for the chapters, whose stored outputs stay as a reader's run makes them.
QUIET = {"TQDM_DISABLE": "1"}
#: Where a copy of the tree without .git finds its commit (resnet_course.results'
#: COMMIT_ENV_VAR; this file imports only the standard library).
COMMIT_ENV_VAR = "RESNET_COURSE_COMMIT"
#: The machine, for BENCHMARKS.md's machine line.
MACHINE = f"""PYTHON - <<'EOF'
import os, platform, sys
import torch
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda",
      torch.version.cuda, "|", gpu, "|", platform.node(), "| commit",
      os.environ.get("{COMMIT_ENV_VAR}", "unknown"))
EOF
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
fi
date -u
"""


@dataclass
class Step:
    """One unit of work: a command with its own time limit."""

    name: str
    #: The command, or a function of the seconds left that returns it (None: skip).
    argv: list[str] | Callable[[float], list[str] | None]
    limit: float
    #: Not started with fewer seconds left than this.
    min_start: float = 30.0
    group: str = "core"
    note: str = ""
    #: Notebooks this step writes (copied into notebooks.tar.gz when changed).
    notebooks: tuple[str, ...] = ()
    #: Variables added to the job's environment for this step.
    env: dict[str, str] = field(default_factory=dict)
    #: Run only when named in --steps exactly.
    optional: bool = False
    # filled in by the run
    status: str = "not run"
    seconds: float = 0.0
    rc: int | None = None
    last_line: str = ""
    given: float = 0.0
    command: str = ""


@dataclass
class Job:
    out: Path
    work: Path
    budget: float
    reserve: float
    env: dict[str, str]
    start: float = field(default_factory=time.monotonic)
    steps: list[Step] = field(default_factory=list)
    log: object = None

    @property
    def run_dir(self) -> Path:
        return self.work / "gpu-run"

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.start) - self.reserve

    def say(self, text: str) -> None:
        line = text if text.endswith("\n") else text + "\n"
        sys.stdout.write(line)
        sys.stdout.flush()
        if self.log is not None:
            self.log.write(line.encode())
            self.log.flush()


# ----------------------------------------------------------------------------- the plan


def python_cmd(*args: str) -> list[str]:
    return [sys.executable, *args]


def default_steps(
    profile: str, seeds: int, best_seeds: str, run_dir: Path
) -> list[Step]:
    """Every step of the job in the order of its value (issue 13)."""
    gpu = profile == "gpu"
    size = "gpu" if gpu else profile

    def bench(recipes: str, seeds: list[str], json_name: str) -> list[str]:
        no_compile = (run_dir / COMPILE_FAILED).exists()
        return python_cmd(
            *("-m", "resnet_course", "bench", "--profile", profile),
            *("--recipes", recipes, *seeds, "--no-progress"),
            *(["--compile", "none"] if no_compile else []),
            *("--json", str(run_dir / json_name)),
        )

    steps = [
        Step(
            "bench",
            lambda left: bench("d2l,fast", [], "bench_d2l_fast.json"),
            limit=330 if gpu else 240,
            min_start=150 if gpu else 20,
            note="d2l's recipe and the fast one, side by side",
            env=QUIET,
        )
    ]

    def reproduce(name: str) -> list[str]:
        args = ["reproduce", name, "--size", size, "--seeds", str(seeds)]
        return python_cmd("-m", "resnet_course", *args, "--no-progress")

    for name in EXPERIMENTS:
        argv = reproduce(name)
        # final: only on a complete ablation, never the recipe "as designed"
        if name == CHAINED[-1]:
            need = f"results/{CHAINED[0]}/{size}.json"
            argv = [
                "bash",
                "-c",
                f'test -f {need} || {{ echo "{name} waits for {need}: its recipe is'
                f' chosen from it"; exit {WAIT_RC}; }}; exec {shlex.join(argv)}',
            ]
        steps.append(
            Step(
                f"reproduce-{name}",
                argv,
                limit=EXPERIMENT_LIMITS[name] * seeds if gpu else 240,
                min_start=60 if gpu else 10,
                note=f"results/{name}/{size}.json, {seeds} seed(s)",
                env=QUIET,
            )
        )
    # Not in the default plan: the four at once, for a GPU that one small network leaves
    # mostly idle (their wall times then are not those of a run alone).
    each = shlex.join(reproduce("NAME")).replace("NAME", "$n")
    log = '> "$GPU_RUN/logs/parallel-$n.log" 2>&1'
    alone = " ".join(n for n in EXPERIMENTS if n not in CHAINED)
    steps.append(
        Step(
            "reproduce-parallel",
            [
                "bash",
                "-c",
                f"for n in {alone}; do {each} {log} & done; "
                f"(for n in {' '.join(CHAINED)}; do {each} {log} || exit 1; done) & "
                "rc=0; for j in $(jobs -p); do wait $j || rc=1; done; "
                'tail -n 2 "$GPU_RUN"/logs/parallel-*.log; exit $rc',
            ],
            limit=max(EXPERIMENT_LIMITS.values()) * seeds if gpu else 240,
            min_start=60 if gpu else 10,
            note="the four reproduce steps at once (only when named)",
            env=QUIET,
            optional=True,
        )
    )

    def best(left: float) -> list[str]:
        if best_seeds == "auto":
            fit = int((left - 60) // BEST_SEED_SECONDS)
            n = min(3, max(1, fit)) if gpu else 3
        else:
            n = int(best_seeds)
        return bench("best", ["--seeds", str(n)], "bench_best.json")

    steps.append(
        Step(
            "best",
            best,
            limit=3 * BEST_SEED_SECONDS + 90 if gpu else 300,
            min_start=BEST_SEED_SECONDS + 40 if gpu else 10,
            note="best recipe: 3 seeds, or as many as fit (at least 1)",
            env=QUIET,
        )
    )
    for chapter in CHAPTERS:
        path = f"book/{chapter}.ipynb"

        def execute(left: float, path: str = path) -> list[str]:
            # The per-cell timeout stays inside the step's own limit.
            return python_cmd(
                str(Path(__file__).resolve()),
                "--execute-notebooks",
                "--profile",
                profile,
                "--timeout",
                str(max(int(left) - 5, 10)),
                "--record",
                str(ROOT / EXECUTION_RECORD),
                path,
            )

        steps.append(
            Step(
                f"chapter-{chapter[:2]}",
                execute,
                limit=540 if gpu else 300,
                min_start=60 if gpu else 10,
                group="notebooks",
                note=f"{path} at the {profile} profile",
                notebooks=(path,),
            )
        )
    return steps


def setup_steps(
    job: Job, python: str, no_wheels: bool, site: Path, data: Path | None
):
    """Install the carried wheels, describe the machine, run the preflight."""
    wheels = sorted((CARRY / "wheels").glob("*.whl"))
    steps = []
    if no_wheels:
        pass
    elif not wheels:
        job.say(
            f"error: no wheels in {CARRY / 'wheels'}: run `make gpu-carry` on the CPU "
            'machine first, and call the device with carry [".carry"]'
        )
        steps.append(
            Step(
                "wheels",
                [],
                limit=0,
                status="failed",
                last_line="no .carry: run make gpu-carry",
            )
        )
    else:
        steps.append(
            Step(
                "wheels",
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-index",
                    "--no-deps",
                    "--no-compile",
                    "--no-cache-dir",
                    "--upgrade",
                    "--target",
                    str(site),
                    *map(str, wheels),
                ],
                limit=240,
                min_start=0,
                note=f"{len(wheels)} carried wheels into {site}",
            )
        )
    machine = job.work / "machine.sh"
    machine.write_text(MACHINE.replace("PYTHON", shlex.quote(python)))
    steps.append(
        Step(
            "machine",
            ["bash", str(machine)],
            limit=90,
            min_start=0,
            note="python, torch, GPU (gpu-run/logs/machine.log)",
        )
    )
    preflight = [python, str(ROOT / "tools" / "gpu_preflight.py")]
    data_args = [] if data is None else ["--data", str(data)]
    steps.append(
        Step(
            "preflight",
            [*preflight, *data_args],
            limit=90,
            min_start=0,
            note="modules and data",
        )
    )
    steps.append(
        Step(
            "compile-check",
            [*preflight, "--compile-check", str(job.run_dir / COMPILE_FAILED)],
            limit=60,
            min_start=0,
            note="can torch.compile build kernels? if not: --compile none",
        )
    )
    return steps


# ------------------------------------------------------------------------------ running


def descendants(pid: int) -> list[tuple[int, str | None]]:
    """Every process below ``pid``, also those in sessions of their own (a Jupyter
    kernel is started in one, and would go on holding the GPU)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return [(p, started(p)) for p in found]


def started(pid: int) -> str | None:
    """The start time of ``pid`` (so a number reused by a new process is left alone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def kill_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the step's process group and every process below it, SIGKILL to
    what is left after ``grace`` seconds."""
    below = descendants(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, start in below:
            if start is not None and started(pid) == start:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
            if sig == signal.SIGTERM:
                time.sleep(0.2)
                below = [
                    (p, t) for p, t in below if t is not None and started(p) == t
                ]
                if not below:
                    return
        except subprocess.TimeoutExpired:
            continue


def last_frame(line: bytes) -> bytes:
    """A progress bar's line as its last frame: the device call returns only the last
    12,000 characters, which bars redrawn with carriage returns would fill (the step's
    own log keeps every frame)."""
    frames = [f for f in line.rstrip(b"\n").split(b"\r") if f.strip()]
    return (frames[-1] if frames else b"") + b"\n" if b"\r" in line else line


def run_step(job: Job, step: Step) -> None:
    """Run one step under its limit, its output teed to its log, job.log and stdout."""
    left = job.left()
    # refused before it could start (wheels without .carry)
    if step.status == "failed":
        return
    if left < step.min_start:
        step.status = "skipped"
        step.last_line = (
            f"no time: needs {step.min_start:.0f} s, {max(left, 0):.0f} s left"
        )
        job.say(f"=== {step.name}: skipped, {step.last_line}")
        return
    step.given = max(min(step.limit, left), 1.0)
    # A command made at start time sees the seconds it is given (a cell's timeout, seeds).
    argv = step.argv(step.given) if callable(step.argv) else step.argv
    if not argv:
        step.status = "skipped"
        return
    shown = step.command = shlex.join(argv)
    job.say(
        f"=== {step.name} (limit {step.given:.0f} s, {left:.0f} s of the budget left): "
        + (
            shown
            if len(shown) < 400
            else shown[:300] + f" ... ({len(argv)} words)"
        )
    )
    logs = job.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**job.env, **step.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        step.status, step.last_line = "failed", f"could not start: {exc}"
        job.say(f"=== {step.name}: {step.last_line}")
        return
    last = [b""]
    with open(logs / f"{step.name}.log", "wb") as own:

        def pump() -> None:
            for line in iter(proc.stdout.readline, b""):
                own.write(line)
                own.flush()
                line = last_frame(line)
                if job.log is not None:
                    job.log.write(line)
                    job.log.flush()
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
                if line.strip():
                    last[0] = line

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            step.rc = proc.wait(timeout=step.given)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc)
            step.rc = proc.returncode
        reader.join(timeout=5)
    step.seconds = time.monotonic() - started
    step.last_line = last[0].decode(errors="replace").strip()[-110:]
    if timed_out:
        step.status = "timeout"
    else:
        step.status = (
            "ok"
            if step.rc == 0
            else "waiting" if step.rc == WAIT_RC else f"failed (rc {step.rc})"
        )
    job.say(f"=== {step.name}: {step.status} after {step.seconds:.1f} s")


def collect(job: Job, size: str, since: float) -> None:
    """Pack what the finished steps made into $OUT (replacing the older packs)."""
    files: list[tuple[Path, str]] = []
    for path in sorted(job.run_dir.rglob("*")):
        if path.is_file():
            files.append((path, str(path.relative_to(job.work))))
    patterns = (f"results/*/{size}.json", f"results/*/.{size}.partial.json")
    for pattern in (*patterns, EXECUTION_RECORD):
        for path in sorted(ROOT.glob(pattern)):
            if path.stat().st_mtime >= since:
                files.append((path, str(path.relative_to(ROOT))))
    pack(job.out / "results.tar.gz", files)
    books = sorted((job.work / "book").glob("*.ipynb"))
    if books:
        pack(job.out / "notebooks.tar.gz", [(p, f"book/{p.name}") for p in books])


def pack(target: Path, files: list[tuple[Path, str]]) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for path, name in files:
            try:
                tar.add(path, arcname=name)
            except OSError:
                pass  # a file that vanished meanwhile (a partial result replaced)
    os.replace(tmp, target)


def keep_notebooks(job: Job, step: Step, started_wall: float) -> None:
    """Copy the notebooks a step executed (written only when it succeeded)."""
    for rel in step.notebooks:
        path = ROOT / rel
        if path.is_file() and path.stat().st_mtime >= started_wall:
            (job.work / "book").mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, job.work / "book" / path.name)


# ------------------------------------------------------------------------------ summary


def summary_lines(job: Job, rerun: str | None) -> list[str]:
    used = time.monotonic() - job.start
    width = max([len(s.name) for s in job.steps] + [4])
    lines = [
        f"{'step':{width}s}  {'status':15s} {'seconds':>7s} {'limit':>6s}  last line",
        f"{'-' * width}  {'-' * 15} {'-' * 7} {'-' * 6}  {'-' * 40}",
    ]
    for s in job.steps:
        limit = f"{s.given:6.0f}" if s.given else "     -"
        lines.append(
            f"{s.name:{width}s}  {s.status:15s} {s.seconds:7.1f} {limit}  {s.last_line[:70]}"
        )
    ok = sum(s.status == "ok" for s in job.steps)
    lines.append(
        f"{ok} of {len(job.steps)} steps ok; {used:.0f} s used of the {job.budget:.0f} s"
        f" budget; results in {job.out}: "
        + ", ".join(n for n in OUT_FILES if (job.out / n).exists())
    )
    if rerun:
        lines.insert(0, f"not reached or out of time; next call: {rerun}")
        lines.insert(
            1, "(add --budget SECONDS when that call may run less than 600 s)"
        )
    return lines


def write_summary(job: Job, rerun: str | None) -> list[str]:
    lines = summary_lines(job, rerun)
    (job.out / "summary.txt").write_text("\n".join(lines) + "\n")
    data = {
        "budget_seconds": job.budget,
        "used_seconds": round(time.monotonic() - job.start, 1),
        "rerun": rerun,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "seconds": round(s.seconds, 1),
                "limit": round(s.given, 1),
                "rc": s.rc,
                "last_line": s.last_line,
                "note": s.note,
                "command": s.command,
            }
            for s in job.steps
        ],
    }
    (job.out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    return lines


def rerun_command(job: Job, args: argparse.Namespace) -> str | None:
    """The call that runs what was not reached (and what ran out of time: reproduce
    continues from the partial result tools/gpu_ingest.py kept and git committed).
    """
    todo = [
        s.name
        for s in job.steps
        if s.status in ("skipped", "not run", "timeout", "waiting")
        and s.name not in ("wheels", "machine", "preflight")
        and not s.name.startswith("+")
    ]
    if not todo:
        return None
    parts = ["python3", "tools/gpu_job.py", "--steps", ",".join(todo)]
    if args.profile != "gpu":
        parts += ["--profile", args.profile]
    if args.seeds != 3:
        parts += ["--seeds", str(args.seeds)]
    if args.best_seeds != "auto":
        parts += ["--best-seeds", args.best_seeds]
    return shlex.join(parts)


# --------------------------------------------------------------------------------- main


def select(steps: list[Step], names: str | None) -> list[Step]:
    """``--steps``: names, or a prefix ('reproduce', 'chapters', 'chapter-0') for many."""
    if names is None or names == "all":
        return [s for s in steps if not s.optional]
    chosen: list[Step] = []
    for word in filter(None, (w.strip() for w in names.split(","))):
        prefix = "chapter-" if word == "chapters" else word
        found = [
            s
            for s in steps
            if s.name == word or (s.name.startswith(prefix) and not s.optional)
        ]
        if not found:
            raise SystemExit(
                f"gpu_job: unknown step {word!r}; steps: "
                + ", ".join(s.name for s in steps)
            )
        chosen += [s for s in found if s not in chosen]
    return chosen


def extra_steps(specs: list[str]) -> list[Step]:
    """``--add NAME[:SECONDS]=COMMAND``: a shell command as a step (knobs, tests); its
    limit is SECONDS, else what is left of the budget."""
    steps = []
    for spec in specs:
        head, sep, command = spec.partition("=")
        name, _, seconds = head.partition(":")
        if (
            not sep
            or not name
            or not command
            or (seconds and not seconds.isdigit())
        ):
            raise SystemExit(
                f"gpu_job: --add wants NAME[:SECONDS]=COMMAND, got {spec!r}"
            )
        steps.append(
            Step(
                f"+{name}",
                ["bash", "-c", command],
                limit=float(seconds or 600),
                min_start=5,
                note=command,
            )
        )
    return steps


def carried_commit() -> str | None:
    """The commit ``make gpu-carry`` recorded in ``.carry/commit`` (None without it)."""
    path = CARRY / "commit"
    if not path.is_file():
        return None
    return path.read_text().strip() or None


def child_env(
    site: Path | None, data: Path | None, run_dir: Path, out: Path
) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT / "code")] + ([str(site)] if site else [])
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if data is not None:
        env["FASHION_MNIST_DIR"] = str(data)
    commit = carried_commit()
    # the copy has no .git: results name the commit the carry was made at
    if commit:
        env[COMMIT_ENV_VAR] = commit
    env.update(
        RESNET_COURSE_NO_DOWNLOAD="1",
        PYTHONUNBUFFERED="1",
        MPLBACKEND="agg",
        GPU_RUN=str(run_dir),
        OUT=str(out),
        # Nothing is to be fetched: a hidden download fails at once instead of hanging.
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
    )
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--steps",
        help="comma-separated steps or prefixes (default: all, in order)",
    )
    p.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="NAME[:SECONDS]=COMMAND",
        help="also run this shell command as a step, after the others "
        "(output files: write them into $GPU_RUN)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=float(os.environ.get("GPU_JOB_BUDGET", 560)),
        help="seconds this command may use in all (default 560 of a 600 s call)",
    )
    p.add_argument(
        "--reserve",
        type=float,
        default=15,
        help="seconds kept back for packing and the summary (default 15)",
    )
    p.add_argument(
        "--profile",
        default=os.environ.get("GPU_JOB_PROFILE", "gpu"),
        choices=["gpu", "cpu", "smoke"],
        help="size of everything (default gpu)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="seeds per reproduce experiment (default 3, what the chapters compare; the"
        " runs go seed by seed, and a step cut off at its limit leaves the runs it"
        " finished as a partial result that the next call continues)",
    )
    p.add_argument(
        "--best-seeds",
        default="auto",
        choices=["auto", "1", "2", "3"],
        help="seeds of the best recipe (auto: as many as fit in what is left, 1 to 3;"
        " each seed's row is saved as it finishes)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("OUT") or "/tmp/gpu-out"),
        help="the folder that comes back (default: $OUT, else /tmp/gpu-out)",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="scratch, emptied first (default: $GPU_JOB_WORK or /tmp/gpu-job-work)",
    )
    p.add_argument(
        "--site", type=Path, default=Path("/tmp/site"), help="where the wheels go"
    )
    p.add_argument(
        "--no-wheels", action="store_true", help="use the packages as they are"
    )
    p.add_argument(
        "--no-setup",
        action="store_true",
        help="no wheels, machine or preflight step",
    )
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    return p.parse_args(argv)


def polling(get_msg, every: float = 1.0):
    """``get_msg(self, timeout)`` that waits in slices of ``every`` seconds: a wake-up
    missed by one poll costs one slice, not the whole timeout."""
    from queue import Empty

    async def sliced(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = every if deadline is None else deadline - time.monotonic()
            try:
                return await get_msg(self, min(every, max(left, 0.0)))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return sliced


def execute_notebooks(argv: list[str]) -> int:
    """``tools/execute_notebooks.py ARGS``, with a missed wake-up of nbclient worked
    around: a cell that shows a widget (``interact``) sometimes waits out its whole
    timeout for a reply that has arrived (jupyter/nbclient#312; seen in the rehearsal:
    ch. 6's schedule slider held a 300 s step).  The channels are polled at least once
    a second instead of once per timeout."""
    import runpy

    from jupyter_client.channels import AsyncZMQSocketChannel

    AsyncZMQSocketChannel.get_msg = polling(AsyncZMQSocketChannel.get_msg)
    script = ROOT / "tools" / "execute_notebooks.py"
    sys.argv = [str(script), *argv]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--execute-notebooks"]:
        return execute_notebooks(argv[1:])
    args = parse_args(argv)
    work = args.work or Path(os.environ.get("GPU_JOB_WORK", "/tmp/gpu-job-work"))
    plan = select(
        default_steps(
            args.profile, args.seeds, args.best_seeds, work / "gpu-run"
        ),
        args.steps,
    ) + extra_steps(args.add)
    if args.list:  # reads nothing, writes nothing
        for s in plan:
            print(
                f"{s.name:22s} limit {s.limit:5.0f} s, starts with >= {s.min_start:4.0f} s left  {s.note}"
            )
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if work.exists():
        shutil.rmtree(work)
    (work / "gpu-run").mkdir(parents=True)
    data = CARRY / "fashion-mnist" if (CARRY / "fashion-mnist").is_dir() else None
    size = "gpu" if args.profile == "gpu" else args.profile
    use_wheels = not (args.no_wheels or args.no_setup)
    job = Job(
        args.out,
        work,
        args.budget,
        args.reserve,
        child_env(
            args.site if use_wheels else None, data, work / "gpu-run", args.out
        ),
    )
    job.log = open(args.out / "job.log", "ab")
    job.say(
        f"gpu_job: {len(plan)} steps, budget {args.budget:.0f} s, profile {args.profile}, "
        f"python {sys.executable}, out {args.out}"
    )
    if not args.no_setup:
        job.steps += setup_steps(
            job, sys.executable, args.no_wheels, args.site, data
        )
    job.steps += plan
    since = time.time() - 1
    for step in job.steps:
        started_wall = time.time()
        run_step(job, step)
        keep_notebooks(job, step, started_wall)
        (job.run_dir / "summary.txt").write_text(
            "\n".join(summary_lines(job, None)) + "\n"
        )
        collect(job, size, since)
        write_summary(job, None)
    rerun = rerun_command(job, args)
    lines = write_summary(job, rerun)
    collect(job, size, since)
    job.say("")
    for line in lines:
        job.say(line)
    job.log.close()
    return 0 if all(s.status == "ok" for s in job.steps) else 1


if __name__ == "__main__":
    sys.exit(main())
