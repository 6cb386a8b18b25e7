"""Figures of the stored experiment results (``results/NAME/SIZE.json``).

Every function takes a result as :mod:`resnet_course.reproduce` stores it (or as
``run_experiment`` returns it) and draws it; none computes anything an experiment
should.  Seeds are shown as they are: a line or a band for the spread, a dot per seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .experiments.common import group_runs
from .plotting import FIG_WIDTH, integer_ticks, legend_outside

STYLE = {
    "plain": "-",
    "residual": "--",
    "residual, zero-init": ":",
    "post-activation": "--",
    "pre-activation": "-",
}
KIND_COLOURS = {
    "plain": "C3",
    "residual": "C0",
    "residual, zero-init": "C2",
    "post-activation": "C0",
    "pre-activation": "C1",
}


def seed_band(ax: Axes, curves: Sequence[dict], scale: float = 1.0, **style) -> None:
    """The mean of several seeds' curves ``{"x", "y"}`` as a line, their range as a
    band (curves are cut to the shortest one)."""
    n = min(len(c["y"]) for c in curves)
    x = np.asarray(curves[0]["x"][:n], dtype=float)
    ys = scale * np.array([c["y"][:n] for c in curves], dtype=float)
    (line,) = ax.plot(x, ys.mean(0), **style)
    if len(curves) > 1:
        ax.fill_between(
            x, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2, lw=0
        )


def seed_points(
    ax: Axes,
    x: float,
    values: Sequence[float],
    colour: str,
    marker: str = "o",
    label: str | None = None,
    scale: float = 100.0,
) -> None:
    """Mean and standard deviation of ``values`` as an error bar at ``x``, and each
    seed as a small dot beside it."""
    v = scale * np.asarray(values, dtype=float)
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    ax.errorbar(
        x, v.mean(), yerr=sd, fmt=marker, color=colour, capsize=4, ms=7, label=label
    )
    ax.plot(np.full(len(v), x + 0.12), v, ".", color=colour, alpha=0.6, ms=5)


def plot_degradation(result: dict, title: str = "") -> Figure:
    """(a) running training error during training, seeds as bands; (b) the final
    training error in eval mode per depth, mean ± sd and one dot per seed."""
    groups = group_runs(result, ("kind", "depth"))
    depths = sorted({d for _, d in groups})
    shades = dict(zip(depths, np.linspace(1.0, 0.55, len(depths))))
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(FIG_WIDTH, 3.6), gridspec_kw={"width_ratios": [1.5, 1]}
    )
    for (kind, depth), runs in groups.items():
        colour = np.array(plt.matplotlib.colors.to_rgb(KIND_COLOURS[kind]))
        seed_band(
            ax,
            [r["curves"]["train_err"] for r in runs],
            100,
            ls=STYLE[kind],
            color=tuple(colour * shades[depth]),
            lw=1.6,
            label=f"{kind}-{depth}",
        )
    kinds = list(dict.fromkeys(k for k, _ in groups))
    for i, kind in enumerate(kinds):
        for j, depth in enumerate(depths):
            if (kind, depth) in groups:
                values = [r["metrics"]["train_err"] for r in groups[kind, depth]]
                seed_points(
                    bx,
                    j + 0.25 * (i - (len(kinds) - 1) / 2),
                    values,
                    KIND_COLOURS[kind],
                    label=kind if j == 0 else None,
                )
    ax.set(
        xlabel="iteration",
        ylabel="training error (%)",
        title="(a) running training error",
    )
    ax.set_ylim(0, None)
    bx.set(
        xticks=range(len(depths)),
        xticklabels=[str(d) for d in depths],
        xlabel="layers",
        title="(b) final, eval mode",
    )
    bx.set_ylim(0, None)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    legend_outside(ax, ncols=2, fontsize=9)
    legend_outside(bx, ncols=1, fontsize=9)
    return fig


def summary_table(rows: Sequence[dict], by: Sequence[str], metrics: dict[str, str]):
    """A pandas table of :func:`~resnet_course.experiments.common.summarise` rows:
    the ``by`` columns, the seeds, and ``mean ± sd`` (in %) of each metric, under the
    column names ``metrics`` maps them to.  Shown as an HTML table in the book (a plain
    DataFrame: its HTML is the same on every run, unlike a Styler's)."""
    import pandas as pd

    from .experiments.common import pm

    records = []
    for row in rows:
        record = {k: row[k] for k in by}
        record["seeds"] = row["seeds"]
        for m, column in metrics.items():
            record[column] = pm(row[f"{m}_mean"], row[f"{m}_sd"])
        records.append(record)
    return pd.DataFrame.from_records(records).set_index(list(by))
