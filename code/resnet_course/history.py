"""What a run of the trainer measured, per epoch, and its plot (live in Jupyter).

(The chapters' short loop, :mod:`resnet_course.training`, keeps its own per-step
record, ``training.History``, in errors rather than accuracies.)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class History:
    """What a run measured, one entry per epoch; ``train_seconds`` is cumulative.

    Training time counts the steps (data indexing and augmentation included), not
    testing and not the warm-up, which is ``warmup_seconds``.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    images_per_epoch: int = 0
    warmup_seconds: float = 0.0
    peak_memory_bytes: int = 0
    device: str = ""
    precision: str = ""
    compile: str = ""
    processes: int = 1  # data-parallel processes (torchrun ranks) that trained it

    @property
    def final_test_acc(self) -> float:
        return self.test_acc[-1]

    @property
    def images_per_second(self) -> float:
        return len(self.epoch) * self.images_per_epoch / self.train_seconds[-1]

    def time_to(self, accuracy: float) -> float | None:
        """Training seconds until the end of the first epoch with test accuracy >=
        ``accuracy``."""
        for acc, seconds in zip(self.test_acc, self.train_seconds):
            if acc >= accuracy:
                return seconds
        return None

    def record(
        self, epoch: int, lr: float, seconds: float, **measured: float
    ) -> None:
        """Append one epoch: ``train_loss``, ``train_acc``, ``test_loss``,
        ``test_acc``."""
        self.epoch.append(epoch)
        self.lr.append(lr)
        self.train_seconds.append(seconds)
        for name, value in measured.items():
            getattr(self, name).append(value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        return cls(**d)  # (a record from before ``processes`` existed gets 1)


def in_jupyter() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def plot_history(
    history: History | dict[str, History], axes=None, title: str | None = None
):
    """Loss and accuracy per epoch (train and test), for one run or a dict of
    named runs; a run without a test loss (d2l's) gets no test-loss line."""
    import matplotlib.pyplot as plt

    runs = history if isinstance(history, dict) else {"": history}
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.3))
    else:
        fig = axes[0].figure
        for ax in axes:
            ax.clear()
    for i, (name, h) in enumerate(runs.items()):
        colour = f"C{i}"
        label = f"{name} " if name else ""
        axes[0].plot(
            h.epoch, h.train_loss, "--", color=colour, label=f"{label}train"
        )
        if not all(math.isnan(v) for v in h.test_loss):  # d2l records none
            axes[0].plot(
                h.epoch, h.test_loss, "-", color=colour, label=f"{label}test"
            )
        axes[1].plot(
            h.epoch, h.train_acc, "--", color=colour, label=f"{label}train"
        )
        axes[1].plot(h.epoch, h.test_acc, "-", color=colour, label=f"{label}test")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


class LivePlot:
    """A figure in the notebook, redrawn in place after every epoch (Jupyter and
    Colab)."""

    def __init__(self, title: str):
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.fig, self.axes = plt.subplots(1, 2, figsize=(8, 3.3))
        self.title = title
        # shown through the display handle only, not again at cell end
        plt.close(self.fig)
        self.handle = display(self.fig, display_id=True)

    def update(self, history: History) -> None:
        plot_history(history, self.axes, self.title)
        self.handle.update(self.fig)
