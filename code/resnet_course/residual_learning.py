"""Small experiments behind H(x) = F(x) + x (He et al. 2015, Sec. 3.1).

* :func:`unsharp_mask` -- the seed article's sharpening example, done for real: a
  fixed Laplacian-style convolution F and the image plus it, x + F(x).
* :func:`block_stack` and :func:`fit_identity` -- can a stack of plain blocks, or
  of residual blocks, learn to copy its input?  (A short regression loop: the task
  is not classification, so :func:`resnet_course.training.train_classifier` does
  not apply.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .cifar_resnet import BasicBlock

#: The discrete negative Laplacian: 4 x centre minus the four neighbours.  Zero on
#: flat regions, large where the intensity bends -- at edges.
LAPLACIAN = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])


def laplacian_residual(x: Tensor, strength: float = 1.0) -> Tensor:
    """F(x) = strength * (negative Laplacian of x), per channel, same size as x
    (``N, C, H, W``)."""
    c = x.shape[1]
    kernel = (strength * LAPLACIAN).to(x).expand(c, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)


def unsharp_mask(x: Tensor, strength: float = 1.0) -> tuple[Tensor, Tensor]:
    """``(F(x), x + F(x))``: the residual that sharpens and the sharpened image,
    clipped to [0, 1]."""
    residual = laplacian_residual(x, strength)
    return residual, (x + residual).clamp(0.0, 1.0)


def block_stack(n_blocks: int, channels: int, residual: bool) -> nn.Sequential:
    """``n_blocks`` BasicBlocks at ``channels`` channels, stride 1: plain or
    residual."""
    return nn.Sequential(
        *[
            BasicBlock(channels, channels, residual=residual)
            for _ in range(n_blocks)
        ]
    )


def fit_identity(
    model: nn.Module,
    x: Tensor,
    steps: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` to reproduce its input (mean squared error
    ``|model(x) - x|^2``) with Adam.

    Returns the loss of every step.  ``x`` must be non-negative: every block ends
    in a ReLU.
    """
    if (x < 0).any():
        raise ValueError(
            "fit_identity needs a non-negative input: the blocks end in a ReLU"
        )
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=generator).to(
            x.device
        )
        batch = x[idx]
        loss = F.mse_loss(model(batch), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
