"""Figures of the stored experiment results (``results/NAME/SIZE.json``).

Every function takes a result as :mod:`resnet_course.reproduce` stores it (or as
``run_experiment`` returns it) and draws it; none computes anything an experiment
should.  Seeds are shown as they are: a line or a band for the spread, a dot per
seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

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


def seed_band(
    ax: Axes, curves: Sequence[dict], scale: float = 1.0, **style
) -> None:
    """The mean of several seeds' curves ``{"x", "y"}`` as a line, their range as
    a band (curves are cut to the shortest one)."""
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
    """Mean and standard deviation of ``values`` as an error bar at ``x``, and
    each seed as a small dot beside it."""
    v = scale * np.asarray(values, dtype=float)
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    ax.errorbar(
        x,
        v.mean(),
        yerr=sd,
        fmt=marker,
        color=colour,
        capsize=4,
        ms=7,
        label=label,
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


def summary_table(
    rows: Sequence[dict], by: Sequence[str], metrics: dict[str, str]
):
    """A pandas table of :func:`~resnet_course.experiments.common.summarise` rows:
    the ``by`` columns, the seeds, and ``mean ± sd`` (in %) of each metric, under
    the column names ``metrics`` maps them to.  Shown as an HTML table in the book
    (a plain DataFrame: its HTML is the same on every run, unlike a Styler's)."""
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


def plot_identity(result: dict) -> Figure:
    """(a) the loss of learning the identity per step (seeds as bands), one line
    per kind and depth; (b) the final loss against the number of blocks."""
    groups = group_runs(result, ("kind", "n_blocks"))
    counts = sorted({n for _, n in groups})
    shades = dict(zip(counts, np.linspace(1.0, 0.5, len(counts))))
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(FIG_WIDTH, 3.6), gridspec_kw={"width_ratios": [1.5, 1]}
    )
    for (kind, n), runs in groups.items():
        colour = np.array(plt.matplotlib.colors.to_rgb(KIND_COLOURS[kind]))
        seed_band(
            ax,
            [r["curves"]["loss"] for r in runs],
            ls=STYLE[kind],
            color=tuple(colour * shades[n]),
            lw=1.6,
            label=f"{kind}, {n}",
        )
    for kind in ("plain", "residual"):
        for j, n in enumerate(counts):
            if (kind, n) in groups:
                values = [r["metrics"]["final_loss"] for r in groups[kind, n]]
                seed_points(
                    bx,
                    j + (0.15 if kind == "residual" else -0.15),
                    values,
                    KIND_COLOURS[kind],
                    label=kind if j == 0 else None,
                    scale=1.0,
                )
    ax.set(
        yscale="log",
        xlabel="step",
        ylabel="MSE, mean of $(stack(x) - x)^2$",
        title="(a) loss while learning",
    )
    bx.set(
        yscale="log",
        xticks=range(len(counts)),
        xticklabels=map(str, counts),
        xlabel="blocks",
        ylabel="final MSE",
        title="(b) final loss",
    )
    fig.tight_layout()
    legend_outside(ax, ncols=3, fontsize=9)
    legend_outside(bx, ncols=1, fontsize=9)
    return fig


def plot_gradient_ratios(result: dict, curve: str = "ratio_trained") -> Figure:
    """``||dE/dx_l|| / ||dE/dx_L||`` at every block ``l``, plain (left) and
    residual (right), one line per depth (geometric mean of the seeds, their range
    as a band). Runs that diverged have no trained curve and are left out."""
    groups = group_runs(result, ("kind", "blocks"))
    counts = sorted({n for _, n in groups})
    colours = dict(zip(counts, plt.cm.viridis(np.linspace(0, 0.8, len(counts)))))
    fig, axes = plt.subplots(1, 2, figsize=(FIG_WIDTH, 3.4), sharey=True)
    for ax, kind in zip(axes, ("plain", "residual")):
        for n in counts:
            curves = [
                r["curves"][curve]
                for r in groups.get((kind, n), [])
                if curve in r["curves"]
            ]
            if not curves:
                continue
            logs = np.log10(np.array(curves, dtype=float))
            x = np.arange(n + 1)
            ax.plot(x, 10 ** logs.mean(0), color=colours[n], label=f"{n} blocks")
            if len(curves) > 1:
                ax.fill_between(
                    x,
                    10 ** logs.min(0),
                    10 ** logs.max(0),
                    color=colours[n],
                    alpha=0.2,
                    lw=0,
                )
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set(yscale="log", title=kind, xlabel="block $l$ (0 = bottom)")
        integer_ticks(ax)
    axes[0].set_ylabel(
        r"$\|\partial E/\partial x_l\| / \|\partial E/\partial x_L\|$"
    )
    fig.tight_layout()
    legend_outside(axes[1], ncols=1, fontsize=9, where="right")
    return fig


def _nets(result: dict) -> dict[str, list[dict]]:
    return {
        f"{'ResNet' if k == 'residual' else 'plain'}-{d}": runs
        for (k, d), runs in group_runs(result, ("kind", "depth")).items()
    }


NET_COLOURS = ("C0", "C3", "C2", "C4")


def plot_single_lesions(result: dict) -> Figure:
    """Test error after deleting one block, for every block of every network: mean
    over the seeds with their range; intact errors as horizontal lines;
    downsampling blocks (only their residual branch deleted) as open squares.  No
    line joins the blocks: a plain network's downsampling blocks cannot be
    deleted."""
    nets = _nets(result)
    fig, axes = plt.subplots(
        1,
        len(nets),
        figsize=(FIG_WIDTH, 3.4),
        sharey=True,
        gridspec_kw={
            "width_ratios": [
                max(r[0]["metrics"]["blocks"], 9) for r in nets.values()
            ]
        },
    )
    for ax, (name, runs), colour in zip(
        np.atleast_1d(axes), nets.items(), NET_COLOURS
    ):
        blocks = sorted(int(i) for i in runs[0]["curves"]["single"])
        down = set(runs[0]["curves"]["downsampling"])
        errs = 100 * np.array(
            [[r["curves"]["single"][str(i)] for i in blocks] for r in runs]
        )
        for i, b in enumerate(blocks):
            ax.errorbar(
                b,
                errs[:, i].mean(),
                yerr=[
                    [errs[:, i].mean() - errs[:, i].min()],
                    [errs[:, i].max() - errs[:, i].mean()],
                ],
                fmt="s" if b in down else "o",
                mfc="white" if b in down else colour,
                color=colour,
                ms=5,
                capsize=2,
            )
        intact = 100 * np.mean([r["metrics"]["test_err"] for r in runs])
        ax.axhline(intact, color=colour, ls="--", lw=1)
        ax.set(title=name, xlabel="deleted block")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    np.atleast_1d(axes)[0].set_ylabel("test error (%)")
    np.atleast_1d(axes)[0].set_ylim(0, 100)
    fig.tight_layout()
    return fig


def plot_random_lesions(result: dict) -> Figure:
    """Test error after deleting ``k`` random ordinary blocks: mean over seeds and
    random choices, and the range as a band, one line per network."""
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 3.4))
    for (name, runs), colour in zip(_nets(result).items(), NET_COLOURS):
        ks = sorted(int(k) for k in runs[0]["curves"]["random"])
        values = [
            [e for r in runs for e in r["curves"]["random"][str(k)]] for k in ks
        ]
        mean = 100 * np.array([np.mean(v) for v in values])
        ax.plot(ks, mean, "o-", color=colour, ms=4, label=name)
        ax.fill_between(
            ks,
            [100 * min(v) for v in values],
            [100 * max(v) for v in values],
            color=colour,
            alpha=0.15,
            lw=0,
        )
    ax.axhline(90, color="grey", lw=0.8, ls=":")
    ax.text(0.2, 91.5, "chance (10 classes)", color="grey", fontsize=9)
    ax.set(
        xlabel="ordinary blocks deleted, $k$",
        ylabel="test error (%)",
        ylim=(0, 100),
    )
    integer_ticks(ax)
    fig.tight_layout()
    legend_outside(ax, ncols=3)
    return fig


def plot_path_gradients(result: dict, net: str) -> Figure:
    """Veit et al.'s Fig. 6 for ``net`` (e.g. "ResNet-56"): (a) share of paths of
    each length, (b) the gradient of one path of each length (mean per-image
    ``||dE/dx_0||``, log scale), (c) the share of the total gradient that paths
    of each length carry; (a) and (c) sum to 1; means over the seeds."""
    from .paths import path_length_counts

    runs = _nets(result)[net]
    per_path = np.array([r["curves"]["paths"]["per_path"] for r in runs])
    share = np.array([r["curves"]["paths"]["share"] for r in runs])
    n = per_path.shape[1] - 1
    counts = np.array(path_length_counts(n), dtype=float)
    k = np.arange(n + 1)
    fig, axes = plt.subplots(1, 3, figsize=(FIG_WIDTH, 3.1))
    axes[0].bar(k, counts / counts.sum(), color="C7")
    axes[1].semilogy(k, np.exp(np.log(per_path).mean(0)), "o-", ms=3)
    axes[2].bar(k, share.mean(0), color="C0")
    labels = (
        ("(a) paths", "share of paths"),
        ("(b) one path's gradient", r"$\|\partial E/\partial x_0\|$ per image"),
        ("(c) gradient", "share of gradient"),
    )
    for ax, (title, ylabel) in zip(axes, labels):
        ax.set(title=title, xlabel="path length $k$", ylabel=ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    fig.tight_layout()
    return fig


def plot_preact(result: dict) -> Figure:
    """(a) test error after every epoch, one band per kind (seeds as the band);
    (b) the final training and test error of each kind, mean ± sd and one dot per
    seed.
    """
    groups = group_runs(result, ("kind", "depth"))
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(FIG_WIDTH, 3.6), gridspec_kw={"width_ratios": [1.5, 1]}
    )
    for (kind, depth), runs in groups.items():
        seed_band(
            ax,
            [r["curves"]["test_err"] for r in runs],
            100,
            ls=STYLE[kind],
            color=KIND_COLOURS[kind],
            lw=1.6,
            label=f"{kind}-{depth}",
        )
    for i, ((kind, _), runs) in enumerate(groups.items()):
        for j, name in enumerate(("train_err", "test_err")):
            seed_points(
                bx,
                j + 0.25 * (i - (len(groups) - 1) / 2),
                [r["metrics"][name] for r in runs],
                KIND_COLOURS[kind],
                label=kind if j == 0 else None,
            )
    ax.set(
        xlabel="iteration", ylabel="test error (%)", title="(a) after each epoch"
    )
    bx.set(
        xticks=(0, 1),
        xticklabels=("training", "test"),
        ylabel="error (%)",
        title="(b) final, eval mode",
    )
    fig.tight_layout()
    legend_outside(ax, ncols=2, fontsize=9)
    legend_outside(bx, ncols=1, fontsize=9)
    return fig


FULL_RECIPE = "full recipe"


def ablation_changes(result: dict) -> dict[str, list[float]]:
    """Per ablation arm, the change of validation accuracy against the full recipe
    of the same seed (paired by seed), in seed order; plus the EMA and flip-TTA
    rows, which test the full runs' weights without EMA or without the mirror
    image."""
    full = {
        r["seed"]: r["metrics"]
        for r in result["runs"]
        if r["settings"]["arm"] == FULL_RECIPE
    }
    changes: dict[str, list[float]] = {}
    for run in sorted(result["runs"], key=lambda r: r["seed"]):
        arm = run["settings"]["arm"]
        if arm != FULL_RECIPE:
            changes.setdefault(arm, []).append(
                run["metrics"]["val_acc"] - full[run["seed"]]["val_acc"]
            )
    for key, arm in (
        ("val_acc_no_ema", "no EMA"),
        ("val_acc_no_tta", "no flip TTA"),
    ):
        changes[arm] = [m[key] - _fp32_acc(m) for _, m in sorted(full.items())]
    return changes


def _fp32_acc(metrics: dict) -> float:
    """The full recipe's accuracy tested in fp32, as its no-EMA and no-TTA
    variants are: ``val_acc_fp32`` where the run trained in another precision,
    else ``val_acc`` itself (an fp32 run's own test)."""
    return metrics.get("val_acc_fp32", metrics["val_acc"])


def plot_ablation(result: dict) -> Figure:
    """The change of validation accuracy when one ingredient is left out, one row
    per ingredient: mean ± sd over seeds (paired with the full recipe of the same
    seed) and a dot per seed; the grey band is ± the full recipe's seed-to-seed
    sd (with one seed there is none, and the title says so)."""
    changes = ablation_changes(result)
    full = [
        r["metrics"]["val_acc"]
        for r in result["runs"]
        if r["settings"]["arm"] == FULL_RECIPE
    ]
    sd = 100 * float(np.std(full, ddof=1)) if len(full) > 1 else 0.0
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.42 * len(changes) + 1.3))
    ax.axvspan(-sd, sd, color="grey", alpha=0.2, lw=0)
    ax.axvline(0, color="grey", lw=1)
    for i, (arm, values) in enumerate(changes.items()):
        v = 100 * np.asarray(values)
        spread = v.std(ddof=1) if len(v) > 1 else 0.0
        colour = "C3" if v.mean() < 0 else "C2"
        ax.errorbar(
            v.mean(), i, xerr=spread, fmt="o", color=colour, capsize=4, ms=7
        )
        ax.plot(v, np.full(len(v), i + 0.22), ".", color=colour, alpha=0.6, ms=5)
    ax.set_yticks(range(len(changes)), list(changes))
    ax.invert_yaxis()
    title = (
        "Leave one ingredient out (grey: ± the full recipe's seed sd)"
        if len(full) > 1
        else "Leave one ingredient out (one seed: no spread to compare with)"
    )
    ax.set(
        xlabel="change of validation accuracy without it (points)", title=title
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_final(result: dict) -> Figure:
    """(a) held-out accuracy after every epoch (seeds as a band); (b) the final
    test accuracy of every seed, mean ± sd."""
    runs = sorted(result["runs"], key=lambda r: r["seed"])
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(FIG_WIDTH, 3.4), gridspec_kw={"width_ratios": [1.8, 1]}
    )
    curves = [
        {"x": r["curves"]["epoch"], "y": r["curves"]["heldout_acc"]} for r in runs
    ]
    seed_band(ax, curves, 100, color="C0", lw=1.6)
    integer_ticks(ax)
    ax.set(
        xlabel="epoch", ylabel="test accuracy (%)", title="(a) after each epoch"
    )
    ax.grid(alpha=0.3)
    seed_points(bx, 0, [r["metrics"]["test_acc"] for r in runs], "C0")
    bx.set(
        xticks=[], xlim=(-0.5, 0.7), ylabel="test accuracy (%)", title="(b) final"
    )
    bx.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
