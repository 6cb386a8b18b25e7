#!/usr/bin/env python3
"""Before the GPU job: is everything it needs there?  Lists every gap in one go.

    python3 tools/gpu_preflight.py [--data DIR] [--group core|notebooks|all]
    python3 tools/gpu_preflight.py --carry .carry      # before a device call: the carry

Modules: every module the job imports directly (``core``: bench and reproduce, d2l's
recipe included; ``notebooks``: executing the chapters) is looked up without importing
it, and the declared requirements of the packages behind them are followed, so a
package that is needed only by another one (jedi for IPython, attrs for jsonschema...)
is named too.  Data: the four Fashion-MNIST files (``.gz`` or unpacked) in ``--data``,
``$FASHION_MNIST_DIR`` or Debian's folder.  Exits 1 with the list of what is missing.

``--carry DIR`` checks what a device call would send: DIR plus the working tree that
travels must stay under the call's 64 MiB (``$GPU_CARRY_LIMIT_MIB`` overrides), the
wheels must hold one version of each package, and the data one form of each file.

Only the standard library is used (``packaging`` when it is there, for markers).
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Modules the job imports directly, by group; the distribution that provides each.
MODULES = {
    "core": {
        "torch": "torch",
        "torchvision": "torchvision",
        "numpy": "numpy",
        "PIL": "pillow",
        "tqdm": "tqdm",
        "matplotlib": "matplotlib",
        "pandas": "pandas",
        "scipy": "scipy",
        "requests": "requests",
        # `from d2l import torch as d2l` (the d2l recipe of bench) needs these too:
        "d2l": "d2l",
        "IPython": "ipython",
        "matplotlib_inline": "matplotlib-inline",
    },
    "notebooks": {
        "yaml": "PyYAML",  # tools/execute_notebooks.py -> tests/book_files.py
        "nbclient": "nbclient",
        "nbformat": "nbformat",
        "jupyter_client": "jupyter_client",
        "jupyter_core": "jupyter_core",
        "ipykernel": "ipykernel",
        "ipywidgets": "ipywidgets",
        "zmq": "pyzmq",
        "tornado": "tornado",
        "traitlets": "traitlets",
        "comm": "comm",
        "debugpy": "debugpy",
        "psutil": "psutil",
        "pygments": "Pygments",
        "attrs": "attrs",
        "jsonschema": "jsonschema",
    },
}
#: Distributions whose declared requirements are not followed: d2l pins 2023 versions
#: and is installed with --no-deps; torch's CUDA libraries are the image's business.
NO_DEPS = {"d2l", "torch"}
DATA_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CARRY_LIMIT_MIB = 64


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), dist)  # the first on sys.path wins
    return found


def requirement_names(dist: metadata.Distribution) -> list[str]:
    """The names of the requirements ``dist`` declares for this machine (no extras)."""
    names = []
    for text in dist.requires or []:
        try:
            from packaging.requirements import Requirement

            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            names.append(req.name)
        except ImportError:
            if "extra ==" in text or "extra==" in text:
                continue
            if ";" in text and not _crude_marker(text.split(";", 1)[1]):
                continue
            names.append(re.split(r"[\s<>=!~;\[(]", text.strip(), maxsplit=1)[0])
        except Exception:  # an unparsable requirement: not ours to judge
            continue
    return names


def _crude_marker(marker: str) -> bool:
    """Without packaging: drop the requirements meant for other platforms only."""
    m = marker.replace('"', "'")
    if "sys_platform == 'win32'" in m or "platform_system == 'Windows'" in m:
        return False
    if "platform_system == 'Darwin'" in m or "sys_platform == 'darwin'" in m:
        return False
    v = re.search(r"python_version\s*<\s*'(\d+)\.(\d+)'", m)
    if v and sys.version_info[:2] >= (int(v.group(1)), int(v.group(2))):
        return False
    return True


def missing_modules(
    groups: list[str], extra: list[str] = ()
) -> list[tuple[str, str, str]]:
    """(module or distribution, distribution, why) for everything that is not there."""
    dists = installed()
    gaps: list[tuple[str, str, str]] = []
    roots: list[str] = []
    wanted = {m: d for g in groups for m, d in MODULES[g].items()}
    wanted.update({m: m for m in extra})
    for module, dist in wanted.items():
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            gaps.append((module, dist, "imported by the job"))
        else:
            roots.append(dist)
    seen: set[str] = set()
    todo = [(canonical(d), "") for d in roots]
    while todo:
        name, parent = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        dist = dists.get(name)
        if dist is None:
            if parent:
                gaps.append((name, name, f"required by {parent}"))
            continue
        if name in NO_DEPS:
            continue
        todo += [(canonical(r), name) for r in requirement_names(dist)]
    return gaps


def data_folder(explicit: str | None) -> Path | None:
    for candidate in (explicit, os.environ.get("FASHION_MNIST_DIR"), DEBIAN_DIR):
        if candidate:
            return Path(candidate)
    return None


def missing_data(folder: Path | None) -> list[str]:
    if folder is None or not folder.is_dir():
        return [f"no Fashion-MNIST folder (looked at {folder or 'nothing'})"]
    gaps = []
    for stem in DATA_FILES:
        files = [folder / stem, folder / f"{stem}.gz"]
        if not any(f.is_file() and f.stat().st_size > 0 for f in files):
            gaps.append(f"{folder}/{stem}[.gz] missing or empty")
    return gaps


# ------------------------------------------------------------------------------ carry


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of the working tree that a device call sends (tracked + untracked files
    that git does not ignore)."""
    try:
        names = subprocess.run(
            [
                "git",
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        return 0
    total = 0
    for name in filter(None, names):
        path = root / os.fsdecode(name)
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def check_carry(
    folder: Path, limit_mib: float, with_tree: bool = True
) -> list[str]:
    """Problems of a carry folder; prints its size, the tree's and the limit."""
    problems = []
    if not folder.is_dir():
        return [f"{folder} does not exist: run `make gpu-carry`"]
    carry = folder_bytes(folder)
    tree = tree_bytes() if with_tree else 0
    total = carry + tree
    mib = 1024 * 1024
    print(
        f"carry {folder}: {carry / mib:.1f} MiB + working tree {tree / mib:.1f} MiB ="
        f" {total / mib:.1f} MiB of the {limit_mib:g} MiB a device call may send"
    )
    if total > limit_mib * mib:
        problems.append(
            f"too large: {total / mib:.1f} MiB > {limit_mib:g} MiB; the call would be"
            " refused (carry fewer wheels, or one form of the data)"
        )
    versions: dict[str, list[str]] = {}
    for wheel in sorted((folder / "wheels").glob("*.whl")):
        versions.setdefault(canonical(wheel.name.split("-")[0]), []).append(
            wheel.name
        )
    for name, files in versions.items():
        if len(files) > 1:
            problems.append(
                f"two versions of {name} (the install stops): {', '.join(files)}"
            )
    data = folder / "fashion-mnist"
    if data.is_dir():
        for stem in DATA_FILES:
            forms = [
                p.name for p in (data / stem, data / f"{stem}.gz") if p.exists()
            ]
            if len(forms) != 1:
                problems.append(
                    f"{data}: {stem} in {len(forms)} forms ({forms}); carry one"
                )
    return problems


def compile_gaps() -> list[str]:
    """What torch.compile's GPU backend (Inductor, through Triton) needs and this
    machine lacks: Triton builds a small C launcher for its kernels with a C
    compiler and Python's headers, so without them every compiled run fails."""
    gaps = []
    if importlib.util.find_spec("triton") is None:
        gaps.append("the triton module")
    compilers = [os.environ.get("CC", ""), "cc", "gcc", "clang"]
    if not any(c and shutil.which(c) for c in compilers):
        gaps.append("a C compiler (cc, gcc or clang on PATH, or $CC)")
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.exists():
        gaps.append(f"Python's headers ({header})")
    return gaps


def compile_check(marker: Path) -> int:
    """On a CUDA machine: write ``marker`` (the gaps) when torch.compile cannot
    build kernels, so that the job runs its recipes with ``--compile none``."""
    marker.unlink(missing_ok=True)
    import torch

    if not torch.cuda.is_available():
        print("compile-check: no CUDA; the recipes compile nothing on the CPU")
        return 0
    gaps = compile_gaps()
    if not gaps:
        print("compile-check: OK (triton, a C compiler, Python's headers)")
        return 0
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("; ".join(gaps) + "\n")
    print(
        f"compile-check: torch.compile cannot build kernels here (missing:"
        f" {'; '.join(gaps)}); bench and best run with --compile none"
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data",
        help="the Fashion-MNIST folder (default: $FASHION_MNIST_DIR, Debian's)",
    )
    p.add_argument("--group", default="all", choices=["core", "notebooks", "all"])
    p.add_argument(
        "--need",
        action="append",
        default=[],
        metavar="MODULE",
        help="also require this module",
    )
    p.add_argument(
        "--no-data", action="store_true", help="do not look for the data"
    )
    p.add_argument(
        "--carry", type=Path, metavar="DIR", help="check a carry folder instead"
    )
    p.add_argument(
        "--compile-check",
        type=Path,
        metavar="MARKER",
        help="instead: can torch.compile build GPU kernels? If not, write MARKER",
    )
    args = p.parse_args(argv)
    if args.compile_check is not None:
        return compile_check(args.compile_check)
    if args.carry is not None:
        limit = float(os.environ.get("GPU_CARRY_LIMIT_MIB", CARRY_LIMIT_MIB))
        problems = check_carry(args.carry, limit)
        for problem in problems:
            print(f"carry: {problem}")
        print(
            "carry: OK" if not problems else f"carry: {len(problems)} problem(s)"
        )
        return 1 if problems else 0
    groups = list(MODULES) if args.group == "all" else [args.group]
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    gaps = missing_modules(groups, args.need)
    data_gaps = [] if args.no_data else missing_data(data_folder(args.data))
    for module, dist, why in gaps:
        group = next((g for g in MODULES if module in MODULES[g]), "dependency")
        print(f"missing module: {module} (distribution {dist}; {why}; {group})")
    for gap in data_gaps:
        print(f"missing data: {gap}")
    if gaps:
        names = sorted({d for _, d, _ in gaps})
        print(
            f"preflight: {len(gaps)} module(s) missing: {' '.join(names)}. Carry them:"
            " add them to NAMES in tools/make_gpu_carry.sh and run `make gpu-carry`"
        )
    if not gaps and not data_gaps:
        print(
            f"preflight: OK (groups {', '.join(groups)}; data in {data_folder(args.data)})"
        )
        return 0
    if data_gaps and not gaps:
        print(
            "preflight: data missing; run `make gpu-carry` (it copies the .gz files)"
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
