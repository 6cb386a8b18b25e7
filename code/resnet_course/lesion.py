"""Lesion studies (Veit et al. 2016): delete blocks of a trained network at test
time.

Deleting a block works on a *copy* of the model; the model passed in is never
changed.

* In a residual network, deleting block ``i`` removes its residual branch and
  keeps its shortcut: the block then computes ``ReLU(shortcut(x))``.  For an
  ordinary block that is ``ReLU(x) = x`` (its input is the output of a ReLU), so
  the block becomes the identity; for a downsampling block (the first of stages 2
  and 3) it is the option-A shortcut, subsampling and zero-padding, as Veit et
  al. deleted them.
* In a plain network deleting a block removes its two layers.  A downsampling
  block has no shortcut to fall back on, so it cannot be deleted.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .training import evaluate


class ShortcutOnly(nn.Module):
    """A residual block whose residual branch was deleted:
    ``ReLU(shortcut(x))``."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.downsample = block.downsample

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x if self.downsample is None else self.downsample(x))


def ordinary_blocks(model: nn.Module) -> list[int]:
    """Indices (into ``model.blocks()``) of the blocks that keep their input's
    shape."""
    return [i for i, b in enumerate(model.blocks()) if not b.changes_shape]


def deletable_blocks(model: nn.Module) -> list[int]:
    """Every block of a residual network; the ordinary blocks of a plain one."""
    if model.residual:
        return list(range(len(model.blocks())))
    return ordinary_blocks(model)


def delete_blocks(model: nn.Module, indices: list[int]) -> nn.Module:
    """A deep copy of a CifarResNet with the blocks ``indices`` deleted (see
    above)."""
    blocks = model.blocks()
    for i in indices:
        if not 0 <= i < len(blocks):
            raise IndexError(
                f"block {i} does not exist: the model has blocks"
                f" 0..{len(blocks) - 1}"
            )
        if not model.residual and blocks[i].changes_shape:
            raise ValueError(
                f"block {i} of a plain network changes the shape of its input (a"
                " downsampling block) and has no shortcut, so it cannot be"
                f" deleted; deletable blocks: {deletable_blocks(model)}"
            )
    lesioned = copy.deepcopy(model)
    for i in indices:
        shape_kept = not blocks[i].changes_shape
        lesioned.replace_block(
            i, nn.Identity() if shape_kept else ShortcutOnly(lesioned.blocks()[i])
        )
    return lesioned


def single_lesion_errors(
    model: nn.Module, images: Tensor, labels: Tensor
) -> dict[int, float]:
    """Test error after deleting each deletable block on its own:
    ``{block: error}``."""
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
    """Test errors after deleting ``k`` distinct random ordinary blocks,
    ``trials`` times for each ``k`` (once for ``k = 0`` and for all of them)."""
    generator = torch.Generator().manual_seed(seed)
    candidates = ordinary_blocks(model)
    errors: dict[int, list[float]] = {}
    for k in ks:
        errors[k] = []
        for _ in range(trials if 0 < k < len(candidates) else 1):
            pick = torch.randperm(len(candidates), generator=generator)[
                :k
            ].tolist()
            lesioned = delete_blocks(model, [candidates[p] for p in pick])
            errors[k].append(evaluate(lesioned, images, labels)[1])
    return errors
