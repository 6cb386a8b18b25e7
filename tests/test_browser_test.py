"""tools/browser_test.py can fail: run it on tiny sites, one clean and one with a
defect of each kind on its own page.

The pages copy the shape of the book's theme (pydata-sphinx-theme 0.17's sidebars and
dialogs, the article header's second pair of toggles, myst-nb's cell markup) and load
the book's own fixes from _static/ (custom.css, sidebar-toggles.js, figure-zoom.js,
wide-math.js, search-snippets.js), so the clean site also shows that the fixes do what
the checks ask.

Needs Chromium (Debian's ``chromium``; ``make test`` installs it or says how) and the
``playwright`` package; skipped where either is missing, so that the unit tests still
run on a bare machine.
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
sys.path.insert(0, str(ROOT / "tools"))
from browser_test import chromium_path  # noqa: E402

if chromium_path() is None:
    pytest.skip(
        "no Chromium here (sudo apt-get install chromium)",
        allow_module_level=True,
    )

TOOL = ROOT / "tools" / "browser_test.py"
FIXES = [
    "custom.css",
    "sidebar-toggles.js",
    "figure-zoom.js",
    "wide-math.js",
    "search-snippets.js",
]

# pydata-sphinx-theme 0.17.1 in miniature: on narrow screens the sidebars are hidden and
# open as dialogs, wired (its bug) only to the FIRST .primary-toggle and
# .secondary-toggle, which sit in a header that sphinx-book-theme hides; readers tap the
# article header's.
THEME = """<html><head><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body {{ margin: 0; font: 16px/1.5 sans-serif; }}
  .layout {{ display: flex; }}
  #pst-primary-sidebar {{ flex: 0 0 220px; }}
  #pst-secondary-sidebar {{ flex: 0 0 180px; }}
  main {{ flex: 1; min-width: 0; padding: 0 16px; }}
  .bd-header-article {{ display: none; }}
  #pst-header {{ display: none; }}
  pre {{ overflow: auto; }}
  /* MathJax 3's own CSS for its output */
  mjx-container[jax="CHTML"][display="true"] {{ display: block; margin: 1em 0; }}
  mjx-math {{ display: inline-block; white-space: nowrap; }}
  @media (max-width: 959px) {{
    #pst-primary-sidebar, #pst-secondary-sidebar {{ display: none; }}
    .bd-header-article {{ display: flex; justify-content: space-between; }}
  }}
</style>
{head}
<script>
document.addEventListener("DOMContentLoaded", () => {{
  for (const [toggle, dialogId, sidebarId] of [
      [".primary-toggle", "pst-primary-sidebar-modal", "pst-primary-sidebar"],
      [".secondary-toggle", "pst-secondary-sidebar-modal", "pst-secondary-sidebar"]]) {{
    const button = document.querySelector(toggle);
    const dialog = document.getElementById(dialogId);
    const sidebar = document.getElementById(sidebarId);
    button.addEventListener("click", () => {{
      dialog.append(...sidebar.childNodes);
      dialog.showModal();
    }});
    dialog.addEventListener("close", () => sidebar.append(...dialog.childNodes));
  }}
}});
</script></head><body>
<div id="pst-header"><button class="primary-toggle">menu</button>
<button class="secondary-toggle">contents</button></div>
<dialog id="pst-primary-sidebar-modal"></dialog>
<dialog id="pst-secondary-sidebar-modal"></dialog>
<div class="layout">
<div id="pst-primary-sidebar"><nav class="bd-docs-nav"><a href="index.html">Home</a>
<a href="search.html">Search</a></nav></div>
<main><div class="bd-header-article"><button class="primary-toggle">&#9776;</button>
<button class="secondary-toggle">&#8801;</button></div>
<article class="bd-article"><h1 id="top">{title}</h1>{body}</article></main>
<div id="pst-secondary-sidebar"><nav class="page-toc"><a href="#top">Top</a></nav></div>
</div></body></html>"""

FIX_TAGS = {
    "custom.css": '<link rel="stylesheet" href="custom.css">',
    "sidebar-toggles.js": '<script src="sidebar-toggles.js"></script>',
    "figure-zoom.js": '<script src="figure-zoom.js"></script>',
    # MathJax, as far as wide-math.js needs it: the (typeset) formulas are in the page.
    "wide-math.js": "<script>window.MathJax = {startup: {promise: Promise.resolve()}};"
    '</script><script src="wide-math.js"></script>',
}


def cell(code: str = "x = 1", output: str = "") -> str:
    """A notebook cell as myst-nb renders it."""
    return (
        '<div class="cell"><div class="cell_input"><div class="highlight"><pre>'
        f'{code}</pre></div></div><div class="cell_output">{output}</div></div>'
    )


def text_output(text: str, prose: bool = False) -> str:
    kind = "output stream prose" if prose else "output stream"
    return f'<div class="{kind}"><div class="highlight"><pre>{text}</pre></div></div>'


TABLE = "\n".join(
    f"{name:<28}{a:>10}{b:>12}{c:>12}"
    for name, a, b, c in [
        ("network", "params", "train err", "test err"),
        ("plain-20", "269,722", "12.1%", "13.0%"),
        ("residual-56", "853,018", "4.2%", "7.9%"),
    ]
)
WIDE_MATH = (
    '<div class="math"><mjx-container jax="CHTML" display="true"{style}>'
    '<mjx-math style="display: inline-block; width: 1400px">x</mjx-math>'
    "</mjx-container></div>"
)
INLINE_MATH = (
    '<p>See <mjx-container jax="CHTML"><mjx-math style="display: inline-block;'
    ' width: 700px">F</mjx-math></mjx-container>.</p>'
)
FIGURE = '<img src="figure.svg" alt="a figure">'


def page(title: str, body: str, without: tuple[str, ...] = ()) -> str:
    head = "\n".join(tag for name, tag in FIX_TAGS.items() if name not in without)
    return THEME.format(title=title, body=body, head=head)


def slider_output() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from resnet_course.widgets import frame_slider

    def draw(s):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, s])
        ax.set_ylim(0, 2)
        return fig

    return frame_slider(draw, [0.5, 1.0, 2.0], "strength s").data


def search_page(snippets: bool = True) -> str:
    """Sphinx's results list, filled after load; search-snippets.js adds snippets."""
    data = {
        "index": {
            "text": "Hello A residual block adds its input back.",
            "sections": {},
        }
    }
    data = json.dumps(data) if snippets else "undefined"
    return f"""<html><head><title>Search</title>
<script>window.BOOK_SEARCH_TEXT = {data};</script>
<script src="search-snippets.js"></script></head><body><div id="search-results"></div>
<script>setTimeout(() => {{
  const list = document.createElement("ul");
  list.className = "search";
  list.innerHTML = '<li><a href="index.html">Hello</a></li>';
  document.getElementById("search-results").append(list);
}}, 50);</script></body></html>"""


def write_site(root, pages: dict[str, str]) -> None:
    for name in FIXES:
        shutil.copy(ROOT / "_static" / name, root / name)
    (root / "figure.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="150">'
        '<rect width="300" height="150" fill="teal"/></svg>'
    )
    for name, body in {"search.html": search_page(), **pages}.items():
        (root / name).write_text(body)


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
        timeout=300,
    )
    report = (
        json.loads((shots / "report.json").read_text())
        if (shots / "report.json").exists()
        else {}
    )
    return proc, report


def clean_page() -> str:
    return page(
        "Hello",
        "<p>A residual block.</p>"
        + cell("def f(x):\n    return x + 1", text_output(TABLE))
        + cell(
            "print('a sentence')", text_output("It reads as prose. " * 20, True)
        )
        + cell("plot()", FIGURE)
        + cell("frame_slider(draw, values, 'strength s')", slider_output())
        + WIDE_MATH.format(style="")
        + INLINE_MATH
        + "<table><tr><th>chapter</th><th>run</th></tr><tr><td>1</td><td>Colab</td>"
        "</tr></table>"
        '<a href="search.html">search</a> <a href="#top">top</a>',
    )


def test_browser_test_passes_a_clean_site(tmp_path):
    site = tmp_path / "html"
    site.mkdir()
    write_site(site, {"index.html": clean_page()})
    proc, report = run_tool(site, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["problems"] == []
    assert report["pages"]["index.html"]["sliders"] == 1
    for shot in (
        "index.png",
        "phone__index.png",
        "search.png",
        "search_file.png",
    ):
        assert (tmp_path / "shots" / shot).exists(), f"no screenshot {shot}"


# Each page has one defect; the message the browser test must give for it.
DEFECTS = {
    "nav.html": (
        page(
            "Navigation",
            "<p>The theme's bug, unfixed.</p>",
            ("sidebar-toggles.js",),
        ),
        [
            "phone: tapping the hamburger does not open the chapter list",
            "phone: tapping the contents button does not open the page contents",
        ],
    ),
    "code.html": (
        page("Code", cell("y = " + "1 + " * 40 + "1")),
        [
            "desktop: code cell 1 of 1 is wider than its column (its longest line has"
        ],
    ),
    "scrollbar.html": (
        page(
            "Scrollbar",
            "<style>pre::-webkit-scrollbar { display: none; }</style>"
            + cell(output=text_output("wide " * 100)),
        ),
        ['pre "wide wide', "scrolls sideways without a visible scrollbar"],
    ),
    "nbval.html": (
        page("Markers", cell("# NBVAL_IGNORE_OUTPUT\nx = 1")),
        ["desktop: the page shows an nbval marker", "NBVAL_IGNORE_OUTPUT"],
    ),
    "wrap.html": (
        page(
            "Wrapped table",
            "<style>pre { white-space: pre-wrap !important; }</style>"
            + cell(output=text_output(TABLE)),
        ),
        ['phone: a printed table wraps: "network'],
    ),
    "table.html": (
        page(
            "Wide table",
            "<table><tr>"
            + "".join(f"<th>column&nbsp;number&nbsp;{i}</th>" for i in range(6))
            + "</tr></table>",
        ),
        ["phone: a table is wider than the column", '"column number 0'],
    ),
    "equation.html": (
        page("Equation", WIDE_MATH.format(style=' style="overflow: hidden"')),
        ['display equation "x" is cut off by its mjx-container'],
    ),
    "inline.html": (
        page("Inline math", INLINE_MATH, ("wide-math.js",)),
        ['phone: inline math "F" runs out of the text column'],
    ),
    "slider.html": (
        page(
            "Dead slider",
            cell(
                output='<input type="range" min="0" max="4" value="1">' + FIGURE
            ),
        ),
        [
            "desktop: slider 1 of 1: moving it from 1 to 4 does not change its figure",
            "phone: slider 1 of 1: moving it from 1 to 4 does not change its figure",
        ],
    ),
    "figure.html": (
        page("Figure", cell(output=FIGURE), ("figure-zoom.js",)),
        ["phone: tapping a figure does not open it larger"],
    ),
    "squashed.html": (
        page(
            "Squashed figure",
            cell(
                output='<img src="figure.svg" alt="squashed"'
                ' style="width: 800px; height: 150px !important">'
            ),
        ),
        ["a figure is distorted: shown", "drawn 300x150 (squashed)"],
    ),
    "escape.html": (
        page(
            "Escape swallowed",
            "<script>window.addEventListener('keydown', (e) => {"
            " if (e.key === 'Escape') e.stopImmediatePropagation(), e.preventDefault();"
            " }, true);</script>" + cell(output=FIGURE),
        ),
        [
            "phone: Escape does not close the enlarged figure",
            "phone: Escape does not close the chapter list",
            "phone: Escape does not close the page contents",
        ],
    ),
}


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
    junk = (
        '<html><body><ul class="search"><li><a href="index.html">Hello</a><p'
        ' class="context">….pdf Residual learning: \\mathbf{x} Contents</p></li>'
        "</ul></body></html>"
    )
    write_site(
        site,
        {
            "index.html": clean_page(),
            "bad.html": page("Bad", bad),
            "search.html": junk,
            **{name: html for name, (html, _) in DEFECTS.items()},
        },
    )
    proc, report = run_tool(site, tmp_path, timeout=3)  # the widget never appears
    assert proc.returncode == 1, proc.stdout + proc.stderr
    problems = report["problems"]
    expected = {
        "bad.html": [
            "math not typeset",
            "raw TeX in the text",
            "image did not load",
            "broken link",
            "has no #no-such-anchor",
            "request to another host",
            "console error: boom from the page",
            "is not drawn from its saved state",
        ],
        "search.html?q=residual (http)": ["its snippet shows '.pdf'"],
        "search.html?q=residual (file://)": ["its snippet shows '.pdf'"],
        **{name: messages for name, (_, messages) in DEFECTS.items()},
    }
    for name, messages in expected.items():
        found = "\n".join(p for p in problems if p.startswith(f"{name}: "))
        for message in messages:
            assert (
                message in found
            ), f"the browser test missed on {name}: {message}\n" + "\n".join(
                problems
            )
    assert not [p for p in problems if p.startswith("index.html: ")], problems
    # Each broken page reports its own defect and nothing the clean page would not.
    for name, (_, messages) in DEFECTS.items():
        own = [p for p in problems if p.startswith(f"{name}: ")]
        stray = [p for p in own if not any(m in p for m in messages)]
        assert not stray, f"{name} also reported: {stray}"


def test_a_search_without_snippets_or_results_fails(tmp_path):
    for name, search in (
        ("no snippets", search_page(snippets=False)),
        ("no results", '<html><body><ul class="search"></ul></body></html>'),
    ):
        site = tmp_path / name
        site.mkdir()
        write_site(
            site,
            {"index.html": page("Hello", "<p>Hi</p>"), "search.html": search},
        )
        proc, report = run_tool(site, tmp_path / f"{name} shots", timeout=3)
        problems = "\n".join(report["problems"])
        assert proc.returncode == 1, proc.stdout
        message = {
            "no snippets": "search result 'Hello' has no snippet of its page's text",
            "no results": "search for 'residual' returned no result",
        }[name]
        assert (
            message in problems
        ), f"{name}: the browser test missed it\n{problems}"
