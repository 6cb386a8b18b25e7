"""The book's figure style: sized for its text column, legible on a phone.

A chapter calls ``use_book_style()`` once, in its set-up cell.  Figures then come
out ``FIG_WIDTH`` inches wide at ``DPI`` (640 px, inside the 680 px column of a
1280 px window) with fonts large enough that the smallest text is still about 8.5
px when a 390 px phone shrinks the figure to its 358 px column.  Give a figure
only a height (``figsize=(FIG_WIDTH, h)``), or no size at all: a wider one shrinks
on every screen, and its text with it (``phone_text_px`` says by how much).

``legend_outside`` moves a legend off the curves; ``integer_ticks`` keeps epochs,
blocks and other counts from getting fractional ticks.
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.ticker import MaxNLocator
from matplotlib.text import Text

COLUMN_PX = 680  # the text column at a 1280 px window (a code block is 684 px)
PHONE_COLUMN_PX = 358  # the text column of a 390 px phone
#: CSS px per inch on the page (figures are drawn at twice this, see below).
DPI = 100
#: inches: 640 px, with room for labels that bbox_inches="tight" adds
FIG_WIDTH = 6.4
MIN_PHONE_TEXT_PX = 8.5  # the smallest text a reader can still read on a phone

BOOK_STYLE = {
    "figure.figsize": (FIG_WIDTH, 3.6),
    "figure.dpi": DPI,
    # files written with savefig: sharp on high-density screens
    "savefig.dpi": 2 * DPI,
    "savefig.bbox": "tight",
    # 11 pt in a 6.4 in figure shown 358 px wide: 11 / (6.4 * 72) * 358 = 8.5 px.
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "figure.titlesize": 13,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "lines.linewidth": 2.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_book_style(retina: bool = True) -> None:
    """Set matplotlib's rcParams to ``BOOK_STYLE``; in Jupyter, also draw inline
    figures at twice ``DPI`` (``retina``) and show them at their ``DPI`` size, so
    that they stay sharp when a phone or a high-density screen scales them."""
    mpl.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # matplotlib without IPython: rcParams are all there is
        return
    if retina and get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def phone_text_px(fig: Figure) -> float:
    """The height in CSS px of the figure's smallest text on a phone, which shows
    the figure at most ``PHONE_COLUMN_PX`` wide (the page shows it ``fig.dpi`` px
    per inch)."""
    fig.draw_without_rendering()  # tick labels exist only once it is drawn
    width_px = fig.get_figwidth() * fig.dpi
    scale = min(1.0, PHONE_COLUMN_PX / width_px)
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    ]
    return min(sizes, default=float("inf")) * fig.dpi / 72 * scale


def legend_outside(ax: Axes, where: str = "below", **kwargs) -> Legend:
    """A legend that does not cover the curves: ``"below"`` the axis labels (the
    figure keeps its width, so it stays legible on a phone) or to the ``"right"``.
    Call it after the labels are set; keyword arguments go to ``ax.legend``."""
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if where == "right":
        return ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0,
            **kwargs,
        )
    if where != "below":
        raise ValueError(f"where must be 'below' or 'right', not {where!r}")
    # Just under everything the axes draw below themselves (tick labels, x label).
    renderer = ax.figure.canvas.get_renderer()
    bottom = ax.get_tightbbox(renderer).transformed(ax.transAxes.inverted()).y0
    kwargs.setdefault(
        "ncols", max(1, min(len(ax.get_legend_handles_labels()[1]), 4))
    )
    return ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, bottom - 0.03),
        borderaxespad=0,
        **kwargs,
    )


def integer_ticks(ax: Axes, axis: str = "x") -> None:
    """Ticks only at whole numbers on ``axis`` ("x" or "y"): epochs, blocks,
    counts."""
    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))
