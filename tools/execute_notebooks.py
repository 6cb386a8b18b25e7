"""Execute chapters top to bottom and store their outputs in place.

    python tools/execute_notebooks.py                 # every notebook in _toc.yml,
    default profile python tools/execute_notebooks.py --profile cpu
    book/05_residual_block_code.ipynb

The profile is passed to the kernel through RESNET_COURSE_PROFILE; the notebooks print
it in their first output, so a reader can tell what produced what they see.  Prints the
wall time of each notebook; ``--record results/execution.json`` also stores them
(with the machine, torch and commit) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from book_files import toc_notebooks  # noqa: E402


def execute(path: Path, profile: str | None, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    if profile:
        os.environ["RESNET_COURSE_PROFILE"] = profile
    # A non-interactive backend (MPLBACKEND=agg) would override the kernel's inline
    # backend and the stored notebook would have no figures.
    os.environ.pop("MPLBACKEND", None)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def record(
    path: Path, notebook: Path, seconds: float, profile: str | None
) -> None:
    """Add (or replace) one notebook's wall time under its profile in the JSON file
    ``path`` (``results/execution.json``): ``{"provenance": <the latest execution's>,
    "chapters": {profile: {notebook: {"seconds": ..., "provenance": {...}}}}}``, each
    provenance as :func:`resnet_course.results.provenance` makes it (command, commit,
    date, device, torch, wall time)."""
    import json

    from resnet_course.profiles import device_name
    from resnet_course.results import provenance, write_json_atomically

    profile = profile or os.environ.get("RESNET_COURSE_PROFILE", "default")
    data = json.loads(path.read_text()) if path.exists() else {}
    command = f"python tools/execute_notebooks.py --profile {profile} {notebook}"
    made = provenance(command, device_name(), seconds)
    chapters = data.setdefault("chapters", {}).setdefault(profile, {})
    chapters[notebook.name] = {"seconds": round(seconds, 1), "provenance": made}
    data["provenance"] = made
    write_json_atomically(data, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", choices=["smoke", "cpu", "gpu"])
    parser.add_argument(
        "--timeout", type=int, default=1800, help="seconds per cell"
    )
    parser.add_argument(
        "--record",
        type=Path,
        help="JSON file that keeps each notebook's wall time",
    )
    args = parser.parse_args()
    notebooks = args.notebooks or toc_notebooks()
    total = 0.0
    for path in notebooks:
        print(f"executing {path} ...", flush=True)
        seconds = execute(Path(path), args.profile, args.timeout)
        total += seconds
        print(f"  {seconds:7.1f} s  {path}", flush=True)
        if args.record:
            record(args.record, Path(path), seconds, args.profile)
    print(
        f"  {total:7.1f} s  in all ({len(notebooks)} notebooks, profile "
        f"{args.profile or os.environ.get('RESNET_COURSE_PROFILE', 'default')})"
    )


if __name__ == "__main__":
    main()
