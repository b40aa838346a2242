"""LCScheduler in real local Ray Tune runs (num_cpus=2)."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ray import tune  # noqa: E402

from lc_hpo import LCScheduler  # noqa: E402
from lc_hpo.decision import ForecastWarning  # noqa: E402

from .ray_helpers import STEPS, curve_for, curve_trainable, quiet_ray, rising_trainable  # noqa: E402

QS = [0.9, 0.1, 0.2, 0.15, 0.05, 0.3, 0.12, 0.25]


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    quiet_ray()
    yield
    import ray

    ray.shutdown()


def run(tmp_path, scheduler, space, callbacks=(), concurrency=2, trainable=curve_trainable,
        **tune_kw):
    tuner = tune.Tuner(
        trainable, param_space=space,
        tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=scheduler,
                                    max_concurrent_trials=concurrency,
                                    **{"reuse_actors": True, **tune_kw}),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0,
                                  callbacks=[scheduler.callback(), *callbacks]))
    return tuner.fit()


def by_q(grid):
    return {r.config["q"]: r for r in grid}


def test_stops_hopeless_trials_keeps_the_best_and_shows_forecasts(tmp_path):
    sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=2, rank=False)
    grid = run(tmp_path, sched, {"q": tune.grid_search(QS)})
    assert grid.num_errors == 0
    iters = {q: int(r.metrics["training_iteration"]) for q, r in by_q(grid).items()}
    assert iters[0.9] == STEPS  # the best configuration ran to the end
    assert sum(i < STEPS for i in iters.values()) >= 3  # hopeless ones were stopped early
    df = grid.get_dataframe()
    assert {"lc_p_better", "lc_predicted_final", "lc_reason"} <= set(df.columns)
    stopped = [r for r in grid if r.metrics["training_iteration"] < STEPS]
    assert all(r.metrics["lc_p_better"] < 0.05 for r in stopped)
    assert "complete" in sched.debug_string() and "stopped" in sched.debug_string()


def test_freeze_thaw_pauses_and_resumes_checkpointing_trials(tmp_path):
    sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=2, milestone=5, threshold=0.0)
    # no concurrency limit: all six trials exist at once (2 running on 2 CPUs, 4 waiting)
    grid = run(tmp_path, sched, {"q": tune.grid_search(QS[:6])}, concurrency=None)
    assert grid.num_errors == 0 and sched.n_paused > 0
    # threshold 0 stops nothing: every trial, paused or not, finishes its full budget
    assert all(r.metrics["training_iteration"] == STEPS for r in grid)
    # paused trials resumed from their checkpoints instead of restarting from scratch
    assert any(r.metrics["iterations_since_restore"] < STEPS for r in grid)
    assert all(st.status == "complete" for st in sched._trials.values())


def test_trials_stopped_while_paused_show_the_decision_that_stopped_them(tmp_path):
    sched = LCScheduler(max_t=STEPS, milestone=5)
    space = {"rate": tune.grid_search([0.3, 0.01, 0.95, 0.5, 0.02, 0.005])}
    # (fresh actors: with reused ones, no trial of this grid happened to be stopped while paused)
    grid = run(tmp_path, sched, space, concurrency=None, trainable=rising_trainable,
               reuse_actors=False)
    stopped = [r for r in grid if r.metrics["training_iteration"] < STEPS]
    assert stopped and grid.num_errors == 0
    for r in stopped:  # a paused trial reports nothing more: the callback fills in its last result
        assert r.metrics["lc_reason"] == "forecast" and r.metrics["lc_p_better"] < 0.05
    # ... in the experiment state Ray saves too, so a restored experiment shows the same
    restored = tune.Tuner.restore(str(tmp_path / "exp"), rising_trainable).get_results()
    reasons = {r.config["rate"]: r.metrics["lc_reason"] for r in restored}
    assert all(reasons[r.config["rate"]] == "forecast" for r in stopped)


def test_ranking_does_not_take_resuming_trials_for_unstarted_ones(tmp_path):
    # Ray marks a paused trial PENDING while it resumes. Taken for a trial waiting to start, that
    # made every trial pause at every milestone, so none finished, no incumbent formed and the
    # hopeless trials trained to the end (19 of 20 steps, 18 pauses).
    sched = LCScheduler(max_t=STEPS, milestone=5)
    space = {"rate": tune.grid_search([0.0003, 0.00033, 0.0005, 0.05, 0.3, 0.5])}
    grid = run(tmp_path, sched, space, concurrency=None, trainable=rising_trainable,
               reuse_actors=False)
    iters = {r.config["rate"]: int(r.metrics["training_iteration"]) for r in grid}
    assert iters[0.5] == STEPS
    assert all(iters[rate] <= STEPS // 2 for rate in (0.0003, 0.00033, 0.0005))
    assert sched.n_paused < 10


def test_trials_that_complete_before_max_t_are_warned_about_once(tmp_path):
    sched = LCScheduler("parametric", max_t=2 * STEPS, n_startup_trials=1, rank=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = run(tmp_path, sched, {"q": tune.grid_search(QS[:3])})
    short = [w for w in caught if issubclass(w.category, ForecastWarning)
             and "complete before max_t=40" in str(w.message)]
    assert len(short) == 1 and grid.num_errors == 0
    with warnings.catch_warnings(record=True) as caught:  # runs that reach max_t: no warning
        warnings.simplefilter("always")
        run(tmp_path, LCScheduler("parametric", max_t=STEPS, rank=False), {"q": QS[0]})
    assert not any("complete before max_t" in str(w.message) for w in caught)
    # Ray's own stop condition at max_t: its last result reaches only on_trial_complete, and
    # counts (no warning; the final value is the last one, not the one before)
    sched = LCScheduler("parametric", max_t=STEPS, rank=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tune.Tuner(curve_trainable, param_space={"q": QS[0]},
                   tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched),
                   run_config=tune.RunConfig(storage_path=str(tmp_path), name="stopped",
                                             verbose=0, stop={"training_iteration": STEPS})).fit()
    assert not any("complete before max_t" in str(w.message) for w in caught)
    assert "1 complete" in sched.debug_string()
    assert sched.debug_string().endswith(f"incumbent {curve_for(QS[0], 0, STEPS)[-1]}")


def test_without_checkpoints_it_only_stops_and_says_so(tmp_path):
    sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=2, milestone=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = run(tmp_path, sched, {"q": tune.grid_search(QS[:5]), "checkpoint": False})
    assert sched.n_paused == 0 and grid.num_errors == 0
    assert any("do not checkpoint" in str(w.message) for w in caught
               if issubclass(w.category, ForecastWarning))


def test_budget_is_spent_on_the_most_promising_and_they_finish(tmp_path):
    sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=1, budget=70, rank=False)
    grid = run(tmp_path, sched, {"q": tune.grid_search(QS)})
    iters = {q: int(r.metrics["training_iteration"]) for q, r in by_q(grid).items()}
    assert sum(iters.values()) <= 70 + 2 * 2  # a result in flight per slot may overshoot
    assert iters[0.9] == STEPS
    assert "budget" in sched.debug_string()


def test_a_budget_never_stops_a_running_trial_for_one_that_has_not_started(tmp_path):
    # No concurrency limit: all six trials exist from the start, four of them waiting. They have
    # no forecast, and must not take the budget from the running ones (the best among them).
    # (start-up beyond the grid: only the budget may stop a trial here, not a forecast)
    sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=6, budget=3 * STEPS,
                        rank=False)
    grid = run(tmp_path, sched, {"q": tune.grid_search(QS[:6])}, concurrency=None)
    iters = {q: int(r.metrics["training_iteration"]) for q, r in by_q(grid).items()}
    assert iters[0.9] == STEPS
    assert sum(iters.values()) <= 3 * STEPS + 6  # a started trial the budget cannot finish: 1 step
    budget_stops = [r for r in grid if r.metrics["lc_reason"] == "budget"]
    assert budget_stops and all(r.metrics["training_iteration"] < STEPS for r in budget_stops)
    assert "0 pending" in sched.debug_string()


def test_a_trial_saved_without_results_by_an_older_version_restores_as_pending():
    # Before "pending" existed, a trial added but not started was saved as "running".
    sched = LCScheduler("parametric", max_t=STEPS)
    sched.set_state({"t1": {"history": {}, "status": "running", "seconds": 0.0,
                            "checkpoints": False},
                     "t2": {"history": {"1": 0.5}, "status": "running", "seconds": 1.0,
                            "checkpoints": False}})
    assert "1 pending, 1 running" in sched.debug_string()


def test_bad_results_never_crash_the_experiment(tmp_path):
    sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=1, rank=False)
    space = {"q": tune.grid_search([0.9, 0.5, 0.4, 0.3]),
             "nan_at": tune.sample_from(lambda spec: 3 if spec.config.q == 0.5 else None),
             "fail_at": tune.sample_from(lambda spec: 4 if spec.config.q == 0.4 else None)}
    grid = run(tmp_path, sched, space)
    assert grid.num_errors == 1  # the failing trial, and only it
    assert by_q(grid)[0.9].metrics["training_iteration"] == STEPS


def test_metric_and_mode_must_be_known():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        LCScheduler("parametric", mode="up")
    s = LCScheduler("parametric", metric="acc", mode="max")
    assert s.set_search_properties("loss", "min") is False  # Ray reports the conflict
    with pytest.raises(ValueError, match="needs a metric and a mode"):
        LCScheduler("parametric").on_trial_add(None, object())


@pytest.mark.parametrize("with_callback", ["0", "1"])
def test_restored_experiment_continues_with_its_curves(tmp_path, with_callback):
    """Ray restores no scheduler state (ray-project/ray#30838); LCScheduler rebuilds it."""
    worker = Path(__file__).with_name("ray_restore_worker.py")
    path = tmp_path / "restore_exp"
    for phase in ("run", "restore"):
        out = subprocess.run([sys.executable, str(worker), phase, str(path), with_callback],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    trials = report["trials"]
    assert len(trials) == 6
    assert sum(t["n_after"] for t in trials) > 0, "the restore should have had work left"
    resumed = [t for t in trials if t["steps_after"] and t["steps_after"][0] > 1]
    assert resumed, "the trial interrupted part-way should continue from its checkpoint"
    # Trials that completed before the interruption never report again; the restored scheduler
    # knows them only if it rebuilt its state (from the logged results, or the callback's state).
    assert report["complete_known"] == sum(t["last"] == STEPS for t in trials) > 0
    if with_callback == "1":  # forecasts are visible, and none waits for start-up trials again
        reasons_after = [r for t in trials for r in t["reasons_after"]]
        assert reasons_after and "startup" not in reasons_after


def test_replay_benchmark_through_real_ray_tune():
    """``lc-hpo bench hpo --framework ray``: the same protocol and JSON shape as the Optuna replay."""
    from lc_hpo.bench.hpo import run_hpo_bench

    from .test_bench_hpo import synthetic_set

    methods = ["none", "oracle", "asha"]
    r = run_hpo_bench(synthetic_set(n_tasks=1, n_configs=8, steps=6), methods=methods,
                      orderings=1, budget_factor=4, framework="ray", progress=False)
    per = r["tasks"]["syn0"]
    assert set(per) == set(methods)
    assert per["oracle"]["oracle_fraction"] == pytest.approx(1.0)
    for m in per.values():
        assert 0 < m["steps"] <= 4 * 6 and m["regret"] >= 0
    assert per["oracle"]["regret"] <= per["none"]["regret"]
    with pytest.raises(ValueError, match="unknown method 'sha'"):
        run_hpo_bench(synthetic_set(n_tasks=1), methods=["sha"], framework="ray", progress=False)


CONTEXT_SIZES: list[int] = []


class _WatchingStudyPredictor:
    """Built lazily so that importing this module does not need scikit-learn's forest."""

    @staticmethod
    def make(min_context: int):
        from lc_hpo.predictors.in_study import InStudyPredictor

        class Watching(InStudyPredictor):
            def predict(self, curves, steps=None, context=None):
                CONTEXT_SIZES.append(len(context or []))
                return super().predict(curves, steps, context)

        return Watching(min_context=min_context)


def test_study_predictor_gets_the_completed_trials_and_their_configs(tmp_path):
    CONTEXT_SIZES.clear()
    qs = [0.9, 0.1, 0.2, 0.15, 0.05, 0.3, 0.12, 0.25, 0.8, 0.02, 0.4, 0.07, 0.6, 0.01]
    # nothing stops before 6 trials have completed, so the forest (5 needed) gets to work after
    sched = LCScheduler(_WatchingStudyPredictor.make(5), max_t=STEPS, n_startup_trials=6,
                        rank=False)
    grid = run(tmp_path, sched, {"q": tune.grid_search(qs)})
    assert grid.num_errors == 0
    iters = {q: int(r.metrics["training_iteration"]) for q, r in by_q(grid).items()}
    assert iters[0.9] == STEPS
    assert max(CONTEXT_SIZES) >= 6  # the forest was fitted on the completed trials
    assert sum(i < STEPS for i in iters.values()) >= 2  # and hopeless ones were still stopped
    assert all(st.config.get("q") in qs for st in sched._trials.values())


def test_default_reads_the_standing_of_each_trial_among_completed_ones(tmp_path):
    sched = LCScheduler(max_t=STEPS, n_startup_trials=2, rank=False)  # the bundled default
    grid = run(tmp_path, sched, {"q": tune.grid_search(QS)})
    assert grid.num_errors == 0
    assert int(by_q(grid)[0.9].metrics["training_iteration"]) == STEPS
    df = grid.get_dataframe()
    made = df["lc_p_better"].notna()
    assert made.any() and df.loc[made, "lc_p_forecast"].notna().all()
    # The study-trust guard reads the finished trials too; only with both off does the rule not.
    assert LCScheduler(standing=False).rule.needs_context
    assert not LCScheduler(standing=False, trust=False).rule.needs_context


def test_a_trial_that_reports_nan_is_stopped_as_diverged(tmp_path):
    # One trial at a time: 0.9 completes first, then 0.95, which leads at every finite result,
    # reports NaN at its 4th result and is stopped there, without a forecast.
    sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=1, rank=False)
    space = {"q": tune.grid_search([0.9, 0.95]),
             "nan_at": tune.sample_from(lambda spec: 3 if spec.config.q == 0.95 else None)}
    grid = run(tmp_path, sched, space, concurrency=1)
    results = by_q(grid)
    assert grid.num_errors == 0 and results[0.9].metrics["training_iteration"] == STEPS
    assert results[0.95].metrics["training_iteration"] == 4
    assert results[0.95].metrics["lc_reason"] == "diverged"
