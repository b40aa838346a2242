"""LCPruner(max_step=...) below the steps completed trials report: said at once, and the forecasts go
to where the completed trials ended, not to the stale max_step."""

import warnings
from functools import partial

import optuna
import pytest

from lc_hpo import LCPruner
from lc_hpo.decision import ForecastWarning

from .optuna_objectives import STEPS, accuracy_objective

optuna.logging.set_verbosity(optuna.logging.WARNING)


def study_with(max_step, n_trials=6):
    study = optuna.create_study(direction="maximize", pruner=LCPruner(max_step=max_step),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(partial(accuracy_objective), n_trials=n_trials)
    return study, [str(w.message) for w in caught if issubclass(w.category, ForecastWarning)]


def test_a_max_step_below_what_completed_trials_report_is_warned_about_once():
    study, said = study_with(10)
    past = [m for m in said if "completed trials reported up to step" in m]
    assert len(past) == 1 and f"step {STEPS}" in past[0] and "max_step=10" in past[0]
    forecasts = [t.user_attrs for t in study.trials if t.user_attrs]
    assert forecasts  # and decisions were made, forecasting to the completed trials' last step


@pytest.mark.parametrize("max_step", [STEPS, None])
def test_no_warning_when_max_step_is_right_or_inferred(max_step):
    _, said = study_with(max_step, n_trials=3)
    assert not any("completed trials reported up to step" in m for m in said)
