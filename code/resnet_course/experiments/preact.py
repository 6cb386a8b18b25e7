"""Chapter 2: the original (post-activation) block against the pre-activation
block of He et al. (2016), trained side by side on the same data from the same
seeds.

Both networks are the 6n+2 family with 1x1 projections where the shape changes
(``cifar_resnet(depth, shortcut="B")`` and ``PreActCifarResNet(depth)``), trained
as in the chapter 1 experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..block_variants import PreActCifarResNet
from ..cifar_resnet import cifar_resnet
from ..models import count_parameters
from . import Experiment, RunSpec
from .common import (
    CNN_TRAINING,
    binned_xy,
    cnn_sizes,
    seeded,
    splits,
    subsample_xy,
    train_error,
    train_run,
)

KINDS = ("post-activation", "pre-activation")


def plan(
    settings: dict[str, Any], seeds: int, folder: Path | None = None
) -> list[RunSpec]:
    return [
        {
            "key": f"{kind}-{depth}/seed {seed}",
            "seed": seed,
            "settings": {**settings, "depth": depth, "kind": kind},
            "cost": depth,
        }
        for seed in range(seeds)
        for depth in settings["depths"]
        for kind in KINDS
    ]


def build(kind: str, depth: int, widths: tuple[int, int, int]):
    if kind == "pre-activation":
        return PreActCifarResNet(depth, widths=widths)
    return cifar_resnet(depth, shortcut="B", widths=widths)


def run(spec: RunSpec, device: str) -> dict[str, Any]:
    s = spec["settings"]
    data = splits(s["n_train"], 0, s["n_test"], s["pixels"], device)
    seeded(spec["seed"])
    model = build(s["kind"], s["depth"], tuple(s["widths"])).to(device)
    hist = train_run(model, data, spec)
    train_err = train_error(model, data, s["n_train_eval"])
    return {
        "metrics": {
            "train_err": train_err,
            "test_err": hist.final_test_err,
            "parameters": count_parameters(model),
            "train_seconds": hist.seconds,
        },
        "curves": {
            "train_err": binned_xy(hist.step, hist.train_err),
            "test_err": subsample_xy(hist.epoch_step, hist.test_err),
        },
    }


PREACT = Experiment(
    name="preact",
    chapter="02_residual_learning",
    summary="post- vs pre-activation residual networks, same data and seeds",
    sizes=cnn_sizes(
        CNN_TRAINING,
        own={
            "smoke": dict(depths=(8,)),
            "cpu": dict(depths=(20,)),
            "long": dict(depths=(56,)),
            "gpu": dict(depths=(56,)),
        },
    ),
    plan=plan,
    run=run,
    minutes={"smoke": 0.05, "cpu": 2, "long": 33, "gpu": 5},
)
