"""Deep multilayer perceptrons, plain or residual: the degradation problem in a
minute on a CPU.

``deep_mlp(n_blocks, residual=...)`` mirrors the CIFAR family of He et al. (2015)
with fully connected layers: a linear stem, ``n_blocks`` blocks of two linear
layers with batch norm, and a linear classifier -- ``2 * n_blocks + 2`` weighted
layers.  Each block computes ``ReLU(F(x) + x)`` when ``residual`` and
``ReLU(F(x))`` otherwise, with F = Linear-BN-ReLU-Linear-BN, so the plain and the
residual network of one depth have exactly the same parameters.

These are *post-activation* blocks (the ReLU after the addition), as in the CIFAR
networks whose degradation chapter 1 reproduces.  The backpropagation chapter
needs the clean identity ``x_{i+1} = x_i + F(x_i)`` of He et al. (2016) instead,
and builds its own pre-activation MLP in :mod:`resnet_course.gradients`.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


class MLPBlock(nn.Module):
    """Linear-BN-ReLU-Linear-BN, plus the identity shortcut when ``residual``,
    then ReLU."""

    def __init__(self, width: int, residual: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(width, width, bias=False)
        self.bn1 = nn.BatchNorm1d(width)
        self.fc2 = nn.Linear(width, width, bias=False)
        self.bn2 = nn.BatchNorm1d(width)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.fc1(x)))
        out = self.bn2(self.fc2(out))
        return F.relu(out + x if self.residual else out)


class DeepMLP(nn.Module):
    """Flatten, a linear stem to ``width``, ``n_blocks`` MLP blocks, a linear
    classifier."""

    def __init__(
        self,
        n_blocks: int,
        residual: bool = True,
        width: int = 64,
        in_features: int = 28 * 28,
        num_classes: int = 10,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        if n_blocks < 1:
            raise ValueError(f"n_blocks must be at least 1, got {n_blocks}")
        self.depth, self.residual = 2 * n_blocks + 2, residual
        self.stem = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, width, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(
            *[MLPBlock(width, residual) for _ in range(n_blocks)]
        )
        self.fc = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear) and m is not self.fc:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if zero_init_residual:
            # Each block then starts as ReLU(x) = x (its input is already
            # non-negative).
            for block in self.blocks:
                nn.init.zeros_(block.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.blocks(self.stem(x)))


def deep_mlp(
    depth: int, residual: bool = True, width: int = 64, **kwargs
) -> DeepMLP:
    """``deep_mlp(50)`` is a residual MLP with 50 weighted layers (24 blocks);
    depth = 2n + 2."""
    if depth < 4 or depth % 2:
        raise ValueError(
            f"depth must be 2n+2 with n >= 1 (4, 6, 8, ...), got {depth}"
        )
    return DeepMLP((depth - 2) // 2, residual, width, **kwargs)
