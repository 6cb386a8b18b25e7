"""Whole networks built from :mod:`resnet_course.blocks`.

``d2l_resnet18`` is the ResNet-18 of d2l (and of the seed article): a 7x7 stem
with max-pooling, four stages of two residual blocks (64, 128, 256, 512 channels),
global average pooling and a linear classifier.  It expects single-channel images
(Fashion-MNIST resized to 96x96 in d2l's recipe) and has 10 outputs.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .blocks import resnet_block


def d2l_resnet18(in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """ResNet-18 as d2l builds it: ``b1`` stem, stages ``b2``..``b5``, then pool
    and linear."""
    b1 = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(
        b1,
        b2,
        b3,
        b4,
        b5,
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(512, num_classes),
    )


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases; BN running statistics
    excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def stage_shapes(
    model: nn.Sequential, x: torch.Tensor
) -> list[tuple[str, tuple[int, ...]]]:
    """The output shape after each top-level layer of ``model`` for input
    ``x``."""
    shapes = []
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            shapes.append((layer.__class__.__name__, tuple(x.shape)))
    return shapes


def torchvision_resnet18_for_fashion_mnist(num_classes: int = 10) -> nn.Module:
    """torchvision's ResNet-18 with a 1-channel stem and a ``num_classes``-way
    classifier."""
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def cifar_resnet18(
    in_channels: int = 1,
    num_classes: int = 10,
    width: int = 64,
    zero_init_residual: bool = False,
) -> nn.Sequential:
    """ResNet-18 in the CIFAR style: a 3x3 stem, no max-pool, so 28 px images keep
    their size.

    Stages of two :class:`~resnet_course.cifar_resnet.BasicBlock` each at
    ``width`` x 1, 2, 4, 8 channels (64-128-256-512 by default), projection
    shortcuts (option B) where the shape changes, global average pooling and a
    linear classifier -- torchvision's layer names. ``width=16`` gives a network
    with the same 18 layers and 1/16 of the arithmetic, for CPUs.
    """
    from collections import OrderedDict

    from .cifar_resnet import BasicBlock, conv3x3, init_weights

    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=conv3x3(in_channels, width),
        bn1=nn.BatchNorm2d(width),
        relu=nn.ReLU(inplace=True),
    )
    in_planes = width
    for i, planes in enumerate((width, 2 * width, 4 * width, 8 * width)):
        stride = 1 if i == 0 else 2
        layers[f"layer{i + 1}"] = nn.Sequential(
            BasicBlock(in_planes, planes, stride, shortcut="B"),
            BasicBlock(planes, planes, 1, shortcut="B"),
        )
        in_planes = planes
    layers.update(
        avgpool=nn.AdaptiveAvgPool2d((1, 1)),
        flatten=nn.Flatten(),
        fc=nn.Linear(in_planes, num_classes),
    )
    model = nn.Sequential(layers)
    init_weights(model, zero_init_residual)
    return model


#: The networks the trainer can build, by name: ``MODELS[name](width)``.
MODELS: dict[str, Callable[[int], nn.Module]] = {
    "cifar_resnet18": lambda width: cifar_resnet18(width=width),
    "d2l_resnet18": lambda width: d2l_resnet18(),  # its width is fixed
}


def build_model(name: str, width: int = 64) -> nn.Module:
    """A fresh network by name (see :data:`MODELS`)."""
    if name not in MODELS:
        raise ValueError(
            f"unknown model {name!r}; choose one of {', '.join(MODELS)}"
        )
    return MODELS[name](width)
