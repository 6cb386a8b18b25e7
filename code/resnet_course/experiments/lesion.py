"""Chapter 4: lesion studies and the gradient of paths (Veit et al. 2016).

Residual and plain networks of the CIFAR family are trained as in chapter 1; then,
at test time, blocks are deleted from copies of them: each block on its own (in
residual networks the downsampling blocks too, by deleting only their residual
branch, as Veit et al. did) and ``k`` random ordinary blocks at once.  For
residual networks the gradient that flows along paths of each length is measured
as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cifar_resnet import cifar_resnet
from ..lesion import ordinary_blocks, random_lesion_errors, single_lesion_errors
from ..paths import gated_copy, path_gradient_norms, path_length_counts
from . import Experiment, RunSpec
from .common import (
    CNN_TRAINING,
    cnn_sizes,
    seeded,
    splits,
    train_error,
    train_run,
)


def plan(
    settings: dict[str, Any], seeds: int, folder: Path | None = None
) -> list[RunSpec]:
    return [
        {
            "key": f"{kind}-{depth}/seed {seed}",
            "seed": seed,
            "settings": {**settings, "kind": kind, "depth": depth},
            "cost": depth,
        }
        for seed in range(seeds)
        for kind, depth in settings["nets"]
    ]


def path_gradients(
    model, images, labels, samples: int, seed: int
) -> dict[str, list]:
    """Mean per-image gradient at x_0 along single paths of each length, and the
    share of the total gradient that paths of each length carry (Veit et al.,
    Fig. 6).
    """
    gated, gates = gated_copy(model)
    generator = torch.Generator().manual_seed(seed)
    n = len(gates)
    per_path = [
        path_gradient_norms(gated, gates, images, labels, k, samples, generator)
        .mean()
        .item()
        for k in range(n + 1)
    ]
    total = np.array(path_length_counts(n), dtype=float) * np.array(per_path)
    return {"per_path": per_path, "share": (total / total.sum()).tolist()}


def lesions(model, data, settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """Single and random-``k`` deletions of a trained model, on the test
    images."""
    x, y = data.test_x, data.test_y
    n_ordinary = len(ordinary_blocks(model))
    ks = list(range(n_ordinary + 1))
    random = random_lesion_errors(model, x, y, ks, settings["trials"], seed=seed)
    single = single_lesion_errors(model, x, y)
    return {
        "single": {str(i): e for i, e in single.items()},
        "downsampling": [
            i for i, b in enumerate(model.blocks()) if b.changes_shape
        ],
        "random": {str(k): v for k, v in random.items()},
    }


def run(spec: RunSpec, device: str) -> dict[str, Any]:
    s = spec["settings"]
    data = splits(s["n_train"], 0, s["n_test"], s["pixels"], device)
    seeded(spec["seed"])
    residual = s["kind"] == "residual"
    model = cifar_resnet(s["depth"], residual, widths=tuple(s["widths"])).to(
        device
    )
    hist = train_run(model, data, spec)
    model.eval()
    train_err = train_error(model, data, s["n_train_eval"])
    curves = lesions(model, data, s, spec["seed"])
    if residual:
        n_img = s["path_images"]
        curves["paths"] = path_gradients(
            model,
            data.test_x[:n_img],
            data.test_y[:n_img],
            s["path_samples"],
            spec["seed"],
        )
    return {
        "metrics": {
            "train_err": train_err,
            "test_err": hist.final_test_err,
            "blocks": len(model.blocks()),
        },
        "curves": curves,
    }


LESION = Experiment(
    name="lesion",
    chapter="04_ensembles",
    summary=(
        "delete blocks of trained residual and plain nets; gradient per path"
        " length"
    ),
    sizes=cnn_sizes(
        CNN_TRAINING,
        own={
            "smoke": dict(
                nets=(("residual", 14), ("plain", 14)),
                trials=1,
                path_samples=1,
                path_images=8,
            ),
            "cpu": dict(
                nets=(("residual", 20), ("plain", 20)),
                trials=4,
                path_samples=5,
                path_images=32,
            ),
            "long": dict(
                nets=(("residual", 20), ("plain", 20), ("residual", 56)),
                trials=6,
                path_samples=20,
                path_images=64,
            ),
            "gpu": dict(
                nets=(("residual", 20), ("plain", 20), ("residual", 56)),
                trials=10,
                path_samples=50,
                path_images=128,
            ),
        },
    ),
    plan=plan,
    run=run,
    minutes={"smoke": 0.1, "cpu": 3, "long": 41, "gpu": 7},
)
