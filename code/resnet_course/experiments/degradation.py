"""Chapter 1: the degradation problem (He et al. 2015, Fig. 1 and 6).

Plain and residual networks of two or more depths, trained identically from the
same seed; what counts is the *training* error at the end, measured in eval mode
on a fixed subset of the training images.  Two families: deep MLPs (fast) and the
CIFAR 6n+2 family of convolutional networks on downsampled Fashion-MNIST.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cifar_resnet import cifar_resnet
from ..mlp import deep_mlp
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

#: The kinds of network compared; "residual, zero-init" starts each block as the
#: identity (last BN scale 0, Goyal et al. 2017), an arm of the MLP experiment
#: only.
KINDS = ("plain", "residual", "residual, zero-init")


def plan(
    settings: dict[str, Any], seeds: int, folder: Path | None = None
) -> list[RunSpec]:
    """One run per depth, kind and seed; the cost of a run grows with its
    depth."""
    specs = []
    for seed in range(seeds):
        for depth in settings["depths"]:
            for kind in settings["kinds"]:
                specs.append(
                    {
                        "key": f"{kind}-{depth}/seed {seed}",
                        "seed": seed,
                        "settings": {**settings, "depth": depth, "kind": kind},
                        "cost": depth * settings["epochs"] * settings["n_train"],
                    }
                )
    return specs


def build(settings: dict[str, Any]):
    """The network a run trains: an MLP or a CIFAR-family CNN, plain or
    residual."""
    kind, depth = settings["kind"], settings["depth"]
    residual, zero_init = kind != "plain", kind == "residual, zero-init"
    if settings["family"] == "mlp":
        return deep_mlp(
            depth, residual, width=settings["width"], zero_init_residual=zero_init
        )
    return cifar_resnet(
        depth,
        residual,
        widths=tuple(settings["widths"]),
        zero_init_residual=zero_init,
    )


def run(spec: RunSpec, device: str) -> dict[str, Any]:
    """Train one network; its final training error (eval mode), test error and
    curves."""
    s = spec["settings"]
    data = splits(s["n_train"], 0, s["n_test"], s["pixels"], device)
    seeded(spec["seed"])
    model = build(s).to(device)
    hist = train_run(
        model, data, spec, log_every=10, eval_every=s.get("eval_every", 0)
    )
    train_err = train_error(model, data, s["n_train_eval"])
    return {
        "metrics": {
            "train_err": train_err,
            "train_err_running": hist.final_train_err(),
            "test_err": hist.final_test_err,
            "parameters": count_parameters(model),
            "train_seconds": hist.seconds,
        },
        "curves": {
            "train_err": binned_xy(hist.step, hist.train_err),
            "test_err": subsample_xy(hist.epoch_step, hist.test_err),
        },
    }


_MLP_COMMON = dict(
    family="mlp", pixels=28, width=64, lr=0.05, weight_decay=0.0, batch_size=128
)
MLP = Experiment(
    name="mlp_degradation",
    chapter="01_degradation",
    summary="plain vs residual MLPs of several depths: final training error",
    sizes={
        "smoke": dict(
            _MLP_COMMON,
            depths=(4, 10),
            kinds=KINDS,
            n_train=256,
            n_test=128,
            n_train_eval=256,
            epochs=1,
            batch_size=64,
        ),
        "cpu": dict(
            _MLP_COMMON,
            depths=(6, 50),
            kinds=KINDS,
            n_train=10_000,
            n_test=2_000,
            n_train_eval=5_000,
            epochs=5,
        ),
        "long": dict(
            _MLP_COMMON,
            depths=(6, 20, 50),
            kinds=KINDS,
            n_train=30_000,
            n_test=10_000,
            n_train_eval=10_000,
            epochs=15,
        ),
        "gpu": dict(
            _MLP_COMMON,
            depths=(6, 20, 50),
            kinds=KINDS,
            n_train=60_000,
            n_test=10_000,
            n_train_eval=10_000,
            epochs=30,
        ),
    },
    plan=plan,
    run=run,
    minutes={"smoke": 0.1, "cpu": 4, "long": 15, "gpu": 26},
)

CNN = Experiment(
    name="cnn_degradation",
    chapter="01_degradation",
    summary=(
        "plain vs residual CIFAR-family CNNs (20 and 56 layers): training error"
    ),
    sizes=cnn_sizes(
        dict(family="cnn", kinds=("plain", "residual"), **CNN_TRAINING),
        own={
            "smoke": dict(depths=(8, 14)),
            "cpu": dict(depths=(20, 56)),
            "long": dict(depths=(20, 56)),
            "gpu": dict(depths=(20, 56)),
        },
    ),
    plan=plan,
    run=run,
    minutes={"smoke": 0.2, "cpu": 6, "long": 35, "gpu": 10},
)
