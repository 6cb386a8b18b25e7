"""Block diagrams drawn with matplotlib: layers as boxes, data flowing upwards.

``block_diagram(ax, ["conv 3x3", "BN", "ReLU", ...], after_add=["ReLU"])`` draws
one block with its shortcut on the right; ``shortcut=None`` draws the plain block.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

COLORS = {"conv": "#9ecae1", "BN": "#fdd0a2", "ReLU": "#c7e9c0"}


def _color(label: str) -> str:
    for key, color in COLORS.items():
        if label.startswith(key):
            return color
    return "#eeeeee"


def _arrow(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], **kw
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            lw=1.2,
            color="black",
            shrinkA=0,
            shrinkB=0,
            **kw,
        )
    )


def _stack(
    ax: Axes,
    labels: Sequence[str],
    y: float,
    gap: float,
    box_h: float,
    width: float,
) -> float:
    """Draw ``labels`` as boxes upwards from ``y``, each after an arrow; return
    the new top."""
    for label in labels:
        _arrow(ax, (0, y), (0, y + gap))
        y += gap
        ax.add_patch(
            FancyBboxPatch(
                (-width / 2, y),
                width,
                box_h,
                boxstyle="round,pad=0.02",
                fc=_color(label),
                ec="black",
                lw=1,
            )
        )
        ax.text(0, y + box_h / 2, label, ha="center", va="center", fontsize=10)
        y += box_h
    return y


def block_diagram(
    ax: Axes,
    layers: Sequence[str],
    after_add: Sequence[str] = (),
    shortcut: str | None = "identity",
    title: str = "",
    input_label: str = "$x_l$",
    output_label: str = "$x_{l+1}$",
) -> None:
    """Draw one block bottom-to-top: ``layers`` (the branch F), the addition,
    ``after_add``."""
    box_h, gap, width = 0.55, 0.35, 1.6
    y = 0.0
    ax.text(0, y, input_label, ha="center", va="center", fontsize=12)
    y_in = y
    y += 0.3
    y = _stack(ax, layers, y, gap, box_h, width)
    if shortcut is not None:
        _arrow(ax, (0, y), (0, y + gap))
        y += gap + 0.2
        ax.add_patch(Circle((0, y), 0.2, fc="white", ec="black", lw=1.2))
        ax.text(0, y, "+", ha="center", va="center", fontsize=13)
        x_side = width / 2 + 0.7
        ax.plot(
            [0.15, x_side, x_side],
            [y_in + 0.15, y_in + 0.15, y],
            color="black",
            lw=1.2,
        )
        _arrow(ax, (x_side, y), (0.2, y))
        ax.text(
            x_side + 0.1,
            (y_in + y) / 2,
            shortcut,
            ha="left",
            va="center",
            fontsize=10,
            rotation=90,
        )
        y += 0.2
    y = _stack(ax, after_add, y, gap, box_h, width)
    _arrow(ax, (0, y), (0, y + gap))
    y += gap + 0.25
    ax.text(0, y, output_label, ha="center", va="center", fontsize=12)
    ax.set_xlim(-1.6, 2.2)
    ax.set_ylim(-0.4, 7.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)


def plain_vs_residual_block() -> Figure:
    """The plain block and the residual block of He et al. (2015, Fig. 2), side by
    side."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 4.2))
    layers = ["conv 3×3", "BN", "ReLU", "conv 3×3", "BN"]
    block_diagram(
        axes[0], layers + ["ReLU"], shortcut=None, title="plain block: $H(x)$"
    )
    block_diagram(
        axes[1],
        layers,
        ["ReLU"],
        shortcut="identity $x$",
        title="residual block: $F(x) + x$",
    )
    fig.tight_layout()
    return fig


def post_vs_pre_activation() -> Figure:
    """The original block (He et al. 2015) and the pre-activation block (He et al.
    2016)."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 4.2))
    block_diagram(
        axes[0],
        ["conv 3×3", "BN", "ReLU", "conv 3×3", "BN"],
        ["ReLU"],
        shortcut="identity",
        title="original (2015)",
    )
    block_diagram(
        axes[1],
        ["BN", "ReLU", "conv 3×3", "BN", "ReLU", "conv 3×3"],
        shortcut="identity",
        title="pre-activation (2016)",
    )
    fig.tight_layout()
    return fig


def residual_block_figure() -> Figure:
    """The seed's ``Residual`` block: identity shortcut (left), 1x1 convolution
    shortcut (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 4.2))
    layers = ["conv 3×3", "BN", "ReLU", "conv 3×3", "BN"]
    block_diagram(
        axes[0], layers, ["ReLU"], shortcut="identity $x$", title="Residual(c, c)"
    )
    block_diagram(
        axes[1],
        layers,
        ["ReLU"],
        shortcut="1×1 conv $W_s x$",
        title="Residual(c, 2c, use_1x1conv=True, strides=2)",
    )
    fig.tight_layout()
    return fig
