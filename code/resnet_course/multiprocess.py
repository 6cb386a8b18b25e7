"""Launching data-parallel runs from Python: the chapter's comparison of 1 and 2
processes, and ``bench --nproc``.

Each run is what a user types,
``torchrun --standalone --nproc_per_node=N -m resnet_course train ...`` (as
``python -m torch.distributed.run``, the same program), in a subprocess; its
history and its final weights are read back from the files it wrote. The functions
return plain data; the chapter plots and tabulates it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import torch

from .checkpoint import load_checkpoint
from .history import History
from .train_config import TrainConfig

#: A run that has not finished after this long is stopped (and reported).
RUN_TIMEOUT_S = 3600

#: The folder, inside a run's own, that holds torchrun's per-rank logs.
TORCHRUN_LOGS = "torchrun-logs"


class LaunchFailed(RuntimeError):
    """A launched run exited with an error; the message is the run's own error
    line."""


def config_flags(cfg: TrainConfig, changed_only: bool = False) -> list[str]:
    """The ``train`` flags that give ``cfg``:
    ``--batch-size 512 --no-augment ...`` (with ``changed_only``, just those whose
    value is not TrainConfig's default).
    """
    flags, default = [], TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        value, flag = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        if changed_only and value == getattr(default, f.name):
            continue
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        else:
            flags += [flag, str(value)]
    return flags


def launch_command(
    nproc: int,
    cfg: TrainConfig,
    history_json: str,
    changed_only: bool = False,
    log_dir: str | None = None,
) -> list[str]:
    """``torchrun --standalone --nproc_per_node=N -m resnet_course train ...``;
    torchrun's per-rank logs go to ``log_dir`` (without it, to a new
    ``torchelastic_*`` folder in the system's temporary folder, never removed)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        *(["--log-dir", log_dir] if log_dir else []),
        "-m",
        "resnet_course",
        "train",
        *config_flags(cfg, changed_only),
        "--overwrite",
        "--history-json",
        history_json,
    ]


#: The line a surviving process prints when another one of its run failed.
PEER_STOPPED = "another process of this run stopped"


def failure_message(nproc: int, stdout: str, stderr: str) -> str:
    """Why a launched run failed, in one line, from the process that failed
    first: its ``error:`` line, else its traceback's last line, else torchrun's
    "root cause" (a rank killed by a signal) -- never only the survivors'
    "another process stopped".  torchrun's whole output goes to a log file that
    the message names, since the run's own folder is often temporary."""
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    causes = [line for line in errors if PEER_STOPPED not in line]
    raised = [line for line in lines if _is_exception_line(line)]
    root = _root_cause(stderr)
    cause = (causes or raised or root or errors or ["(no error line)"])[0]
    fd, log = tempfile.mkstemp(prefix="resnet-course-launch-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(f"torchrun, {nproc} processes\n--- stdout\n{stdout}\n")
        f.write(f"--- stderr\n{stderr}\n")
    return (
        f"the run of {nproc} process(es) failed: {cause}"
        f" (torchrun's output: {log})"
    )


def _is_exception_line(line: str) -> bool:
    """``SomeError: message`` at the start of a line, a traceback's last line
    (torchrun's own ``ChildFailedError`` says nothing of the cause: skipped)."""
    name = line.split(":", 1)[0]
    head = name.rsplit(".", 1)[-1]
    return (
        ":" in line
        and head.isidentifier()
        and head.endswith(("Error", "Exception"))
        and not name.startswith("torch.distributed.elastic")
    )


def _root_cause(stderr: str) -> list[str]:
    """torchrun's "Root Cause" entry as one line: ``rank 0 exited with code -9
    (SIGKILL)``; empty when there is none."""
    root = stderr.partition("Root Cause (first observed failure):")[2]
    rank = re.search(r"rank\s*:\s*(\d+)", root)
    code = re.search(r"exitcode\s*:\s*(-?\d+).*?(\(SIG\w+\))?[ \t]*$", root, re.M)
    if not (rank and code):
        return []
    signal = f" {code.group(2)}" if code.group(2) else ""
    return [f"rank {rank.group(1)} exited with code {code.group(1)}{signal}"]


def folder_command(
    nproc: int, cfg: TrainConfig, folder: str | Path
) -> tuple[list[str], Path]:
    """The launch command of a run kept in ``folder`` (made if missing): its
    checkpoint, its history (the returned path) and torchrun's logs go there;
    progress bars are off (a launched run's output is captured)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dataclasses.replace(cfg, checkpoint_dir=str(folder), progress=False)
    history_json = folder / "history.json"
    logs = str(folder / TORCHRUN_LOGS)
    return (
        launch_command(nproc, cfg, str(history_json), log_dir=logs),
        history_json,
    )


def run_processes(
    nproc: int, cfg: TrainConfig, folder: str | Path, env: dict | None = None
) -> dict[str, Any]:
    """Train ``cfg`` with ``nproc`` processes, its checkpoint in ``folder``;
    return the history, the wall time (start-up included) and the folder."""
    command, history_json = folder_command(nproc, cfg, folder)
    start = time.perf_counter()
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        timeout=RUN_TIMEOUT_S,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise LaunchFailed(failure_message(nproc, proc.stdout, proc.stderr))
    with open(history_json) as f:
        history = json.load(f)["history"]
    return {
        "processes": nproc,
        "history": history,
        "wall_seconds": wall,
        "folder": str(history_json.parent),
    }


def _trained(folder: str | Path) -> dict[str, torch.Tensor]:
    """A run's trained tensors, in float64 (parameters only: batch-norm running
    statistics are not trained)."""
    state = load_checkpoint(folder)["model"]
    return {
        k: v.double()
        for k, v in state.items()
        if v.is_floating_point() and "running_" not in k
    }


def _largest_difference(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def weights_difference(folder_a: str | Path, folder_b: str | Path) -> float:
    """The largest absolute difference between the trained weights of two runs
    (parameters only: batch-norm running statistics are not trained)."""
    return _largest_difference(_trained(folder_a), _trained(folder_b))


def _largest_weight(weights: dict) -> float:
    """The largest absolute trained weight: the scale against which to read a
    weight difference."""
    return max(v.abs().max().item() for v in weights.values())


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    h = History.from_dict(run["history"])
    return {
        "processes": run["processes"],
        "test_acc": h.final_test_acc,
        "train_seconds": h.train_seconds[-1],
        "images_per_second": h.images_per_second,
        "wall_seconds": run["wall_seconds"],
    }


def compare_process_counts(cfg: TrainConfig, runs: Iterable[tuple]):
    """Train ``cfg`` as each of ``runs``,
    ``(name, processes, sync_batchnorm, precision)``, and compare every run's
    final weights with those of the first run of the same precision (the
    one-process run); a list of rows, each with the run's largest weight for
    scale."""
    rows, reference = [], {}
    with tempfile.TemporaryDirectory(prefix="resnet-course-ddp-") as tmp:
        for i, (name, nproc, sync, precision) in enumerate(runs):
            run_cfg = dataclasses.replace(
                cfg, sync_batchnorm=sync, precision=precision
            )
            run = run_processes(nproc, run_cfg, Path(tmp) / str(i))
            weights = _trained(run["folder"])
            reference.setdefault(precision, weights)
            row = {"run": name, "precision": precision, "sync_batchnorm": sync}
            rows.append(
                {
                    **row,
                    **_summary(run),
                    "max_weight_difference": _largest_difference(
                        reference[precision], weights
                    ),
                    "max_abs_weight": _largest_weight(weights),
                }
            )
    return rows


def scaling(cfg: TrainConfig, nprocs: Iterable[int]) -> list[dict[str, Any]]:
    """Images per second with each number of processes in ``nprocs``, the global
    batch and learning rate fixed; speed-up and efficiency against the first."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="resnet-course-scaling-") as tmp:
        for n in nprocs:
            rows.append(_summary(run_processes(n, cfg, Path(tmp) / str(n))))
    base = rows[0]
    for row in rows:
        row["speedup"] = row["images_per_second"] / base["images_per_second"]
        row["efficiency"] = row["speedup"] * base["processes"] / row["processes"]
    return rows


def process_counts(nproc: int) -> list[int]:
    """1, 2, 4, ... up to ``nproc`` (and ``nproc`` itself)."""
    counts = [1]
    while counts[-1] * 2 <= nproc:
        counts.append(counts[-1] * 2)
    return counts if counts[-1] == nproc else counts + [nproc]


def device_count_for(device: str) -> tuple[int, str]:
    """How many processes a machine can take for ``device``, and of what: its
    GPUs, or its cores."""
    if device.startswith("cuda") or (
        device == "auto" and torch.cuda.is_available()
    ):
        return torch.cuda.device_count(), "GPU(s)"
    return os.cpu_count() or 1, "cores"


def step_arithmetic(
    params: int,
    macs_per_image: int,
    global_batch: int,
    nprocs: Iterable[int],
    grad_bytes: int = 4,
) -> list[dict[str, Any]]:
    """What one optimiser step costs each of N GPUs, on paper.

    Compute: a training step is about three forward passes' worth of multiply-adds
    (forward, and backward for inputs and weights), 2 FLOP each, on the GPU's
    ``global_batch / N`` images. Communication: a ring all-reduce of the gradients
    (``grad_bytes`` each; DDP reduces them in the parameters' dtype, fp32 here)
    sends ``2 (N - 1) / N`` times their size from every GPU. Their ratio, FLOP per
    byte sent, says how fast the link must be for the all-reduce to hide behind
    the backward pass.
    """
    rows = []
    for n in nprocs:
        flop = 6 * macs_per_image * global_batch / n
        sent = 2 * (n - 1) / n * params * grad_bytes
        rows.append(
            {
                "processes": n,
                "images_per_gpu": global_batch // n,
                "gflop_per_gpu": flop / 1e9,
                "mb_sent_per_gpu": sent / 1e6,
                "flop_per_byte": flop / sent if sent else float("inf"),
            }
        )
    return rows
