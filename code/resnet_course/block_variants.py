"""Variants of the residual block: the bottleneck (He et al. 2015) and
pre-activation (He et al. 2016).

* :class:`Bottleneck` -- 1x1 reduce, 3x3, 1x1 expand (``expansion = 4``), as in
  torchvision's ``resnet.py``; the block of ResNet-50/101/152.
* :class:`PreActBlock` -- BN-ReLU-conv-BN-ReLU-conv, added to an untouched
  shortcut and *not* followed by a ReLU, so the identity path from block to block
  is clean (He et al. 2016).

Plus closed-form parameter and multiply-add counts, and a counter that measures
them on a real module, so a chapter can check one against the other.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .cifar_resnet import conv1x1, conv3x3


class Bottleneck(nn.Module):
    """conv1x1-BN-ReLU, conv3x3-BN-ReLU, conv1x1-BN, plus the shortcut, then ReLU.

    ``planes`` is the narrow width of the 3x3 convolution; the block outputs
    ``planes * expansion`` channels (64 -> 256 in the first stage of ResNet-50).
    """

    expansion = 4

    def __init__(
        self, in_planes: int, planes: int, stride: int = 1, residual: bool = True
    ):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, out_planes)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.residual = residual
        self.downsample: nn.Module | None = None
        if residual and (stride != 1 or in_planes != out_planes):
            self.downsample = nn.Sequential(
                conv1x1(in_planes, out_planes, stride), nn.BatchNorm2d(out_planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return F.relu(out)


class PreActBlock(nn.Module):
    """Pre-activation block (He et al. 2016): x +
    conv(ReLU(BN(conv(ReLU(BN(x)))))), no final ReLU."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = conv1x1(in_planes, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActCifarResNet(nn.Module):
    """The 6n+2 family with pre-activation blocks (He et al. 2016, Sec. 4.1).

    A 3x3 stem convolution (its BN and ReLU are the first block's), 3n
    :class:`PreActBlock`s with 1x1 projections where the shape changes, then the
    BN and ReLU that no block applies after its addition, pooling and a linear
    classifier. Compare with ``cifar_resnet(depth, shortcut="B")``, the original
    (post-activation) network with projections at the same places.
    """

    def __init__(
        self,
        depth: int = 20,
        in_channels: int = 1,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (16, 32, 64),
    ):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 with n >= 1, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = conv3x3(in_channels, widths[0])
        layers, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            for j in range(n):
                layers.append(
                    PreActBlock(in_planes, planes, 2 if i and not j else 1)
                )
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(in_planes)
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode="fan_out", nonlinearity="relu"
                )

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn(self.layers(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def two_conv_params(c: int) -> int:
    """Parameters of two 3x3 convolutions at ``c`` channels with their batch
    norms: 18c^2 + 4c."""
    return 2 * 9 * c * c + 2 * 2 * c


def bottleneck_params(c: int, d: int) -> int:
    """Parameters of the bottleneck c -> d -> d -> c with its batch norms: 2cd +
    9d^2 + 4d + 2c."""
    return c * d + 9 * d * d + d * c + 2 * 2 * d + 2 * c


def two_conv_macs(c: int, h: int, w: int) -> int:
    """Multiply-adds of two 3x3 convolutions at ``c`` channels on an h x w map:
    18c^2 hw."""
    return 2 * 9 * c * c * h * w


def bottleneck_macs(c: int, d: int, h: int, w: int) -> int:
    """Multiply-adds of the bottleneck c -> d -> d -> c on an h x w map: (2cd +
    9d^2) hw."""
    return (c * d + 9 * d * d + d * c) * h * w


def conv_macs(model: nn.Module, x: Tensor) -> int:
    """Multiply-adds of every convolution and linear layer of ``model`` on input
    ``x``, measured.

    A convolution costs (output elements) x (input channels per group) x (kernel
    area); batch norm, ReLU and the shortcut addition are a few operations per
    element and are left out, as in He et al. (2015).
    """
    total = 0

    def hook(
        module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor
    ) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += (
                output.numel()
                // output.shape[0]
                * (module.in_channels // module.groups)
                * kh
                * kw
            )
        else:
            total += module.in_features * module.out_features

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total
