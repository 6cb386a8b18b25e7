"""The chapters' code fits the site's code column and shows no test markers or bare
object reprs.

The chapters' code is at most black's line length of pyproject.toml (82) wide: the
site's code column shows 90 characters at a 1280 px window and 82 down to about 1210 px
(see _static/custom.css); longer lines scroll.  ``tools/format_notebooks.py`` formats the
chapters at that length and turns ``# NBVAL_...`` comments into nbval cell tags; a line
it cannot shorten (a long string, a comment) has to be rewritten by hand.  Cells tagged
``remove-cell`` too: the site hides them, but a reader on Colab sees them.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from book_files import ROOT, book_notebooks, code_line_length

MAX_LINE = code_line_length()


def code_cells(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            yield index, cell


def describe(index: int, cell) -> str:
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"cell {index} ({first[:40]!r})"


def code_lines(path):
    """``(where, line)`` for every line of every code cell, ``where`` naming the
    cell and the line's number."""
    for index, cell in code_cells(path):
        for number, line in enumerate(cell.source.splitlines(), start=1):
            yield f"{describe(index, cell)}, line {number}", line


def fail_listing(path, problems: list[str], message: str) -> None:
    """Fail with ``message`` and one line per problem, if there are any."""
    if problems:
        pytest.fail(
            f"{path.relative_to(ROOT)}: {message}:\n  " + "\n  ".join(problems),
            pytrace=False,
        )


def test_there_are_chapters_to_check():
    assert book_notebooks(), "no notebook under book/"


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_code_lines_fit_the_site_code_column(path):
    too_long = [
        f"{where}: {len(line)} characters: {line!r}"
        for where, line in code_lines(path)
        if len(line) > MAX_LINE
    ]
    fail_listing(
        path,
        too_long,
        f"{len(too_long)} code line(s) longer than {MAX_LINE} characters scroll"
        " sideways on the site; run tools/format_notebooks.py or rewrite them",
    )


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_no_code_cell_shows_an_nbval_marker(path):
    marked = [
        f"{where}: {line.strip()!r}"
        for where, line in code_lines(path)
        if "NBVAL" in line
    ]
    fail_listing(
        path,
        marked,
        "readers would see nbval markers; use the cell tags nbval-ignore-output /"
        " nbval-skip instead (tools/format_notebooks.py converts them)",
    )


def misplaced_save_markers(cells) -> list[str]:
    """Cells where a ``#@save`` marker is not the cell's first line (such a cell is not
    checked against the package, and two cells have run together)."""
    return [
        describe(i, cell)
        for i, cell in cells
        if any("@save" in line for line in cell.source.split("\n")[1:])
        or (
            "@save" in cell.source.split("\n")[0]
            and not cell.source.startswith("#@save")
        )
    ]


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_save_markers_open_their_cells(path):
    bad = misplaced_save_markers(code_cells(path))
    assert not bad, (
        f"{path.relative_to(ROOT)}: a '#@save module' marker must be the first line of"
        f" its own cell: {bad}"
    )


def test_a_save_marker_inside_a_cell_is_found():
    cell = nbformat.v4.new_code_cell(
        "fig = diagram()\n#@save resnet_course.x\nclass A: ..."
    )
    assert misplaced_save_markers([(3, cell)])


#: A repr like ``<Axes: ...>`` or ``<Figure size ...>``: what a cell shows when its
#: last line returns an object that has no rich display.
BARE_REPR = re.compile(r"^<[A-Za-z_][\w.]*(:| at 0x| size| object)")


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_no_cell_shows_a_bare_object_repr(path):
    # A plotting helper's returned Axes printed as text above its figure: assign
    # it (``ax = plot(...)``). A final ";" hides it in Jupyter but not under nbval,
    # whose test run would then differ from the stored output.
    shown = [
        f"{describe(index, cell)}: {output.data['text/plain'].splitlines()[0]!r}"
        for index, cell in code_cells(path)
        if "remove-output" not in cell.metadata.get("tags", [])
        for output in cell.get("outputs", [])
        if output.output_type == "execute_result"
        and set(output.data) == {"text/plain"}
        and BARE_REPR.match(output.data["text/plain"])
    ]
    fail_listing(
        path,
        shown,
        f"{len(shown)} cell(s) show an object's repr as text on the site; assign"
        " the last line's value (ax = ...)",
    )


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_no_cell_hides_its_result_with_a_semicolon(path):
    # nbval runs the cells outside IPython's history, so a final ";" does not hide
    # the result there: the test run shows an output the stored notebook lacks.
    hidden = [
        describe(index, cell)
        for index, cell in code_cells(path)
        if cell.source.rstrip().endswith(";")
    ]
    fail_listing(
        path,
        hidden,
        f"{len(hidden)} cell(s) end with ';', which nbval does not honour; assign"
        " the value instead (ax = ...)",
    )
