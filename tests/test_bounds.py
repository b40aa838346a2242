import numpy as np
import pytest

from lc_hpo import make_predictor
from lc_hpo.bounds import natural_bounds
from lc_hpo.predictors import ObservedBatch

from .conftest import make_curve


def _bounds(curves):
    b = ObservedBatch.from_curves(curves)
    return natural_bounds(b.values, b.mask, b.sign)


def test_bounds_are_guessed_from_the_values_and_the_direction():
    lower, upper = _bounds([
        make_curve([0.1, 0.5, 0.9]),  # an accuracy in [0, 1]
        make_curve([10.0, 50.0, 90.0]),  # in per cent
        make_curve([50.0, 150.0, 250.0]),  # a max metric beyond 100: non-negative, no bound
        make_curve([2.3, 0.9, 0.4], mode="min"),  # a loss
        make_curve([-2.0, -3.0], mode="min"),  # a negative log-likelihood: no bound
        make_curve([-0.5, 0.2, 0.6]),  # a max metric that was negative: no bound
        make_curve([np.nan, np.nan], mode="min"),  # nothing seen yet: no bound
    ])
    np.testing.assert_array_equal(lower, [0, 0, -np.inf, 0, -np.inf, -np.inf, -np.inf])
    np.testing.assert_array_equal(upper, [1, 100, np.inf, np.inf, np.inf, np.inf, np.inf])


@pytest.mark.parametrize("name", ["default", "last_value", "parametric"])
def test_forecasts_never_leave_the_metric_range(name):
    climbing = make_curve([0.1, 0.25, 0.45, 0.65, 0.8, 0.9], max_step=60)
    falling = make_curve([9.0, 6.0, 4.0, 2.5, 1.5, 0.9], mode="min", max_step=60)
    f = make_predictor(name).predict([climbing, falling])
    lo, hi = f.interval(0.98)
    assert hi[0, 0] <= 1.0 and f.mean[0, 0] <= 1.0 and f.sample(500).max() < np.inf
    assert lo[1, 0] >= 0.0 and f.mean[1, 0] >= 0.0
    assert f.prob_better(1.0, ["max", "min"])[0] == 0.0


def test_the_faithful_baselines_extrapolate_unbounded():
    climbing = make_curve([0.1, 0.25, 0.45, 0.65, 0.8, 0.9], max_step=60)
    f = make_predictor("polynomial").predict([climbing])
    assert np.isinf(f.upper[0]) and not 0.0 <= f.mean[0, 0] <= 1.0
