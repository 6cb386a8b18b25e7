import math

import pytest
import torch
from torch import nn

from resnet_course.training import (
    NonFiniteLossError,
    evaluate,
    train_classifier,
)


def toy_problem(n=256):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 4, 4, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    return x, y


def test_training_lowers_the_loss_on_a_learnable_problem():
    x, y = toy_problem()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    before, _ = evaluate(model, x, y)
    hist = train_classifier(
        model, x, y, x, y, epochs=5, batch_size=32, lr=0.1, progress=False
    )
    assert hist.test_loss[-1] < before / 2
    assert hist.final_test_err < 0.1
    assert len(hist.test_err) == 5 and hist.epoch_step[-1] == 5 * (256 // 32)


def test_same_seed_gives_the_same_run():
    x, y = toy_problem()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        runs.append(
            train_classifier(
                model, x, y, x, y, epochs=2, batch_size=32, progress=False
            ).train_loss
        )
    assert runs[0] == runs[1]


def test_non_finite_loss_names_the_step_and_suggests_a_lower_rate():
    x, y = toy_problem()
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.fill_(math.inf)
    with pytest.raises(
        NonFiniteLossError, match=r"step \d+ of .*lower learning rate"
    ):
        train_classifier(
            model,
            x,
            y,
            x,
            y,
            epochs=1,
            batch_size=32,
            log_every=1,
            progress=False,
        )


def test_invalid_settings_fail_before_training():
    x, y = toy_problem()
    model = nn.Linear(16, 2)
    with pytest.raises(ValueError, match="positive"):
        train_classifier(model, x, y, x, y, epochs=0)
    with pytest.raises(ValueError, match="larger than the training set"):
        train_classifier(model, x, y, x, y, epochs=1, batch_size=1000)
