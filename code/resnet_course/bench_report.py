"""The benchmark's report: one :class:`BenchRow` per run, as a line, a Markdown
table (what BENCHMARKS.md records), a few sentences comparing the recipes, and
JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from .history import History
from .recipes import TARGET


@dataclass
class BenchRow:
    """One recipe's figures.  ``time_to_target`` is None when the run never
    reached it."""

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
        peak_memory_gb=(
            hist.peak_memory_bytes / 1e9 if hist.peak_memory_bytes else None
        ),
        precision=hist.precision,
    )


def _fmt(value: float | None, spec: str, missing: str = "not reached") -> str:
    return missing if value is None else format(value, spec)


def format_row(row: BenchRow) -> str:
    reached = (
        "not reached"
        if row.time_to_target is None
        else f"{row.time_to_target:.1f} s"
    )
    return (
        f"{row.recipe:5s} seed {row.seed}: time to {TARGET:.1%} {reached}, final"
        f" test acc {row.final_acc:.4f}, {row.images_per_second:,.0f} images/s,"
        f" peak GPU memory {_fmt(row.peak_memory_gb, '.2f', 'n/a')} GB, warm-up"
        f" {row.warmup_seconds:.1f} s, training {row.train_seconds:.1f} s"
    )


def markdown_table(rows: list[BenchRow]) -> str:
    """The rows as a Markdown table (what BENCHMARKS.md records), plus a mean over
    seeds of 'best'."""
    head = (
        "| recipe | seed | device | model, px | epochs | train/test images | time"
        " to 91.4 % (s) | final test acc | images/s | training (s) | warm-up (s)"
        " | peak GPU mem (GB) | precision"
        " |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r.recipe} | {r.seed} | {r.device} | {r.model}, {r.pixels} |"
        f" {r.epochs} | {r.n_train}/{r.n_test} | {_fmt(r.time_to_target, '.1f')}"
        f" | {r.final_acc:.4f} | {r.images_per_second:,.0f} |"
        f" {r.train_seconds:.1f} | {r.warmup_seconds:.1f} |"
        f" {_fmt(r.peak_memory_gb, '.2f', 'n/a')} | {r.precision} |"
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
    """A few sentences comparing the recipes (speed-up to the target,
    accuracy)."""
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
                f"note: ours is {fast.model} at {fast.pixels} px, d2l's is"
                f" {d2l.model} at {d2l.pixels} px at full width: different"
                " networks, so this is no like-for-like speed comparison"
            )
        if d2l.time_to_target and fast.time_to_target:
            out.append(
                f"time to {TARGET:.1%}: ours {fast.time_to_target:.1f} s vs d2l"
                f" {d2l.time_to_target:.1f} s"
                f" ({d2l.time_to_target / fast.time_to_target:.1f}x faster)"
            )
        else:
            out.append(
                f"time to {TARGET:.1%}: d2l {_fmt(d2l.time_to_target, '.1f')},"
                f" ours {_fmt(fast.time_to_target, '.1f')} (on this subset the"
                " target may be out of reach)"
            )
    return "\n".join(out)


def write_json(
    rows: list[BenchRow], path: str, meta: dict[str, Any] | None = None
) -> None:
    """Write the rows (atomically: a reader never sees half a file)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(
            {"meta": meta or {}, "rows": [r.as_dict() for r in rows]}, f, indent=2
        )
    os.replace(tmp, path)
