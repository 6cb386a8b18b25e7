"""The degradation experiment of He et al. (2015, Fig. 1 and 6): plain and residual nets
of several depths, trained identically, their training and test error compared.

:func:`train_plain_and_residual` returns the measurements, :func:`plot_degradation`
draws them (plain solid, residual dashed, as in the paper) and :func:`error_table`
prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .data import FashionMNIST
from .training import History, evaluate, train_classifier


@dataclass
class Run:
    """One trained network: its depth, kind, training history and final errors."""

    depth: int
    residual: bool
    history: History
    train_err_eval: float  # eval mode, on a fixed subset of the training set
    parameters: int

    @property
    def name(self) -> str:
        return f"{'residual' if self.residual else 'plain'}-{self.depth}"


def train_plain_and_residual(
    build: Callable[[int, bool], nn.Module],
    depths: Sequence[int],
    data: FashionMNIST,
    n_train_eval: int = 10_000,
    seed: int = 0,
    kinds: Sequence[bool] = (False, True),
    **train_kwargs,
) -> list[Run]:
    """Train ``build(depth, residual)`` for every depth and every kind (plain,
    residual), identically.

    Each network starts from ``torch.manual_seed(seed)`` and sees the same mini-batches
    in the same order (``train_classifier``'s shuffling is seeded too).  The final
    training error is measured twice: as the running error of the last mini-batches
    (train mode, what the curves show) and in eval mode on the first ``n_train_eval``
    training images.
    """
    device = data.device
    runs = []
    for depth in depths:
        for residual in kinds:
            torch.manual_seed(seed)
            model = build(depth, residual).to(device)
            name = f"{'residual' if residual else 'plain'}-{depth}"
            hist = train_classifier(
                model,
                data.train_images,
                data.train_labels,
                data.test_images,
                data.test_labels,
                seed=seed,
                desc=name,
                **train_kwargs,
            )
            _, train_err = evaluate(
                model,
                data.train_images[:n_train_eval],
                data.train_labels[:n_train_eval],
            )
            runs.append(
                Run(
                    depth,
                    residual,
                    hist,
                    train_err,
                    sum(p.numel() for p in model.parameters()),
                )
            )
    return runs


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start), for noisy training
    curves."""
    v = np.asarray(values, dtype=float)
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_degradation(runs: Sequence[Run], title: str = "", window: int = 5) -> Figure:
    """Training error (left) and test error (right) against iterations; plain solid,
    residual dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.5), sharey=True)
    depths = sorted({r.depth for r in runs})
    colors = dict(zip(depths, plt.cm.viridis(np.linspace(0.1, 0.8, len(depths)))))
    for r in runs:
        style = dict(
            color=colors[r.depth], ls="--" if r.residual else "-", label=r.name, lw=1.5
        )
        axes[0].plot(r.history.step, 100 * smooth(r.history.train_err, window), **style)
        axes[1].plot(
            r.history.epoch_step,
            100 * np.asarray(r.history.test_err),
            marker=".",
            **style,
        )
    axes[0].set_title("training error (running, mini-batches)")
    axes[1].set_title("test error")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("error (%)")
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def error_table(runs: Sequence[Run]) -> str:
    """A fixed-width table of final errors (in %) and parameter counts."""
    lines = [
        (
            f"{'network':>12} {'params':>9} {'train err':>10} {'train err':>10}"
            f" {'test err':>9}"
        ),
        f"{'':>12} {'':>9} {'(running)':>10} {'(eval)':>10} {'':>9}",
    ]
    for r in runs:
        lines.append(
            f"{r.name:>12} {r.parameters:>9,}"
            f" {100 * r.history.final_train_err():>9.2f}%"
            f" {100 * r.train_err_eval:>9.2f}% {100 * r.history.final_test_err:>8.2f}%"
        )
    return "\n".join(lines)
