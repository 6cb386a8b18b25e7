"""The experiments that the chapters' arguments rest on, as functions that return
data.

Each :class:`Experiment` has

* ``sizes``: its settings at each size (``smoke`` for CI, ``cpu`` for a reader's
  laptop, ``long`` for the converged runs stored in ``results/``, ``gpu`` for a
  lent GPU);
* ``plan(settings, seeds, folder)``: the list of runs, one per network and seed
  (``folder``: where a plan that builds on another experiment's stored result
  reads it, None for ``results/``; ``final`` chooses its recipe from
  ``ablation``'s);
* ``run(spec, device)``: one run, returning ``{"metrics": ..., "curves": ...}``,
  plain JSON-serialisable data.

``python -m resnet_course reproduce NAME --size long`` runs one and stores it (see
:mod:`resnet_course.reproduce`); a chapter plots the stored file and can call
:func:`run_experiment` at the reader's own size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SIZES = ("smoke", "cpu", "long", "gpu")

RunSpec = dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    """One experiment: what it shows, how big it is at each size, and how it
    runs."""

    name: str
    chapter: str
    summary: str
    sizes: dict[str, dict[str, Any]]
    plan: Callable[[dict[str, Any], int, Path | None], list[RunSpec]]
    run: Callable[[RunSpec, str], dict[str, Any]]
    #: Expected minutes on 2 CPU cores (one thread) with 3 seeds, per size.
    minutes: dict[str, float] = field(default_factory=dict)


def _registry() -> dict[str, Experiment]:
    from . import degradation, gradient_ratios, identity, lesion, preact, recipe

    found = [
        degradation.MLP,
        degradation.CNN,
        identity.IDENTITY,
        preact.PREACT,
        gradient_ratios.GRADIENT_RATIOS,
        lesion.LESION,
        recipe.ABLATION,
        recipe.FINAL,
    ]
    return {e.name: e for e in found}


def experiments() -> dict[str, Experiment]:
    """Every experiment by name, in the order of the chapters."""
    return _registry()


def run_experiment(
    name: str,
    size: str,
    seeds: int = 3,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Run experiment ``name`` at ``size`` in memory and return the result (no
    file)."""
    from ..reproduce import run_in_memory

    return run_in_memory(name, size, seeds, device, progress)
