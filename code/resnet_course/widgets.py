"""A slider whose figure responds everywhere: on the static site, in Jupyter, on
Colab.

An ipywidgets slider needs a running kernel to redraw its figure, so on the book's
site (which stores outputs and runs nothing) it moved its number but not its plot.
``frame_slider`` draws the figure once for each value up front and returns HTML
with every frame and an ``<input type="range">``; a few lines of JavaScript in the
output show the frame of the value the reader picks.  It needs no kernel and no
widget manager, so the same output works on the site, in Jupyter (a trusted
notebook: one that was just run) and on Colab::

    from resnet_course.widgets import frame_slider

    def draw(strength):
        fig, ax = plt.subplots()
        ...
        return fig                  # do not call plt.show()

    frame_slider(draw, [0.0, 0.5, 1.0, 2.0, 3.0], label="strength s", initial=1.0)

Every frame is a PNG inside the notebook and the page (a few dozen kB each): a
handful of values, not hundreds.
"""

from __future__ import annotations

import base64
import html
import io
import json
import struct
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Runs where the output is shown.  It finds its slider as its own parent element,
# not by an id: a front end may show one output twice (JupyterLab's "new view for
# output"). Where a front end runs output scripts elsewhere (jQuery, in the
# classic Notebook), the slider is the newest one not yet wired.
_SCRIPT = """(() => {
  const me = document.currentScript;
  const root = (me && me.closest(".frame-slider")) || Array.from(
    document.querySelectorAll(".frame-slider:not([data-wired])")).pop();
  root.dataset.wired = "true";
  const input = root.querySelector("input");
  const shown = root.querySelector("output");
  const frames = root.querySelectorAll("img");
  const labels = LABELS;
  input.addEventListener("input", () => {
    const i = Number(input.value);
    frames.forEach((img, j) => { img.hidden = j !== i; });
    shown.textContent = labels[i];
    input.setAttribute("aria-valuetext", labels[i]);
  });
})();"""


def _figure_of(drawn: Figure | Axes | None, value: Any) -> Figure:
    if isinstance(drawn, Figure):
        return drawn
    if isinstance(drawn, Axes):
        return drawn.figure
    if drawn is None and plt.get_fignums():
        return plt.gcf()
    raise TypeError(
        f"draw({value!r}) returned {drawn!r} and left no figure open: return the"
        " matplotlib Figure (or Axes) it draws, and do not call plt.show() in it"
    )


def _png(fig: Figure) -> tuple[bytes, int]:
    """The figure as a PNG at twice its dpi, and the width in CSS px to show it
    at."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=2 * fig.dpi, bbox_inches="tight")
    data = buffer.getvalue()
    width = struct.unpack(">I", data[16:20])[
        0
    ]  # the PNG header (IHDR) holds the size
    return data, width // 2


def frame_slider(
    draw: Callable[[Any], Figure | Axes | None],
    values: Sequence,
    label: str,
    initial: Any = None,
    fmt: str = "{}",
):
    """A slider over ``values`` that shows the figure ``draw(value)`` returns.

    ``draw`` is called once per value, in order; each figure is saved and closed,
    so the cell shows only the slider.  ``initial`` (one of ``values``; default
    the first) is shown first; ``fmt`` formats a value for the readout
    (``"{:.0%}"``). Returns an ``IPython.display.HTML``: make it the cell's last
    expression, or pass it to ``display``.
    """
    from IPython.display import HTML

    values = list(values)
    if not values:
        raise ValueError("frame_slider needs at least one value")
    if initial is None:
        initial = values[0]
    if initial not in values:
        raise ValueError(f"initial={initial!r} is not one of the values {values}")
    start = values.index(initial)
    frames = []
    for value in values:
        fig = _figure_of(draw(value), value)
        try:
            frames.append(_png(fig))
        finally:
            plt.close(fig)
    labels = [fmt.format(v) for v in values]
    images = "\n".join(
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}"'
        f' width="{width}" alt="{html.escape(label)} = {html.escape(text)}"'
        ' style="max-width: 100%; height:'
        f' auto"{"" if i == start else " hidden"}>'
        for i, ((png, width), text) in enumerate(zip(frames, labels))
    )
    script = _SCRIPT.replace("LABELS", json.dumps(labels))
    return HTML(
        '<div class="frame-slider">\n'
        '<label style="display: flex; gap: 0.75em; align-items: center">'
        f'<span style="white-space: nowrap">{html.escape(label)}</span>'
        f'<input type="range" min="0" max="{len(values) - 1}" step="1"'
        f' value="{start}" aria-valuetext="{html.escape(labels[start])}"'
        ' style="flex: 0 1 16em">'
        f"<output>{html.escape(labels[start])}</output></label>\n"
        f"{images}\n<script>{script}</script>\n</div>"
    )
