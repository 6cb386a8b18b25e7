"""The trainer's loop, checked on the CPU on tiny runs: checkpoints, resume checks, the
non-finite-loss stop, settings checked before work, and the warm-up that leaves no
trace. (A real process killed mid-epoch and resumed: tests/test_cli.py.)"""

from __future__ import annotations

import math

import pytest
import torch

from resnet_course import checkpoint as ckpt
from resnet_course import trainer
from resnet_course.data import FashionMNIST, load_fashion_mnist
from resnet_course.trainer import NonFiniteLossError, TrainConfig, train

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


def test_checkpoint_holds_everything_and_loads_with_weights_only(
    tmp_path, tiny_data
):
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
            TrainConfig(
                **TINY, checkpoint_dir=str(tmp_path / "empty"), resume=True
            ),
            data=tiny_data,
        )


def test_non_finite_loss_stops_at_the_step_and_suggests_a_lower_rate(tiny_data):
    nan_images = torch.full_like(tiny_data.train_images, math.nan)
    data = FashionMNIST(
        nan_images,
        tiny_data.train_labels,
        tiny_data.test_images,
        tiny_data.test_labels,
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


class _StaticOutput(torch.nn.Module):
    """Returns the same output tensor on every call, overwritten in place: what a
    CUDA-graphed network (compile "reduce-overhead") does."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        y = x.sum(dim=(1, 2))
        if self.out is None:
            self.out = y.clone()
        return self.out.copy_(y)


def test_flip_tta_keeps_the_first_output_of_a_graph_that_reuses_its_buffer():
    from resnet_course.run_state import FlipTTA

    x = torch.arange(8.0).reshape(1, 1, 2, 4)  # flip(3) changes the column sums
    want = 0.5 * (x.sum(dim=(1, 2)) + x.flip(3).sum(dim=(1, 2)))
    assert torch.equal(FlipTTA(_StaticOutput())(x), want)


def test_deterministic_is_refused_on_cuda_before_any_work(monkeypatch):
    from resnet_course import train_config

    monkeypatch.setattr(
        train_config, "resolve_device", lambda name: torch.device("cuda")
    )
    # must not be reached
    monkeypatch.setattr(trainer, "load_fashion_mnist", None)
    with pytest.raises(ValueError, match="--deterministic runs only on the CPU"):
        train(TrainConfig(**{**TINY, "deterministic": True}, checkpoint_dir=""))
