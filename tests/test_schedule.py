"""The learning-rate schedules of both loops."""

import math

import pytest

from resnet_course.schedule import lr_factor


def test_onecycle_warms_up_to_the_peak_and_decays_to_zero():
    total = 100
    factors = [lr_factor(s, total, "onecycle", 0.2) for s in range(total)]
    assert factors[19] == 1.0 and max(factors) == 1.0
    assert factors[0] == pytest.approx(1 / 20)
    assert factors[-1] == pytest.approx(1 / 80) and all(
        a >= b for a, b in zip(factors[19:], factors[20:])
    )
    assert lr_factor(5, total, "constant", 0.2) == 1.0


def test_cosine_without_warm_up_is_the_short_loops_old_formula_bit_for_bit():
    for total in (7, 100, 1234):
        for s in range(total):
            assert lr_factor(s, total, "cosine", 0.0) == 0.5 * (
                1 + math.cos(math.pi * s / total)
            )
