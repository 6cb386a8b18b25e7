"""tools/browser_test.py can fail: run it on a tiny site with one defect of each kind.

Needs Chromium (Debian's ``chromium``; .ci/run installs it) and the ``playwright``
package; skipped where either is missing, so that the unit tests still run on a bare
machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from book_files import ROOT

pytest.importorskip("playwright.sync_api")
if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
    pytest.skip("no Chromium here (apt-get install chromium)", allow_module_level=True)

TOOL = ROOT / "tools" / "browser_test.py"
SEARCH_PAGE = (
    '<html><body><ul class="search"><li><a href="index.html">A residual'
    " block</a></li></ul></body></html>"
)


def write_site(root, pages: dict[str, str]) -> None:
    for name, body in {"search.html": SEARCH_PAGE, **pages}.items():
        (root / name).write_text(
            body
            if body.startswith("<html>")
            else f"<html><head><title>{name}</title></head><body><main>{body}</main></body></html>"
        )
    (root / "ok.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
        '<rect width="20" height="10" fill="teal"/></svg>'
    )


def run_tool(site, tmp_path, timeout=20):
    shots = tmp_path / "shots"
    proc = subprocess.run(
        [
            sys.executable,
            str(TOOL),
            str(site),
            "--screenshots",
            str(shots),
            "--timeout",
            str(timeout),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = (
        json.loads((shots / "report.json").read_text())
        if (shots / "report.json").exists()
        else {}
    )
    return proc, report


def test_browser_test_passes_a_clean_site(tmp_path):
    site = tmp_path / "html"
    site.mkdir()
    write_site(
        site,
        {
            "index.html": (
                '<h1 id="top">Hello</h1><img src="ok.svg" alt="box">'
                '<a href="search.html">search</a> <a href="#top">top</a>'
            )
        },
    )
    proc, report = run_tool(site, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["problems"] == []
    assert (tmp_path / "shots" / "index.png").exists(), "no screenshot was saved"


def test_browser_test_reports_each_kind_of_defect(tmp_path):
    site = tmp_path / "html"
    site.mkdir()
    bad = textwrap.dedent("""
        <p>Raw math \\(x^2\\) that nothing typesets: <span
        class="math">\\(x^2\\)</span></p> <img src="missing.png" alt="gone"> <a
        href="nowhere.html">broken</a> <a href="index.html#no-such-anchor">anchor</a>
        <script src="https://cdn.example.org/lib.js"></script>
        <script>console.error("boom from the page");</script> <script
        type="application/vnd.jupyter.widget-state+json">{"version_major": 2, "state":
        {}}</script> <script
        type="application/vnd.jupyter.widget-view+json">{"model_id": "abc"}</script>
    """)
    write_site(
        site,
        {
            "index.html": "<h1>Fine</h1>",
            "bad.html": bad,
            "search.html": "<html><body><ul class='search'></ul></body></html>",
        },
    )
    proc, report = run_tool(
        site, tmp_path, timeout=3
    )  # the widget and the search never appear
    assert proc.returncode == 1, proc.stdout + proc.stderr
    problems = "\n".join(report["problems"])
    for expected in (
        "math not typeset",
        "raw TeX in the text",
        "image did not load",
        "broken link",
        "has no #no-such-anchor",
        "request to another host",
        "console error: boom from the page",
        "is not drawn from its saved state",
        "search for 'residual' returned no result",
    ):
        assert expected in problems, f"the browser test missed: {expected}\n{problems}"
