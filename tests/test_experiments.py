"""The experiments behind the chapters: plain data out, same seed same run, and the
numbers they compute are the ones their definitions say."""

from __future__ import annotations

import json

import pytest

from resnet_course.experiments import SIZES, experiments
from resnet_course.experiments.common import (
    binned_xy,
    mean_std,
    pm,
    subsample,
    summarise,
)


def test_every_experiment_has_every_size_and_an_expected_time():
    for exp in experiments().values():
        assert set(exp.sizes) == set(SIZES), exp.name
        assert set(exp.minutes) == set(SIZES), exp.name


@pytest.mark.parametrize("name", ["mlp_degradation", "identity", "lesion"])
def test_a_run_returns_json_data_and_the_same_seed_gives_the_same_run(
    name, fashion_dir
):
    exp = experiments()[name]
    spec = exp.plan(exp.sizes["smoke"], 1)[0]
    first, again = exp.run(spec, "cpu"), exp.run(spec, "cpu")
    assert json.loads(json.dumps(first)) == first  # plain data: JSON round-trips
    for out in (first, again):  # wall-clock times differ from run to run
        out["metrics"] = {
            k: v for k, v in out["metrics"].items() if "seconds" not in k
        }
    assert first == again


def test_plain_and_residual_runs_of_one_depth_have_the_same_parameters(
    fashion_dir,
):
    exp = experiments()["cnn_degradation"]
    specs = [
        s for s in exp.plan(exp.sizes["smoke"], 1) if s["settings"]["depth"] == 8
    ]
    params = {
        s["settings"]["kind"]: exp.run(s, "cpu")["metrics"]["parameters"]
        for s in specs
    }
    assert params["plain"] == params["residual"]


def test_the_validation_split_never_overlaps_the_training_images(fashion_dir):
    from resnet_course.experiments.common import splits

    d = splits(1000, 500, 10, 28)
    train = {bytes(x.numpy()) for x in d.train_x}
    assert not any(bytes(x.numpy()) in train for x in d.val_x)


def test_curves_are_subsampled_and_binned_as_documented():
    assert subsample(range(10), 4) == [0.0, 3.0, 6.0, 9.0]
    curve = binned_xy(list(range(1, 9)), [1, 3, 5, 7, 2, 2, 4, 4], 4)
    assert curve == {"x": [2.0, 4.0, 6.0, 8.0], "y": [2.0, 6.0, 2.0, 4.0]}


def test_summaries_give_mean_and_sample_sd_per_group():
    result = {
        "runs": [
            {"settings": {"kind": "a"}, "metrics": {"e": v}}
            for v in (0.1, 0.2, 0.3)
        ]
    }
    (row,) = summarise(result, ("kind",), ("e",))
    assert row["seeds"] == 3 and row["e_mean"] == pytest.approx(0.2)
    assert row["e_sd"] == pytest.approx(0.1)
    assert pm(row["e_mean"], row["e_sd"]) == "20.0 ± 10.0 %"
    assert mean_std([0.5]) == (0.5, 0.0)


def test_the_final_recipe_drops_only_what_the_validation_split_says(fashion_dir):
    from resnet_course.experiments.recipe import FULL, choose_recipe

    def runs(arm, accs):
        return [
            {"settings": {"arm": arm}, "seed": i, "metrics": {"val_acc": a}}
            for i, a in enumerate(accs)
        ]

    ablation = {
        "runs": runs(FULL, [0.80, 0.81, 0.82])
        + runs("no weight decay", [0.85, 0.86, 0.87])
        + runs("no label smoothing", [0.81, 0.82, 0.83])
    }
    assert choose_recipe(ablation) == ["no weight decay"]
    assert choose_recipe(None) == []
    one_seed = {"runs": [r for r in ablation["runs"] if r["seed"] == 0]}
    assert choose_recipe(one_seed) == []  # no spread to judge by


def test_a_recipe_run_trains_the_config_its_settings_give(monkeypatch):
    """Chapter 6 reads the recipe of the stored runs as ``run_config(settings)``:
    a run must train exactly that (plus its seed, device and ablated change),
    whatever the data it is handed."""
    import torch

    from resnet_course.data import FashionMNIST
    from resnet_course.experiments import recipe

    trained = []
    monkeypatch.setattr(recipe, "train", lambda cfg, data: trained.append(cfg))
    s = {**recipe.ABLATION.sizes["cpu"], "arm": recipe.FULL}
    images, labels = torch.zeros(100, 1, 28, 28), torch.zeros(100).long()
    data = FashionMNIST(images, labels, images, labels)  # not n_train images
    recipe._train(s, 3, data, "cpu", {})
    ran, read = trained[0], recipe.run_config(s)
    assert (ran.n_train, ran.ema, ran.lr) == (read.n_train, read.ema, read.lr)


#: The settings that say which networks an experiment compares.
NETWORKS = ("depths", "nets", "blocks", "block_counts", "kinds")


@pytest.mark.parametrize("name", sorted(experiments()))
def test_the_gpu_size_compares_the_networks_the_chapter_was_written_for(name):
    # A chapter's code and prose read the stored result by network (ch. 4 reads
    # ResNet-56's lesions, ch. 2 pools preact's runs by kind): a gpu.json with other
    # networks than the long size's would break the chapter in CI, or silently pool
    # them.  The gpu size changes width, resolution, data and epochs, not the networks.
    sizes = experiments()[name].sizes
    for key in NETWORKS:
        assert sizes["gpu"].get(key) == sizes["long"].get(key), (
            f"{name}: the gpu size's {key} {sizes['gpu'].get(key)} are not the long"
            f" size's {sizes['long'].get(key)}, which chapter"
            f" {experiments()[name].chapter} is written for"
        )


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_full_recipe_is_tested_again_in_fp32_only_after_another_precision(
    precision, fashion_dir, monkeypatch
):
    """An fp32 run's own test is the fp32 test its no-EMA and no-TTA variants are
    compared with: it is not run twice.  After a bf16 run (a GPU's) it is."""
    from resnet_course.experiments import recipe

    trained = recipe._train

    def in_precision(*args):
        cfg, result = trained(*args)
        result.history.precision = precision  # as the trainer records it
        return cfg, result

    monkeypatch.setattr(recipe, "_train", in_precision)
    exp = experiments()["ablation"]
    spec = exp.plan(exp.sizes["smoke"], 1)[0]
    assert spec["settings"]["arm"] == recipe.FULL
    metrics = exp.run(spec, "cpu")["metrics"]
    assert {"val_acc_no_ema", "val_acc_no_tta"} <= set(metrics)
    assert ("val_acc_fp32" in metrics) == (precision == "bf16")
