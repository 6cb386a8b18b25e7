"""Residual networks as collections of paths (Veit et al. 2016).

Unrolling ``n`` residual units ``x_{i+1} = x_i + f_i(x_i)`` gives ``2^n`` paths
from input to output: each path either passes through the residual branch ``f_i``
of unit ``i`` or skips it. A path that passes through ``k`` branches has *length*
``k``; there are ``C(n, k)`` of them, so lengths follow Binomial(n, 1/2).

This module enumerates the paths, checks that for *linear* branches the output is
exactly their sum, draws the unrolled view, and estimates how much gradient flows
along paths of each length in a trained
:class:`~resnet_course.cifar_resnet.CifarResNet` by letting gradients through only
one branch of every block (the forward pass stays the full network's).
"""

from __future__ import annotations

import copy
import itertools
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def all_paths(n: int) -> list[tuple[int, ...]]:
    """Every path through ``n`` units: a tuple of 0/1 per unit (1 = through the
    branch f_i)."""
    return list(itertools.product((0, 1), repeat=n))


def path_length_counts(n: int) -> list[int]:
    """How many of the ``2^n`` paths have length 0, 1, ..., n: ``C(n, k)``."""
    return [math.comb(n, k) for k in range(n + 1)]


def binomial_summary(n: int) -> dict[str, float]:
    """Mean ``n/2`` and standard deviation ``sqrt(n)/2`` of the path length, and
    the share of paths whose length lies within one standard deviation of the
    mean."""
    mean, std = n / 2, math.sqrt(n) / 2
    counts = path_length_counts(n)
    within = sum(c for k, c in enumerate(counts) if abs(k - mean) <= std)
    return {"mean": mean, "std": std, "share_within_one_std": within / 2**n}


def linear_units_output(branches: list[Tensor], x: Tensor) -> Tensor:
    """Output of units ``x_{i+1} = x_i + A_i x_i`` whose branches are the matrices
    ``A_i``."""
    for a in branches:
        x = x + a @ x
    return x


def path_contribution(
    branches: list[Tensor], x: Tensor, path: tuple[int, ...]
) -> Tensor:
    """What one path adds to the output: the branches it passes through, applied
    in order."""
    for a, through in zip(branches, path):
        if through:
            x = a @ x
    return x


def path_sum(branches: list[Tensor], x: Tensor) -> Tensor:
    """The sum of all ``2^n`` path contributions (equal to the output when
    branches are linear)."""
    return sum(
        path_contribution(branches, x, p) for p in all_paths(len(branches))
    )


def plot_unrolled_paths(n: int = 3, ax=None):
    """Draw the ``2^n`` paths of ``n`` units, one row per path, sorted by
    length."""
    import matplotlib.pyplot as plt

    paths = sorted(all_paths(n), key=lambda p: (sum(p), p[::-1]))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 0.45 * len(paths) + 0.8))
    xs = [1.5 * (i + 1) for i in range(n)]
    end = 1.5 * (n + 1)
    colours = plt.cm.viridis([k / max(n, 1) for k in range(n + 1)])
    for row, p in enumerate(paths):
        y = len(paths) - 1 - row
        c = colours[sum(p)]
        ax.plot([0, end], [y, y], color=c, lw=2, zorder=1)
        for i, through in enumerate(p):
            if through:
                ax.add_patch(
                    plt.Rectangle(
                        (xs[i] - 0.35, y - 0.3),
                        0.7,
                        0.6,
                        fc=c,
                        ec="black",
                        zorder=2,
                    )
                )
                ax.text(
                    xs[i],
                    y,
                    f"$f_{i + 1}$",
                    ha="center",
                    va="center",
                    # dark text on light boxes (viridis ends in yellow),
                    # white on dark
                    color=(
                        "black"
                        if c[:3] @ [0.299, 0.587, 0.114] > 0.5
                        else "white"
                    ),
                    fontsize=11,
                    zorder=3,
                )
        ax.text(end + 0.2, y, f"length {sum(p)}", va="center", fontsize=9)
    ax.text(0, len(paths) - 0.35, "$x_0$", ha="center", fontsize=11)
    ax.text(
        end,
        len(paths) - 0.35,
        "$x_%d = \\sum$ of rows" % n,
        ha="center",
        fontsize=11,
    )
    ax.set_xlim(-0.5, end + 1.6)
    ax.set_ylim(-0.7, len(paths))
    ax.axis("off")
    ax.set_title(f"{n} units, {2 ** n} paths: a box passes through $f_i$")
    return ax


class PathGate(nn.Module):
    """A residual ``BasicBlock`` whose gradient may be let through one branch
    only.

    The forward value is the block's own, ``ReLU(F(x) + shortcut(x))``.
    ``through`` picks what the backward pass sees: ``"both"`` (the ordinary
    gradient), ``"residual"`` (the shortcut is detached) or ``"shortcut"`` (the
    residual branch is detached).
    """

    def __init__(self, block: nn.Module):
        super().__init__()
        if not getattr(block, "residual", False):
            raise ValueError(
                "PathGate needs a residual block (block.residual is False)"
            )
        self.block, self.through = block, "both"

    def forward(self, x: Tensor) -> Tensor:
        out, short = self.block.branch(x), self.block.shortcut(x)
        if self.through == "residual":
            short = short.detach()
        elif self.through == "shortcut":
            out = out.detach()
        return F.relu(out + short)


def gated_copy(model: nn.Module) -> tuple[nn.Module, list[PathGate]]:
    """A deep copy of a CifarResNet in eval mode with every block wrapped in a
    :class:`PathGate`."""
    model = copy.deepcopy(model).eval()
    gates = [PathGate(block) for block in model.blocks()]
    for i, gate in enumerate(gates):
        model.replace_block(i, gate)
    return model, gates


def gradient_at_x0(
    gated: nn.Module,
    gates: list[PathGate],
    x0: Tensor,
    labels: Tensor,
    through: list[str],
) -> Tensor:
    """``dE/dx_0`` (``E``: the summed loss of the batch) when gate ``i`` lets the
    gradient through ``through[i]`` ("both", "residual" or "shortcut"); the gates
    are left letting it through both."""
    for gate, way in zip(gates, through, strict=True):
        gate.through = way
    x = x0.clone().requires_grad_(True)
    h = x
    for gate in gates:
        h = gate(h)
    F.cross_entropy(gated.head(h), labels, reduction="sum").backward()
    for gate in gates:
        gate.through = "both"
    return x.grad


def path_gradient_norms(
    gated: nn.Module,
    gates: list[PathGate],
    images: Tensor,
    labels: Tensor,
    length: int,
    samples: int,
    generator: torch.Generator,
) -> Tensor:
    """Per-image ``||dE/dx_0||`` along single paths of ``length`` blocks, for
    ``samples`` random paths.

    Each sample keeps the residual branch of ``length`` randomly chosen blocks and
    the shortcut of all others, so the gradient at ``x_0`` is that of one path
    (``E``: each image's loss). Returns a tensor of shape
    ``(samples, len(images))``.
    """
    n = len(gates)
    x0 = gated.stem(images).detach()
    norms = []
    for _ in range(samples):
        keep = set(torch.randperm(n, generator=generator)[:length].tolist())
        ways = ["residual" if i in keep else "shortcut" for i in range(n)]
        grad = gradient_at_x0(gated, gates, x0, labels, ways)
        norms.append(grad.flatten(1).norm(dim=1))
    gated.zero_grad(set_to_none=True)
    return torch.stack(norms).cpu()
