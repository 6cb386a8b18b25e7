"""The schedules of both training loops: how many optimiser steps an epoch has,
and a multiplier of the peak learning rate per step."""

from __future__ import annotations

import math

SCHEDULES = ("onecycle", "cosine", "constant")


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps in an epoch of ``n_train`` images: both loops drop the
    last, partial batch."""
    return n_train // batch_size


def lr_factor(step: int, total: int, schedule: str, warmup: float) -> float:
    """Multiplier of the peak learning rate at optimiser step ``step`` (0-based)
    of ``total``: a linear warm-up over the first ``warmup`` of the steps, then a
    linear (onecycle) or cosine decay to zero, or ``constant`` 1."""
    if schedule == "constant":
        return 1.0
    w = int(warmup * total)
    if step < w:
        return (step + 1) / w
    if schedule == "onecycle":
        return max(0.0, 1.0 - (step - w) / max(1, total - w))
    return 0.5 * (1 + math.cos(math.pi * (step - w) / max(1, total - w)))
