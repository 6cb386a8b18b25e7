"""Diagrams of residual blocks, drawn with matplotlib (so the book has no screenshots)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

BRANCH_COLOR = "#dbe9f6"
SHORTCUT_COLOR = "#fde2c8"
ADD_COLOR = "#e4f2dc"


def _box(ax: Axes, x: float, y: float, text: str, color: str, width: float = 2.2) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.3), width, 0.6,
                                boxstyle="round,pad=0.05", fc=color, ec="#333333", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=1.2, color="#333333"))


def draw_residual_block(ax: Axes, use_1x1conv: bool = False) -> None:
    """One block as the seed's ``Residual`` computes it, input at the bottom, output on top."""
    layers = ["3x3 Conv", "Batch norm", "ReLU", "3x3 Conv", "Batch norm"]
    ys = [1.2 + 0.9 * i for i in range(len(layers))]
    add_y, out_y = ys[-1] + 1.0, ys[-1] + 1.9
    ax.text(0, 0.2, "X", ha="center", va="center", fontsize=11, fontweight="bold")
    _arrow(ax, (0, 0.45), (0, ys[0] - 0.35))
    for i, (y, name) in enumerate(zip(ys, layers)):
        _box(ax, 0, y, name, BRANCH_COLOR)
        if i + 1 < len(layers):
            _arrow(ax, (0, y + 0.3), (0, ys[i + 1] - 0.3))
    _box(ax, 0, add_y, "+", ADD_COLOR, width=0.6)
    _arrow(ax, (0, ys[-1] + 0.3), (0, add_y - 0.3))
    _box(ax, 0, out_y, "ReLU", BRANCH_COLOR)
    _arrow(ax, (0, add_y + 0.3), (0, out_y - 0.3))
    # The shortcut: out of X to the right, up, and into the addition.
    side = 2.2
    ax.plot([0, side], [0.7, 0.7], color="#333333", lw=1.2)
    if use_1x1conv:
        mid = (0.7 + add_y) / 2
        ax.plot([side, side], [0.7, mid - 0.3], color="#333333", lw=1.2)
        _box(ax, side, mid, "1x1 Conv", SHORTCUT_COLOR, width=1.6)
        ax.plot([side, side], [mid + 0.3, add_y], color="#333333", lw=1.2)
    else:
        ax.plot([side, side], [0.7, add_y], color="#333333", lw=1.2)
    _arrow(ax, (side, add_y), (0.35, add_y))
    ax.text(0, out_y + 0.6, "H(X) = ReLU(F(X) + " + ("W X" if use_1x1conv else "X") + ")",
            ha="center", fontsize=10)
    ax.set_xlim(-1.8, 3.4)
    ax.set_ylim(-0.2, out_y + 0.9)
    ax.set_axis_off()


def residual_block_figure() -> Figure:
    """The two blocks side by side: identity shortcut (left), 1x1 projection (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 4.6))
    for ax, proj, title in zip(axes, (False, True), ("identity shortcut", "1x1 convolution shortcut")):
        draw_residual_block(ax, proj)
        ax.set_title(f"Residual(...) with {title}", fontsize=10)
    fig.tight_layout()
    return fig
