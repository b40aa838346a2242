import math

import numpy as np
import pytest

from lc_hpo import Curve, CurveError
from lc_hpo.reports import curve_from_reports


def test_curve_holds_steps_values_and_budget():
    c = Curve(steps=[1, 2, 4], values=[0.1, None, 0.3], mode="max", max_step=10)
    assert c.steps.tolist() == [1, 2, 4]
    assert math.isnan(c.values[1])
    assert c.max_step == 10 and not c.is_complete and c.last_step == 4
    assert c.finite[0].tolist() == [1, 4]
    assert c.best_value() == pytest.approx(0.3)
    assert Curve(steps=[1, 2], values=[3.0, 2.0], mode="min").max_step == 2


def test_infinite_values_are_diverged_measurements():
    c = Curve(steps=[1, 2, 3], values=[0.5, float("inf"), float("-inf")], mode="min")
    assert np.isnan(c.values[1:]).all()
    assert c.best_value() == 0.5


@pytest.mark.parametrize(
    "steps, values, message",
    [
        ([1, 1, 2], [0.1, 0.2, 0.3], "repeated"),
        ([1, 3, 2], [0.1, 0.2, 0.3], "out of order"),
        ([0, 1], [0.1, 0.2], "positive"),
        ([1, 2], [0.1], "same length"),
        ([1.5, 2], [0.1, 0.2], "whole numbers"),
        ([1, 2], ["a", 0.2], "numbers or null"),
        ([1, 2], ["1", "2"], "text, not a number"),  # numeric text is still text, as in the files
        ([1, 2], np.array(["1", "2"]), "holds text"),
    ],
)
def test_bad_curves_get_clear_errors(steps, values, message):
    with pytest.raises(CurveError, match=message):
        Curve(steps=steps, values=values, mode="max")


def test_numbers_in_an_object_array_are_numbers():  # e.g. a pandas column holding None
    values = np.array([0.1, None, 0.3], dtype=object)
    assert np.isnan(Curve(steps=[1, 2, 3], values=values, mode="max").values[1])


def test_wrong_mode_and_budget_are_rejected():
    with pytest.raises(CurveError, match="mode must be 'min'"):
        Curve(steps=[1], values=[1.0], mode="maximize")
    with pytest.raises(CurveError, match="beyond max_step"):
        Curve(steps=[1, 5], values=[1.0, 2.0], mode="max", max_step=3)


def test_truncate_keeps_the_observed_prefix():
    c = Curve(steps=[1, 2, 3, 4], values=[1, 2, 3, 4], mode="max", extra={"loss": [4, 3, 2, 1]})
    p = c.truncate(2)
    assert p.steps.tolist() == [1, 2] and p.max_step == 4 and p.extra["loss"].tolist() == [4, 3]


def test_reports_from_zero_based_steps_are_shifted_and_sorted():
    c = curve_from_reports({2: 0.3, 0: 0.1, 1: float("nan")}, "max", max_step=9)
    assert c.steps.tolist() == [1, 2, 3] and c.max_step == 10
    assert np.isnan(c.values[1])
    one_based = curve_from_reports([(1, 0.1), (3, 0.2)], "max", max_step=9)
    assert one_based.steps.tolist() == [1, 3] and one_based.max_step == 9


def test_observed_cuts_at_a_fraction_of_the_budget_and_keeps_the_first_measurement():
    c = Curve(steps=[5, 10, 15, 20], values=[0.1, 0.2, 0.3, 0.4], mode="max", max_step=20)
    assert c.observed(0.5).steps.tolist() == [5, 10]
    assert c.observed(0.1).steps.tolist() == [5]  # step 2 is before the first measurement
    assert c.observed(1.0).steps.tolist() == [5, 10, 15, 20]
