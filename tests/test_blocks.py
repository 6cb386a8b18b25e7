import pytest
import torch
from torch import nn

from resnet_course.blocks import Residual, resnet_block
from resnet_course.models import count_parameters, d2l_resnet18, stage_shapes


def test_identity_shortcut_keeps_the_shape():
    assert Residual(3, 3)(torch.rand(4, 3, 6, 6)).shape == (4, 3, 6, 6)


def test_projection_with_stride_two_halves_height_and_width():
    assert Residual(3, 6, use_1x1conv=True, strides=2)(
        torch.rand(4, 3, 6, 6)
    ).shape == (4, 6, 3, 3)


def test_output_is_relu_of_branch_plus_input():
    torch.manual_seed(0)
    blk = Residual(4, 4).eval()
    x = torch.randn(2, 4, 5, 5)
    branch = blk.bn2(blk.conv2(torch.relu(blk.bn1(blk.conv1(x)))))
    torch.testing.assert_close(blk(x), torch.relu(branch + x), rtol=0, atol=0)


def test_three_dimensional_input_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"input of shape \(batch, 3, height, width\), got \(3, 6, 6\)",
    ):
        Residual(3, 3)(torch.rand(3, 6, 6))


def test_wrong_channel_count_names_expected_and_received():
    with pytest.raises(
        ValueError,
        match=r"input of shape \(batch, 3, height, width\), got \(4, 5, 6, 6\)",
    ):
        Residual(3, 3)(torch.rand(4, 5, 6, 6))


def test_identity_shortcut_with_changing_shape_is_refused_at_construction():
    with pytest.raises(ValueError, match="use_1x1conv=True"):
        Residual(3, 6)
    with pytest.raises(ValueError, match="strides=2"):
        Residual(3, 3, strides=2)


def test_resnet_block_downsamples_except_in_the_first_stage():
    first = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    later = nn.Sequential(*resnet_block(64, 128, 2))
    x = torch.rand(1, 64, 8, 8)
    assert first(x).shape == (1, 64, 8, 8)
    assert later(x).shape == (1, 128, 4, 4)
    assert later[0].conv3 is not None and later[1].conv3 is None


def test_d2l_resnet18_stage_shapes_for_96_pixels():
    shapes = [
        s for _, s in stage_shapes(d2l_resnet18(), torch.zeros(1, 1, 96, 96))
    ]
    assert shapes == [
        (1, 64, 24, 24),
        (1, 64, 24, 24),
        (1, 128, 12, 12),
        (1, 256, 6, 6),
        (1, 512, 3, 3),
        (1, 512, 1, 1),
        (1, 512),
        (1, 10),
    ]


def test_d2l_resnet18_parameter_count_from_the_closed_form():
    def conv(cin, cout, k):  # weights + bias
        return cin * cout * k * k + cout

    def bn(c):
        return 2 * c

    def block(cin, cout, project):
        return (
            conv(cin, cout, 3)
            + bn(cout)
            + conv(cout, cout, 3)
            + bn(cout)
            + (conv(cin, cout, 1) if project else 0)
        )

    expected = conv(1, 64, 7) + bn(64)
    expected += 2 * block(64, 64, False)
    for cin, cout in ((64, 128), (128, 256), (256, 512)):
        expected += block(cin, cout, True) + block(cout, cout, False)
    expected += 512 * 10 + 10
    assert count_parameters(d2l_resnet18()) == expected == 11_178_378
