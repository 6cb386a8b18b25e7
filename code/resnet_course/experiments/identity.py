"""Chapter 2: can a stack of blocks learn to copy its input?

Stacks of plain and of residual ``BasicBlock``s (16 channels, stride 1, default
initialisation) are trained with Adam to reproduce their input, real Fashion-MNIST
images average-pooled to 14 x 14 with sixteen consecutive images as the sixteen
channels of one example.  The loss curve and its final value say how close each
gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..residual_learning import block_stack, fit_identity
from . import Experiment, RunSpec
from .common import binned_xy, seeded, splits

CHANNELS = 16


def plan(
    settings: dict[str, Any], seeds: int, folder: Path | None = None
) -> list[RunSpec]:
    return [
        {
            "key": f"{kind}, {n} blocks/seed {seed}",
            "seed": seed,
            "settings": {**settings, "n_blocks": n, "kind": kind},
            "cost": n * settings["steps"],
        }
        for seed in range(seeds)
        for n in settings["blocks"]
        for kind in ("plain", "residual")
    ]


def identity_inputs(n_examples: int, device: str) -> torch.Tensor:
    """``(n_examples, 16, 14, 14)``: 16 consecutive training images per
    example."""
    images = splits(CHANNELS * n_examples, 0, 1, 14).train_x
    return images.view(n_examples, CHANNELS, 14, 14).to(device)


def run(spec: RunSpec, device: str) -> dict[str, Any]:
    s = spec["settings"]
    x = identity_inputs(s["n_examples"], device)
    seeded(spec["seed"])
    stack = block_stack(s["n_blocks"], CHANNELS, residual=s["kind"] == "residual")
    losses = fit_identity(
        stack.to(device),
        x,
        steps=s["steps"],
        lr=s["lr"],
        batch_size=s["batch_size"],
        seed=spec["seed"],
    )
    tail = max(len(losses) // 10, 1)
    return {
        "metrics": {
            "first_loss": losses[0],
            "final_loss": sum(losses[-tail:]) / tail,
            "loss_at_half": (
                sum(losses[len(losses) // 2 - tail : len(losses) // 2]) / tail
            ),
        },
        "curves": {"loss": binned_xy(range(1, len(losses) + 1), losses)},
    }


_COMMON = dict(batch_size=32, lr=1e-2)
IDENTITY = Experiment(
    name="identity",
    chapter="02_residual_learning",
    summary="plain vs residual block stacks trained to reproduce their input",
    sizes={
        "smoke": dict(_COMMON, blocks=(2,), n_examples=64, steps=5),
        "cpu": dict(_COMMON, blocks=(2, 8), n_examples=512, steps=400),
        "long": dict(_COMMON, blocks=(2, 8, 16), n_examples=2048, steps=2000),
        "gpu": dict(_COMMON, blocks=(2, 8, 16), n_examples=2048, steps=5000),
    },
    plan=plan,
    run=run,
    minutes={"smoke": 0.05, "cpu": 2, "long": 37, "gpu": 3},
)
