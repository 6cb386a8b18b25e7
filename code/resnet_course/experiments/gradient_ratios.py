"""Chapter 3: the gradient at every block of plain and residual MLPs, after
training.

``ResidualMLP`` networks (full pre-activation units, ``x_{i+1} = x_i + F(x_i)``,
or the plain ``x_{i+1} = F(x_i)``) are trained on Fashion-MNIST; then, on one
fixed batch in float64, ``||dE/dx_l|| / ||dE/dx_L||`` is measured at the input of
every block.  The same measurement at initialisation is stored alongside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..gradients import ResidualMLP, block_gradient_norms
from ..training import NonFiniteLossError
from . import Experiment, RunSpec
from .common import seeded, splits, train_error, train_run

GRADIENT_BATCH = 256


def plan(
    settings: dict[str, Any], seeds: int, folder: Path | None = None
) -> list[RunSpec]:
    return [
        {
            "key": f"{kind}-{n}/seed {seed}",
            "seed": seed,
            "settings": {**settings, "blocks": n, "kind": kind},
            "cost": n,
        }
        for seed in range(seeds)
        for n in settings["block_counts"]
        for kind in ("plain", "residual")
    ]


def relative_norms(
    model: ResidualMLP, x: torch.Tensor, y: torch.Tensor
) -> list[float]:
    """``||dE/dx_l|| / ||dE/dx_L||`` for l = 0..L, in float64, on a copy of
    ``model``."""
    import copy

    probe = copy.deepcopy(model).double().cpu().train()
    norms = block_gradient_norms(probe, x.double().cpu(), y.cpu())
    return (norms / norms[-1]).tolist()


def run(spec: RunSpec, device: str) -> dict[str, Any]:
    s = spec["settings"]
    data = splits(s["n_train"], 0, s["n_test"], 28, device)
    x, y = data.train_x[:GRADIENT_BATCH], data.train_y[:GRADIENT_BATCH]
    seeded(spec["seed"])
    model = ResidualMLP(784, s["width"], s["blocks"], 10, s["kind"] == "residual")
    model = model.to(device)
    at_init = relative_norms(model, x, y)
    out = {"metrics": {}, "curves": {"ratio_at_init": at_init}}
    try:
        hist = train_run(model, data, spec)
    except NonFiniteLossError:
        out["metrics"] = {"diverged": True}
        return out
    trained = relative_norms(model, x, y)
    train_err = train_error(model, data, 5000)
    out["curves"]["ratio_trained"] = trained
    out["metrics"] = {
        "diverged": False,
        "train_err": train_err,
        "test_err": hist.final_test_err,
        "ratio_bottom_at_init": at_init[0],
        "ratio_bottom": trained[0],
        "min_ratio_below_top": min(trained[:-1]),
    }
    return out


_COMMON = dict(width=128, batch_size=128, lr=0.05)
GRADIENT_RATIOS = Experiment(
    name="gradient_ratios",
    chapter="03_backprop",
    summary="per-block gradient norms of plain and residual MLPs after training",
    sizes={
        "smoke": dict(
            _COMMON,
            width=32,
            block_counts=(2, 4),
            n_train=512,
            n_test=256,
            epochs=1,
        ),
        "cpu": dict(
            _COMMON, block_counts=(8, 32), n_train=6_000, n_test=1_000, epochs=2
        ),
        "long": dict(
            _COMMON,
            block_counts=(8, 32, 128),
            n_train=30_000,
            n_test=10_000,
            epochs=5,
        ),
        "gpu": dict(
            _COMMON,
            block_counts=(8, 32, 128),
            n_train=60_000,
            n_test=10_000,
            epochs=10,
        ),
    },
    plan=plan,
    run=run,
    minutes={"smoke": 0.05, "cpu": 2, "long": 19, "gpu": 5},
)
