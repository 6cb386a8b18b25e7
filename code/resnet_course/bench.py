"""d2l's recipe and ours, side by side, in one run on one device.

``python -m resnet_course bench`` runs

* **d2l** -- d2l's own ``train_ch6`` on d2l's ResNet-18 with 96-pixel
  ``DataLoader`` batches (batch 256, lr 0.05, plain SGD, 10 epochs: the recipe the
  reader knows), and
* **fast** -- this package's trainer with the recipe that aims at d2l's final
  accuracy (91.4 %) in as little training time as possible, and optionally
* **best** -- the recipe that aims at the highest final-epoch accuracy, over
  several seeds,

and prints, for each: time to 91.4 % test accuracy, final test accuracy, images
per second, peak GPU memory and warm-up time.  Times exclude testing and warm-up;
d2l's include its ``DataLoader`` (the data loading is part of its recipe, as the
GPU-resident data is of ours).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from .bench_report import (  # noqa: F401 -- the report, importable from here too
    BenchRow,
    _row,
    format_row,
    markdown_table,
    summary,
    write_json,
)
from .d2l_baseline import run_d2l_baseline
from .data import N_TEST_FULL, N_TRAIN_FULL
from .history import History
from .profiles import device_name, resolve_device
from .recipes import (  # noqa: F401 -- the recipes, importable from here too
    ABLATION,
    D2L_RECIPE,
    RECIPES,
    TARGET,
    recipe_config,
    sizes,
)
from .run_state import Prepared
from .train_config import validate
from .trainer import train
from .training import evaluate


def accuracy(
    net, images: torch.Tensor, labels: torch.Tensor, tta: bool = True
) -> float:
    """Test accuracy of ``net`` (raw 28-px images in, logits out), in fp32."""
    from .run_state import FlipTTA

    device = next(net.parameters()).device
    tester = FlipTTA(net).eval() if tta else net
    return 1.0 - evaluate(tester, images.to(device), labels.to(device))[1]


def run_ablation(
    data, seed: int = 0, progress: bool = False, log=print, **overrides: Any
) -> list[dict[str, Any]]:
    """Train the best recipe once in full and once without each ingredient of
    :data:`ABLATION`.

    EMA and flip TTA need no retraining: the full run is also tested with its raw
    weights and without the mirror.  A second seed of the full recipe shows how
    much is noise.  Returns rows
    ``{"ablation", "test_acc", "delta", "train_seconds", "warmup_seconds"}``.
    """
    n_test = overrides.get("n_test") or len(data.test_labels)
    x_test, y_test = data.test_images[:n_test], data.test_labels[:n_test]
    rows: list[dict[str, Any]] = []

    def run(name: str, seed: int, **change: Any):
        cfg = recipe_config(
            "best", **{**overrides, "seed": seed, "progress": progress, **change}
        )
        result = train(cfg, data=data)
        h = result.history
        rows.append(
            {
                "ablation": name,
                "test_acc": accuracy(result.net, x_test, y_test, cfg.tta),
                "train_seconds": h.train_seconds[-1],
                "warmup_seconds": h.warmup_seconds,
            }
        )
        log(
            f"  {name:40s} {rows[-1]['test_acc']:.4f} "
            f" ({h.train_seconds[-1]:.1f} s)"
        )
        return result

    full = run("full recipe", seed)
    cfg = full.config
    raw = Prepared(full.model, cfg.resize, full.net.channels_last).eval()
    for name, net, tta in (
        ("no EMA (raw weights)", raw, True),
        ("no flip TTA", full.net, False),
    ):
        rows.append(
            {
                "ablation": name,
                "test_acc": accuracy(net, x_test, y_test, tta),
                "train_seconds": rows[0]["train_seconds"],
                "warmup_seconds": 0.0,
            }
        )
    run("full recipe, another seed", seed + 1)
    for name, change in ABLATION.items():
        run(name, seed, **change)
    for row in rows:
        row["delta"] = row["test_acc"] - rows[0]["test_acc"]
    return rows


def run_recipe(
    name: str, data, seed: int = 0, progress: bool = True, **overrides: Any
) -> tuple[History, BenchRow]:
    """Train one of :data:`RECIPES` (with ``overrides``) and return its history
    and row."""
    cfg = recipe_config(name, seed=seed, progress=progress, **overrides)
    start = time.perf_counter()
    result = train(cfg, data=data)
    wall = time.perf_counter() - start - result.history.warmup_seconds
    n_train = cfg.n_train or len(data.train_labels)
    n_test = cfg.n_test or len(data.test_labels)
    model = (
        f"{cfg.model} (width {cfg.width})"
        if cfg.model == "cifar_resnet18"
        else cfg.model
    )
    return result.history, _row(
        name, result.history, wall, model, cfg.resize or 28, n_train, n_test, seed
    )


def run_bench(
    profile: str | None = None,
    device: str = "auto",
    recipes: tuple[str, ...] = ("d2l", "fast"),
    seeds: int = 3,
    fast_epochs: int | None = None,
    best_epochs: int | None = None,
    progress: bool = True,
    log=print,
    on_row=None,
    overrides: dict[str, Any] | None = None,
) -> list[BenchRow]:
    """Run the recipes named in ``recipes`` ("d2l", "fast", "best") and return
    their rows.

    ``on_row(rows)`` is called after every finished row (the CLI writes its JSON
    there, so a later failure loses nothing); ``overrides`` (``compile``,
    ``batch_size``, ...) change our recipes, never d2l's."""
    from .data import load_fashion_mnist

    size = sizes(profile)
    dev = resolve_device(device)
    n_train, n_test = size["n_train"] or None, size["n_test"] or None
    epochs = {
        "fast": size["fast_epochs"] if fast_epochs is None else fast_epochs,
        "best": size["best_epochs"] if best_epochs is None else best_epochs,
    }
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    common = dict(
        width=size["width"],
        device=str(dev),
        batch_size=size["batch_size"],
        n_train=size["n_train"],
        n_test=size["n_test"],
    )
    common.update(overrides or {})
    # every setting checked before any run
    for name in set(recipes) & set(RECIPES):
        validate(recipe_config(name, epochs=epochs[name], **common))
    rows: list[BenchRow] = []

    def add(row: BenchRow) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(list(rows))

    log(
        f"bench on {device_name(dev)}, torch {torch.__version__}, profile"
        f" {profile or 'default'}: {n_train or N_TRAIN_FULL} training and"
        f" {n_test or N_TEST_FULL} test images"
    )
    if "d2l" in recipes:
        add(run_d2l_row(size, dev, log))
    data = load_fashion_mnist(dev, n_train=n_train, n_test=n_test)
    if "fast" in recipes:
        log(f"fast: {epochs['fast']} epochs ...")
        _, row = run_recipe(
            "fast", data, 0, progress, epochs=epochs["fast"], **common
        )
        add(row)
        log("  " + format_row(row))
    if "best" in recipes:
        for seed in range(seeds):
            log(f"best: {epochs['best']} epochs, seed {seed} ...")
            _, row = run_recipe(
                "best", data, seed, progress, epochs=epochs["best"], **common
            )
            add(row)
            log("  " + format_row(row))
    return rows


def run_d2l_row(
    size: dict[str, Any], device: torch.device, log=print
) -> BenchRow:
    """d2l's recipe (:data:`D2L_RECIPE`) at the sizes of a profile, as a row."""
    log(
        f"d2l: train_ch6, d2l_resnet18, {D2L_RECIPE['resize']} px, batch"
        f" {size['d2l_batch']}, lr {D2L_RECIPE['lr']}, {size['d2l_epochs']}"
        " epochs ..."
    )
    n_train, n_test = size["n_train"] or None, size["n_test"] or None
    hist, extras = run_d2l_baseline(
        size["d2l_epochs"],
        size["d2l_batch"],
        D2L_RECIPE["lr"],
        D2L_RECIPE["resize"],
        n_train,
        n_test,
        device,
        size["d2l_workers"],
    )
    log("  d2l printed: " + extras["d2l_printout"].replace("\n", " | "))
    row = _row(
        "d2l",
        hist,
        extras["wall_seconds"] - extras["test_seconds"],
        "d2l_resnet18",
        D2L_RECIPE["resize"],
        n_train or N_TRAIN_FULL,
        n_test or N_TEST_FULL,
        0,
    )
    log("  " + format_row(row))
    return row
