"""The run's state in one object: saved, restored and snapshotted whole -- and the
warm-up, compiled, leaves no trace of its steps."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from resnet_course import trainer
from resnet_course.data import load_fashion_mnist
from resnet_course.run_state import RunState
from resnet_course.trainer import TrainConfig, train, train_step, warm_up

TINY = dict(
    width=4,
    n_train=128,
    n_test=64,
    batch_size=64,
    epochs=2,
    lr=0.1,
    ema=0.9,
    random_erasing=0.5,
    deterministic=True,
    device="cpu",
    progress=False,
    checkpoint_dir="",
)


@pytest.fixture(scope="module")
def tiny_data():
    return load_fashion_mnist("cpu", n_train=128, n_test=64)


def equal(a, b) -> bool:
    """Deep equality of nested dicts, lists and tensors (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return a == b


def batches(data, n=3, size=64):
    for i in range(n):
        yield data.train_images[i * size : (i + 1) * size], data.train_labels[
            i * size : (i + 1) * size
        ]


def test_snapshot_undoes_training_steps_and_load_state_dict_continues(tiny_data):
    cfg = TrainConfig(**TINY)
    state = RunState.create(cfg, torch.device("cpu"), steps_per_epoch=2)
    before = copy.deepcopy(state.state_dict())
    with state.snapshot():
        for x, y in batches(tiny_data):
            train_step(state, x, y, cfg)
        assert state.step == 3 and not equal(
            state.state_dict()["model"], before["model"]
        )
    assert equal(state.state_dict(), before), "the snapshot left a trace"
    for x, y in batches(tiny_data, 1):
        train_step(state, x, y, cfg)
    saved = copy.deepcopy(state.state_dict())  # the random state included
    x, y = next(batches(tiny_data, 1))
    train_step(state, x, y, cfg)
    other = RunState.create(cfg, torch.device("cpu"), steps_per_epoch=2)
    other.load_state_dict(saved)
    assert equal(other.state_dict(), saved)
    train_step(other, x, y, cfg)  # the same step from the restored state
    assert equal(state.state_dict(), other.state_dict())


@pytest.fixture
def compile_without_a_compiler(monkeypatch):
    """torch.compile traced by dynamo and AOTAutograd, run by eager kernels: the
    compile path in seconds, without inductor's C++ build."""
    monkeypatch.setattr(
        torch, "compile", functools.partial(torch.compile, backend="aot_eager")
    )


def test_the_compiled_warm_up_leaves_the_weights_unchanged(
    tiny_data, compile_without_a_compiler
):
    cfg = TrainConfig(**TINY, compile="default", warmup_steps=3)
    state = RunState.create(cfg, torch.device("cpu"), steps_per_epoch=2)
    assert state.history.compile == "default"
    before = copy.deepcopy(state.state_dict())
    x, y = tiny_data.train_images, tiny_data.train_labels
    seconds = warm_up(
        state, cfg, x, y, tiny_data.test_images, tiny_data.test_labels
    )
    assert seconds > 0
    assert equal(
        state.state_dict(), before
    ), "the warm-up changed the run's state"


def test_a_run_with_the_warm_up_ends_as_one_without(
    tiny_data, compile_without_a_compiler
):
    cfg = TrainConfig(**TINY, compile="default")
    warmed = train(cfg, data=tiny_data, warmup_steps=3)
    cold = train(cfg, data=tiny_data, warmup_steps=0)
    assert warmed.history.warmup_seconds > 0 and cold.history.warmup_seconds == 0
    assert equal(warmed.model.state_dict(), cold.model.state_dict())
    assert warmed.history.train_loss == cold.history.train_loss
    assert warmed.history.test_acc == cold.history.test_acc
