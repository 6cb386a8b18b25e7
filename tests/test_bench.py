"""The benchmark's driver and recipes: every setting checked before the first run, the
recipes adapted to the run's size."""

import pytest

from resnet_course import bench
from resnet_course.recipes import RECIPES, recipe_config


def test_bench_checks_every_recipe_setting_before_the_d2l_baseline(monkeypatch):
    from resnet_course import bench

    def no_baseline(*args, **kwargs):
        raise AssertionError("the d2l baseline ran before the settings were checked")

    monkeypatch.setattr(bench, "run_d2l_baseline", no_baseline)
    big_batch = {**bench.sizes("smoke"), "batch_size": 10**6}
    monkeypatch.setattr(bench, "sizes", lambda profile: big_batch)
    with pytest.raises(ValueError, match="larger than the training set"):
        bench.run_bench("smoke", "cpu", ("d2l", "fast"), log=lambda *a: None)


def test_recipes_scale_the_learning_rate_with_the_batch_and_shrink_the_ema():
    full = recipe_config("best")
    assert full.lr == RECIPES["best"]["lr"] and full.ema == RECIPES["best"]["ema"]
    small = recipe_config("best", batch_size=128, n_train=2048, epochs=8)
    assert small.lr == pytest.approx(RECIPES["best"]["lr"] / 4)
    assert 0.9 <= small.ema < RECIPES["best"]["ema"]
    assert recipe_config("fast", lr=0.3).lr == 0.3  # an explicit rate is kept
    assert recipe_config("fast").checkpoint_dir == ""
