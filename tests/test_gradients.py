"""He et al. (2016) eq. 5 against autograd, and the gradient measurements of chapter
3."""

import math

import pytest
import torch

from resnet_course.gradients import (
    Branch,
    ResidualMLP,
    block_gradient_norms,
    gradient_by_autograd,
    gradient_by_formula,
    input_gradients,
    neighbour_correlation,
    unit_stack,
)


@pytest.mark.parametrize("seed", range(5))
def test_eq5_formula_matches_autograd_on_random_depths_and_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    depth = int(torch.randint(1, 9, (1,), generator=g))
    dim = int(torch.randint(2, 12, (1,), generator=g))
    torch.manual_seed(seed)
    branches = [Branch(dim, norm=False).double() for _ in range(depth)]
    x = torch.randn(dim, generator=g, dtype=torch.float64)
    target = torch.randn(dim, generator=g, dtype=torch.float64)
    by_autograd, grad_L = gradient_by_autograd(
        branches, x, lambda z: ((z - target) ** 2).sum()
    )
    by_formula, _ = gradient_by_formula(branches, x, grad_L)
    err = (by_autograd - by_formula).abs().max().item()
    assert err < 1e-12 * max(
        1.0, by_autograd.abs().max().item()
    ), f"eq. 5 differs from autograd by {err:.3g} at depth {depth}, width {dim}"


def test_eq5_formula_detects_a_missing_shortcut_term():
    torch.manual_seed(0)
    branches = [Branch(4, norm=False).double() for _ in range(3)]
    x = torch.randn(4, dtype=torch.float64)
    by_autograd, grad_L = gradient_by_autograd(branches, x, lambda z: z.sum())
    _, sum_dF = gradient_by_formula(branches, x, grad_L)
    without_one = grad_L @ sum_dF  # eq. 5 without the "1 +"
    assert (without_one - by_autograd).abs().max() > 1e-3


def test_unit_stack_is_eq4_unrolled():
    torch.manual_seed(0)
    branches = [Branch(5, norm=False).double() for _ in range(4)]
    x = torch.randn(1, 5, dtype=torch.float64)
    states = unit_stack(branches, x)
    unrolled = x + sum(f(s) for f, s in zip(branches, states[:-1]))
    torch.testing.assert_close(states[-1], unrolled, rtol=0, atol=1e-12)


@pytest.mark.parametrize("residual", [True, False])
def test_block_gradient_norms_have_one_value_per_block_input_plus_output(
    residual,
):
    torch.manual_seed(0)
    model = ResidualMLP(12, 8, num_blocks=5, out_features=3, residual=residual)
    x, y = torch.randn(16, 12), torch.randint(0, 3, (16,))
    norms = block_gradient_norms(model, x, y)
    assert (
        norms.shape == (6,) and torch.isfinite(norms).all() and (norms > 0).all()
    )
    assert all(
        p.grad is None for p in model.parameters()
    ), "measurement left gradients behind"


def test_plain_and_residual_mlp_have_the_same_parameters():
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(ResidualMLP(10, 8, 4, 2, residual=True)) == count(
        ResidualMLP(10, 8, 4, 2, residual=False)
    )


def test_input_gradients_of_a_linear_function_are_its_slope():
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(2.5)
    g = input_gradients(model, torch.linspace(-1, 1, 7)[:, None])
    torch.testing.assert_close(g, torch.full((7,), 2.5))


def test_neighbour_correlation_is_one_for_smooth_and_near_zero_for_white_noise():
    smooth = torch.sin(torch.linspace(0, 3, 256, dtype=torch.float64))
    assert neighbour_correlation(smooth) > 0.99
    noise = torch.randn(
        20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    assert abs(neighbour_correlation(noise)) < 4 / math.sqrt(20000)
    alternating = torch.tensor([1.0, -1.0] * 50)
    assert neighbour_correlation(alternating) == pytest.approx(-1.0)


def test_frozen_batch_statistics_make_each_input_gradient_independent_of_the_batch():
    from resnet_course.gradients import freeze_batch_statistics

    torch.manual_seed(0)
    model = ResidualMLP(1, 16, num_blocks=3, out_features=1).double()
    xs = torch.linspace(-2, 2, 32, dtype=torch.float64)[:, None]
    with torch.no_grad():
        in_training_mode = model(xs)
    freeze_batch_statistics(model, xs)
    assert not model.training
    torch.testing.assert_close(model(xs), in_training_mode, rtol=0, atol=1e-10)
    together = input_gradients(model, xs)
    alone = torch.cat(
        [input_gradients(model, xs[i : i + 1]) for i in range(len(xs))]
    )
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-12)
