"""The book's structure: every chapter listed, executed top to bottom, and showing
package code verbatim."""

from __future__ import annotations

import ast
import re
import importlib
import inspect
import textwrap

import nbformat
import pytest

from book_files import ROOT, book_notebooks, toc_entries, toc_notebooks

SAVE_MARKER = "#@save"


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    in_toc = {ROOT / f"{e}.ipynb" for e in toc_entries()} | {
        ROOT / f"{e}.md" for e in toc_entries()
    }
    on_disk = set(book_notebooks())
    assert (
        on_disk - in_toc == set()
    ), f"notebooks missing from _toc.yml: {sorted(on_disk - in_toc)}"
    missing = [
        e
        for e in toc_entries()
        if not any((ROOT / f"{e}{ext}").exists() for ext in (".ipynb", ".md"))
    ]
    assert missing == [], f"_toc.yml names files that do not exist: {missing}"
    assert toc_notebooks(), "the book has no chapters"


def code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_notebook_was_executed_top_to_bottom_in_one_run(path):
    counts = [c.execution_count for c in code_cells(path)]
    assert (
        None not in counts
    ), f"{path.name}: {counts.count(None)} code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..n: re-run it top to bottom "
        f"(python tools/execute_notebooks.py {path.relative_to(ROOT)})"
    )
    errors = [
        o for c in code_cells(path) for o in c.outputs if o.output_type == "error"
    ]
    assert (
        not errors
    ), f"{path.name}: stored outputs contain an error: {errors[0].ename}"


def saved_definitions():
    """``(notebook, module, name, cell source of the definition)`` for every #@save
    cell."""
    found = []
    for path in book_notebooks():
        for cell in code_cells(path):
            first = cell.source.splitlines()[0].strip()
            if not first.startswith(SAVE_MARKER):
                continue
            module = first[len(SAVE_MARKER) :].strip()
            tree = ast.parse(cell.source)
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    found.append(
                        (
                            path.name,
                            module,
                            node.name,
                            ast.get_source_segment(cell.source, node),
                        )
                    )
    return found


def test_book_shows_package_code():
    assert saved_definitions(), "no chapter shows package code with a #@save cell"


@pytest.mark.parametrize(
    "notebook,module,name,source",
    saved_definitions(),
    ids=lambda v: v if isinstance(v, str) and "\n" not in v else "",
)
def test_code_shown_in_a_chapter_is_the_package_code(
    notebook, module, name, source
):
    mod = importlib.import_module(module)
    assert hasattr(
        mod, name
    ), f"{notebook} defines {name}, but {module} has no {name}"
    package_source = textwrap.dedent(
        inspect.getsource(getattr(mod, name))
    ).rstrip()
    assert source.rstrip() == package_source, (
        f"{notebook} shows a {name} that differs from {module}.{name}: copy one into"
        " the other"
    )


GLUE_ROLE = re.compile(r"\{glue(?::\w*)?\}`([^`]+)`")


def glued_keys(nb) -> set[str]:
    return {
        o.metadata["scrapbook"]["name"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "scrapbook" in o.get("metadata", {})
    }


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_every_number_the_text_quotes_is_glued_by_the_chapter(path):
    nb = nbformat.read(path, as_version=4)
    quoted = {
        key.split(":")[0].strip()
        for c in nb.cells
        if c.cell_type == "markdown"
        for key in GLUE_ROLE.findall(c.source)
    }
    missing = sorted(quoted - glued_keys(nb))
    assert (
        not missing
    ), f"{path.name} quotes glue keys its outputs lack: {missing}"
