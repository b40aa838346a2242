"""The one integer-parameter check every constructor uses: what passes, and what the error says."""

import numpy as np
import pytest

from lc_hpo._validation import check_int


def test_integers_at_or_above_the_minimum_pass_as_int():
    assert check_int("n", 3) == 3
    assert check_int("n", 0, 0) == 0
    out = check_int("n", np.int64(7), 5)
    assert out == 7 and type(out) is int
    assert check_int("n", None, allow_none=True) is None


@pytest.mark.parametrize("value, minimum, message", [
    (0, 1, "n must be a positive integer, got 0"),
    (-1, 0, "n must be a non-negative integer, got -1"),
    (4, 5, "n must be an integer of at least 5, got 4"),
    (True, 1, "n must be a positive integer, got True"),
    (2.0, 1, "n must be a positive integer, got 2.0"),
    ("3", 1, "n must be a positive integer, got '3'"),
    (None, 1, "n must be a positive integer, got None"),
])
def test_anything_else_is_refused_naming_the_parameter(value, minimum, message):
    with pytest.raises(ValueError) as info:
        check_int("n", value, minimum)
    assert str(info.value) == message


def test_none_and_a_reason_are_said():
    with pytest.raises(ValueError, match=r"^k must be a positive integer or None \(one is needed\), "
                                         r"got 0$"):
        check_int("k", 0, allow_none=True, why="one is needed")


def test_the_public_constructors_use_it():
    from lc_hpo.decision import StoppingRule
    from lc_hpo.integrations.optuna import LCPruner
    from lc_hpo.predictors import make_predictor

    with pytest.raises(ValueError, match="n_startup_trials must be a positive integer"):
        StoppingRule(make_predictor("last_value"), n_startup_trials=0)
    with pytest.raises(ValueError, match="max_step must be a positive integer or None, got 2.5"):
        LCPruner("last_value", max_step=2.5)
    with pytest.raises(ValueError, match="min_context must be an integer of at least 5"):
        make_predictor("study", min_context=True)
