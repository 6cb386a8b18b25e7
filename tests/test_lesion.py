"""Lesion utilities delete blocks on a copy and never touch the original model."""

import pytest
import torch
from torch import nn

from resnet_course import lesion
from resnet_course.cifar_resnet import cifar_resnet
from resnet_course.lesion import (
    delete_blocks,
    deletable_blocks,
    ordinary_blocks,
    random_lesion_errors,
    single_lesion_errors,
)


def model_and_data(residual=True):
    torch.manual_seed(0)
    model = cifar_resnet(14, residual=residual, widths=(4, 8, 16)).eval()
    g = torch.Generator().manual_seed(1)
    return (
        model,
        torch.rand(20, 1, 12, 12, generator=g),
        torch.randint(0, 10, (20,), generator=g),
    )


def test_downsampling_blocks_of_a_plain_network_are_not_deletable():
    model, _, _ = model_and_data(residual=False)
    assert deletable_blocks(model) == [
        0,
        1,
        3,
        5,
    ]  # blocks 2 and 4 open stages 2 and 3
    with pytest.raises(ValueError, match="downsampling"):
        delete_blocks(model, [2])
    with pytest.raises(IndexError):
        delete_blocks(model, [6])


def test_deleting_a_downsampling_block_of_a_resnet_keeps_its_shortcut_only():
    # Veit et al. deleted the residual branch of downsampling blocks too.
    model, x, _ = model_and_data()
    assert deletable_blocks(model) == list(range(6))
    lesioned = delete_blocks(model, [2])
    block = model.blocks()[2]
    with torch.no_grad():
        h = model.layer1(model.stem(x))
        torch.testing.assert_close(
            lesioned.blocks()[2](h), torch.relu(block.shortcut(h)), rtol=0, atol=0
        )
        assert not torch.allclose(lesioned.blocks()[2](h), block(h))


@pytest.mark.parametrize("residual", [True, False])
def test_deleting_blocks_leaves_the_original_model_untouched(residual):
    model, x, y = model_and_data(residual)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out = model(x)
    lesioned = delete_blocks(model, [0, 3])
    single_lesion_errors(model, x, y)
    random_lesion_errors(model, x, y, ks=[1, 2], trials=2)
    assert all(
        isinstance(b, nn.Module) and type(b).__name__ == "BasicBlock"
        for b in model.blocks()
    )
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    torch.testing.assert_close(model(x), out, rtol=0, atol=0)
    assert isinstance(lesioned.layer1[0], nn.Identity) and isinstance(
        lesioned.layer2[1], nn.Identity
    )
    assert not torch.allclose(lesioned(x), out)


def test_deleting_a_residual_block_keeps_its_shortcut():
    # With the residual branch zeroed, a block computes ReLU(x) = x on its
    # (non-negative) input, so deleting it must not change the output.
    model, x, _ = model_and_data()
    with torch.no_grad():
        model.layer1[1].bn2.weight.zero_()
        model.layer1[1].bn2.bias.zero_()
    torch.testing.assert_close(delete_blocks(model, [1])(x), model(x))


def test_random_lesions_delete_k_distinct_blocks(monkeypatch):
    model, x, y = model_and_data()
    deleted = []

    def recording_delete(model, indices):
        deleted.append(list(indices))
        return delete_blocks(model, indices)

    monkeypatch.setattr(lesion, "delete_blocks", recording_delete)
    errors = random_lesion_errors(model, x, y, ks=[0, 2, 4], trials=3)
    assert [len(errors[k]) for k in (0, 2, 4)] == [1, 3, 1]
    assert all(0 <= e <= 1 for v in errors.values() for e in v)
    assert [len(d) for d in deleted] == [0, 2, 2, 2, 4]
    for indices in deleted:
        assert len(set(indices)) == len(
            indices
        ), f"a block was drawn twice: {indices}"
        assert set(indices) <= set(ordinary_blocks(model))
    assert (
        len({tuple(sorted(d)) for d in deleted[1:4]}) > 1
    ), "the draws are not random"
