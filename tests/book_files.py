"""Where the book's files are, and how wide its code is: shared by the tests and the
chapter tools (execute_notebooks.py, format_notebooks.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def code_line_length() -> int:
    """black's line length (pyproject.toml): the package's and the chapters' code."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pyproject["tool"]["black"]["line-length"]


def toc_entries() -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (root included), in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                entries.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return entries


def toc_notebooks() -> list[Path]:
    """The notebooks that ``_toc.yml`` names, in reading order."""
    return [
        ROOT / f"{e}.ipynb"
        for e in toc_entries()
        if (ROOT / f"{e}.ipynb").exists()
    ]


def book_notebooks() -> list[Path]:
    """Every notebook under ``book/`` (checkpoints excluded)."""
    return sorted(
        p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
