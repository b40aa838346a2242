"""The study-trust guard (lc_hpo.trust): real Optuna studies where the forecast alone is wrong or right.

Late-rising curves (a plateau, then a lift after a learning-rate drop) fool a forecaster that has
learned saturating curves: it stops the eventual best run on its plateau.  The guard reads the
study's completed trials, sees that a run on the same plateau went on to win, and keeps it.  Where
runs rank from the first step the guard stays out of the way.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from lc_hpo import LCPruner
from lc_hpo.bench.protocol import parse_lc_method
from lc_hpo.decision import StoppingRule
from lc_hpo.integrations.optuna import FORECAST_ATTR
from lc_hpo.predictors import make_predictor
from lc_hpo.trust import StudyTrust, level_at

from .conftest import make_curve

optuna.logging.set_verbosity(optuna.logging.WARNING)

STEPS = 30


def late_rise(plateau: float, lift: float, at: int = 20) -> np.ndarray:
    """A plateau at ``plateau``, lifted by ``lift`` from step ``at`` (a learning-rate drop)."""
    t = np.arange(1, STEPS + 1)
    return plateau * (1 - np.exp(-0.5 * t)) + lift * (t >= at) * (1 - np.exp(-0.7 * (t - at + 1)))


def early_rank(level: float) -> np.ndarray:
    """Clean saturating curves whose order is fixed from the first step."""
    t = np.arange(1, STEPS + 1)
    return level * (0.7 + 0.3 * (1 - np.exp(-0.3 * t)))


def study_of(curves: list[np.ndarray], **pruner_kw) -> optuna.Study:
    """A real study that reports ``curves`` in this order, pruned by ``LCPruner(**pruner_kw)``."""
    study = optuna.create_study(direction="maximize", pruner=LCPruner(**pruner_kw))
    for i in range(len(curves)):
        study.enqueue_trial({"i": i})

    def objective(trial: optuna.Trial) -> float:
        values = curves[trial.suggest_int("i", 0, len(curves) - 1)]
        for step, value in enumerate(values, 1):
            trial.report(float(value), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[-1])

    study.optimize(objective, n_trials=len(curves))
    return study


# A late riser completes first; then steady runs, and the best run of all: a late riser whose
# plateau is far below the incumbent's final value.
LATE = [late_rise(*s) for s in [(0.60, 0.25), (0.80, 0.02), (0.70, 0.05), (0.75, 0.03),
                                (0.62, 0.30), (0.65, 0.02), (0.55, 0.05)]]
BEST = int(np.argmax([c[-1] for c in LATE]))


def test_the_forecast_alone_kills_the_late_riser_the_guard_keeps_it():
    alone = study_of(LATE, trust=False)
    guarded = study_of(LATE)  # LCPruner() reads the trust evidence by default
    assert alone.trials[BEST].state == TrialState.PRUNED  # the failure the guard is for
    assert guarded.trials[BEST].state == TrialState.COMPLETE
    assert guarded.best_value == pytest.approx(float(LATE[BEST][-1]))
    # It still prunes: every run that ends below the incumbent is stopped before the end.
    pruned = [t for t in guarded.trials if t.state == TrialState.PRUNED]
    assert len(pruned) >= 4 and all(t.last_step < STEPS for t in pruned)
    # The evidence is recorded beside the forecast.
    assert all("p_reach" in t.user_attrs[FORECAST_ATTR] for t in pruned
               if t.user_attrs[FORECAST_ATTR].get("reason") == "forecast")


def test_early_ranking_runs_are_pruned_as_sharply_as_without_the_guard():
    levels = np.random.default_rng(0).uniform(0.5, 0.95, 16)
    curves = [early_rank(v) for v in levels]
    alone = study_of(curves, trust=False)
    guarded = study_of(curves)
    spent = lambda s: sum(t.last_step for t in s.trials)  # noqa: E731
    assert spent(guarded) <= 1.1 * spent(alone)
    assert spent(guarded) <= 0.5 * STEPS * len(curves)
    assert guarded.best_value == pytest.approx(float(early_rank(levels.max())[-1]))


def test_p_reach_reads_what_finished_trials_gained_from_the_same_level():
    finished = [make_curve(late_rise(0.60, 0.25), max_step=STEPS),
                make_curve(late_rise(0.80, 0.02), max_step=STEPS)]
    incumbent = max(c.final_value for c in finished)
    trust = StudyTrust(neighbours=1, window=0.0)
    on_the_riser_plateau = make_curve(late_rise(0.62, 0.0)[:10], max_step=STEPS)
    on_the_flat_plateau = make_curve(late_rise(0.79, 0.0)[:10], max_step=STEPS)
    hopeless = make_curve(late_rise(0.30, 0.0)[:10], max_step=STEPS)
    p = trust.p_reach([on_the_riser_plateau, on_the_flat_plateau, hopeless], finished, incumbent)
    assert p.tolist() == [1.0, 0.0, 0.0]
    assert trust.vetoes(p).tolist() == [True, False, False]
    # No evidence (no finished trial) vetoes nothing.
    assert math.isnan(trust.p_reach([hopeless], [], incumbent)[0])
    assert not trust.vetoes(np.array([math.nan]))[0]


def test_minimise_is_the_mirror_image():
    finished = [make_curve(1 - late_rise(0.60, 0.25), mode="min", max_step=STEPS),
                make_curve(1 - late_rise(0.80, 0.02), mode="min", max_step=STEPS)]
    incumbent = min(c.final_value for c in finished)
    riser = make_curve(1 - late_rise(0.62, 0.0)[:10], mode="min", max_step=STEPS)
    p = StudyTrust(neighbours=1, window=0.0).p_reach([riser], finished, incumbent)
    assert p.tolist() == [1.0]


def test_level_is_the_mean_over_the_window_and_skips_diverged_values():
    c = make_curve([1.0, 2.0, math.nan, 4.0], max_step=10)
    assert level_at(c, 4, 2) == 4.0  # steps 3 (diverged) and 4
    assert level_at(c, 4, 3) == 3.0  # steps 2..4
    assert level_at(c, 3, 1) == 2.0  # none in the window: the latest finite value before
    assert math.isnan(level_at(c, 0, 1))


def test_rule_and_replay_options():
    predictor = make_predictor("last_value")
    assert StoppingRule(predictor).trust is not None and StoppingRule(predictor).needs_context
    assert StoppingRule(predictor, trust=False).trust is None
    with pytest.raises(TypeError, match="trust must be"):
        StoppingRule(predictor, trust="yes")  # type: ignore[arg-type]
    assert parse_lc_method("lc:default:trust=off").options()["trust"] is False
    guard = parse_lc_method("lc:default:trust=n3-w0.1-v0.3").options()["trust"]
    assert (guard.neighbours, guard.window, guard.veto) == (3, 0.1, 0.3)
    with pytest.raises(ValueError, match="trust spec"):
        parse_lc_method("lc:default:trust=x3")
    for bad in (dict(neighbours=0), dict(window=1.0), dict(veto=0.0)):
        with pytest.raises(ValueError):
            StudyTrust(**bad)


def saturating(level: float, rate: float, n: int = STEPS) -> np.ndarray:
    t = np.arange(1, n + 1)
    return level * (1 - np.exp(-rate * t))


def test_slope_witnesses_of_a_slow_starter_are_slow_starters():
    # Mid-run a slow starter stands at the plateau of the fast starters; level alone asks them.
    fast = [make_curve(saturating(v, 1.0), max_step=STEPS) for v in (0.55, 0.6, 0.65)]
    slow = make_curve(saturating(0.9, 0.08), max_step=STEPS)  # the incumbent, 0.82 at the end
    finished = fast + [slow]
    incumbent = max(c.final_value for c in finished)
    running = make_curve(saturating(1.1, 0.08)[:10], max_step=STEPS)  # 0.6 at step 10, rising
    by_level = StudyTrust(neighbours=1, window=0.0)
    by_level_and_rise = StudyTrust(neighbours=1, window=0.0, slope=0.1)
    assert by_level.p_reach([running], finished, incumbent).tolist() == [0.0]
    assert by_level_and_rise.p_reach([running], finished, incumbent).tolist() == [1.0]


def test_lift_credits_a_faster_riser_with_more_of_its_witness_gain():
    witness = make_curve(saturating(0.5, 0.1), max_step=STEPS)
    flat = make_curve(np.full(STEPS, 0.75), max_step=STEPS)  # the incumbent, gains nothing
    running = make_curve(saturating(1.0, 0.1)[:5], max_step=STEPS)  # twice the witness's rise
    plain = StudyTrust(neighbours=2, window=0.0, slope=0.1)
    lifted = StudyTrust(neighbours=2, window=0.0, slope=0.1, lift=3.0)
    assert plain.p_reach([running], [witness, flat], 0.75).tolist() == [0.0]
    assert lifted.p_reach([running], [witness, flat], 0.75).tolist() == [0.5]


def test_witnesses_stop_only_with_enough_of_them_and_a_leaning_forecast():
    levels = np.random.default_rng(0).uniform(0.5, 0.95, 16)
    curves = [early_rank(v) for v in levels]
    witnessed = study_of(curves, trust=StudyTrust(confirm=3, hedge=0.5))
    guarded = study_of(curves)
    spent = lambda s: sum(t.last_step for t in s.trials)  # noqa: E731
    assert spent(witnessed) < spent(guarded)
    assert witnessed.best_value == pytest.approx(float(early_rank(levels.max())[-1]))
    # Where curves rise late a witness reaches, and the witnesses' stop stays silent.
    late = study_of(LATE, trust=StudyTrust(confirm=3, hedge=0.5))
    assert late.trials[BEST].state == TrialState.COMPLETE
    # Fewer finished trials than `confirm`: never decisive.
    finished = [make_curve(early_rank(0.9), max_step=STEPS)]
    low = make_curve(early_rank(0.5)[:5], max_step=STEPS)
    assert StudyTrust(confirm=2).assess([low], finished, 0.9)[1].tolist() == [False]
    assert StudyTrust(confirm=1).assess([low], finished, 0.9)[1].tolist() == [True]


def test_new_options_through_the_replay_syntax_and_their_refusals():
    guard = parse_lc_method("lc:default:trust=s0.1-l2-c10-h0.3").options()["trust"]
    assert (guard.slope, guard.lift, guard.confirm, guard.hedge) == (0.1, 2.0, 10, 0.3)
    for bad in (dict(slope=1.0), dict(lift=0.5), dict(lift=2.0), dict(confirm=0),
                dict(hedge=0.0)):
        with pytest.raises(ValueError):
            StudyTrust(**bad)
