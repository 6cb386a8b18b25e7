"""d2l's recipe and ours, side by side, in one run on one device.

``python -m resnet_course bench`` runs

* **d2l** -- d2l's own ``train_ch6`` on d2l's ResNet-18 with 96-pixel ``DataLoader``
  batches (batch 256, lr 0.05, plain SGD, 10 epochs: the recipe the reader knows), and
* **fast** -- this package's trainer with the recipe that aims at d2l's final accuracy
  (91.4 %) in as little training time as possible, and optionally
* **best** -- the recipe that aims at the highest final-epoch accuracy, over several
  seeds,

and prints, for each: time to 91.4 % test accuracy, final test accuracy, images per
second, peak GPU memory and warm-up time.  Times exclude testing and warm-up; d2l's
include its ``DataLoader`` (the data loading is part of its recipe, as the GPU-resident
data is of ours).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .profiles import device_name, pick
from .trainer import History, TrainConfig, resolve_device, train, validate

TARGET = 0.914

#: d2l's recipe, as d2l's chapter on ResNet runs it.
D2L_RECIPE = dict(epochs=10, batch_size=256, lr=0.05, resize=96)

#: Our two recipes (CIFAR-style ResNet-18 at native 28 px).  lr is the peak for batch
#: 512.
RECIPES: dict[str, dict[str, Any]] = {
    "fast": dict(
        model="cifar_resnet18",
        epochs=4,
        batch_size=512,
        lr=0.4,
        schedule="onecycle",
        warmup=0.2,
        label_smoothing=0.1,
        weight_decay=5e-4,
        augment=True,
        crop_pad=2,
        random_erasing=0.0,
        ema=0.0,
        tta=True,
    ),
    "best": dict(
        model="cifar_resnet18",
        epochs=50,
        batch_size=512,
        lr=0.4,
        schedule="onecycle",
        warmup=0.2,
        label_smoothing=0.1,
        weight_decay=5e-4,
        augment=True,
        crop_pad=2,
        random_erasing=0.5,
        ema=0.999,
        tta=True,
    ),
}


def sizes(profile: str | None = None) -> dict[str, Any]:
    """How big each run is in a profile: the full benchmark on a GPU, subsets on the
    CPU."""
    full = dict(
        n_train=0,
        n_test=0,
        width=64,
        d2l_epochs=10,
        fast_epochs=RECIPES["fast"]["epochs"],
        best_epochs=RECIPES["best"]["epochs"],
        batch_size=512,
        d2l_workers=4,
        d2l_batch=256,
    )
    small = dict(
        n_train=2048,
        n_test=1000,
        width=16,
        d2l_epochs=2,
        fast_epochs=4,
        best_epochs=8,
        batch_size=128,
        d2l_workers=0,
        d2l_batch=256,
    )
    tiny = dict(
        n_train=256,
        n_test=256,
        width=8,
        d2l_epochs=1,
        fast_epochs=1,
        best_epochs=1,
        batch_size=64,
        d2l_workers=0,
        d2l_batch=32,
    )
    if profile is not None:
        return {"smoke": tiny, "cpu": small, "gpu": full}[profile]
    return pick(smoke=tiny, cpu=small, gpu=full)


@dataclass
class BenchRow:
    """One recipe's figures.  ``time_to_target`` is None when the run never reached
    it."""

    recipe: str
    device: str
    model: str
    pixels: int
    epochs: int
    n_train: int
    n_test: int
    seed: int
    time_to_target: float | None
    final_acc: float
    images_per_second: float
    train_seconds: float
    wall_seconds: float
    warmup_seconds: float
    peak_memory_gb: float | None
    precision: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _TimedIterable:
    """Wraps a DataLoader and adds up the time spent waiting for its batches."""

    def __init__(self, loader):
        self.loader, self.seconds = loader, 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - t0
            yield batch


def run_d2l_baseline(
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 0.05,
    resize: int = 96,
    n_train: int | None = None,
    n_test: int | None = None,
    device: torch.device | str | None = None,
    num_workers: int = 0,
    seed: int = 0,
) -> tuple[History, dict[str, Any]]:
    """Run ``d2l.train_ch6`` on ``d2l_resnet18`` exactly as d2l does, and record what it
    does.

    d2l's plot is replaced by a recorder (the chapter draws the curves itself) and its
    per-epoch test accuracy is timed.  Returns a :class:`History` (no test loss: d2l
    does not compute one) and extras: wall time, seconds spent testing and loading,
    d2l's own printout.
    """
    from d2l import torch as d2l

    from .data import fashion_mnist_dataloaders
    from .models import d2l_resnet18

    device = torch.device(device) if device is not None else resolve_device("auto")
    torch.manual_seed(seed)
    train_iter, test_iter = fashion_mnist_dataloaders(
        batch_size, resize, n_train=n_train, n_test=n_test, num_workers=num_workers
    )
    if len(train_iter) < 5:
        raise ValueError(
            "d2l's train_ch6 needs at least 5 batches per epoch, but"
            f" {len(train_iter.dataset)} images make {len(train_iter)} batches of"
            f" {batch_size}; use more images or a smaller batch"
        )
    timed = _TimedIterable(train_iter)
    net = d2l_resnet18()
    points: list[tuple[float, tuple]] = []
    tests: list[tuple[float, float, float]] = []  # (accuracy, start, end)
    original_eval, original_animator = d2l.evaluate_accuracy_gpu, d2l.Animator

    class Recorder:
        def __init__(self, *args, **kwargs):
            pass

        def add(self, x, y):
            points.append((x, y))

    def timed_eval(net, data_iter, device=None):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        acc = original_eval(net, data_iter, device)
        tests.append((acc, t0, time.perf_counter()))
        return acc

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    out = io.StringIO()
    d2l.evaluate_accuracy_gpu, d2l.Animator = timed_eval, Recorder
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            d2l.train_ch6(net, timed, test_iter, epochs, lr, device)
    finally:
        d2l.evaluate_accuracy_gpu, d2l.Animator = original_eval, original_animator
    wall = time.perf_counter() - start
    hist = History(
        images_per_epoch=len(train_iter.dataset),
        device=device_name(device),
        precision="fp32",
        compile="none",
    )
    tested = 0.0
    for epoch, (acc, t0, t1) in enumerate(tests, start=1):
        train_points = [
            y for x, y in points if y[0] is not None and epoch - 1 < x <= epoch
        ]
        hist.epoch.append(epoch)
        hist.train_loss.append(float(train_points[-1][0]))
        hist.train_acc.append(float(train_points[-1][1]))
        hist.test_loss.append(math.nan)
        hist.test_acc.append(float(acc))
        hist.lr.append(lr)
        hist.train_seconds.append(t0 - start - tested)
        tested += t1 - t0
    if device.type == "cuda":
        hist.peak_memory_bytes = torch.cuda.max_memory_allocated(device)
    printed = out.getvalue()
    match = re.search(r"([\d.]+) examples/sec", printed)
    extras = {
        "wall_seconds": wall,
        "test_seconds": tested,
        "loading_seconds": timed.seconds,
        "d2l_printout": printed.strip(),
        "d2l_examples_per_sec": float(match[1]) if match else None,
    }
    return hist, extras


def _row(
    recipe: str,
    hist: History,
    wall: float,
    model: str,
    pixels: int,
    n_train: int,
    n_test: int,
    seed: int,
) -> BenchRow:
    return BenchRow(
        recipe=recipe,
        device=hist.device,
        model=model,
        pixels=pixels,
        epochs=len(hist.epoch),
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        time_to_target=hist.time_to(TARGET),
        final_acc=hist.final_test_acc,
        images_per_second=hist.images_per_second,
        train_seconds=hist.train_seconds[-1],
        wall_seconds=wall,
        warmup_seconds=hist.warmup_seconds,
        peak_memory_gb=hist.peak_memory_bytes / 1e9 if hist.peak_memory_bytes else None,
        precision=hist.precision,
    )


def recipe_config(name: str, **overrides: Any) -> TrainConfig:
    """:data:`RECIPES` ``name`` as a :class:`TrainConfig`, adapted to the run's size.

    The recipes are tuned for the full training set at batch 512.  With another batch
    size the learning rate is scaled linearly (Goyal et al. 2017); with fewer optimiser
    steps the EMA's horizon, ``1 / (1 - decay)`` steps, shrinks in proportion, so it
    always averages over the same fraction of the run.
    """
    recipe = {**RECIPES[name], "checkpoint_dir": "", **overrides}
    batch = recipe["batch_size"]
    if "lr" not in overrides:
        recipe["lr"] = RECIPES[name]["lr"] * batch / 512
    if recipe["ema"] > 0 and "ema" not in overrides:
        steps = recipe["epochs"] * ((recipe.get("n_train") or 60_000) // batch)
        reference = RECIPES[name]["epochs"] * (60_000 // 512)
        horizon = steps / reference / (1 - RECIPES[name]["ema"])
        recipe["ema"] = 1 - 1 / max(horizon, 10.0)
    return TrainConfig(**recipe)


#: Leave-one-out ablation of the best recipe: each entry removes one ingredient.
ABLATION: dict[str, dict[str, Any]] = {
    "constant learning rate (no one-cycle)": dict(schedule="constant", warmup=0.0),
    "plain momentum (no Nesterov)": dict(nesterov=False),
    "no label smoothing": dict(label_smoothing=0.0),
    "no weight decay": dict(weight_decay=0.0),
    "no crop and flip": dict(augment=False),
    "no random erasing": dict(random_erasing=0.0),
}


def accuracy(
    net, images: torch.Tensor, labels: torch.Tensor, tta: bool = True
) -> float:
    """Test accuracy of ``net`` (raw 28-px images in, logits out), in fp32."""
    from .trainer import predict

    return (
        (predict(net, images, tta=tta).argmax(1) == labels.cpu()).float().mean().item()
    )


def run_ablation(
    data, seed: int = 0, progress: bool = False, log=print, **overrides: Any
) -> list[dict[str, Any]]:
    """Train the best recipe once in full and once without each ingredient of
    :data:`ABLATION`.

    EMA and flip TTA need no retraining: the full run is also tested with its raw
    weights and without the mirror.  A second seed of the full recipe shows how much is
    noise.  Returns rows ``{"ablation", "test_acc", "delta", "train_seconds",
    "warmup_seconds"}``.
    """
    from .trainer import Prepared

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
        log(f"  {name:40s} {rows[-1]['test_acc']:.4f}  ({h.train_seconds[-1]:.1f} s)")
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
    """Train one of :data:`RECIPES` (with ``overrides``) and return its history and
    row."""
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
) -> list[BenchRow]:
    """Run the recipes named in ``recipes`` ("d2l", "fast", "best") and return their
    rows."""
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
    for name in set(recipes) & set(RECIPES):  # every setting checked before any run
        validate(recipe_config(name, epochs=epochs[name], **common))
    rows: list[BenchRow] = []
    log(
        f"bench on {device_name(dev)}, torch {torch.__version__}, profile"
        f" {profile or 'default'}: {n_train or 60000} training and {n_test or 10000}"
        " test images"
    )
    if "d2l" in recipes:
        log(
            f"d2l: train_ch6, d2l_resnet18, {D2L_RECIPE['resize']} px, batch"
            f" {size['d2l_batch']}, lr {D2L_RECIPE['lr']}, {size['d2l_epochs']}"
            " epochs ..."
        )
        hist, extras = run_d2l_baseline(
            size["d2l_epochs"],
            size["d2l_batch"],
            D2L_RECIPE["lr"],
            D2L_RECIPE["resize"],
            n_train,
            n_test,
            dev,
            size["d2l_workers"],
        )
        log("  d2l printed: " + extras["d2l_printout"].replace("\n", " | "))
        rows.append(
            _row(
                "d2l",
                hist,
                extras["wall_seconds"] - extras["test_seconds"],
                "d2l_resnet18",
                D2L_RECIPE["resize"],
                n_train or 60000,
                n_test or 10000,
                0,
            )
        )
        log("  " + format_row(rows[-1]))
    data = load_fashion_mnist(dev, n_train=n_train, n_test=n_test)
    if "fast" in recipes:
        log(f"fast: {epochs['fast']} epochs ...")
        _, row = run_recipe("fast", data, 0, progress, epochs=epochs["fast"], **common)
        rows.append(row)
        log("  " + format_row(row))
    if "best" in recipes:
        for seed in range(seeds):
            log(f"best: {epochs['best']} epochs, seed {seed} ...")
            _, row = run_recipe(
                "best", data, seed, progress, epochs=epochs["best"], **common
            )
            rows.append(row)
            log("  " + format_row(row))
    return rows


def _fmt(value: float | None, spec: str, missing: str = "not reached") -> str:
    return missing if value is None else format(value, spec)


def format_row(row: BenchRow) -> str:
    reached = (
        "not reached" if row.time_to_target is None else f"{row.time_to_target:.1f} s"
    )
    return (
        f"{row.recipe:5s} seed {row.seed}: time to {TARGET:.1%} {reached}, final test"
        f" acc {row.final_acc:.4f}, {row.images_per_second:,.0f} images/s, peak GPU"
        f" memory {_fmt(row.peak_memory_gb, '.2f', 'n/a')} GB, warm-up"
        f" {row.warmup_seconds:.1f} s, training {row.train_seconds:.1f} s"
    )


def markdown_table(rows: list[BenchRow]) -> str:
    """The rows as a Markdown table (what BENCHMARKS.md records), plus a mean over seeds
    of 'best'."""
    head = (
        "| recipe | seed | device | model, px | epochs | train/test images | time to"
        " 91.4 % (s) | final test acc | images/s | training (s) | warm-up (s) | peak"
        " GPU mem (GB) | precision"
        " |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r.recipe} | {r.seed} | {r.device} | {r.model}, {r.pixels} | {r.epochs} |"
        f" {r.n_train}/{r.n_test} | {_fmt(r.time_to_target, '.1f')} | {r.final_acc:.4f}"
        f" | {r.images_per_second:,.0f} | {r.train_seconds:.1f} |"
        f" {r.warmup_seconds:.1f} | {_fmt(r.peak_memory_gb, '.2f', 'n/a')} |"
        f" {r.precision} |"
        for r in rows
    ]
    best = [r.final_acc for r in rows if r.recipe == "best"]
    tail = ""
    if len(best) > 1:
        mean = sum(best) / len(best)
        sd = (sum((a - mean) ** 2 for a in best) / (len(best) - 1)) ** 0.5
        tail = (
            f"\n\nbest: mean final-epoch test accuracy over {len(best)} seeds"
            f" {mean:.4f} ± {sd:.4f} (sd)\n"
        )
    return head + "\n".join(lines) + tail


def summary(rows: list[BenchRow]) -> str:
    """A few sentences comparing the recipes (speed-up to the target, accuracy)."""
    out = []
    d2l = next((r for r in rows if r.recipe == "d2l"), None)
    fast = next((r for r in rows if r.recipe == "fast"), None)
    if d2l and fast:
        out.append(
            f"images/s: ours {fast.images_per_second:,.0f} vs d2l"
            f" {d2l.images_per_second:,.0f}"
            f" ({fast.images_per_second / d2l.images_per_second:.1f}x)"
        )
        if "(width 64)" not in fast.model:
            out.append(
                f"note: ours is {fast.model} at {fast.pixels} px, d2l's is {d2l.model}"
                f" at {d2l.pixels} px at full width: different networks, so this is no"
                " like-for-like speed comparison"
            )
        if d2l.time_to_target and fast.time_to_target:
            out.append(
                f"time to {TARGET:.1%}: ours {fast.time_to_target:.1f} s vs d2l"
                f" {d2l.time_to_target:.1f} s"
                f" ({d2l.time_to_target / fast.time_to_target:.1f}x faster)"
            )
        else:
            out.append(
                f"time to {TARGET:.1%}: d2l {_fmt(d2l.time_to_target, '.1f')}, ours"
                f" {_fmt(fast.time_to_target, '.1f')} (on this subset the target may be"
                " out of reach)"
            )
    return "\n".join(out)


def write_json(
    rows: list[BenchRow], path: str, meta: dict[str, Any] | None = None
) -> None:
    with open(path, "w") as f:
        json.dump(
            {"meta": meta or {}, "rows": [r.as_dict() for r in rows]}, f, indent=2
        )
