"""The CIFAR family of He et al. (2015, Sec. 4.2): 6n+2 layers, plain or residual.

A 3x3 stem with 16 channels, three stages of ``n`` blocks at 16, 32 and 64
channels (the first block of stages 2 and 3 halves height and width), global
average pooling and a linear classifier: ``6n + 2`` weighted layers (ResNet-20,
-32, -44, -56, -110 for n = 3, 5, 7, 9, 18).

``residual=False`` gives the *plain* counterpart: the very same layers, without
the shortcut additions.  With option-A shortcuts (zero-padding identity, no
parameters) the plain and the residual network of one depth have exactly the same
parameters, so any difference in how they train comes from the shortcuts alone.

Names follow torchvision's ``resnet.py`` (``conv3x3``, ``BasicBlock``,
``layer1``..., ``downsample``, ``zero_init_residual``) so a reader can move on to
it without relearning.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (the batch norm after it has
    one)."""
    return nn.Conv2d(
        in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, the projection shortcut of option B."""
    return nn.Conv2d(
        in_planes, out_planes, kernel_size=1, stride=stride, bias=False
    )


class ZeroPadShortcut(nn.Module):
    """Option A of He et al. (2015): subsample by ``stride`` and zero-pad the new
    channels.

    It is still an identity on the channels that exist and adds no parameters.
    """

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.extra, self.stride = planes - in_planes, stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut when ``residual``, then
    ReLU."""

    expansion = 1

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int = 1,
        residual: bool = True,
        shortcut: str = "A",
    ):
        super().__init__()
        if shortcut not in {"A", "B"}:
            raise ValueError(
                "shortcut must be 'A' (zero-padding) or 'B' (1x1 projection), got"
                f" {shortcut!r}"
            )
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        self.downsample: nn.Module | None = None
        if residual and (stride != 1 or in_planes != planes):
            self.downsample = (
                ZeroPadShortcut(in_planes, planes, stride)
                if shortcut == "A"
                else nn.Sequential(
                    conv1x1(in_planes, planes, stride), nn.BatchNorm2d(planes)
                )
            )

    @property
    def changes_shape(self) -> bool:
        """True for the first block of a stage, whose output shape differs from
        its input's."""
        return (
            self.conv1.stride != (1, 1)
            or self.conv1.in_channels != self.conv2.out_channels
        )

    def branch(self, x: Tensor) -> Tensor:
        """The residual branch F(x): conv3x3-BN-ReLU-conv3x3-BN."""
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))

    def shortcut(self, x: Tensor) -> Tensor:
        """The identity, or option A/B where the shape changes."""
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x: Tensor) -> Tensor:
        out = self.branch(x)
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


def init_weights(model: nn.Module, zero_init_residual: bool = False) -> None:
    """He (Kaiming) initialisation as in He et al. (2015) and torchvision; BN
    scale 1, shift 0.

    With ``zero_init_residual`` the last BN scale of every :class:`BasicBlock` is
    zero, so each residual block starts as the identity (ReLU of its input): Goyal
    et al. (2017).
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)


class CifarResNet(nn.Module):
    """The 6n+2-layer network of He et al. (2015, Sec. 4.2), plain or residual."""

    def __init__(
        self,
        depth: int = 20,
        residual: bool = True,
        shortcut: str = "A",
        in_channels: int = 1,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (16, 32, 64),
        zero_init_residual: bool = False,
    ):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(
                "depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110,"
                f" ...), got {depth}"
            )
        n = (depth - 2) // 6
        self.depth, self.residual = depth, residual
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(
                    BasicBlock(in_planes, planes, stride, residual, shortcut)
                )
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)
        init_weights(self, zero_init_residual)

    # The hooks below are the network's anatomy, x -> stem -> blocks -> head, so
    # that lesion studies and path measurements never re-walk the layers
    # themselves.

    def stages(self) -> tuple[nn.Sequential, nn.Sequential, nn.Sequential]:
        return self.layer1, self.layer2, self.layer3

    def blocks(self) -> list[nn.Module]:
        """All 3n blocks in order (for lesion studies and per-block
        measurements)."""
        return [b for stage in self.stages() for b in stage]

    def replace_block(self, i: int, module: nn.Module) -> None:
        """Put ``module`` in place of block ``i`` (in this model: copy it
        first)."""
        slots = [(stage, j) for stage in self.stages() for j in range(len(stage))]
        if not 0 <= i < len(slots):
            raise IndexError(
                f"block {i} does not exist: the model has blocks"
                f" 0..{len(slots) - 1}"
            )
        stage, j = slots[i]
        stage[j] = module

    def stem(self, x: Tensor) -> Tensor:
        """The input x_0 of the first block."""
        return F.relu(self.bn1(self.conv1(x)))

    def head(self, x: Tensor) -> Tensor:
        """Logits from the last block's output: global average pooling, then
        linear."""
        return self.fc(self.avgpool(x).flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
        return self.head(x)


def cifar_resnet(depth: int, residual: bool = True, **kwargs) -> CifarResNet:
    """``cifar_resnet(56)`` is ResNet-56; ``cifar_resnet(56, residual=False)`` is
    plain-56."""
    return CifarResNet(depth, residual, **kwargs)
