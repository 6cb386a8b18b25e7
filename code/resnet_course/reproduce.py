"""``python -m resnet_course reproduce NAME|all``: run the chapters' experiments
and store them as ``results/NAME/SIZE.json`` (see :mod:`resnet_course.results`).

A run is resumable network by network: every finished run is saved at once, and
the same command continues a killed run where it stopped.  ``--seeds K`` asks for
seeds 0..K-1; a stored result with fewer seeds is extended, not recomputed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .experiments import SIZES, Experiment, experiments
from .results import (
    ResultError,
    cli_command,
    partial_path,
    provenance,
    read_json,
    result_path,
    results_dir,
    write_json_atomically,
)


class ReproduceError(RuntimeError):
    """Bad input or an unusable folder; the message names the fix."""


def normalised(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def device_label(device: str) -> str:
    from .profiles import device_name

    return device_name(device)


def resolve(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReproduceError(f"--device {device}: CUDA is not available; use cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ReproduceError(
            f"--device must be auto, cpu or cuda[:N], got {device!r}"
        )
    return device


def check_writable(folder: Path) -> None:
    """Fail before any training if ``folder`` cannot hold result files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ReproduceError(
            f"cannot write results into {folder} ({type(exc).__name__}: {exc}); "
            "choose another folder with --results DIR"
        ) from None


def finished_runs(
    exp: Experiment,
    size: str,
    settings: dict,
    specs: list[dict],
    folder: Path | None,
) -> dict[str, dict]:
    """Runs already done: from the partial file of a killed run, or a stored
    result.

    A run whose own settings are no longer the planned ones is left out, to be run
    again: the final model's recipe is chosen from the stored ablation, which a
    later call may have completed, and one result must never mix two recipes."""
    done: dict[str, dict] = {}
    for path in (
        result_path(exp.name, size, folder),
        partial_path(exp.name, size, folder),
    ):
        if not path.is_file():
            continue
        stored = read_json(path)
        if normalised(stored.get("settings")) != normalised(settings):
            raise ReproduceError(
                f"{path} was made with other settings than {exp.name}'s size"
                f" {size!r} has now; move it away (or delete it) to start afresh"
            )
        done.update({r["key"]: r for r in stored["runs"]})
    planned = {s["key"]: normalised(s["settings"]) for s in specs}
    stale = [
        k for k, r in done.items() if k in planned and r["settings"] != planned[k]
    ]
    if stale:
        print(
            f"{exp.name}: {len(stale)} stored run(s) made with other settings,"
            " run again"
        )
    return {k: r for k, r in done.items() if k not in stale}


def run_all(
    exp: Experiment,
    specs: list[dict],
    done: dict[str, dict],
    device: str,
    progress: bool,
    save=None,
) -> dict[str, dict]:
    """Run every spec not in ``done``; ``save(done)`` after each finished run."""
    from tqdm.auto import tqdm

    todo = [s for s in specs if s["key"] not in done]
    if progress or save is not None:
        print(f"{exp.name}: {len(todo)} of {len(specs)} runs to do", flush=True)
    bar = tqdm(
        total=sum(s["cost"] for s in todo),
        desc=exp.name,
        disable=not progress,
        bar_format=(
            "{l_bar}{bar}| {percentage:3.0f}% [{elapsed}<{remaining}] {postfix}"
        ),
    )
    try:
        for spec in todo:
            bar.set_postfix_str(spec["key"])
            start = time.perf_counter()
            out = exp.run(spec, device)
            done[spec["key"]] = {
                "key": spec["key"],
                "seed": spec["seed"],
                "settings": normalised(spec["settings"]),
                **normalised(out),
                "wall_seconds": round(time.perf_counter() - start, 2),
                "device": device_label(device),
            }
            if save is not None:
                save(done)
            bar.update(spec["cost"])
    finally:
        bar.close()
    return done


def assemble(exp, size, settings, specs, done, command, device) -> dict[str, Any]:
    runs = [done[s["key"]] for s in specs]
    runs += [r for k, r in done.items() if k not in {s["key"] for s in specs}]
    wall = sum(r["wall_seconds"] for r in runs)
    # A result continued across machines names every device its runs ran on.
    devices = sorted({r["device"] for r in runs if r.get("device")})
    return {
        "experiment": exp.name,
        "size": size,
        "settings": normalised(settings),
        "runs": runs,
        "provenance": provenance(
            command, " + ".join(devices) or device_label(device), wall
        ),
    }


def reproduce(
    name: str,
    size: str,
    seeds: int,
    folder: Path | None,
    device: str,
    progress: bool = True,
    command: str = "",
) -> Path:
    """Run one experiment at ``size`` into ``folder`` (resuming) and return the
    file."""
    exp = experiments()[name]
    settings = exp.sizes[size]
    specs = exp.plan(settings, seeds, folder)
    done = finished_runs(exp, size, settings, specs, folder)
    final, partial = result_path(name, size, folder), partial_path(
        name, size, folder
    )
    if final.is_file() and all(s["key"] in done for s in specs):
        print(f"{name} ({size}): already stored in {final}")
        return final

    def save(runs: dict[str, dict]) -> None:
        write_json_atomically(
            {
                "experiment": name,
                "size": size,
                "settings": normalised(settings),
                "runs": list(runs.values()),
            },
            partial,
        )

    run_all(exp, specs, done, device, progress, save)
    write_json_atomically(
        assemble(exp, size, settings, specs, done, command, device), final
    )
    partial.unlink(missing_ok=True)
    print(f"{name} ({size}): {len(done)} runs stored in {final}")
    return final


def run_in_memory(
    name: str,
    size: str,
    seeds: int = 3,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """The same runs as ``reproduce``, returned instead of stored (for the
    chapters)."""
    exp = experiments()[name]
    settings = exp.sizes[size]
    specs = exp.plan(settings, seeds)
    done = run_all(exp, specs, {}, device, progress)
    command = f"run_experiment({name!r}, {size!r}, seeds={seeds})"
    return assemble(exp, size, settings, specs, done, command, device)


def experiment_table() -> str:
    """``--help``'s list: every experiment, its chapter and its expected
    minutes."""
    head = f"{'experiment':17s} {'chapter':22s} " + " ".join(
        f"{s:>6s}" for s in SIZES
    )
    lines = [
        "experiments (minutes on 2 CPU cores, 3 seeds; long: as measured for",
        "results/, one thread per process; gpu: an estimate, not yet measured):",
        "",
        head,
    ]
    for e in experiments().values():
        times = " ".join(f"{e.minutes.get(s, float('nan')):6.1f}" for s in SIZES)
        lines.append(f"{e.name:17s} {e.chapter:22s} {times}")
        lines.append(f"{'':17s} {e.summary}")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``reproduce`` with the command line."""
    p = sub.add_parser(
        "reproduce",
        help="run the chapters' experiments into results/NAME/SIZE.json",
        description=__doc__.split("\n\n")[0],
        epilog=experiment_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="an experiment below, or 'all'")
    p.add_argument(
        "--size",
        default="long",
        choices=SIZES,
        help="smoke (CI), cpu (minutes), long (the stored CPU runs), gpu",
    )
    p.add_argument(
        "--seeds", type=int, default=3, help="seeds 0..K-1 (default 3)"
    )
    p.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the result files (default: results/)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .data import DatasetError

    names = list(experiments()) if args.name == "all" else [args.name]
    try:
        if args.name != "all" and args.name not in experiments():
            raise ReproduceError(
                f"unknown experiment {args.name!r}; choose one of "
                f"{', '.join(experiments())}, or all"
            )
        if args.seeds < 1:
            raise ReproduceError(f"--seeds must be at least 1, got {args.seeds}")
        device = resolve(args.device)
        check_writable(args.results or results_dir())
    except ReproduceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.no_progress:  # the training loops' bars too (profiles.bars_disabled)
        os.environ["TQDM_DISABLE"] = "1"
    try:
        for name in names:
            command = cli_command(
                "reproduce", name, "--size", args.size, "--seeds", str(args.seeds)
            )
            reproduce(
                name,
                args.size,
                args.seeds,
                args.results,
                device,
                not args.no_progress,
                command,
            )
    except (ReproduceError, ResultError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every finished run is saved; the same command"
            " continues where this one stopped",
            file=sys.stderr,
        )
        return 130
    return 0
