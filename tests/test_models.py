"""Whole networks and the trainer's registry of them."""

import pytest
import torch

from resnet_course.models import (
    MODELS,
    build_model,
    cifar_resnet18,
    count_parameters,
    d2l_resnet18,
)


def test_cifar_resnet18_keeps_28_pixels_in_its_first_stage():
    model = cifar_resnet18()
    assert count_parameters(model) == 11_172_810
    x = torch.zeros(2, 1, 28, 28)
    assert model.layer1(model.relu(model.bn1(model.conv1(x)))).shape == (
        2,
        64,
        28,
        28,
    )
    assert model(x).shape == (2, 10)
    assert cifar_resnet18(width=8)(x).shape == (2, 10)


def test_build_model_knows_every_registered_name_and_refuses_others():
    assert set(MODELS) == {"cifar_resnet18", "d2l_resnet18"}
    assert count_parameters(build_model("d2l_resnet18")) == count_parameters(
        d2l_resnet18()
    )
    assert build_model("cifar_resnet18", width=8).fc.in_features == 64
    with pytest.raises(ValueError, match="unknown model 'resnet9000'"):
        build_model("resnet9000")
