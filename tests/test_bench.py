"""The benchmark's driver and recipes: every setting checked before the first run, the
recipes adapted to the run's size."""

import pytest

from resnet_course import bench
from resnet_course.recipes import RECIPES, recipe_config


def test_bench_checks_every_recipe_setting_before_the_d2l_baseline(monkeypatch):
    from resnet_course import bench

    def no_baseline(*args, **kwargs):
        raise AssertionError(
            "the d2l baseline ran before the settings were checked"
        )

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


def test_bench_json_is_rewritten_after_every_row_so_a_later_failure_keeps_it(
    tmp_path, monkeypatch, capsys
):
    """The GPU job's bench step may fail or be killed in its last recipe: the rows
    finished before must be on disk already."""
    import json

    from resnet_course.cli import main

    calls = []

    def failing_recipe(name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("compile failed on this GPU")
        return real(name, *args, **kwargs)

    real = bench.run_recipe
    monkeypatch.setattr(bench, "run_recipe", failing_recipe)
    out = tmp_path / "bench.json"
    argv = [
        "bench",
        "--profile",
        "smoke",
        "--device",
        "cpu",
        "--recipes",
        "fast,best",
    ]
    with pytest.raises(RuntimeError, match="compile failed"):
        main([*argv, "--seeds", "1", "--no-progress", "--json", str(out)])
    saved = json.loads(out.read_text())
    assert [r["recipe"] for r in saved["rows"]] == ["fast"]
    assert saved["meta"]["complete"] is False
    assert not list(tmp_path.glob("*.tmp"))


def test_bench_knobs_reach_our_recipes_and_bad_ones_are_refused(
    monkeypatch, capsys
):
    from resnet_course.cli import main

    seen = {}

    def record(name, data, seed=0, progress=True, **overrides):
        seen.update(overrides)
        raise SystemExit(0)

    monkeypatch.setattr(bench, "run_recipe", record)
    argv = ["bench", "--profile", "smoke", "--device", "cpu", "--recipes", "fast"]
    with pytest.raises(SystemExit):
        main([*argv, "--compile", "none", "--batch-size", "32"])
    assert seen["compile"] == "none" and seen["batch_size"] == 32
    assert main([*argv, "--compile", "turbo"]) == 2
    assert "compile must be one of" in capsys.readouterr().err
