"""The freeze-thaw scheduling policy (lc_hpo.scheduling), without Ray: who yields, who runs next,
what a budget funds.  tests/test_ray_ranking.py checks that LCScheduler follows it in real Ray runs.
"""

import pytest

from lc_hpo.decision import StoppingRule
from lc_hpo.predictors import make_predictor
from lc_hpo.scheduling import Progress, fund_trials, next_to_run, remaining_cost, should_yield, spent

from .conftest import make_curve, saturating

MAX = 40


def rule():
    return StoppingRule(make_predictor("parametric"), n_startup_trials=1)


def curve(top, n=10):
    return make_curve(saturating(top, 0.15, 0.1, n, noise=0.002), max_step=MAX)


STRONG, WEAK, MIDDLE = curve(0.9), curve(0.4), curve(0.6)


def test_a_weak_running_trial_yields_to_a_stronger_paused_one_and_a_strong_one_does_not():
    r = rule()
    assert should_yield(r, WEAK, [STRONG], waiting_to_start=False, leader=False, incumbent=0.85)
    assert not should_yield(r, STRONG, [WEAK, MIDDLE], waiting_to_start=False, leader=False,
                            incumbent=0.85)
    assert not should_yield(r, WEAK, [], waiting_to_start=False, leader=False, incumbent=0.85)
    # no incumbent yet: the forecast final values are compared
    assert should_yield(r, WEAK, [STRONG], waiting_to_start=False, leader=False, incumbent=None)


def test_everyone_is_explored_first_and_the_leader_never_yields():
    r = rule()
    assert should_yield(r, STRONG, [], waiting_to_start=True, leader=False, incumbent=None)
    assert not should_yield(r, WEAK, [STRONG], waiting_to_start=True, leader=True, incumbent=0.85)


def test_next_to_run_starts_waiting_trials_first_then_the_most_promising_paused_one():
    r = rule()
    paused = {"weak": WEAK, "strong": STRONG, "middle": MIDDLE}
    assert next_to_run(r, paused, ["new1", "new2"], incumbent=0.85) == "new1"
    assert next_to_run(r, paused, [], incumbent=0.85) == "strong"
    assert next_to_run(r, paused, [], incumbent=None) == "strong"
    assert next_to_run(r, {"weak": WEAK, "middle": MIDDLE}, incumbent=0.85) == "middle"
    assert next_to_run(r, {}, []) is None


def test_paused_order_does_not_matter():
    r = rule()
    a = next_to_run(r, {"s": STRONG, "w": WEAK, "m": MIDDLE}, [], incumbent=0.8)
    b = next_to_run(r, {"m": MIDDLE, "w": WEAK, "s": STRONG}, [], incumbent=0.8)
    assert a == b == "s"


def test_budget_funds_the_promising_trials_it_can_finish():
    r = rule()
    live = {"strong": Progress(STRONG, 10), "weak": Progress(WEAK, 10),
            "middle": Progress(MIDDLE, 10)}
    assert fund_trials(r, live, MAX, "time_attr", 2 * (MAX - 10), incumbent=0.85) == \
        {"strong", "middle"}
    assert fund_trials(r, live, MAX, "time_attr", MAX - 10, incumbent=0.85) == {"strong"}
    assert fund_trials(r, live, MAX, "time_attr", 0, incumbent=0.85) == set()


def test_costs_in_progress_or_measured_seconds():
    p = Progress(STRONG, 10, seconds=5.0)
    assert remaining_cost(p, MAX, "time_attr") == 30
    assert remaining_cost(p, MAX, "seconds") == pytest.approx(15.0)
    assert remaining_cost(Progress(STRONG, MAX + 3), MAX, "time_attr") == 0
    assert spent([p, Progress(WEAK, 4, 1.0)], "time_attr") == 14
    assert spent([(10, 5.0), (4, 1.0)], "seconds") == 6.0
    with pytest.raises(ValueError, match="budget unit must be one of"):
        spent([], "epochs")
