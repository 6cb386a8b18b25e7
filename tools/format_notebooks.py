"""Keep the chapters' code readable on the site: formatted by black, markers as tags.

    python tools/format_notebooks.py [book/NN_chapter.ipynb ...]     # default: every chapter

* A first line ``# NBVAL_IGNORE_OUTPUT`` / ``# NBVAL_SKIP`` becomes the cell tag
  ``nbval-ignore-output`` / ``nbval-skip`` (readers never see test markers).
* Every code cell without shell or line magics is formatted by black at the line length
  of ``pyproject.toml``.  Outputs are kept: formatting does not change what runs.
* In ``#@save`` cells every top-level definition is replaced by the package's source, so a
  chapter always shows the package's code (``tests/test_book.py`` checks it).

``tests/test_notebook_style.py`` fails when a chapter needs this tool.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import sys
import textwrap
from pathlib import Path

import black
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from book_files import book_notebooks, code_line_length  # noqa: E402

MARKERS = {
    "# NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
    "# NBVAL_SKIP": "nbval-skip",
}
# Preview string processing splits long string literals, as long f-strings are common here.
MODE = black.Mode(
    line_length=code_line_length(),  # the package's: #@save cells show its code
    preview=True,
    enabled_features={black.mode.Preview.string_processing},
)


def has_magic(source: str) -> bool:
    return any(
        line.lstrip().startswith(("!", "%")) for line in source.splitlines()
    )


def move_markers_to_tags(cell) -> None:
    lines = cell.source.splitlines()
    tags = list(cell.metadata.get("tags", []))
    while lines and lines[0].strip() in MARKERS:
        tag = MARKERS[lines.pop(0).strip()]
        if tag not in tags:
            tags.append(tag)
    if tags:
        cell.metadata["tags"] = tags
    cell.source = "\n".join(lines)


def package_definitions(source: str) -> str:
    """``source`` of a ``#@save module`` cell with every definition taken from ``module``."""
    module = importlib.import_module(source.splitlines()[0].split()[1])
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in reversed(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and hasattr(
            module, node.name
        ):
            start = node.lineno - 1 - len(node.decorator_list)
            new = textwrap.dedent(
                inspect.getsource(getattr(module, node.name))
            ).rstrip()
            lines[start : node.end_lineno] = new.splitlines()
    return "\n".join(lines)


def format_cell(cell) -> None:
    move_markers_to_tags(cell)
    if not cell.source.strip() or has_magic(cell.source):
        return
    saved = cell.source.startswith("#@save")
    source = black.format_str(cell.source, mode=MODE).rstrip("\n")
    # black writes "# @save"; the marker stays as the book's tests expect it
    if saved:
        source = (
            "#@save"
            + source.split("\n", 1)[0].removeprefix("# @save")
            + ("\n" + source.split("\n", 1)[1] if "\n" in source else "")
        )
        source = package_definitions(source)
    cell.source = source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    for path in args.notebooks or book_notebooks():
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                format_cell(cell)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            print(f"formatted {path}")


if __name__ == "__main__":
    main()
