"""The residual block of He et al. (2015), in the form d2l 0.17 and the seed
article teach.

``Residual(input_channels, num_channels, use_1x1conv=False, strides=1)`` computes
H(x) = ReLU(F(x) + shortcut(x)) with F = conv3x3-BN-ReLU-conv3x3-BN.  The shortcut
is the identity, or a strided 1x1 convolution ("projection") when the shape
changes.

The chapter "The Residual block in code" shows this class line by line; a test
checks that the chapter's copy and this one are the same text.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Residual(nn.Module):
    """The residual block of ResNet (He et al. 2015), with the d2l 0.17
    signature."""

    def __init__(
        self,
        input_channels: int,
        num_channels: int,
        use_1x1conv: bool = False,
        strides: int = 1,
    ):
        super().__init__()
        if not use_1x1conv and (input_channels != num_channels or strides != 1):
            raise ValueError(
                "an identity shortcut needs the output shape to equal the input"
                f" shape, but input_channels={input_channels},"
                f" num_channels={num_channels}, strides={strides}; pass"
                " use_1x1conv=True to project the shortcut"
            )
        self.input_channels = input_channels
        self.conv1 = nn.Conv2d(
            input_channels, num_channels, kernel_size=3, padding=1, stride=strides
        )
        self.conv2 = nn.Conv2d(
            num_channels, num_channels, kernel_size=3, padding=1
        )
        if use_1x1conv:
            self.conv3 = nn.Conv2d(
                input_channels, num_channels, kernel_size=1, stride=strides
            )
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.dim() != 4 or X.shape[1] != self.input_channels:
            raise ValueError(
                "Residual expects an input of shape (batch,"
                f" {self.input_channels}, height, width), got {tuple(X.shape)}"
            )
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(
    input_channels: int,
    num_channels: int,
    num_residuals: int,
    first_block: bool = False,
) -> list[nn.Module]:
    """One ResNet stage: ``num_residuals`` blocks; all but the first stage halve
    height and width."""
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(
                Residual(
                    input_channels, num_channels, use_1x1conv=True, strides=2
                )
            )
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk
