"""Our seed-signature Residual computes exactly what d2l 1.0.3's lazy Residual
computes."""

import pytest
import torch

from resnet_course.blocks import Residual

d2l = pytest.importorskip("d2l.torch")


@pytest.mark.parametrize(
    "cin,cout,use_1x1conv,strides",
    [(3, 3, False, 1), (3, 6, True, 2), (8, 8, True, 1)],
)
def test_same_weights_give_identical_outputs(cin, cout, use_1x1conv, strides):
    torch.manual_seed(0)
    ours = Residual(cin, cout, use_1x1conv=use_1x1conv, strides=strides)
    theirs = d2l.Residual(cout, use_1x1conv=use_1x1conv, strides=strides)
    x = torch.randn(4, cin, 6, 6)
    theirs(x)  # materialise the lazy layers
    theirs.load_state_dict(ours.state_dict())
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        assert torch.equal(ours(x), theirs(x)), f"outputs differ in {mode} mode"


def test_state_dict_keys_match_so_weights_can_move_between_them():
    ours = Residual(3, 6, use_1x1conv=True, strides=2)
    theirs = d2l.Residual(6, use_1x1conv=True, strides=2)
    theirs(torch.randn(1, 3, 6, 6))
    assert set(ours.state_dict()) == set(theirs.state_dict())
