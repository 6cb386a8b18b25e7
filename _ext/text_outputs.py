"""Printed output on the site: tables keep their columns, sentences wrap.

A text output (a stream or text/plain) whose lines are laid out in columns -- an
indented line, a run of two or more spaces, a tab, box-drawing characters: the error
tables, the printed source of ``train_step``, tensors -- keeps its lines and scrolls
sideways when it is wider than the column, as on a phone.  One that reads as sentences
gets the class ``prose`` and wraps (_static/custom.css), so a long printed sentence
stays readable without scrolling.  tools/browser_test.py checks, with the same
definition of columns, that no such output wraps on a 390 px phone.
"""

from __future__ import annotations

import re

from docutils import nodes

COLUMNS = re.compile(r"^[ \t]+\S|\S[ \t]{2,}\S|\t|[\u2500-\u257f]")


def is_prose(text: str) -> bool:
    return not any(COLUMNS.search(line.rstrip()) for line in text.splitlines())


def mark_prose_outputs(app, doctree, docname) -> None:
    for block in doctree.findall(nodes.literal_block):
        if "output" in block["classes"] and is_prose(block.astext()):
            block["classes"].append("prose")


def setup(app):
    app.connect("doctree-resolved", mark_prose_outputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
