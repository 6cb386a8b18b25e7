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
    random flip.

    One ``gather`` reads each output pixel from the padded image, so the result
    has the plain contiguous layout whatever the batch; the memory format is
    the network's to choose (:class:`~resnet_course.run_state.Prepared`). A
    channels-last result would send the CPU's convolutions down oneDNN's
    channels-last path, whose weight gradient for a strided 1x1 convolution
    with few input channels (4 here) writes out of bounds (oneDNN issue 6035).
    """
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), device=dev)
    dx = torch.randint(0, 2 * pad + 1, (n,), device=dev)
    flip = torch.rand(n, device=dev) < 0.5
    across = torch.arange(w, device=dev)
    # the columns each image reads, mirrored where it is flipped: n, w
    cols = torch.where(flip[:, None], across.flip(0), across) + dx[:, None]
    rows = dy[:, None] + torch.arange(h, device=dev)  # n, h
    # each output pixel's position in the flattened padded image: n, h * w
    index = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).flatten(1)
    out = padded.flatten(2).gather(2, index[:, None].expand(n, c, h * w))
    return out.view(n, c, h, w)


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
