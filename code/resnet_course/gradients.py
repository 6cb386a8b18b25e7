"""How gradients travel through shortcuts: He et al. (2016, eq. 4-5) checked and
measured.

With identity shortcuts and nothing after the addition, a stack of residual units
computes ``x_{i+1} = x_i + F(x_i, W_i)``, so
``x_L = x_l + sum_{i=l}^{L-1} F(x_i, W_i)`` (eq. 4) and

    dE/dx_l = dE/dx_L (1 + d/dx_l sum_{i=l}^{L-1} F(x_i, W_i))          (eq. 5)

This module builds such stacks (and their plain counterparts
``x_{i+1} = F(x_i, W_i)``) as small fully connected networks (pre-activation units
with nothing after the addition, unlike the post-activation blocks of
:mod:`resnet_course.mlp`, so that eq. 4 holds exactly), computes eq. 5 term by
term to compare it with autograd, and measures two things the chapter plots: the
gradient norm at every block, and how correlated the input gradients of
neighbouring inputs are (the *shattered gradients* of Balduzzi et al. 2017).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Branch(nn.Module):
    """The residual branch F of a full pre-activation unit (He et al. 2016,
    Fig. 4e), fully connected.

    ``norm=True``: BN-ReLU-Linear-BN-ReLU-Linear.  ``norm=False``:
    ReLU-Linear-ReLU-Linear.
    """

    def __init__(self, width: int, norm: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            if norm:
                layers.append(nn.BatchNorm1d(width))
            layers += [nn.ReLU(), nn.Linear(width, width)]
        self.f = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.f(x)


class ResidualMLP(nn.Module):
    """A stem, ``num_blocks`` units and a head: ``x_{i+1} = x_i + F(x_i)`` or,
    plain, ``F(x_i)``.

    The plain network has exactly the same layers and parameters; only the
    additions differ. Weights use He (Kaiming) initialisation, biases start at
    zero. ``branch_scale`` multiplies every branch, ``x_{i+1} = x_i + s F(x_i)``
    (1 = none); ``bias_std > 0`` draws the biases from N(0, bias_std^2) instead.
    """

    def __init__(
        self,
        in_features: int,
        width: int,
        num_blocks: int,
        out_features: int,
        residual: bool = True,
        norm: bool = True,
        branch_scale: float = 1.0,
        bias_std: float = 0.0,
    ):
        super().__init__()
        self.residual, self.branch_scale = residual, branch_scale
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width))
        self.blocks = nn.ModuleList(
            Branch(width, norm) for _ in range(num_blocks)
        )
        head: list[nn.Module] = [nn.BatchNorm1d(width)] if norm else []
        self.head = nn.Sequential(
            *head, nn.ReLU(), nn.Linear(width, out_features)
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                (
                    nn.init.normal_(m.bias, std=bias_std)
                    if bias_std
                    else nn.init.zeros_(m.bias)
                )

    def forward(self, x: Tensor, states: list[Tensor] | None = None) -> Tensor:
        """The output; if ``states`` is a list, the block inputs x_0..x_L are
        appended to it."""
        x = self.stem(x)
        for block in self.blocks:
            if states is not None:
                states.append(x)
            x = x + self.branch_scale * block(x) if self.residual else block(x)
        if states is not None:
            states.append(x)
        return self.head(x)


def unit_stack(branches: list[nn.Module], x: Tensor) -> list[Tensor]:
    """``[x_l, ..., x_L]`` of residual units ``x_{i+1} = x_i + F_i(x_i)`` (eq. 4,
    one term at a time)."""
    states = [x]
    for f in branches:
        states.append(states[-1] + f(states[-1]))
    return states


def gradient_by_autograd(
    branches: list[nn.Module], x_l: Tensor, loss_fn
) -> tuple[Tensor, Tensor]:
    """``(dE/dx_l, dE/dx_L)`` for ``E = loss_fn(x_L)``, both from autograd."""
    x_l = x_l.detach().requires_grad_(True)
    states = unit_stack(branches, x_l)
    x_L = states[-1]
    x_L.retain_grad()
    loss_fn(x_L).backward()
    return x_l.grad.detach(), x_L.grad.detach()


def gradient_by_formula(
    branches: list[nn.Module], x_l: Tensor, grad_L: Tensor
) -> tuple[Tensor, Tensor]:
    """``dE/dx_l`` from eq. 5 for one input vector ``x_l``, and the matrix
    ``d/dx_l sum_i F(x_i)``.

    ``grad_L`` is the row vector dE/dx_L.  The sum is built from each branch's
    Jacobian at its own input, ``dF(x_i)/dx_l = J_i dx_i/dx_l``, with
    ``dx_{i+1}/dx_l = dx_i/dx_l + J_i dx_i/dx_l``.
    """
    states = unit_stack(branches, x_l.detach())
    eye = torch.eye(x_l.numel(), dtype=x_l.dtype, device=x_l.device)
    dx_i = eye  # dx_i/dx_l, starting at i = l
    sum_dF = torch.zeros_like(eye)  # d/dx_l sum_i F(x_i, W_i)
    for f, x_i in zip(branches, states[:-1]):
        J_i = torch.autograd.functional.jacobian(lambda v: f(v[None])[0], x_i)
        dF = J_i @ dx_i
        sum_dF += dF
        dx_i = dx_i + dF
    return grad_L @ (eye + sum_dF), sum_dF


def block_gradient_norms(
    model: ResidualMLP, images: Tensor, labels: Tensor
) -> Tensor:
    """``||dE/dx_l||`` at the input of every block and at the last block's output
    (L + 1 values).

    ``E`` is the mean cross-entropy of the batch; the model's mode (train/eval) is
    left as it is.
    """
    states: list[Tensor] = []
    logits = model(images, states)
    for s in states:
        s.retain_grad()
    nn.functional.cross_entropy(logits, labels).backward()
    model.zero_grad(set_to_none=True)
    return torch.stack([s.grad.norm() for s in states]).detach().cpu()


def freeze_batch_statistics(model: nn.Module, inputs: Tensor) -> nn.Module:
    """Give every batch-norm layer the statistics of ``inputs`` and switch
    ``model`` to eval mode.

    The network then computes the same outputs for ``inputs`` as in training mode,
    but each output depends on its own input alone, so the input gradient is that
    of the function ``x -> y``, not mixed with the other inputs of the batch.
    """
    norms = [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    momenta, counts = [m.momentum for m in norms], {}
    hooks = [
        m.register_forward_pre_hook(
            lambda m, args: counts.update(
                {m: args[0].numel() // args[0].shape[1]}
            )
        )
        for m in norms
    ]
    for m in norms:
        m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(inputs)
    for m, momentum, hook in zip(norms, momenta, hooks):
        m.momentum = momentum
        # training mode divides by n, not n - 1
        m.running_var.mul_((counts[m] - 1) / counts[m])
        hook.remove()
    return model.eval()


def input_gradients(model: nn.Module, inputs: Tensor) -> Tensor:
    """``d y / d x`` of a one-input, one-output network at each of ``inputs``
    (shape ``(N, 1)``)."""
    x = inputs.detach().clone().requires_grad_(True)
    model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    return x.grad.detach().flatten()


def neighbour_correlation(g: Tensor) -> float:
    """Pearson correlation between the gradients at neighbouring inputs,
    ``corr(g_j, g_{j+1})``, computed in float64 (deep plain networks give
    gradients of 1e22 and more, whose squares overflow float32)."""
    g = g.double()
    a, b = g[:-1] - g[:-1].mean(), g[1:] - g[1:].mean()
    return float((a * b).sum() / (a.norm() * b.norm()))
