"""Lesion studies (Veit et al. 2016): delete blocks of a trained network at test time.

Deleting a block replaces it by the identity in a *copy* of the model; the model passed
in is never changed.  In a residual network this removes the block's residual branch and
keeps its shortcut (the block's input is already the output of a ReLU, so ``ReLU(x) =
x``); in a plain network it removes the block's two layers altogether.  Blocks that
change the shape of their input (the first block of stages 2 and 3) cannot be deleted:
nothing of the right shape would reach the next block.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from .training import evaluate


def deletable_blocks(model: nn.Module) -> list[int]:
    """Indices (into ``model.blocks()``) of the blocks that keep their input's shape."""
    return [i for i, b in enumerate(model.blocks()) if not b.changes_shape]


def delete_blocks(model: nn.Module, indices: list[int]) -> nn.Module:
    """A deep copy of a CifarResNet with the blocks ``indices`` replaced by
    ``nn.Identity``."""
    n = len(model.blocks())
    for i in indices:
        if not 0 <= i < n:
            raise IndexError(
                f"block {i} does not exist: the model has blocks 0..{n - 1}"
            )
        if model.blocks()[i].changes_shape:
            raise ValueError(
                f"block {i} changes the shape of its input (a downsampling block) and "
                f"cannot be deleted; deletable blocks: {deletable_blocks(model)}"
            )
    lesioned = copy.deepcopy(model)
    slots = [
        (stage, j)
        for stage in (lesioned.layer1, lesioned.layer2, lesioned.layer3)
        for j in range(len(stage))
    ]
    for i in indices:
        stage, j = slots[i]
        stage[j] = nn.Identity()
    return lesioned


def single_lesion_errors(
    model: nn.Module, images: Tensor, labels: Tensor
) -> dict[int, float]:
    """Test error after deleting each deletable block on its own: ``{block index:
    error}``."""
    return {
        i: evaluate(delete_blocks(model, [i]), images, labels)[1]
        for i in deletable_blocks(model)
    }


def random_lesion_errors(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    ks: list[int],
    trials: int,
    seed: int = 0,
) -> dict[int, list[float]]:
    """Test errors after deleting ``k`` random deletable blocks, ``trials`` times for
    each ``k``."""
    generator = torch.Generator().manual_seed(seed)
    candidates = deletable_blocks(model)
    errors: dict[int, list[float]] = {}
    for k in ks:
        errors[k] = []
        for _ in range(trials if 0 < k < len(candidates) else 1):
            pick = torch.randperm(len(candidates), generator=generator)[:k].tolist()
            lesioned = delete_blocks(model, [candidates[p] for p in pick])
            errors[k].append(evaluate(lesioned, images, labels)[1])
    return errors
