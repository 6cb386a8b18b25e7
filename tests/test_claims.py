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
        stats(cnn, kind="residual", depth=56),
        stats(cnn, kind="residual", depth=20),
    )
    assert at_or_below(
        stats(cnn, "test_err", kind="residual", depth=56),
        stats(cnn, "test_err", kind="residual", depth=20),
    )


def test_ch1_resnet56_and_resnet20_differ_by_no_more_than_the_seed_spread(cnn):
    # "The difference between the two is no larger than the seeds' spread, so these
    # runs show that the extra layers do not hurt, not that they help."
    a, b = (stats(cnn, kind="residual", depth=d) for d in (56, 20))
    assert abs(a[0] - b[0]) <= max(a[1], b[1])


def test_ch1_plain50_mlp_is_the_top_running_curve(mlp):
    # The caption: "read plain-50, the top curve, against the rest there".
    top = stats(mlp, "train_err_running", kind="plain", depth=50)[0]
    for kind in ("plain", "residual", "residual, zero-init"):
        for depth in (6, 20, 50):
            if (kind, depth) != ("plain", 50):
                other = stats(mlp, "train_err_running", kind=kind, depth=depth)
                assert top > other[0], (kind, depth)


def test_ch1_plain_mlp_degrades_more_with_every_depth(mlp):
    e6, e20, e50 = (stats(mlp, kind="plain", depth=d) for d in (6, 20, 50))
    assert clearly_above(e20, e6) and clearly_above(e50, e20)
    assert (e50[0] - e20[0]) > 3 * (e20[0] - e6[0])  # "sets in abruptly"


def test_ch1_residual_mlp_at_default_init_still_degrades_but_zero_init_does_not(
    mlp,
):
    r6, r50 = (stats(mlp, kind="residual", depth=d) for d in (6, 50))
    assert clearly_above(r50, r6)
    assert r50[0] < stats(mlp, kind="plain", depth=50)[0] / 2
    z = {d: stats(mlp, kind="residual, zero-init", depth=d) for d in (6, 20, 50)}
    assert at_or_below(z[50], z[6]) and at_or_below(z[20], z[6])


def test_ch1_plain56_is_behind_from_the_start_and_still_falls_in_the_second_half(
    cnn,
):
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


@pytest.fixture(scope="module")
def lesion():
    return load_result("lesion")


def lesion_rises(lesion, kind, depth, downsampling=False):
    rises = []
    for run in lesion["runs"]:
        s = run["settings"]
        if (s["kind"], s["depth"]) != (kind, depth):
            continue
        down = set(run["curves"]["downsampling"])
        for i, err in run["curves"]["single"].items():
            if (int(i) in down) == downsampling:
                rises.append(err - run["metrics"]["test_err"])
    return rises


def test_ch4_intact_networks_are_comparable_before_the_lesions(lesion):
    res, plain = (
        stats(lesion, "test_err", kind=k, depth=20) for k in ("residual", "plain")
    )
    assert abs(res[0] - plain[0]) < 0.03  # "comparable errors"


def test_ch4_one_deletion_breaks_plain20_but_not_most_resnet_blocks(lesion):
    import numpy as np

    plain = lesion_rises(lesion, "plain", 20)
    res20 = lesion_rises(lesion, "residual", 20)
    res56 = lesion_rises(lesion, "residual", 56)
    assert min(plain) > np.median(res20)  # "no deletion of plain-20 comes close"
    assert np.median(res56) < 0.02 and np.mean(np.array(res56) < 0.02) > 0.6
    down56 = lesion_rises(lesion, "residual", 56, downsampling=True)
    assert np.median(res56) < min(down56)  # "more than most ordinary blocks"


def test_ch4_k_deletions_degrade_step_by_step_and_faster_than_additively(lesion):
    import numpy as np

    runs = [r for r in lesion["runs"] if r["settings"]["depth"] == 56]
    means = [
        np.mean([e for r in runs for e in r["curves"]["random"][str(k)]])
        for k in range(9)
    ]
    # no sudden collapse...
    assert all(b > a - 0.02 for a, b in zip(means, means[1:]))
    assert means[1] < 0.25 and means[8] < 0.8  # ...and not at once
    single = np.mean(lesion_rises(lesion, "residual", 56))
    assert means[4] - means[0] > 4 * single and means[8] - means[0] > 8 * single


def test_ch4_most_gradient_comes_from_paths_shorter_than_the_typical_path(lesion):
    import numpy as np

    runs = [r for r in lesion["runs"] if r["settings"]["depth"] == 56]
    share = np.mean([r["curves"]["paths"]["share"] for r in runs], axis=0)
    assert (share * np.arange(len(share))).sum() < (len(share) - 1) / 2


@pytest.fixture(scope="module")
def ratios():
    return load_result("gradient_ratios")


def test_ch3_plain32_does_not_train_and_its_gradient_vanishes(ratios):
    for run in ratios["runs"]:
        s, m = run["settings"], run["metrics"]
        if (s["kind"], s["blocks"]) == ("plain", 32):
            assert (
                not m["diverged"]
                and m["train_err"] > 0.5
                and m["ratio_bottom"] < 0.1
            )
        if (s["kind"], s["blocks"]) == ("plain", 8):
            assert m["train_err"] < 0.2 and m["ratio_bottom"] > 1
        if (s["kind"], s["blocks"]) == ("plain", 128):
            assert m["diverged"]


def test_ch3_residual_gradients_stay_about_the_tops_after_training(ratios):
    lows = []
    for run in ratios["runs"]:
        if run["settings"]["kind"] == "residual":
            m = run["metrics"]
            assert not m["diverged"] and m["train_err"] < 0.15
            assert m["min_ratio_below_top"] > 0.99, run["key"]  # "about as large"
            lows.append(m["min_ratio_below_top"])
    # the text: "a ratio just below one ... shows it can happen"
    assert min(lows) < 1.0


@pytest.fixture(scope="module")
def identity():
    return load_result("identity")


def test_ch2_residual_stacks_start_further_but_end_closer_to_the_identity(
    identity,
):
    for n in (2, 8, 16):
        plain = metric(identity, "final_loss", kind="plain", n_blocks=n)
        residual = metric(identity, "final_loss", kind="residual", n_blocks=n)
        assert max(residual) < min(plain), f"{n} blocks: not in every seed"
        assert (
            stats(identity, "first_loss", kind="residual", n_blocks=n)[0]
            > stats(identity, "first_loss", kind="plain", n_blocks=n)[0]
        )


def test_ch2_identity_gets_harder_with_depth_and_plain16_stalls(identity):
    for kind in ("plain", "residual"):
        assert (
            stats(identity, "final_loss", kind=kind, n_blocks=16)[0]
            > stats(identity, "final_loss", kind=kind, n_blocks=2)[0]
        )
    half = metric(identity, "loss_at_half", kind="plain", n_blocks=16)
    end = metric(identity, "final_loss", kind="plain", n_blocks=16)
    assert all(
        1 - e / h < 0.2 for e, h in zip(end, half)
    ), "plain-16 does not stall"


def test_ch2_preact_is_consistently_but_only_slightly_better():
    preact = load_result("preact")
    post = metric(preact, "test_err", kind="post-activation")
    pre = metric(preact, "test_err", kind="pre-activation")
    gaps = [a - b for a, b in zip(post, pre)]
    assert all(g > 0 for g in gaps), "not lower in every seed"
    gap = mean_std(post)[0] - mean_std(pre)[0]
    spread = max(mean_std(post)[1], mean_std(pre)[1])
    assert 0 < gap < 0.01, "the text calls it a gain under a point"
    assert spread < gap < 4 * spread, "the text calls it about twice the spread"


def test_ch2_a_hand_built_plain_stack_is_far_closer_to_the_identity():
    # "far below where training left the plain stacks": batch norm's mini-batch
    # statistics are not what holds the plain stacks back.
    g = glued("02_residual_learning.ipynb")
    for n in (2, 8, 16):
        assert number(g[f"id_built_{n}"]) < number(g[f"id_plain_{n}"]) / 5, n


def test_ch3_the_bn_gradient_grows_about_like_the_variance():
    # "measured, the gradient grows about like the variance itself"
    g = glued("03_backprop.ipynb")
    assert 2 / 3 < number(g["var_bn_grad"]) / number(g["var_bn_total"]) < 1.5


def test_ch2_plain_stacks_stall_earlier_the_deeper_they_are(identity):
    def fell(n):
        half = metric(identity, "loss_at_half", kind="plain", n_blocks=n)
        end = metric(identity, "final_loss", kind="plain", n_blocks=n)
        return sum(1 - e / h for e, h in zip(end, half)) / len(end)

    assert fell(2) > fell(8) > fell(16)


def test_ch2_preact_starts_behind_and_ends_ahead_and_the_gap_is_the_projection_bns():
    preact = load_result("preact")

    def mean_curve(kind):
        curves = [
            r["curves"]["test_err"]["y"]
            for r in preact["runs"]
            if r["settings"]["kind"] == kind
        ]
        return [sum(ys) / len(ys) for ys in zip(*curves)]

    post, pre = mean_curve("post-activation"), mean_curve("pre-activation")
    assert (
        pre[0] > post[0]
    ), "the text says pre-activation is behind after epoch 1"
    assert all(a > b for a, b in zip(post[-3:], pre[-3:])), "not ahead at the end"
    widths = preact["runs"][0]["settings"]["widths"]
    gap = (
        metric(preact, "parameters", kind="post-activation")[0]
        - metric(preact, "parameters", kind="pre-activation")[0]
    )
    assert gap == 2 * (widths[1] + widths[2])


def test_ch3_residual_training_error_rises_with_depth_as_the_text_admits(ratios):
    err = [stats(ratios, kind="residual", blocks=n)[0] for n in (8, 32, 128)]
    assert err[0] < err[1] < err[2]


@pytest.fixture(scope="module")
def ablation():
    return load_result("ablation")


def test_ch6_regularisers_cost_accuracy_at_this_size_and_only_tta_helps_every_seed(
    ablation,
):
    from resnet_course.figures import ablation_changes

    changes = ablation_changes(ablation)
    for arm in ("no random erasing", "no crop and flip", "no EMA"):
        assert all(
            v > 0 for v in changes[arm]
        ), f"{arm}: not higher in every seed"
    assert all(v < 0 for v in changes["no flip TTA"])
    assert sum(v < 0 for v in changes["plain momentum (no Nesterov)"]) >= 2
    # "only one removal changes the accuracy by more than the seeds' spread"
    full_sd = stats(ablation, "val_acc", arm="full recipe")[1]
    assert mean_std(changes["no random erasing"])[0] > full_sd
    for arm in set(changes) - {"no random erasing"}:
        assert (
            abs(mean_std(changes[arm])[0]) < full_sd
        ), f"{arm} beyond the spread"


def test_ch6_the_rule_drops_random_erasing_and_the_final_seeds_agree(ablation):
    from resnet_course.experiments.recipe import choose_recipe

    assert choose_recipe(ablation) == ["no random erasing"]
    final = load_result("final")
    assert final["runs"][0]["settings"]["dropped"] == ["no random erasing"]
    sd = stats(final, "test_acc")[1]
    assert sd < 0.005 and sd < stats(ablation, "val_acc", arm="full recipe")[1]


def glued(notebook: str) -> dict[str, str]:
    """The values a chapter's stored outputs glue into its text."""
    import nbformat

    from book_files import BOOK

    nb = nbformat.read(BOOK / notebook, as_version=4)
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "scrapbook" in out.get("metadata", {}):
                text = [
                    v for k, v in out["data"].items() if k.endswith("text/plain")
                ]
                values[out["metadata"]["scrapbook"]["name"]] = text[0]
    return values


def number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def test_ch7_syncbn_matches_one_process_in_fp64_and_per_process_bn_does_not():
    g = glued("07_data_parallel.ipynb")
    assert number(g["ddp_fp64_sync_diff"]) < 1e-6  # "rounding", amplified
    assert number(g["ddp_fp64_per_diff"]) > 1e-2  # "a different training run"
    # "their accuracies are"
    assert g["ddp_fp64_sync_acc"] == g["ddp_fp64_one_acc"]
    # "far more than in fp64"
    assert number(g["ddp_fp32_sync_diff"]) > 1e3 * number(g["ddp_fp64_sync_diff"])


def test_ch7_two_processes_are_faster_and_syncbn_costs():
    g = glued("07_data_parallel.ipynb")
    # "It shows that two processes are faster than one, not by how much": one
    # short timed run per row lands on either side of twice (1.70, then 2.30).
    assert number(g["ddp_speedup"]) > 1
    assert number(g["ddp_sync_cost"]) > 0  # "SyncBN costs another ..."
    # "On this CPU, SyncBN costs more than the second process gains"
    assert number(g["ddp_sync_vs_one"]) < 1
    # "There SyncBN costs ... of the throughput, a smaller share than in fp32"
    assert number(g["ddp_fp64_sync_cost"]) < number(g["ddp_sync_cost"])
    # "about 8 GPUs on NVLink, and already at 2 GPUs over PCIe"
    assert (
        abs(number(g["paper_ratio_8"]) / number(g["balance_nvlink"]) - 1) < 0.15
    )
    assert abs(number(g["paper_ratio_2"]) / number(g["balance_pcie"]) - 1) < 0.15


def test_ch7_what_syncbn_adds_grows_less_than_the_rest_of_the_step():
    # "what it adds grows less than in proportion to the rest of the step"
    g = glued("07_data_parallel.ipynb")
    added = number(g["ddp_fp64_sync_ms"]) / number(g["ddp_fp32_sync_ms"])
    rest = number(g["ddp_fp64_per_ms"]) / number(g["ddp_fp32_per_ms"])
    assert added < rest


@pytest.mark.parametrize("widths", [(4, 8, 16), (16, 32, 64), (3, 5, 7)])
def test_preact_parameter_gap_is_the_shortcut_batch_norms(widths):
    """Chapter 2 derives the post- minus pre-activation parameter count as the two
    shortcut batch norms, 2 (w2 + w3): the other batch-norm differences cancel."""
    from resnet_course.experiments.preact import build
    from resnet_course.models import count_parameters

    post = build("post-activation", 20, widths)
    pre = build("pre-activation", 20, widths)
    assert count_parameters(post) - count_parameters(pre) == 2 * (
        widths[1] + widths[2]
    )


def test_ch5_resnet18_learns_far_above_chance():
    # "the test accuracy climbs far above chance (10 %)"
    assert number(glued("05_residual_block_code.ipynb")["ch5_test_acc"]) > 50


def test_ch7_fp32_cannot_tell_the_methods_apart_and_syncbn_costs_more_than_it_gains():
    g = glued("07_data_parallel.ipynb")
    # "of the same order: rounding alone moves the weights about as far"
    ratio = number(g["ddp_fp32_sync_diff"]) / number(g["ddp_fp32_per_diff"])
    assert 0.1 < ratio < 10
    # "SyncBN costs more than the second process gains" (fp32)
    assert number(g["ddp_sync_vs_one"]) < 1
    # fp64 "several times slower", and SyncBN's share "smaller than in fp32"
    assert number(g["ddp_ips_one"]) > 2 * number(g["ddp_fp64_ips_one"])
    assert number(g["ddp_fp64_sync_cost"]) < number(g["ddp_sync_cost"])
