"""Chapter 6: which ingredient of the training recipe is worth how much, and the
final model.

* ``ablation`` trains the "best" recipe in full and once without each ingredient
  (leave-one-out), every arm with several seeds, and measures accuracy on a
  *validation* split: the last images of the training set, never used for
  training. Removing the EMA or the flip TTA needs no new training: the full runs
  are also validated with their raw weights and without the mirror image.
* ``final`` trains the recipe chosen on the validation split
  (:func:`choose_recipe`) and reports its test accuracy, once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import bench
from ..data import FashionMNIST
from ..train_config import FULL_PRECISIONS, TrainConfig
from ..trainer import Prepared, train
from . import Experiment, RunSpec
from .common import mean_std, metric, seeded, splits, subsample

FULL = "full recipe"


def run_config(s: dict[str, Any], **overrides) -> TrainConfig:
    """The "best" recipe as a run with settings ``s`` trains it: the batch, the
    learning rate scaled to it and the EMA decay scaled to the run's length."""
    return bench.recipe_config(
        "best",
        epochs=s["epochs"],
        width=s["width"],
        batch_size=s["batch_size"],
        n_train=s["n_train"],
        **overrides,
    )


def _train(s: dict[str, Any], seed: int, data: FashionMNIST, device: str, change):
    cfg = run_config(
        s,
        seed=seed,
        progress=True,
        compile="none",
        device=device,
        **change,
    )
    seeded(seed)
    return cfg, train(cfg, data=data)


def _curves(h) -> dict[str, Any]:
    return {
        "epoch": list(h.epoch),
        "train_loss": subsample(h.train_loss),
        "heldout_acc": subsample(h.test_acc),
    }


def ablation_plan(
    settings: dict[str, Any], seeds: int, folder: Path | None = None
) -> list[RunSpec]:
    arms = [FULL, *bench.ABLATION]
    return [
        {
            "key": f"{arm}/seed {seed}",
            "seed": seed,
            "settings": {**settings, "arm": arm},
            "cost": 1.0,
        }
        for seed in range(seeds)
        for arm in arms
    ]


def ablation_run(spec: RunSpec, device: str) -> dict[str, Any]:
    s = spec["settings"]
    d = splits(s["n_train"], s["n_val"], 1, 28, device)
    data = FashionMNIST(d.train_x, d.train_y, d.val_x, d.val_y)
    change = {} if s["arm"] == FULL else bench.ABLATION[s["arm"]]
    cfg, result = _train(s, spec["seed"], data, device, change)
    h = result.history
    metrics = {"val_acc": h.final_test_acc, "train_seconds": h.train_seconds[-1]}
    if s["arm"] == FULL:
        metrics.update(_fp32_tests(cfg, result, d))
    return {"metrics": metrics, "curves": _curves(h)}


def _fp32_tests(cfg, result, d) -> dict[str, float]:
    """The full recipe tested without its EMA and without its flip TTA, in fp32
    (TF32 convolutions on a recent GPU, as PyTorch does by default).  Where the
    run's own test was not fp32 (bf16 on a GPU), the recipe itself is tested in
    fp32 too (``val_acc_fp32``), so that the changes compare like with like; on
    the CPU ``val_acc`` already is that test."""
    tests = {}
    if result.history.precision not in FULL_PRECISIONS:
        tests["val_acc_fp32"] = bench.accuracy(
            result.net, d.val_x, d.val_y, cfg.tta
        )
    raw = Prepared(result.model, cfg.resize, result.net.channels_last).eval()
    tests["val_acc_no_ema"] = bench.accuracy(raw, d.val_x, d.val_y, cfg.tta)
    tests["val_acc_no_tta"] = bench.accuracy(result.net, d.val_x, d.val_y, False)
    return tests


def choose_recipe(ablation: dict[str, Any] | None) -> list[str]:
    """The ablation arms whose ingredient the final recipe drops: those whose
    removal raised the mean validation accuracy by more than the seeds' spread
    (the larger standard deviation of the two arms).  None without an ablation
    result, or with one of a single seed (which has no spread)."""
    if ablation is None or _single_seed(ablation):
        return []
    full_mean, full_sd = mean_std(metric(ablation, "val_acc", arm=FULL))
    dropped = []
    for arm in bench.ABLATION:
        mean, sd = mean_std(metric(ablation, "val_acc", arm=arm))
        if mean - full_mean > max(full_sd, sd):
            dropped.append(arm)
    return dropped


def _single_seed(ablation: dict[str, Any]) -> bool:
    """Whether the ablation ran one seed: then no spread judges a change, and the
    recipe is kept as designed."""
    return len(metric(ablation, "val_acc", arm=FULL)) < 2


def final_plan(
    settings: dict[str, Any], seeds: int, folder: Path | None = None
) -> list[RunSpec]:
    """One run per seed of the recipe chosen on the ablation stored in ``folder``
    (None: ``results/``) at the size ``choose_on``."""
    from ..results import load_result

    stored = load_result(
        "ablation", settings["choose_on"], folder, missing_ok=True
    )
    dropped = choose_recipe(stored)
    chosen = {**settings, "dropped": dropped, "chosen_on": settings["choose_on"]}
    if stored is None:
        chosen["chosen_on"] += " (no stored ablation: recipe as designed)"
    elif _single_seed(stored):
        chosen["chosen_on"] += " (an ablation of one seed: recipe as designed)"
    return [
        {
            "key": f"final/seed {seed}",
            "seed": seed,
            "settings": chosen,
            "cost": 1.0,
        }
        for seed in range(seeds)
    ]


def final_run(spec: RunSpec, device: str) -> dict[str, Any]:
    s = spec["settings"]
    d = splits(s["n_train"], 0, s["n_test"], 28, device)
    data = FashionMNIST(d.train_x, d.train_y, d.test_x, d.test_y)
    change: dict[str, Any] = {}
    for arm in s["dropped"]:
        change.update(bench.ABLATION[arm])
    _, result = _train(s, spec["seed"], data, device, change)
    h = result.history
    return {
        "metrics": {
            "test_acc": h.final_test_acc,
            "train_seconds": h.train_seconds[-1],
            "images_per_second": h.images_per_second,
            "device": h.device,
        },
        "curves": _curves(h),
    }


_COMMON = dict(width=8, batch_size=128)
ABLATION = Experiment(
    name="ablation",
    chapter="06_training_resnet18",
    summary="leave-one-out ablation of the best recipe, on a validation split",
    sizes={
        "smoke": dict(
            _COMMON, width=4, batch_size=64, n_train=256, n_val=128, epochs=1
        ),
        "cpu": dict(_COMMON, n_train=2_048, n_val=1_000, epochs=3),
        "long": dict(_COMMON, n_train=10_000, n_val=5_000, epochs=8),
        "gpu": dict(
            width=64, batch_size=512, n_train=55_000, n_val=5_000, epochs=16
        ),
    },
    plan=ablation_plan,
    run=ablation_run,
    minutes={"smoke": 0.3, "cpu": 4, "long": 79, "gpu": 8},
)

FINAL = Experiment(
    name="final",
    chapter="06_training_resnet18",
    summary="the recipe chosen on the validation split, tested once",
    sizes={
        "smoke": dict(
            _COMMON,
            width=4,
            batch_size=64,
            n_train=256,
            n_test=256,
            epochs=2,
            choose_on="smoke",
        ),
        "cpu": dict(
            _COMMON, n_train=4_096, n_test=1_000, epochs=4, choose_on="cpu"
        ),
        "long": dict(
            _COMMON, n_train=15_000, n_test=10_000, epochs=10, choose_on="long"
        ),
        "gpu": dict(
            width=64,
            batch_size=512,
            n_train=60_000,
            n_test=10_000,
            epochs=50,
            choose_on="gpu",
        ),
    },
    plan=final_plan,
    run=final_run,
    minutes={"smoke": 0.2, "cpu": 2, "long": 18, "gpu": 6},
)
