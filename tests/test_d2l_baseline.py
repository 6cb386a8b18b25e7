"""d2l's own train_ch6, run and measured, and d2l left as it was found."""

import pytest

from resnet_course.d2l_baseline import run_d2l_baseline

d2l = pytest.importorskip("d2l.torch")


def test_d2l_baseline_records_accuracy_and_time_per_epoch():
    hist, extras = run_d2l_baseline(
        epochs=1, batch_size=32, resize=28, n_train=160, n_test=32, device="cpu"
    )
    assert hist.epoch == [1] and 0.0 <= hist.test_acc[0] <= 1.0
    assert 0 < hist.train_seconds[0] <= extras["wall_seconds"]
    assert (
        "test acc" in extras["d2l_printout"]
    ), "d2l's own printout was not captured"


def test_d2l_baseline_refuses_fewer_batches_than_train_ch6_needs():
    with pytest.raises(ValueError, match="at least 5 batches"):
        run_d2l_baseline(
            epochs=1,
            batch_size=64,
            resize=28,
            n_train=128,
            n_test=32,
            device="cpu",
        )


def test_d2l_is_unpatched_afterwards():
    before = d2l.evaluate_accuracy_gpu, d2l.Animator
    run_d2l_baseline(
        epochs=1, batch_size=32, resize=28, n_train=160, n_test=32, device="cpu"
    )
    assert (d2l.evaluate_accuracy_gpu, d2l.Animator) == before


def test_the_first_device_use_leaves_the_runs_random_numbers_alone():
    """d2l's run seeds itself after it; still, it must not draw from them."""
    import torch

    from resnet_course.d2l_baseline import first_device_use

    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    first_device_use(torch.device("cpu"), 28)
    assert torch.equal(torch.random.get_rng_state(), before)
