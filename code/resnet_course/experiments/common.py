"""What every experiment shares: its data, its seeds, and turning runs into
numbers.

Experiments return plain data (numbers, lists, dicts of them) so that a run can be
stored as JSON under ``results/`` and plotted later without re-running anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from functools import lru_cache

import torch
from torch.nn import functional as F

from ..data import load_fashion_mnist
from ..notebook import seed_everything
from ..training import History, evaluate, train_classifier

#: The validation images are the *last* ones of the 60,000 training images;
#: training subsets are taken from the front, so the two never overlap.
N_TRAIN_IMAGES = 60_000


#: The CIFAR-family CNNs of ch. 1, 2 and 4 (cnn_degradation, preact, lesion) train
#: the same way at every size, so their numbers can be read side by side across
#: chapters.
CNN_TRAINING = dict(
    widths=(4, 8, 16), pixels=14, lr=0.1, weight_decay=1e-4, batch_size=128
)
#: ... on the same images for the same epochs, per size (the gpu size at full
#: width and resolution).
CNN_BUDGET = {
    "smoke": dict(
        n_train=256, n_test=128, n_train_eval=256, epochs=1, batch_size=64
    ),
    "cpu": dict(n_train=10_000, n_test=2_000, n_train_eval=5_000, epochs=3),
    "long": dict(n_train=30_000, n_test=10_000, n_train_eval=5_000, epochs=8),
    "gpu": dict(
        widths=(16, 32, 64),
        pixels=28,
        n_train=60_000,
        n_test=10_000,
        n_train_eval=10_000,
        epochs=20,
    ),
}


def cnn_sizes(common: dict, own: dict[str, dict]) -> dict[str, dict]:
    """Every size's settings of a CIFAR-family CNN experiment: ``common``, the
    experiment's ``own`` settings of that size (its networks, its lesion trials),
    and the shared :data:`CNN_BUDGET`."""
    return {
        size: dict(common, **own[size], **budget)
        for size, budget in CNN_BUDGET.items()
    }


@dataclass(frozen=True)
class Splits:
    """Training, validation and test images ``(N, 1, P, P)`` in [0, 1], with
    labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def downsample(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Area-average 28-pixel images to ``pixels`` (28 keeps them as they are)."""
    if pixels == images.shape[-1]:
        return images
    return F.adaptive_avg_pool2d(images, pixels)


@lru_cache(maxsize=4)
def splits(
    n_train: int, n_val: int, n_test: int, pixels: int = 28, device: str = "cpu"
) -> Splits:
    """The first ``n_train`` training images, the last ``n_val`` of them for
    validation, and the first ``n_test`` test images, at ``pixels`` x ``pixels``
    (cached)."""
    if n_train + n_val > N_TRAIN_IMAGES:
        raise ValueError(
            f"n_train + n_val = {n_train + n_val} exceeds the {N_TRAIN_IMAGES:,} "
            "training images"
        )
    data = load_fashion_mnist("cpu")
    train_x, train_y = data.train_images, data.train_labels
    parts = (
        (train_x[:n_train], train_y[:n_train]),
        (train_x[N_TRAIN_IMAGES - n_val :], train_y[N_TRAIN_IMAGES - n_val :]),
        (data.test_images[:n_test], data.test_labels[:n_test]),
    )
    tensors = []
    for x, y in parts:
        tensors += [downsample(x, pixels).to(device), y.to(device)]
    return Splits(*tensors)


def seeded(seed: int) -> None:
    """Seed Python, NumPy and torch before building a network."""
    seed_everything(seed)


def train_run(
    model: torch.nn.Module, data: Splits, spec: dict, **extra
) -> History:
    """Train ``model`` on ``data``'s training split with the run's settings
    (epochs, batch size, learning rate, weight decay; the run's seed and key),
    tested on its test split.  ``extra`` goes to
    :func:`~resnet_course.training.train_classifier`.
    """
    s = spec["settings"]
    return train_classifier(
        model,
        data.train_x,
        data.train_y,
        data.test_x,
        data.test_y,
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        weight_decay=s.get("weight_decay", 1e-4),
        seed=spec["seed"],
        desc=spec["key"],
        **extra,
    )


def train_error(model: torch.nn.Module, data: Splits, n_images: int) -> float:
    """The error on the first ``n_images`` training images (eval mode)."""
    return evaluate(model, data.train_x[:n_images], data.train_y[:n_images])[1]


def subsample(values: Sequence[float], points: int = 200) -> list[float]:
    """At most ``points`` evenly spaced values (first and last included), as
    floats."""
    values = [float(v) for v in values]
    if len(values) <= points:
        return values
    step = (len(values) - 1) / (points - 1)
    return [values[round(i * step)] for i in range(points)]


def subsample_xy(
    xs: Sequence[float], ys: Sequence[float], points: int = 200
) -> dict[str, list[float]]:
    """A curve ``{"x": [...], "y": [...]}`` with at most ``points`` points."""
    return {"x": subsample(xs, points), "y": subsample(ys, points)}


def binned_xy(
    xs: Sequence[float], ys: Sequence[float], points: int = 100
) -> dict[str, list[float]]:
    """A noisy curve averaged in ``points`` consecutive bins (x: each bin's last
    x)."""
    n = len(ys)
    if n <= points:
        return {"x": [float(x) for x in xs], "y": [float(y) for y in ys]}
    edges = [round(i * n / points) for i in range(points + 1)]
    return {
        "x": [float(xs[edges[i + 1] - 1]) for i in range(points)],
        "y": [
            sum(float(y) for y in ys[edges[i] : edges[i + 1]])
            / (edges[i + 1] - edges[i])
            for i in range(points)
        ],
    }


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value); NaNs are
    skipped."""
    v = [float(x) for x in values if x is not None and not math.isnan(float(x))]
    if not v:
        return math.nan, math.nan
    m = sum(v) / len(v)
    if len(v) == 1:
        return m, 0.0
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def runs_where(result: dict, **settings) -> list[dict]:
    """The runs of a stored result whose settings match every keyword given."""
    return [
        r
        for r in result["runs"]
        if all(r["settings"].get(k) == v for k, v in settings.items())
    ]


def metric(result: dict, name: str, **settings) -> list[float]:
    """One metric of every run that matches ``settings``, in seed order."""
    runs = sorted(runs_where(result, **settings), key=lambda r: r["seed"])
    return [r["metrics"][name] for r in runs]


def group_runs(result: dict, by: Sequence[str]) -> dict[tuple, list[dict]]:
    """The runs of a result grouped by the values of the settings ``by``, in the
    order in which they first appear."""
    groups: dict[tuple, list[dict]] = {}
    for run in result["runs"]:
        groups.setdefault(tuple(run["settings"][k] for k in by), []).append(run)
    return groups


def summarise(
    result: dict, by: Sequence[str], metrics: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per group of runs: the ``by`` settings, the number of seeds, and
    the mean and standard deviation of each metric (``<metric>_mean``,
    ``<metric>_sd``).
    """
    rows = []
    for key, runs in group_runs(result, by).items():
        row: dict[str, Any] = dict(zip(by, key))
        row["seeds"] = len(runs)
        for m in metrics:
            mean, sd = mean_std(r["metrics"].get(m, math.nan) for r in runs)
            row[f"{m}_mean"], row[f"{m}_sd"] = mean, sd
        rows.append(row)
    return rows


def pm(mean: float, sd: float, percent: bool = True, digits: int = 1) -> str:
    """``"10.4 ± 0.6 %"``: a mean and its seed-to-seed standard deviation."""
    if percent:
        return f"{100 * mean:.{digits}f} ± {100 * sd:.{digits}f} %"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"
