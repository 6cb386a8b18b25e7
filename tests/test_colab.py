"""Every chapter runs on Colab: its hidden first cell installs the course there and only
there, and the site's launch button opens the right notebook.

The notebook checks always run.  The checks of the built site run when ``_build/html``
exists (``make browser-test`` runs them right after the build, with
``BOOK_SITE_BUILT=1`` so that a missing page fails instead of being skipped).
"""

from __future__ import annotations

import os
import sys
import types
import re
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml

from book_files import ROOT, book_notebooks, toc_notebooks

SITE = ROOT / "_build" / "html"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
PATH_TO_BOOK = (CONFIG["repository"].get("path_to_book") or "").strip("/")
COLAB_GUARD = re.compile(
    r"""^if\s+["']google\.colab["']\s+in\s+sys\.modules\s*:\s*$"""
)
PIP = re.compile(r"^\s*[!%]\s*pip\s+install\b")
NUMPY_PIN = re.compile(r"\bnumpy\s*(==|<|>|~=|!=)")
SITE_REQUIRED = os.environ.get("BOOK_SITE_BUILT") == "1"


def rel(path) -> str:
    return path.relative_to(ROOT).as_posix()


def first_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells, f"{path.name} is empty"
    return nb.cells[0]


def logical_lines(source: str) -> list[str]:
    """The cell's lines with each ``\\``-continued line joined to the next, as
    IPython joins a ``!pip`` command before running it."""
    joined = []
    for line in source.splitlines():
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1].rstrip() + " " + line.strip()
        else:
            joined.append(line)
    return joined


def test_the_book_has_notebooks_to_check():
    assert (
        book_notebooks()
    ), "no notebook under book/: nothing for the Colab checks to check"


def test_the_repository_url_is_the_one_contributors_are_told_to_use():
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    assert f"git+{REPO_URL}" in contributing, (
        f"CONTRIBUTING.md's Colab cell does not install from git+{REPO_URL}"
        " (_config.yml's repository.url): change one of them so that they agree"
    )


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_first_cell_is_the_colab_install_cell_hidden_on_the_website(path):
    cell = first_cell(path)
    assert cell.cell_type == "code", (
        f"{path.name}: the first cell must be the Colab install cell (see"
        f" CONTRIBUTING.md), found a {cell.cell_type} cell"
    )
    tags = cell.get("metadata", {}).get("tags", [])
    assert "remove-cell" in tags, (
        f"{path.name}: the Colab cell must be tagged remove-cell so the website hides"
        f" it (tags: {tags})"
    )
    lines = logical_lines(cell.source)
    guards = [i for i, line in enumerate(lines) if COLAB_GUARD.match(line)]
    assert guards, (
        f'{path.name}: the Colab cell must install only under `if "google.colab" in'
        " sys.modules:`"
    )
    assert any(
        re.match(r"^\s*import\s+sys\b", line) for line in lines[: guards[0]]
    ), f"{path.name}: the Colab cell uses sys.modules without importing sys first"
    pips = [(i, line) for i, line in enumerate(lines) if PIP.match(line)]
    assert pips, f"{path.name}: the Colab cell installs nothing"
    for i, line in pips:
        assert i > guards[0] and line.startswith((" ", "\t")), (
            f"{path.name}: `{line.strip()}` runs outside the Colab guard: it would"
            " install into every reader's environment"
        )


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_colab_cell_installs_d2l_without_deps_and_never_pins_numpy(path):
    source = first_cell(path).source
    pips = [line.strip() for line in logical_lines(source) if PIP.match(line)]
    d2l = [line for line in pips if re.search(r"\bd2l\b", line)]
    assert d2l, f"{path.name}: the Colab cell does not install d2l"
    for line in d2l:
        assert "--no-deps" in line.split(), (
            f"{path.name}: `{line}` lets d2l's 2023 pins downgrade Colab's numpy: add"
            " --no-deps"
        )
    for line in pips:
        assert (
            "numpy" not in line
        ), f"{path.name}: `{line}` installs numpy itself; Colab's must stay"
    assert not NUMPY_PIN.search(source), f"{path.name}: the Colab cell pins numpy"


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_colab_cell_installs_the_course_package_from_this_repository(path):
    pips = [
        line for line in logical_lines(first_cell(path).source) if PIP.match(line)
    ]
    assert any(
        "resnet-course" in line and f"git+{REPO_URL}" in line for line in pips
    ), (
        f"{path.name}: the Colab cell must install the course package from"
        f" git+{REPO_URL} (the repository in _config.yml), as CONTRIBUTING.md shows"
    )


def colab_url(notebook_rel: str) -> str:
    owner_repo = urlsplit(REPO_URL).path.strip("/")
    path = "/".join(p for p in (PATH_TO_BOOK, notebook_rel) if p)
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/{path}"


def test_landing_page_colab_links_open_existing_chapters():
    index = (ROOT / "book" / "index.md").read_text()
    links = re.findall(
        r"\((https://colab\.research\.google\.com/[^)\s]+)\)", index
    )
    assert links, "book/index.md links no chapter to Colab"
    expected = {colab_url(rel(p)) for p in book_notebooks()}
    wrong = [link for link in links if link not in expected]
    assert not wrong, (
        "book/index.md has Colab links to no notebook of book/ (or not to "
        f"{REPO_URL} at {BRANCH}): {wrong}"
    )


def built_page(path):
    """The built page of a notebook, or skip when the site is not built (or is
    older)."""
    page = SITE / (rel(path)[: -len(".ipynb")] + ".html")
    if SITE_REQUIRED:
        assert page.exists(), (
            f"{rel(path)} is in _toc.yml but the built site has no"
            f" {page.relative_to(ROOT)}"
        )
        return page
    if not SITE.exists():
        pytest.skip(
            "the site is not built (make build-strict); make browser-test checks it"
            " after the build"
        )
    if not page.exists() or page.stat().st_mtime < path.stat().st_mtime:
        pytest.skip(
            f"{page.relative_to(ROOT)} is missing or older than the notebook: rebuild"
            " the site"
        )
    return page


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.name)
def test_colab_button_of_each_chapter_opens_that_chapter(path):
    html = built_page(path).read_text(encoding="utf-8")
    links = set(
        re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html)
    )
    assert links, f"{rel(path)}: the built page has no launch-in-Colab button"
    expected = colab_url(rel(path))
    for link in links:
        assert (
            unquote(link) == expected
        ), f"{rel(path)}: the Colab button opens {link}, not {expected}"


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.name)
def test_colab_cell_is_not_shown_on_the_website(path):
    html = built_page(path).read_text(encoding="utf-8")
    assert (
        "google.colab" not in html
    ), f"{rel(path)}: the website shows the Colab install cell"


def contributing_colab_cell() -> str:
    """The Colab cell as CONTRIBUTING.md shows it: the one authors copy."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    found = re.search(
        r"\n( *)```python\n(\1# Colab only:.*?)\n\1```\n", text, re.S
    )
    assert (
        found
    ), "CONTRIBUTING.md shows no Colab cell (a ```python block '# Colab only:')"
    indent = found.group(1)
    return "\n".join(
        line[len(indent) :] if line.startswith(indent) else line
        for line in found.group(2).split("\n")
    )


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_colab_cell_is_the_one_contributing_shows(path):
    assert first_cell(path).source == contributing_colab_cell(), (
        f"{path.name}: the Colab cell differs from CONTRIBUTING.md's; copy that one"
        " (every chapter installs and checks the same way)"
    )


class FakeShell:
    """Stands in for IPython on Colab: records the ``!pip`` lines instead of running."""

    def __init__(self):
        self.commands = []

    def system(self, command):
        self.commands.append(command)


def run_colab_cell(monkeypatch, missing=()):
    """Run the Colab cell as Colab would, with the modules in ``missing`` failing to
    import; returns the shell commands it ran."""
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(contributing_colab_cell())
    monkeypatch.setitem(
        sys.modules, "google.colab", types.ModuleType("google.colab")
    )
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    shell = FakeShell()
    exec(compile(code, "<colab cell>", "exec"), {"get_ipython": lambda: shell})
    return shell.commands


def test_colab_cell_installs_both_and_goes_on_when_both_import(monkeypatch):
    commands = run_colab_cell(monkeypatch)
    assert len(commands) == 2 and all(
        "pip install" in c for c in commands
    ), commands
    # The course's install is one command, its continued line joined by IPython.
    assert f"git+{REPO_URL}" in commands[1], commands


@pytest.mark.parametrize("missing", ["d2l.torch", "resnet_course"])
def test_colab_cell_stops_with_the_install_commands_when_an_install_failed(
    monkeypatch, missing
):
    with pytest.raises(SystemExit) as stop:
        run_colab_cell(monkeypatch, missing=(missing,))
    message = str(stop.value.code)
    assert missing in message, f"the message does not name what failed: {message}"
    for command in ("!pip install --no-deps d2l==1.0.3", f"git+{REPO_URL}"):
        assert (
            command in message
        ), f"the message does not give `{command}`: {message}"
    assert (
        stop.value.__suppress_context__
    ), "the reader would see a chained traceback"
