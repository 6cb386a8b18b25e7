"""What the chapters' prose says about the stored results, checked against them.

The numbers in the text are glued from ``results/``; the words around them ("worse",
"at or below", "more than the seeds' spread") are checked here.  When a result file is
replaced (a GPU run, a longer CPU run), a failing test names the sentence to rewrite.
"""

from __future__ import annotations

import pytest

from resnet_course.experiments.common import mean_std, metric
from resnet_course.results import load_result


def stats(result, name="train_err", **settings):
    values = metric(result, name, **settings)
    assert values, f"no runs with {settings} in {result['experiment']}"
    return mean_std(values)


def clearly_above(a, b):
    """Mean a exceeds mean b by more than both spreads together."""
    return a[0] - b[0] > a[1] + b[1]


def at_or_below(a, b):
    """Mean a is below mean b, or above it by less than the larger spread."""
    return a[0] - b[0] <= max(a[1], b[1])


@pytest.fixture(scope="module")
def cnn():
    return load_result("cnn_degradation")


@pytest.fixture(scope="module")
def mlp():
    return load_result("mlp_degradation")


def test_ch1_deep_plain_cnn_degrades_beyond_the_seed_spread(cnn):
    assert clearly_above(
        stats(cnn, kind="plain", depth=56), stats(cnn, kind="plain", depth=20)
    )
    assert clearly_above(
        stats(cnn, "test_err", kind="plain", depth=56),
        stats(cnn, "test_err", kind="plain", depth=20),
    )


def test_ch1_deep_residual_cnn_is_at_or_below_the_shallow_one(cnn):
    assert at_or_below(
        stats(cnn, kind="residual", depth=56), stats(cnn, kind="residual", depth=20)
    )
    assert at_or_below(
        stats(cnn, "test_err", kind="residual", depth=56),
        stats(cnn, "test_err", kind="residual", depth=20),
    )


def test_ch1_plain_mlp_degrades_more_with_every_depth(mlp):
    e6, e20, e50 = (stats(mlp, kind="plain", depth=d) for d in (6, 20, 50))
    assert clearly_above(e20, e6) and clearly_above(e50, e20)
    assert (e50[0] - e20[0]) > 3 * (e20[0] - e6[0])  # "sets in abruptly"


def test_ch1_residual_mlp_at_default_init_still_degrades_but_zero_init_does_not(mlp):
    r6, r50 = (stats(mlp, kind="residual", depth=d) for d in (6, 50))
    assert clearly_above(r50, r6)
    assert r50[0] < stats(mlp, kind="plain", depth=50)[0] / 2
    z = {d: stats(mlp, kind="residual, zero-init", depth=d) for d in (6, 20, 50)}
    assert at_or_below(z[50], z[6]) and at_or_below(z[20], z[6])


def test_ch1_plain56_is_behind_from_the_start_and_still_falls_in_the_second_half(cnn):
    for run in cnn["runs"]:
        if run["settings"]["kind"] == "plain" and run["settings"]["depth"] == 56:
            y = run["curves"]["train_err"]["y"]
            k = len(y) // 10
            assert sum(y[-k:]) < sum(y[5 * k : 6 * k]) - 0.02 * k, run["key"]
            twenty = next(
                r
                for r in cnn["runs"]
                if r["seed"] == run["seed"]
                and r["settings"]["depth"] == 20
                and r["settings"]["kind"] == "plain"
            )
            assert min(y[k : 2 * k]) > max(
                twenty["curves"]["train_err"]["y"][k : 2 * k]
            )
