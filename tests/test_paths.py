"""Path view of residual networks: the path-sum identity, binomial counts, path-gradient
gates."""

import math

import pytest
import torch

from resnet_course.cifar_resnet import cifar_resnet
from resnet_course.paths import (
    all_paths,
    binomial_summary,
    gated_copy,
    gradient_at_x0,
    linear_units_output,
    path_contribution,
    path_gradient_norms,
    path_length_counts,
    path_sum,
)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_linear_units_output_equals_the_sum_over_all_paths(n):
    g = torch.Generator().manual_seed(n)
    branches = [
        0.5 * torch.randn(4, 4, generator=g, dtype=torch.float64)
        for _ in range(n)
    ]
    x = torch.randn(4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        path_sum(branches, x),
        linear_units_output(branches, x),
        rtol=0,
        atol=1e-12,
    )


def test_path_sum_needs_the_order_of_the_branches():
    # Matrices do not commute: the identity only holds when each path applies its
    # branches in order.
    g = torch.Generator().manual_seed(0)
    branches = [
        torch.randn(3, 3, generator=g, dtype=torch.float64) for _ in range(3)
    ]
    x = torch.randn(3, generator=g, dtype=torch.float64)
    assert not torch.allclose(
        path_sum(branches[::-1], x), linear_units_output(branches, x)
    )


def test_path_of_length_zero_is_the_input_and_full_path_is_the_product():
    a, b = torch.eye(2) * 2, torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    x = torch.tensor([1.0, 3.0])
    torch.testing.assert_close(path_contribution([a, b], x, (0, 0)), x)
    torch.testing.assert_close(path_contribution([a, b], x, (1, 1)), b @ (a @ x))


@pytest.mark.parametrize("n", [0, 1, 4, 9])
def test_path_lengths_follow_binomial_counts(n):
    counts = path_length_counts(n)
    assert sum(counts) == 2**n == len(all_paths(n))
    by_length = [
        sum(1 for p in all_paths(n) if sum(p) == k) for k in range(n + 1)
    ]
    assert by_length == counts


def test_binomial_summary_of_54_blocks():
    s = binomial_summary(54)
    assert s["mean"] == 27 and s["std"] == pytest.approx(math.sqrt(54) / 2)
    within = sum(
        math.comb(54, k)
        for k in range(54 + 1)
        if abs(k - 27) <= math.sqrt(54) / 2
    )
    assert s["share_within_one_std"] == pytest.approx(within / 2**54)
    assert 0.6 < s["share_within_one_std"] < 0.8


def small_resnet(depth=14):
    torch.manual_seed(0)
    model = cifar_resnet(
        depth, widths=(4, 8, 16)
    ).eval()  # depth 14: 6 blocks, two of them downsampling
    with torch.no_grad():
        for (
            m
        ) in (
            model.modules()
        ):  # non-trivial BN statistics so that eval mode is not the identity
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model


def test_gated_copy_computes_the_same_outputs_and_leaves_the_model_alone():
    model = small_resnet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gated, gates = gated_copy(model)
    x = torch.rand(3, 1, 12, 12)
    for through in ("both", "residual", "shortcut"):
        for g in gates:
            g.through = through
        torch.testing.assert_close(gated(x), model(x))
    assert len(gates) == 6
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(type(b).__name__ == "BasicBlock" for b in model.blocks())


def test_gradients_of_all_paths_add_up_to_the_full_gradient():
    # The gradient at x_0 is the sum of the gradients of the 2^n single paths; with
    # "both" it is one backward.
    model = small_resnet(depth=8)  # 3 blocks, 8 paths
    gated, gates = gated_copy(model)
    images, labels = torch.rand(2, 1, 12, 12), torch.tensor([1, 7])
    x0 = gated.stem(images).detach()

    def grad_at_x0(path):
        return gradient_at_x0(gated, gates, x0, labels, path)

    full = grad_at_x0(["both"] * len(gates))
    summed = sum(
        grad_at_x0(["residual" if b else "shortcut" for b in p])
        for p in all_paths(len(gates))
    )
    torch.testing.assert_close(summed, full, rtol=1e-4, atol=1e-6)


def test_path_gradient_norms_shape_and_gates_reset():
    model = small_resnet()
    gated, gates = gated_copy(model)
    norms = path_gradient_norms(
        gated,
        gates,
        torch.rand(4, 1, 12, 12),
        torch.arange(4),
        length=2,
        samples=3,
        generator=torch.Generator().manual_seed(0),
    )
    assert norms.shape == (3, 4) and (norms >= 0).all()
    assert all(g.through == "both" for g in gates)
