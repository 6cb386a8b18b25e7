"""Bottleneck and pre-activation blocks, the closed-form counts, and the
residual-learning helpers."""

import pytest
import torch
from torch import nn

from resnet_course.block_variants import (
    Bottleneck,
    PreActBlock,
    bottleneck_macs,
    bottleneck_params,
    conv_macs,
    two_conv_macs,
    two_conv_params,
)
from resnet_course.cifar_resnet import BasicBlock
from resnet_course.models import count_parameters
from resnet_course.residual_learning import (
    LAPLACIAN,
    block_stack,
    fit_identity,
    laplacian_residual,
    unsharp_mask,
)


@pytest.mark.parametrize("c,d", [(256, 64), (64, 16), (1024, 256)])
def test_bottleneck_parameters_match_the_closed_form(c, d):
    assert count_parameters(Bottleneck(c, d)) == bottleneck_params(c, d)


@pytest.mark.parametrize("c", [16, 64, 256])
def test_two_conv_block_parameters_match_the_closed_form(c):
    assert count_parameters(BasicBlock(c, c)) == two_conv_params(c)


def test_closed_forms_at_256_channels_have_the_textbook_values():
    # weights only: 2*9*256^2 = 1,179,648 and 256*64 + 9*64^2 + 64*256 = 69,632
    assert two_conv_params(256) - 4 * 256 == 1_179_648
    assert bottleneck_params(256, 64) - (4 * 64 + 2 * 256) == 69_632


@pytest.mark.parametrize("h,w", [(56, 56), (7, 9)])
def test_measured_multiply_adds_match_the_closed_form(h, w):
    assert conv_macs(
        BasicBlock(256, 256).eval(), torch.randn(1, 256, h, w)
    ) == two_conv_macs(256, h, w)
    assert conv_macs(
        Bottleneck(256, 64).eval(), torch.randn(1, 256, h, w)
    ) == bottleneck_macs(256, 64, h, w)


def test_conv_macs_counts_per_image_and_includes_linear_layers():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 10)
    )
    expected = 8 * 4 * 4 * 3 * 9 + 128 * 10
    assert conv_macs(model, torch.randn(1, 3, 4, 4)) == expected
    assert conv_macs(model, torch.randn(5, 3, 4, 4)) == expected


def test_bottleneck_keeps_shape_and_projects_when_it_changes():
    x = torch.randn(2, 256, 8, 8)
    assert Bottleneck(256, 64)(x).shape == x.shape
    assert Bottleneck(256, 64).downsample is None
    down = Bottleneck(256, 128, stride=2)
    assert down(x).shape == (2, 512, 4, 4)
    assert down.downsample is not None


def test_pre_activation_block_with_zero_last_conv_is_the_identity_even_for_negative_inputs():
    torch.manual_seed(0)
    x = torch.randn(3, 16, 6, 6)
    block = PreActBlock(16, 16)
    nn.init.zeros_(block.conv2.weight)
    with torch.no_grad():
        assert torch.equal(block(x), x)
        original = BasicBlock(16, 16)
        nn.init.zeros_(original.bn2.weight)
        assert not torch.equal(
            original(x), x
        ), "the original block ends in a ReLU"


def test_pre_activation_block_has_the_parameters_of_the_basic_block():
    assert count_parameters(PreActBlock(16, 16)) == count_parameters(
        BasicBlock(16, 16)
    )
    assert PreActBlock(16, 32, stride=2)(torch.randn(2, 16, 8, 8)).shape == (
        2,
        32,
        4,
        4,
    )


def test_laplacian_residual_is_zero_on_flat_and_linear_images_and_nonzero_at_edges():
    flat = torch.full((1, 1, 8, 8), 0.3)
    assert torch.allclose(laplacian_residual(flat), torch.zeros_like(flat))
    ramp = torch.arange(8.0).repeat(8, 1)[None, None] / 8
    assert torch.allclose(
        laplacian_residual(ramp)[..., 1:-1, 1:-1],
        torch.zeros(1, 1, 6, 6),
        atol=1e-6,
    )
    edge = torch.zeros(1, 1, 8, 8)
    edge[..., 4:] = 1.0
    assert laplacian_residual(edge).abs().max() > 0.5


def test_unsharp_mask_is_x_plus_the_residual_and_equals_one_convolution_with_identity_plus_kernel():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 10, 10) * 0.5 + 0.25
    residual, sharp = unsharp_mask(x, 0.2)
    assert torch.allclose(sharp, (x + residual).clamp(0, 1))
    kernel = 0.2 * LAPLACIAN
    kernel[1, 1] += 1
    whole = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"),
        kernel.view(1, 1, 3, 3),
    )
    assert torch.allclose(whole, x + residual, atol=1e-6)
    assert torch.equal(unsharp_mask(x, 0.0)[1], x)


def test_fit_identity_lowers_the_loss_and_refuses_negative_inputs():
    torch.manual_seed(0)
    x = torch.rand(32, 4, 6, 6)
    stack = block_stack(2, 4, residual=True)
    losses = fit_identity(stack, x, steps=30, lr=1e-2, batch_size=16)
    assert len(losses) == 30 and losses[-1] < losses[0]
    with pytest.raises(ValueError, match="non-negative"):
        fit_identity(stack, x - 1, steps=1)


def test_block_stack_builds_plain_or_residual_blocks():
    assert all(not b.residual for b in block_stack(3, 8, residual=False))
    assert all(b.residual for b in block_stack(3, 8, residual=True))
    assert len(block_stack(3, 8, residual=True)) == 3
