"""Batched augmentation on the device: every image of a batch at once, no
per-image Python.

A random crop after padding with a horizontal flip (:func:`random_crop_flip`),
random erasing (Zhong et al. 2017), and :func:`augment_batch`, which applies the
augmentations a :class:`~resnet_course.train_config.TrainConfig` asks for.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def random_crop_flip(x: torch.Tensor, pad: int = 2) -> torch.Tensor:
    """Batched augmentation: a random crop after zero-padding by ``pad``, and a
    random flip."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]
    out = padded[
        torch.arange(n, device=x.device)[:, None, None], :, rows, cols
    ]  # n,h,w,c
    out = out.permute(0, 3, 1, 2)
    flip = torch.rand(n, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def random_erasing(
    x: torch.Tensor,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.25),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Erase one random rectangle per image with probability ``p``, filling it
    with noise.

    The rectangle covers a fraction ``scale`` of the image, with an aspect ratio
    drawn log-uniformly from ``ratio`` (Zhong et al. 2017, "RE-R").  One mask for
    the whole batch.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")
    n, _, h, w = x.shape
    dev = x.device
    area = torch.empty(n, device=dev).uniform_(*scale) * (h * w)
    log_r = torch.empty(n, device=dev).uniform_(
        math.log(ratio[0]), math.log(ratio[1])
    )
    eh = (area * log_r.exp()).sqrt().round().clamp(1, h)
    ew = (area / log_r.exp()).sqrt().round().clamp(1, w)
    y0 = (torch.rand(n, device=dev) * (h - eh + 1)).floor()
    x0 = (torch.rand(n, device=dev) * (w - ew + 1)).floor()
    rows = torch.arange(h, device=dev)[None, :]
    cols = torch.arange(w, device=dev)[None, :]
    in_rows = (rows >= y0[:, None]) & (rows < (y0 + eh)[:, None])  # n, h
    in_cols = (cols >= x0[:, None]) & (cols < (x0 + ew)[:, None])  # n, w
    erase = torch.rand(n, device=dev) < p
    mask = (in_rows[:, :, None] & in_cols[:, None, :] & erase[:, None, None])[
        :, None
    ]
    return torch.where(mask, torch.rand_like(x), x)


def augment_batch(
    x: torch.Tensor, crop_flip: bool = True, pad: int = 2, erase: float = 0.0
) -> torch.Tensor:
    """Random crop after zero-padding by ``pad`` and a random flip, then random
    erasing.

    ``erase`` is the probability that an image gets a rectangle erased (0 turns it
    off).
    """
    if crop_flip:
        x = random_crop_flip(x, pad=pad)
    if erase > 0:
        x = random_erasing(x, p=erase)
    return x
