import warnings

import numpy as np
import pytest

from lc_hpo import Forecast
from lc_hpo.decision import (AT_MAX_STEP, DIVERGED, FEW_POINTS, FORECAST, FORECAST_FAILED,
                             LEADER, MIN_STEPS, NO_DATA, NO_INCUMBENT, STARTUP, ForecastWarning,
                             StoppingRule)
from lc_hpo.predictors import Predictor, make_predictor

from .conftest import make_curve, saturating


class Broken(Predictor):
    name = "broken"

    def _predict(self, batch, targets):
        raise RuntimeError("boom")


class Chatty(Predictor):
    """Fails with a different message every time, as a real fit failure often does."""
    name = "chatty"
    calls = 0

    def _predict(self, batch, targets):
        Chatty.calls += 1
        raise ValueError(f"cannot fit a curve of {Chatty.calls} points")


class NaNs(Predictor):
    name = "nans"

    def _predict(self, batch, targets):
        nan = np.full((batch.n, 1, targets.shape[1]), np.nan)
        return Forecast(targets, np.ones_like(nan), nan, nan)


def rule(**kw):
    kw.setdefault("n_startup_trials", 1)
    return StoppingRule(make_predictor("parametric"), **kw)


def weak_curve():
    return make_curve(saturating(0.5, 0.2, 0.1, 15, noise=0.002), max_step=50)


def test_a_clearly_worse_trial_stops_and_a_promising_one_continues():
    d = rule().decide(weak_curve(), incumbent=0.9, n_completed=5)
    assert d.stop and d.reason == FORECAST and d.p_better < 0.05
    assert d.predicted_final == pytest.approx(0.5, abs=0.08) and d.lower < d.upper
    d = rule().decide(weak_curve(), incumbent=0.5, n_completed=5)
    assert not d.stop and d.reason == FORECAST and d.p_better > 0.05


def test_the_predicted_final_is_the_median_and_lies_in_its_own_interval():
    # Two points of a loss: the default's mixture has a wide tail component whose pull put the
    # mixture's mean (0.95) above the interval's upper end (0.875).
    curves = [make_curve([0.87, 0.84], mode="min", max_step=30), weak_curve(),
              make_curve([2.3, 1.5, 1.1, 0.9], mode="min", max_step=50)]
    predictor = make_predictor("default")
    rule_ = StoppingRule(predictor)
    decisions = [rule_.decide(c, 0.3 if c.mode == "min" else 0.9, 5) for c in curves]
    median = predictor.predict(curves).quantile(0.5)[:, -1]
    for d, m in zip(decisions, median):
        assert d.reason == FORECAST and d.lower <= d.predicted_final <= d.upper
        assert d.predicted_final == pytest.approx(m)


def test_min_mode_mirrors_max_mode():
    c = weak_curve()
    flipped = c.replace(values=-c.values, mode="min")
    a = rule().decide(c, 0.9, 5)
    b = rule().decide(flipped, -0.9, 5)
    assert a.stop == b.stop and a.p_better == pytest.approx(b.p_better, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, curve, incumbent, n_completed, reason",
    [
        ({"min_steps": 20}, weak_curve(), 0.9, 5, MIN_STEPS),
        ({"n_startup_trials": 6}, weak_curve(), 0.9, 5, STARTUP),
        ({}, weak_curve(), None, 5, NO_INCUMBENT),
        ({}, weak_curve(), float("nan"), 5, NO_INCUMBENT),
        ({}, make_curve([0.1] * 10, max_step=10), 0.9, 5, AT_MAX_STEP),
        ({"diverged_patience": None}, make_curve([np.nan] * 5, max_step=10), 0.9, 5, NO_DATA),
        ({}, make_curve([0.1], max_step=10), 0.9, 5, FEW_POINTS),
        ({"diverged_patience": None}, make_curve([0.1, np.nan, np.nan], max_step=10), 0.9, 5,
         FEW_POINTS),
        ({"diverged_patience": 3}, make_curve([0.1, np.nan, np.nan], max_step=10), 0.9, 5,
         FEW_POINTS),
        ({"diverged_patience": 3}, make_curve([np.nan] * 2, max_step=10), 0.9, 5, NO_DATA),
        ({}, make_curve([0.1] * 9 + [np.nan], max_step=10), 0.9, 5, AT_MAX_STEP),  # done anyway
        # a trial that recovered from a diverged value goes through the usual checks
        ({"min_points": 3}, make_curve([0.1, np.nan, 0.2], max_step=10), 0.9, 5, FEW_POINTS),
        ({}, make_curve([np.nan] * 5, max_step=10), None, 5, NO_INCUMBENT),
        ({"min_points": 16}, weak_curve(), 0.9, 5, FEW_POINTS),
        ({}, weak_curve(), 0.45, 5, LEADER),
    ],
)
def test_checks_that_keep_a_trial_without_a_forecast(kwargs, curve, incumbent, n_completed, reason):
    d = rule(**kwargs).decide(curve, incumbent, n_completed)
    assert not d.stop and d.reason == reason and d.p_better is None


@pytest.mark.parametrize("kwargs, values", [
    ({}, [0.1, 0.2, np.nan]),
    ({}, [np.nan] * 5),
    ({}, [0.1, 0.2, 0.3, np.inf]),
    ({}, [0.95, 0.96, np.nan]),  # a diverged leader stops too: it is no longer leading
    ({"diverged_patience": 2}, [0.1, 0.2, 0.3, np.nan, -np.inf]),
])
def test_a_trial_whose_latest_values_diverged_stops_without_a_forecast(kwargs, values):
    d = rule(**kwargs).decide(make_curve(values, max_step=10), 0.9, 5)
    assert d.stop and d.reason == DIVERGED and d.p_better is None and d.incumbent == 0.9
    # ... but not before an incumbent, start-up or min_steps allow any stop
    assert rule(**kwargs).decide(make_curve(values, max_step=10), None, 5).reason == NO_INCUMBENT
    assert not rule(n_startup_trials=6, **kwargs).decide(make_curve(values, max_step=10), 0.9,
                                                         5).stop


def test_diverged_patience_is_validated():
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="diverged_patience must be a positive integer"):
            rule(diverged_patience=bad)


def test_leader_is_never_stopped_even_by_a_pessimistic_forecast():
    c = make_curve([0.5, 0.6, 0.7, 0.8, 0.85, 0.91], max_step=30)  # beats the incumbent now
    assert rule(threshold=0.99).decide(c, 0.9, 5).reason == LEADER
    fallen = make_curve([0.95, 0.5, 0.5, 0.5, 0.5, 0.5], max_step=30)  # only beat it once
    assert rule().decide(fallen, 0.9, 5).reason == FORECAST


@pytest.mark.parametrize("predictor", [Broken(), NaNs(), Chatty()])
def test_a_failing_forecast_keeps_training_and_warns_once(predictor):
    r = StoppingRule(predictor, n_startup_trials=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            d = r.decide(weak_curve(), 0.9, 5)
            assert not d.stop and d.reason == FORECAST_FAILED
    assert len([w for w in caught if issubclass(w.category, ForecastWarning)]) == 1


def test_decide_many_batches_and_matches_decide():
    r = rule()
    curves = [weak_curve(), make_curve(saturating(0.95, 0.2, 0.1, 15), max_step=50),
              make_curve([0.2], max_step=50)]
    many = r.decide_many(curves, 0.9, 5)
    for c, d in zip(curves, many):
        one = r.decide(c, 0.9, 5)
        assert (one.stop, one.reason) == (d.stop, d.reason)
        if one.p_better is not None:
            assert one.p_better == pytest.approx(d.p_better)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threshold": 1.5}, "threshold must be a probability"),
        ({"min_steps": -1}, "min_steps must be"),
        ({"n_startup_trials": 0}, "n_startup_trials must be a positive"),
        ({"min_points": 0}, "min_points must be a positive"),
    ],
)
def test_parameters_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StoppingRule(make_predictor("last_value"), **kwargs)
    with pytest.raises(TypeError, match="lc_hpo Predictor"):
        StoppingRule("parametric")
