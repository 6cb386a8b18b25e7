"""The figures of stored results: what they compute from a result before drawing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from resnet_course.figures import (
    ablation_changes,
    plot_ablation,
    plot_final,
)  # noqa: E402


def run(seed, arm, val_acc, **extra):
    return {
        "seed": seed,
        "settings": {"arm": arm},
        "metrics": {"val_acc": val_acc, **extra},
        "curves": {"epoch": [1, 2], "heldout_acc": [0.5, val_acc]},
    }


@pytest.fixture
def ablation():
    full = dict(val_acc_no_ema=0.0, val_acc_no_tta=0.0)
    return {
        "runs": [
            run(1, "full recipe", 0.80, **{**full, "val_acc_no_ema": 0.81}),
            run(0, "no EMA-free arm", 0.95),
            run(0, "full recipe", 0.90, **{**full, "val_acc_no_ema": 0.92}),
            run(1, "no EMA-free arm", 0.70),
        ]
    }


def test_ablation_changes_are_paired_with_the_full_recipe_of_the_same_seed(
    ablation,
):
    changes = ablation_changes(ablation)
    # seed 0: 0.95 - 0.90, seed 1: 0.70 - 0.80 (not against the other seed's full run)
    assert changes["no EMA-free arm"] == pytest.approx([0.05, -0.10])
    assert changes["no EMA"] == pytest.approx([0.02, 0.01])
    assert changes["no flip TTA"] == pytest.approx([-0.90, -0.80])


def test_ablation_and_final_figures_draw_one_row_per_arm(ablation):
    fig = plot_ablation(ablation)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "no EMA-free arm",
        "no EMA",
        "no flip TTA",
    ]
    final = {"runs": [run(s, "final", 0.9 + s / 100) for s in range(3)]}
    for r in final["runs"]:
        r["metrics"]["test_acc"] = r["metrics"]["val_acc"]
    assert len(plot_final(final).axes) == 2


def test_no_ema_and_no_tta_are_compared_with_the_full_recipe_tested_in_fp32(
    ablation,
):
    """On a GPU, val_acc is tested in bf16 and the two variants in fp32: the
    change must not contain the difference of the two precisions."""
    for r in ablation["runs"]:
        if r["settings"]["arm"] == "full recipe":
            r["metrics"]["val_acc_fp32"] = r["metrics"]["val_acc"] + 0.005
    changes = ablation_changes(ablation)
    assert changes["no EMA"] == pytest.approx([0.015, 0.005])
    assert changes["no EMA-free arm"] == pytest.approx([0.05, -0.10])
