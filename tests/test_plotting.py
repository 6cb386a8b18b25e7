"""The book's figure style: figures fit the column and stay legible on a phone."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from resnet_course import plotting  # noqa: E402
from resnet_course.plotting import (  # noqa: E402
    COLUMN_PX,
    MIN_PHONE_TEXT_PX,
    integer_ticks,
    legend_outside,
    phone_text_px,
    use_book_style,
)


@pytest.fixture
def book_style():
    with mpl.rc_context():
        use_book_style(retina=False)
        yield
    plt.close("all")


def labelled_figure(**kwargs):
    fig, ax = plt.subplots(**kwargs)
    ax.plot([0, 1, 2, 3], [3, 1, 2, 0], label="plain")
    ax.plot([0, 1, 2, 3], [2, 1, 1, 0], label="residual")
    ax.set(xlabel="epoch", ylabel="training error", title="Deeper is worse")
    return fig, ax


def test_a_book_figure_fits_the_column_at_1280_px(book_style):
    fig, _ = labelled_figure()
    width_px = fig.get_figwidth() * fig.dpi
    assert width_px <= COLUMN_PX - 30, (
        f"a default figure is {width_px:.0f} px wide: the page shrinks it (and its"
        f" text) to the {COLUMN_PX} px column; bbox_inches='tight' needs some room"
    )


def test_a_book_figure_stays_legible_on_a_phone(book_style):
    fig, ax = labelled_figure()
    ax.legend()
    assert phone_text_px(fig) >= MIN_PHONE_TEXT_PX, (
        f"the smallest text of a default figure is {phone_text_px(fig):.1f} px on a"
        f" phone (at least {MIN_PHONE_TEXT_PX} px is legible): raise BOOK_STYLE's fonts"
    )


def test_matplotlibs_own_defaults_are_too_small_on_a_phone():
    # The measure can fail: the style above is what makes the difference.
    with mpl.rc_context(), mpl.rc_context(mpl.rcParamsDefault):
        fig, _ = labelled_figure()
        assert phone_text_px(fig) < MIN_PHONE_TEXT_PX
    plt.close("all")


def test_a_wide_figure_shrinks_its_text_on_a_phone(book_style):
    narrow, _ = labelled_figure()
    wide, _ = labelled_figure(figsize=(10, 3.6))
    assert phone_text_px(wide) < phone_text_px(narrow)


def boxes(fig, ax):
    fig.canvas.draw()
    return ax.get_window_extent(), ax.get_legend().get_window_extent()


def test_legend_outside_below_sits_under_the_axis_labels(book_style):
    fig, ax = labelled_figure()
    legend_outside(ax)
    renderer = fig.canvas.get_renderer()
    axes_box, legend_box = boxes(fig, ax)
    label_box = ax.xaxis.label.get_window_extent(renderer)
    assert legend_box.y1 <= label_box.y0, "the legend overlaps the x-axis label"
    assert legend_box.y1 <= axes_box.y0


def test_legend_outside_right_sits_beside_the_axes(book_style):
    fig, ax = labelled_figure()
    ax.legend()  # an existing legend is replaced, not doubled
    legend_outside(ax, where="right")
    axes_box, legend_box = boxes(fig, ax)
    assert legend_box.x0 >= axes_box.x1
    assert (
        len([c for c in ax.get_children() if isinstance(c, mpl.legend.Legend)])
        == 1
    )


def test_legend_outside_names_the_places_it_knows(book_style):
    _, ax = labelled_figure()
    with pytest.raises(ValueError, match="'below' or 'right'"):
        legend_outside(ax, where="above")


def test_integer_ticks_leave_no_fractional_epoch(book_style):
    fig, ax = labelled_figure()
    ax.set_xlim(0, 3)
    integer_ticks(ax)
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_in_jupyter_figures_are_drawn_sharp_and_shown_at_their_size():
    """The inline backend draws at twice the dpi and tells the page the 1x width."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "from resnet_course.plotting import use_book_style\n"
            "use_book_style()\n"
            "plt.plot([0, 1], [1, 0])"
        )
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    images = [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, nb.cells[0].outputs
    shown = images[0]["metadata"]["image/png"]["width"]
    assert shown <= plotting.COLUMN_PX, f"the figure is shown {shown} px wide"


def test_a_run_without_test_loss_gets_no_test_loss_line(book_style):
    # d2l's train_ch6 records no test loss: the legend must not name a line that
    # is not drawn.
    from resnet_course.history import History, plot_history

    nan = float("nan")
    ours = History(epoch=[1, 2], train_loss=[1.0, 0.5], test_loss=[0.9, 0.6])
    d2l = History(epoch=[1, 2], train_loss=[1.2, 0.8], test_loss=[nan, nan])
    for h in (ours, d2l):
        h.train_acc, h.test_acc = [0.5, 0.7], [0.5, 0.6]
    fig = plot_history({"ours": ours, "d2l": d2l})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["ours train", "ours test", "d2l train"]
    assert fig.axes[1].get_legend_handles_labels()[1][-1] == "d2l test"
