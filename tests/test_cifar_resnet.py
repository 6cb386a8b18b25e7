"""The CIFAR 6n+2 family (plain and residual), the deep MLPs, and the degradation
helpers."""

import pytest
import torch
from torch import nn

from resnet_course.cifar_resnet import BasicBlock, ZeroPadShortcut, cifar_resnet
from resnet_course.mlp import deep_mlp
from resnet_course.models import count_parameters
from resnet_course.training import train_classifier


def weighted_layers(model: nn.Module) -> int:
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())


def downsample_parameters(model: nn.Module) -> int:
    return sum(
        count_parameters(b.downsample)
        for b in model.blocks()
        if b.downsample is not None
    )


@pytest.mark.parametrize("depth", [8, 20, 56])
def test_family_has_6n_plus_2_weighted_layers_plain_and_residual(depth):
    plain, res = cifar_resnet(depth, residual=False), cifar_resnet(
        depth, residual=True
    )
    assert (
        weighted_layers(plain) == depth
    ), f"plain-{depth} has {weighted_layers(plain)} conv/linear layers"
    assert (
        weighted_layers(res) == depth
    ), f"residual-{depth} (option A) has {weighted_layers(res)} layers"
    assert len(res.blocks()) == 3 * (depth - 2) // 6


@pytest.mark.parametrize("depth", [20, 56])
def test_plain_and_residual_have_the_same_parameters_apart_from_projections(
    depth,
):
    plain = cifar_resnet(depth, residual=False)
    option_a = cifar_resnet(depth, shortcut="A")
    option_b = cifar_resnet(depth, shortcut="B")
    assert count_parameters(plain) == count_parameters(option_a)
    assert downsample_parameters(option_a) == 0
    projections = downsample_parameters(option_b)
    # two projections (16->32, 32->64), each a 1x1 conv and a batch norm
    assert projections == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert count_parameters(option_b) == count_parameters(plain) + projections
    assert weighted_layers(option_b) == depth + 2


def test_plain_network_has_no_shortcut_modules_and_differs_in_output():
    torch.manual_seed(0)
    plain = cifar_resnet(20, residual=False).eval()
    torch.manual_seed(0)
    res = cifar_resnet(20, residual=True).eval()
    assert all(b.downsample is None for b in plain.blocks())
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert plain(x).shape == res(x).shape == (2, 10)
        assert not torch.allclose(
            plain(x), res(x)
        ), "the shortcut must change what the network computes"


@pytest.mark.parametrize("depth", [7, 21, 2])
def test_depth_that_is_not_6n_plus_2_is_refused(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(depth)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_residual_block_with_zero_last_bn_scale_is_exactly_the_identity(mode):
    torch.manual_seed(0)
    x = torch.relu(torch.randn(4, 16, 8, 8))
    block = BasicBlock(16, 16)
    nn.init.zeros_(block.bn2.weight)
    block.train(mode == "train")
    with torch.no_grad():
        assert torch.equal(block(x), x)


def test_zero_init_residual_makes_every_block_of_the_network_start_as_its_shortcut():
    torch.manual_seed(0)
    net = cifar_resnet(20, zero_init_residual=True)
    x = torch.relu(torch.randn(2, 16, 28, 28))
    with torch.no_grad():
        for block in net.blocks():
            expected = x if block.downsample is None else block.downsample(x)
            y = block(x)
            assert torch.equal(
                y, expected
            ), "a zero-initialised block must pass its shortcut through"
            x = y


def test_plain_block_with_zero_last_bn_scale_outputs_zeros_not_the_identity():
    x = torch.relu(torch.randn(4, 16, 8, 8)) + 0.1
    block = BasicBlock(16, 16, residual=False)
    nn.init.zeros_(block.bn2.weight)
    with torch.no_grad():
        assert (block(x) == 0).all()


def test_zero_pad_shortcut_subsamples_and_pads_with_zero_channels():
    x = torch.randn(2, 16, 28, 28)
    y = ZeroPadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 14, 14)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert (y[:, 16:] == 0).all()


@pytest.mark.parametrize("depth", [6, 50])
def test_plain_and_residual_mlps_have_the_same_layers_and_parameters(depth):
    plain, res = deep_mlp(depth, residual=False), deep_mlp(depth, residual=True)
    assert weighted_layers(plain) == weighted_layers(res) == depth
    assert count_parameters(plain) == count_parameters(res)


def test_mlp_depth_must_be_even_and_at_least_4():
    for depth in (3, 5, 2):
        with pytest.raises(ValueError, match="2n\\+2"):
            deep_mlp(depth)


def test_zero_init_residual_mlp_blocks_are_the_identity():
    torch.manual_seed(0)
    net = deep_mlp(10, zero_init_residual=True).eval()
    h = torch.relu(torch.randn(8, 64))
    with torch.no_grad():
        assert torch.equal(net.blocks(h), h)


def test_eval_every_adds_test_evaluations_within_an_epoch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 1, 4, 4, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    hist = train_classifier(
        model, x, y, x, y, epochs=2, batch_size=16, eval_every=3, progress=False
    )
    # 8 steps per epoch: evaluations at 3, 6, 8 (epoch end), 9, 12, 15, 16 (epoch end)
    assert hist.epoch_step == [3, 6, 8, 9, 12, 15, 16]
    assert len(hist.test_err) == len(hist.epoch_step)
    plain = train_classifier(
        nn.Sequential(nn.Flatten(), nn.Linear(16, 2)),
        x,
        y,
        x,
        y,
        epochs=2,
        batch_size=16,
        progress=False,
    )
    assert plain.epoch_step == [8, 16]
