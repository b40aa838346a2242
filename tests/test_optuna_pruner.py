import subprocess
import sys
import warnings
from functools import partial
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from lc_hpo import LCPruner
from lc_hpo.decision import ForecastWarning
from lc_hpo.integrations.optuna import FORECAST_ATTR
from lc_hpo.integrations.optuna import LCPruner as LCPrunerDirect

from .optuna_objectives import STEPS, accuracy_objective

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run(objective=accuracy_objective, n_trials=40, direction="maximize", n_jobs=1, **kw):
    study = optuna.create_study(direction=direction, pruner=LCPruner(**kw),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n_trials, n_jobs=n_jobs)
    return study


def states(study):
    return [t.state for t in study.trials]


def assert_prunes_losers_keeps_winner(study, maximize=True):
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(pruned) >= len(study.trials) // 3, "hopeless trials should be pruned"
    # The best configuration of all (largest q) must have run to completion.
    best_q = max(t.params["q"] for t in study.trials)
    assert any(t.params["q"] == best_q for t in complete)
    # Pruned trials stopped well before the end and were worse than the incumbent then.
    assert all(t.last_step < STEPS for t in pruned)
    assert all(t.user_attrs[FORECAST_ATTR]["p_better"] < 0.05 for t in pruned)


def test_same_class_from_both_import_paths():
    assert LCPruner is LCPrunerDirect


def test_prunes_hopeless_trials_and_keeps_the_best_in_memory():
    assert_prunes_losers_keeps_winner(run())


def test_minimize_direction_works_the_same():
    study = run(partial(accuracy_objective, minimize=True), direction="minimize")
    assert_prunes_losers_keeps_winner(study, maximize=False)


def test_sparse_zero_based_reports_and_max_step_inferred():
    study = run(partial(accuracy_objective, every=3, first_step=0))
    assert_prunes_losers_keeps_winner(study)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert all(set(t.intermediate_values) <= set(range(0, STEPS, 3)) for t in pruned)


def test_no_trial_is_pruned_on_fewer_than_min_points_values():
    for min_points in (2, 5):
        study = run(min_points=min_points)
        pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
        assert pruned and all(len(t.intermediate_values) >= min_points for t in pruned)
    assert min(len(t.intermediate_values) for t in pruned) == 5  # 5 is reached, not overshot


def test_forecasts_are_recorded_for_the_dataframe():
    df = run(n_trials=15).trials_dataframe()
    col = f"user_attrs_{FORECAST_ATTR}"
    assert col in df.columns
    recorded = df[col].dropna()
    assert len(recorded) > 0
    first = recorded.iloc[0]
    assert {"p_better", "predicted_final", "incumbent", "step", "reason"} <= set(first)


def test_parallel_threads():
    study = run(n_trials=40, n_jobs=2)
    assert len(study.trials) == 40
    assert TrialState.PRUNED in states(study) and TrialState.COMPLETE in states(study)


def test_nan_and_inf_reports_do_not_break_the_study():
    def objective(trial):
        q = trial.suggest_float("q", 0, 1)
        for step in range(1, 11):
            bad = trial.number % 3 == 0 and step % 2 == 0
            value = float("nan") if bad else (float("inf") if trial.number == 4 else q * step / 10)
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return q

    study = run(objective, n_trials=20)
    assert all(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states(study))
    # Diverged reports (trial 4: inf throughout; every third trial: NaN at even steps) are pruned
    # at once, as Optuna's own pruners do, once a completed trial gives a finite incumbent.
    assert study.trials[0].state == TrialState.COMPLETE  # the start-up trial
    for t in study.trials[3::3] + [study.trials[4]]:
        assert t.state == TrialState.PRUNED and t.last_step == (1 if t.number == 4 else 2)
        assert t.user_attrs["lc_forecast"]["reason"] == "diverged"
    kept = run(objective, n_trials=20, diverged_patience=None)  # nothing finite to judge: kept
    assert kept.trials[4].state == TrialState.COMPLETE


def test_multi_objective_gets_a_clear_error():
    study = optuna.create_study(directions=["maximize", "minimize"], pruner=LCPruner())
    trial = study.ask()
    with pytest.raises(ValueError, match="single-objective"):
        LCPruner().prune(study, study.trials[trial.number])


def test_wrong_direction_is_warned_about():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(partial(accuracy_objective, minimize=True), direction="maximize", n_trials=12)
    messages = [str(w.message) for w in caught if issubclass(w.category, ForecastWarning)]
    assert any("direction should be 'minimize'" in m for m in messages)


def test_steps_past_a_given_max_step_are_warned_about_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = run(n_trials=6, max_step=STEPS // 2)
    messages = [str(w.message) for w in caught if issubclass(w.category, ForecastWarning)
                and "past the max_step" in str(w.message)]
    # said once the first trial completes past it; forecasts then go to where it ended
    assert len(messages) == 1 and f"max_step={STEPS // 2} given" in messages[0]
    assert f"forecasts go to step {STEPS}" in messages[0]
    assert any(t.state == TrialState.COMPLETE for t in study.trials)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="min_points"):
        LCPruner("parametric", min_points=0)
    with pytest.raises(ValueError, match="threshold"):
        LCPruner(threshold=2)
    with pytest.raises(ValueError, match="max_step"):
        LCPruner(max_step=0)
    with pytest.raises(ValueError, match="unknown predictor"):
        LCPruner("nope")


def test_decisions_depend_only_on_storage(tmp_path):
    """A fresh pruner reading the storage through another connection decides exactly as the first."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, direction="maximize", pruner=LCPruner(),
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(accuracy_objective, n_trials=25)
    trial = study.ask()
    for step, value in enumerate([0.1, 0.3, 0.4, 0.45, 0.47, 0.48, 0.485, 0.49], start=1):
        trial.report(value, step)
    reloaded = optuna.load_study(study_name=study.study_name, storage=url)
    first = study.pruner.prune(study, study.trials[trial.number])
    fresh = LCPruner(record=False).prune(reloaded, reloaded.trials[trial.number])
    assert first == fresh is True
    recorded = optuna.load_study(study_name=study.study_name, storage=url).trials[trial.number]
    assert recorded.user_attrs[FORECAST_ATTR]["p_better"] < 0.05


def test_two_worker_processes_share_one_sqlite_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(storage=url, direction="maximize", study_name="dist")
    worker = Path(__file__).with_name("optuna_worker.py")
    procs = [subprocess.Popen([sys.executable, str(worker), url, "dist", "25", str(seed)],
                              stderr=subprocess.PIPE, text=True) for seed in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = study.trials
    assert len(trials) == 50
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    assert all(FORECAST_ATTR in t.user_attrs for t in trials if t.state == TrialState.PRUNED)


def _replay(curves):
    """An objective that reports the given curves, one per trial, in order."""
    it = iter(curves)

    def objective(trial):
        values = next(it)
        for step, value in enumerate(values):
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return values[-1]
    return objective


def test_one_pruner_serves_several_studies_each_with_its_own_incumbent():
    """Trial ids restart in every in-memory storage: nothing of study A may leak into study B."""
    strong = [0.5 + 0.015 * i for i in range(31)]  # ends at 0.95
    weak = [0.3 + 0.01 * i for i in range(31)]  # ends at 0.60
    second = [0.45 + 0.01 * i for i in range(31)]  # ends at 0.75, so it beats study B's 0.60
    pruner = LCPruner()
    a = optuna.create_study(direction="maximize", pruner=pruner)
    a.optimize(_replay([strong, strong]), n_trials=2)
    b = optuna.create_study(direction="maximize", pruner=pruner)
    b.optimize(_replay([weak, second]), n_trials=2)
    assert b.trials[1].state == TrialState.COMPLETE
    assert b.trials[1].user_attrs[FORECAST_ATTR]["incumbent"] == pytest.approx(0.6)


def test_pruner_and_default_predictor_print():
    text = repr(LCPruner())
    assert text.startswith("LCPruner(predictor=MixtureLSTMPredictor(")


def test_diverged_patience_waits_for_that_many_diverged_reports_in_a_row():
    nan = float("nan")
    # the second trial leads whenever it reports a finite value, so only divergence can stop it
    rows = {0: [0.5, 0.6, 0.7, 0.8, 0.9, 0.9], 1: [0.95, nan, 0.96, nan, nan, 0.97]}

    def objective(trial):
        for step, value in enumerate(rows[trial.number], start=1):
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return rows[trial.number][-1]

    for patience, pruned_at in ((1, 2), (2, 5), (None, None)):
        study = optuna.create_study(direction="maximize",
                                    pruner=LCPruner("last_value", diverged_patience=patience))
        study.optimize(objective, n_trials=2)
        second = study.trials[1]
        if pruned_at is None:
            assert second.state == TrialState.COMPLETE
        else:
            assert second.state == TrialState.PRUNED and second.last_step == pruned_at
            assert second.user_attrs["lc_forecast"]["reason"] == "diverged"
