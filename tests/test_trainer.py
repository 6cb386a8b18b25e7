"""The GPU trainer, checked on the CPU on tiny runs: resumable, safe, and correct in its
parts."""

from __future__ import annotations

import math

import pytest
import torch

from resnet_course import checkpoint as ckpt
from resnet_course import trainer
from resnet_course.augment import augment_batch, random_erasing
from resnet_course.data import FashionMNIST, load_fashion_mnist
from resnet_course.models import cifar_resnet18, count_parameters
from resnet_course.trainer import NonFiniteLossError, TrainConfig, lr_factor, train

TINY = dict(
    model="cifar_resnet18",
    width=4,
    n_train=192,
    n_test=128,
    batch_size=64,
    epochs=2,
    lr=0.1,
    ema=0.9,
    random_erasing=0.5,
    deterministic=True,
    device="cpu",
    progress=False,
)


@pytest.fixture(scope="module")
def tiny_data():
    return load_fashion_mnist("cpu", n_train=192, n_test=128)


def test_checkpoint_holds_everything_and_loads_with_weights_only(tmp_path, tiny_data):
    train(
        TrainConfig(**{**TINY, "epochs": 1}, checkpoint_dir=str(tmp_path)),
        data=tiny_data,
    )
    state = ckpt.load_checkpoint(tmp_path)  # the package's own loader
    assert {
        "model",
        "optimizer",
        "scheduler",
        "scaler",
        "ema",
        "rng",
        "epoch",
        "history",
        "config",
    } <= set(state)
    assert (
        state["epoch"] == 1 and state["optimizer"]["state"]
    ), "optimiser state (momentum) missing"
    assert set(state["rng"]) >= {"torch", "generator"}


def test_resume_with_other_settings_is_refused(tmp_path, tiny_data):
    train(
        TrainConfig(**{**TINY, "epochs": 1}, checkpoint_dir=str(tmp_path)),
        data=tiny_data,
    )
    with pytest.raises(ValueError, match=r"other settings: lr=0\.1 \(now 0\.2\)"):
        train(
            TrainConfig(
                **{**TINY, "epochs": 1, "lr": 0.2},
                checkpoint_dir=str(tmp_path),
                resume=True,
            ),
            data=tiny_data,
        )


def test_resume_without_a_checkpoint_says_so(tmp_path, tiny_data):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(
            TrainConfig(**TINY, checkpoint_dir=str(tmp_path / "empty"), resume=True),
            data=tiny_data,
        )


def test_non_finite_loss_stops_at_the_step_and_suggests_a_lower_rate(tiny_data):
    nan_images = torch.full_like(tiny_data.train_images, math.nan)
    data = FashionMNIST(
        nan_images, tiny_data.train_labels, tiny_data.test_images, tiny_data.test_labels
    )
    # 3 steps per epoch, checked every 2: the periodic check stops the run at step 2,
    # before the end-of-epoch check would (step 3).
    cfg = TrainConfig(**{**TINY, "ema": 0.0}, checkpoint_dir="", check_every=2)
    with pytest.raises(
        NonFiniteLossError,
        match=r"step 1 of 6 .*stopped at step 2\. .*lower learning rate than lr=0\.1",
    ):
        train(cfg, data=data)


@pytest.mark.parametrize(
    "setting,message",
    [
        (dict(epochs=-1), "epochs must be at least 1"),
        (dict(model="resnet9000"), "unknown model 'resnet9000'"),
        (dict(batch_size=70_000, n_train=0), "larger than the training set"),
        (dict(batch_size=300, n_train=192), "larger than the training set"),
        (dict(precision="fp16", device="cpu"), "fp16 needs a GPU"),
        (dict(lr=-0.1), "lr must be a positive number"),
        (dict(schedule="triangle"), "schedule must be one of"),
    ],
)
def test_invalid_settings_raise_before_any_work(monkeypatch, setting, message):
    def no_loading(*args, **kwargs):
        raise AssertionError("data were loaded before the settings were checked")

    monkeypatch.setattr(trainer, "load_fashion_mnist", no_loading)
    with pytest.raises(ValueError, match=message):
        train(TrainConfig(**{**TINY, **setting}, checkpoint_dir=""))


def test_onecycle_warms_up_to_the_peak_and_decays_to_zero():
    total = 100
    factors = [lr_factor(s, total, "onecycle", 0.2) for s in range(total)]
    assert factors[19] == 1.0 and max(factors) == 1.0
    assert factors[0] == pytest.approx(1 / 20)
    assert factors[-1] == pytest.approx(1 / 80) and all(
        a >= b for a, b in zip(factors[19:], factors[20:])
    )
    assert lr_factor(5, total, "constant", 0.2) == 1.0


def test_random_erasing_erases_one_rectangle_per_image_or_none():
    torch.manual_seed(0)
    x = torch.full(
        (64, 1, 12, 12), -1.0
    )  # noise fill is in [0, 1): erased pixels are >= 0
    out = random_erasing(x, p=1.0)
    for img in out[:, 0]:
        erased = img >= 0
        rows, cols = (
            erased.any(1).nonzero().flatten(),
            erased.any(0).nonzero().flatten(),
        )
        assert erased.sum() > 0, "p=1 must erase every image"
        box = erased[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all(), "the erased pixels are not one filled rectangle"
    assert torch.equal(random_erasing(x, p=0.0), x)
    assert augment_batch(x, crop_flip=False, erase=0.0) is x


def test_cifar_resnet18_keeps_28_pixels_in_its_first_stage():
    model = cifar_resnet18()
    assert count_parameters(model) == 11_172_810
    x = torch.zeros(2, 1, 28, 28)
    assert model.layer1(model.relu(model.bn1(model.conv1(x)))).shape == (2, 64, 28, 28)
    assert model(x).shape == (2, 10)
    assert cifar_resnet18(width=8)(x).shape == (2, 10)


def test_d2l_baseline_records_accuracy_and_time_per_epoch():
    from resnet_course.bench import run_d2l_baseline

    hist, extras = run_d2l_baseline(
        epochs=1, batch_size=32, resize=28, n_train=160, n_test=32, device="cpu"
    )
    assert hist.epoch == [1] and 0.0 <= hist.test_acc[0] <= 1.0
    assert 0 < hist.train_seconds[0] <= extras["wall_seconds"]
    assert "test acc" in extras["d2l_printout"], "d2l's own printout was not captured"


def test_d2l_baseline_refuses_fewer_batches_than_train_ch6_needs():
    from resnet_course.bench import run_d2l_baseline

    with pytest.raises(ValueError, match="at least 5 batches"):
        run_d2l_baseline(
            epochs=1, batch_size=64, resize=28, n_train=128, n_test=32, device="cpu"
        )
