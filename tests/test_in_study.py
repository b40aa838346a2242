"""The in-study predictor: forecasts corrected by a forest fitted on the study's finished curves."""

import pickle

import numpy as np
import optuna
import pytest

from lc_hpo import make_predictor, read_curves
from lc_hpo.bench.predict import run_predict_bench
from lc_hpo.curveset import mark_diverged
from lc_hpo.integrations.optuna import LCPruner
from lc_hpo.predictors.in_study import InStudyPredictor

from .conftest import make_curve
from .optuna_objectives import accuracy_objective

STEPS = 30


def late_bloomer(lr: float, seed: int) -> np.ndarray:
    """Every run looks the same for 10 epochs; only a learning rate above 0.5 climbs afterwards."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, STEPS + 1)
    climb = 0.6 * (lr > 0.5) * (1 - np.exp(-0.2 * np.maximum(t - 10, 0)))
    return 0.2 + 0.1 * (1 - np.exp(-0.5 * t)) + climb + rng.normal(0, 0.005, STEPS)


def study_curves(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        lr = float(rng.uniform())
        out.append(make_curve(late_bloomer(lr, seed * 1000 + i), max_step=STEPS, task="t",
                              config={"lr": lr, "opt": str(rng.choice(["adam", "sgd"]))}))
    return out


def test_it_is_its_base_until_enough_trials_have_finished():
    curves = study_curves(30)
    partial = [c.truncate(8) for c in curves[:5]]
    p = InStudyPredictor(min_context=20)
    base = make_predictor("default").predict(partial)
    for context in (None, [], curves[5:20]):  # 15 finished: fewer than min_context
        f = p.predict(partial, context=context)
        np.testing.assert_allclose(f.mean, base.mean)


def test_it_learns_what_only_this_study_shows():
    """The base cannot know that a high learning rate climbs late here; the finished trials show it."""
    finished, live = study_curves(120, seed=1), study_curves(40, seed=2)
    partial = [c.truncate(8) for c in live]
    truth = np.array([c.values[-1] for c in live])
    study = InStudyPredictor().predict(partial, context=finished)
    base = make_predictor("default").predict(partial)
    err_study = np.abs(study.quantile(0.5)[:, -1] - truth).mean()
    err_base = np.abs(base.quantile(0.5)[:, -1] - truth).mean()
    assert err_study < 0.3 * err_base
    lo, hi = study.interval(0.9)
    assert np.mean((truth >= lo[:, -1]) & (truth <= hi[:, -1])) >= 0.8
    # the way to the final value is forecast too, monotone towards it for a climbing run
    steps = np.arange(9, STEPS + 1)
    path = InStudyPredictor().predict(partial, steps=steps, context=finished).quantile(0.5)
    assert path.shape == (len(live), steps.size)
    np.testing.assert_allclose(path[:, -1], study.quantile(0.5)[:, -1], rtol=1e-6)


def test_forecasts_depend_on_the_finished_trials_alone_not_on_what_came_before():
    """Two workers on one storage: one has forecast all along, one starts now; same forecasts."""
    finished, live = study_curves(40, seed=3), study_curves(5, seed=4)
    partial = [c.truncate(8) for c in live]
    veteran, newcomer = InStudyPredictor(), InStudyPredictor()
    for n in (20, 24, 30, 33):  # the veteran saw the study grow
        veteran.predict(partial, context=finished[:n])
    np.testing.assert_array_equal(veteran.predict(partial, context=finished).quantile(0.5),
                                  newcomer.predict(partial, context=finished).quantile(0.5))


def test_unusable_finished_curves_are_left_out_and_nothing_breaks():
    finished = study_curves(40, seed=3)
    bad = [
        make_curve([0.3, float("nan")] * (STEPS // 2), max_step=STEPS),  # diverged final
        make_curve([0.3], max_step=STEPS),  # one point, unfinished
        make_curve(np.linspace(0.1, 0.5, 10), max_step=10),  # another budget: another group
        make_curve(np.linspace(0.1, 0.5, STEPS), max_step=STEPS, mode="min"),  # other direction
        make_curve(np.linspace(0.1, 0.5, STEPS), max_step=STEPS, config={"lr": "high", "x": None}),
    ]
    partial = [c.truncate(8) for c in study_curves(5, seed=4)]
    partial.append(make_curve([float("nan")] * 3, max_step=STEPS))  # nothing finite yet
    f = InStudyPredictor().predict(partial, context=finished + bad)
    assert f.is_finite[:5].all() and not f.is_finite[5]


def test_it_pickles_without_its_fitted_forests():
    p = InStudyPredictor()
    partial = [c.truncate(8) for c in study_curves(3, seed=5)]
    context = study_curves(40, seed=6)
    before = p.predict(partial, context=context)
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_allclose(q.predict(partial, context=context).mean, before.mean)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="min_context"):
        InStudyPredictor(min_context=1)
    with pytest.raises(ValueError, match="refit_growth"):
        InStudyPredictor(refit_growth=0.5)
    with pytest.raises(ValueError, match="max_context"):
        InStudyPredictor(max_context=10)


def test_the_optuna_pruner_hands_it_the_completed_trials():
    seen: list[int] = []

    class Watching(InStudyPredictor):
        def predict(self, curves, steps=None, context=None):
            seen.append(len(context or []))
            return super().predict(curves, steps, context)

    pruner = LCPruner(Watching(min_context=5), n_startup_trials=3)
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(accuracy_objective, n_trials=40)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.PRUNED in states
    assert max(seen) >= 5  # the forest was used, on the completed trials
    assert study.best_value > 0.85  # the best configurations were kept


def test_bench_predict_gives_it_the_other_fold_as_finished_trials():
    curves = study_curves(80, seed=7)
    out = run_predict_bench(curves, ["study", "last_value"], cutoffs=[0.3], progress=False, folds=2)
    study, last = (out["predictors"][n]["0.3"]["final"]["mae"] for n in ("study", "last_value"))
    assert study < 0.5 * last and out["folds"] == 2 and out["seed"] == 0
    # another seed draws another split: other finished trials, so (slightly) other forecasts
    other = run_predict_bench(curves, ["study"], cutoffs=[0.3], progress=False, folds=2, seed=1)
    assert other["seed"] == 1
    assert other["predictors"]["study"]["0.3"]["final"]["mae"] != pytest.approx(study, rel=1e-9)
    with pytest.raises(ValueError, match="folds"):
        run_predict_bench(curves, ["study"], cutoffs=[0.3], progress=False, folds=1)


def test_on_a_held_out_taskset_task_it_beats_the_bundled_default(taskset_files):
    path = [f for f in taskset_files if "IRNN64" in f.name][0]  # not in the default's training set
    curves = mark_diverged(read_curves([path]), 10)
    out = run_predict_bench(curves, ["study", "default"], cutoffs=[0.2], progress=False)
    study, default = (out["predictors"][n]["0.2"]["final"] for n in ("study", "default"))
    assert study["mae"] < 0.85 * default["mae"]
    assert 0.8 <= study["coverage90"] <= 0.99


def test_the_base_parameter_stays_as_given_and_resolves_into_base_():
    from lc_hpo.predictors import Predictor

    p = InStudyPredictor(base="last_value")
    assert isinstance(p.base_, Predictor) and p.base_.name == "last_value"
    assert p.base == "last_value"  # scikit-learn: parameters are left as given
    assert p.base_ is p.base_  # resolved once
    p.base = "polynomial"  # a changed parameter is resolved again
    assert p.base_.name == "polynomial"
