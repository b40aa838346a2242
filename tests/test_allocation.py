"""Ranking and budgeting from forecasts (what LCScheduler uses to pause, resume and fund trials)."""

import math
import warnings

import numpy as np

from lc_hpo.allocation import Candidate, fund, promise
from lc_hpo.decision import ForecastWarning, StoppingRule
from lc_hpo.predictors import make_predictor

from .conftest import make_curve, saturating
from .test_decision import Broken


def rule(predictor="parametric"):
    p = make_predictor(predictor) if isinstance(predictor, str) else predictor
    return StoppingRule(p, n_startup_trials=1)


def test_promise_prefers_the_curve_heading_above_the_incumbent_in_both_modes():
    good = make_curve(saturating(0.9, 0.15, 0.1, 12, noise=0.002), max_step=40)
    poor = make_curve(saturating(0.5, 0.15, 0.1, 12, noise=0.002), max_step=40)
    p = promise(rule(), [poor, good], incumbent=0.8)
    assert p[1] > p[0] >= 0
    flip = lambda c: c.replace(values=-c.values, mode="min")  # noqa: E731
    q = promise(rule(), [flip(poor), flip(good)], incumbent=-0.8)
    assert q[1] > q[0] >= 0
    no_inc = promise(rule(), [poor, good], incumbent=None)  # the forecast final itself
    assert no_inc[1] > no_inc[0]


def test_trials_without_data_come_first_quietly_and_failures_warn_once():
    started = make_curve([np.nan], max_step=40)
    running = make_curve([0.2, 0.3, 0.35], max_step=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a trial that has simply not reported yet
        p = promise(rule(), [started, running], incumbent=0.8)
    assert p[0] == math.inf and np.isfinite(p[1])
    r = rule(Broken())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            assert np.all(promise(r, [running], 0.8) == math.inf)
    assert len([w for w in caught if issubclass(w.category, ForecastWarning)]) == 1


def test_fund_spends_the_budget_on_the_best_gain_per_cost():
    good = make_curve(saturating(0.9, 0.15, 0.1, 12, noise=0.002), max_step=40)
    poor = make_curve(saturating(0.5, 0.15, 0.1, 12, noise=0.002), max_step=40)
    cands = [Candidate("poor", poor, 28), Candidate("good", good, 28),
             Candidate("new", make_curve([np.nan], max_step=40), 40)]
    assert fund(rule(), cands, 0.8, remaining_budget=30) == {"good"}  # "new" does not fit
    assert fund(rule(), cands, 0.8, remaining_budget=70) == {"good", "new"}
    assert fund(rule(), cands, 0.8, remaining_budget=0) == set()
