"""frame_slider: one precomputed frame per value, switched in the browser, no kernel."""

from __future__ import annotations

import re
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from book_files import ROOT  # noqa: E402
from resnet_course.widgets import frame_slider  # noqa: E402

VALUES = [0.0, 1.0, 2.0]


def draw(strength):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, strength])
    ax.set_ylim(0, 2)
    ax.set_title(f"s = {strength}")
    return fig


def html_of(*args, **kwargs) -> str:
    return frame_slider(*args, **kwargs).data


def test_one_frame_per_value_and_only_the_initial_one_shown():
    out = html_of(draw, VALUES, "strength s", initial=1.0)
    images = re.findall(r"<img [^>]*>", out)
    assert len(images) == len(VALUES)
    assert [" hidden" in img for img in images] == [True, False, True]
    assert re.search(
        r'<input type="range" min="0" max="2" step="1" value="1"', out
    )
    assert "<output>1.0</output>" in out and "strength s" in out


def test_the_first_value_is_shown_unless_told_otherwise():
    out = html_of(draw, VALUES, "s")
    assert 'value="0"' in out and "<output>0.0</output>" in out


def test_the_readout_uses_fmt():
    out = html_of(draw, [0.1, 0.25], "warm-up", fmt="{:.0%}")
    assert "<output>10%</output>" in out and '"25%"' in out


def test_frame_slider_closes_every_figure_it_draws():
    plt.close("all")
    html_of(draw, VALUES, "s")
    assert (
        plt.get_fignums() == []
    ), "frames left open would be shown again after the cell"


def test_draw_may_return_axes_or_leave_its_figure_current():
    def via_axes(v):
        return draw(v).axes[0]

    def via_pyplot(v):
        plt.plot([0, v])

    for fn in (via_axes, via_pyplot):
        assert html_of(fn, VALUES, "s").count("<img ") == 3
    assert plt.get_fignums() == []


def test_draw_that_shows_instead_of_returning_is_explained():
    def shows(v):
        draw(v)
        plt.close("all")  # what plt.show() does in Jupyter

    with pytest.raises(TypeError, match="do not call plt.show"):
        frame_slider(shows, VALUES, "s")


def test_initial_must_be_one_of_the_values():
    with pytest.raises(ValueError, match="not one of the values"):
        frame_slider(draw, VALUES, "s", initial=0.5)
    with pytest.raises(ValueError, match="at least one value"):
        frame_slider(draw, [], "s")


def test_the_same_frames_give_the_same_output():
    # Stored notebooks do not change when nothing changed (nbval, git diffs).
    assert html_of(draw, VALUES, "s") == html_of(draw, VALUES, "s")
    assert html_of(draw, VALUES, "s") != html_of(draw, VALUES[:2], "s")


def test_in_jupyter_the_cell_shows_the_slider_and_no_static_copy():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "from resnet_course.widgets import frame_slider\n"
            "def draw(v):\n"
            "    fig, ax = plt.subplots()\n"
            "    ax.plot([0, v])\n"
            "    return fig\n"
            "frame_slider(draw, [1, 2, 3], 'v')"
        )
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    kinds = [sorted(o.get("data", {})) for o in nb.cells[0].outputs]
    assert kinds == [["text/html", "text/plain"]], (
        f"expected only the slider's HTML, got outputs {kinds} (a figure left open"
        " is shown a second time, as a static image)"
    )


# -- in a browser: the same HTML, with no kernel ---------------------------------------

PAGE = """<html><body>
<h1>Two copies of one output, as JupyterLab shows an output in a second view</h1>
<div id="first">{slider}</div><div id="second">{slider}</div>
</body></html>"""


def browser_page(pw, errors):
    sys.path.insert(0, str(ROOT / "tools"))
    from browser_test import CHROMIUM_ARGS, chromium_path

    if chromium_path() is None:
        pytest.skip("no Chromium here (sudo apt-get install chromium)")
    browser = pw.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS
    )
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" else None
    )
    return page


def test_moving_the_slider_shows_the_figure_of_its_value(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    slider = html_of(draw, VALUES, "strength s", initial=1.0)
    (tmp_path / "slider.html").write_text(PAGE.format(slider=slider))
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        page = browser_page(pw, errors)
        page.goto((tmp_path / "slider.html").as_uri())
        second = page.locator("#second .frame-slider")
        figure = second.locator("img:not([hidden])")
        before = figure.screenshot()
        second.locator("input").focus()
        page.keyboard.press("End")
        assert second.locator("output").inner_text() == "2.0"
        assert figure.get_attribute("alt") == "strength s = 2.0"
        assert (
            figure.screenshot() != before
        ), "the figure did not change with the value"
        first = page.locator("#first .frame-slider")
        assert (
            first.locator("output").inner_text() == "1.0"
        ), "the other copy moved"
        assert first.locator("img:not([hidden])").count() == 1
        # The classic Notebook (jQuery) inserts the HTML, then runs its scripts in head.
        page.evaluate(CLASSIC_NOTEBOOK, slider)
        third = page.locator("#third .frame-slider")
        third.locator("input").focus()
        page.keyboard.press("Home")
        assert third.locator("output").inner_text() == "0.0"
        assert second.locator("output").inner_text() == "2.0"
    assert not errors, errors


CLASSIC_NOTEBOOK = """(html) => {
  const area = document.createElement("div");
  area.id = "third";
  area.innerHTML = html;  // scripts inserted this way do not run
  document.body.append(area);
  for (const old of area.querySelectorAll("script")) {
    const script = document.createElement("script");
    script.text = old.text;
    document.head.appendChild(script).remove();
  }
}"""
