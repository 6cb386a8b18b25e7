"""Authoring helper: turn a percent-format script into a notebook (outputs empty).

    python tools/py_to_notebook.py chapter.py book/NN_chapter.ipynb

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown, each line prefixed
with ``# ``).  Tags go after the marker: ``# %% tags=["remove-cell"]``. The notebook in
``book/`` is the source of truth once written; this is only a way to write it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

MARKER = re.compile(
    r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$"
)


def convert(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    cells: list[tuple[bool, list[str], list[str]]] = []
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            cells.append(
                (bool(m["md"]), json.loads(m["tags"]) if m["tags"] else [], [])
            )
        elif cells:
            cells[-1][2].append(line)
    for is_md, tags, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if is_md:
            src = "\n".join(
                l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines
            )
            cell = nbformat.v4.new_markdown_cell(src)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.validator.normalize(nb)
    return nb


if __name__ == "__main__":
    src, dst = map(Path, sys.argv[1:3])
    nbformat.write(convert(src.read_text()), dst)
    print(f"wrote {dst}")
