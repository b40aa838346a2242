"""Architecture graphs reach the predictor through LCPruner / LCScheduler and the decision rule.

Real Optuna studies (SQLite, two worker processes) and a real Ray Tune run, with a real predictor
subclass that records the graphs it is handed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from lc_hpo import LCPruner
from lc_hpo.arch import from_nb201
from lc_hpo.arch_source import ARCH_KEY, as_graph
from lc_hpo.decision import ForecastWarning
from lc_hpo.integrations.optuna import FORECAST_ATTR, set_architecture

from .arch_helpers import CELLS, CYCLIC, STEPS, RecordingPredictor, nas_objective

HERE = Path(__file__).resolve().parent
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _messages(caught, text):
    return [str(w.message) for w in caught
            if issubclass(w.category, ForecastWarning) and text in str(w.message)]


# --- Optuna ----------------------------------------------------------------------------------
def test_two_sqlite_workers_see_every_trials_stored_graph(tmp_path):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    optuna.create_study(storage=url, direction="maximize", study_name="nas")
    outs = [tmp_path / f"worker{seed}.json" for seed in (0, 1)]
    procs = [subprocess.Popen([sys.executable, str(HERE / "arch_helpers.py"), url, "nas", "8",
                               str(seed), str(out)], stderr=subprocess.PIPE, text=True)
             for seed, out in zip((0, 1), outs)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="nas", storage=url)
    assert len(study.trials) == 16
    for t in study.trials:  # the graph lives in storage, as the format's arch object
        assert t.user_attrs[ARCH_KEY] == from_nb201(t.params["cell"]).to_dict()
    reports = [json.loads(out.read_text()) for out in outs]
    for me, other in ((0, 1), (1, 0)):
        seen, context = reports[me]["seen"], reports[me]["context_seen"]
        assert seen, "the worker's pruner made no forecast"
        for config, arch in seen + context:  # every curve the predictor got carries its graph
            assert arch == from_nb201(config["cell"]).to_dict()
        # finished trials of the *other* worker reached this worker's predictor with their graphs
        assert {c["q"] for c, _ in context} & set(reports[other]["own_q"])


def test_arch_callable_feeds_the_predictor_and_stored_graph_wins():
    predictor = RecordingPredictor()
    calls = []

    def arch(params):
        calls.append(params["cell"])
        return from_nb201(params["cell"])

    study = optuna.create_study(direction="maximize",
                                pruner=LCPruner(predictor, n_startup_trials=1, arch=arch),
                                sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(lambda t: nas_objective(t, set_arch=False), n_trials=6)
    assert predictor.seen and all(a == from_nb201(c["cell"]).to_dict() for c, a in predictor.seen)
    assert len(calls) <= 6  # one call per trial: results are cached by the trial's params
    # a graph stored on the trial takes precedence over the callable
    predictor.seen.clear()
    trial = study.ask({"cell": optuna.distributions.CategoricalDistribution(CELLS),
                       "q": optuna.distributions.FloatDistribution(0, 1)})
    stored = {"nodes": ["input", "linear", "output"], "edges": [[0, 1], [1, 2]]}
    assert set_architecture(trial, stored) == stored
    for step, v in enumerate([0.1, 0.2, 0.25], start=1):
        trial.report(v, step)
        trial.should_prune()
    assert predictor.seen[-1][1] == stored


def test_missing_or_unreadable_graphs_keep_training_and_warn_once():
    predictor = RecordingPredictor()

    def objective(trial):
        k = trial.number % 3  # 0: a good graph, 1: a cyclic one, 2: none at all
        if k < 2:
            set_architecture(trial, CELLS[0] if k == 0 else CYCLIC)
        values = [0.2 + 0.05 * s + 0.01 * trial.number for s in range(STEPS)]  # later trials best
        for step, v in enumerate(values, start=1):
            trial.report(v, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return values[-1]

    # threshold 0: no forecast stops a trial, so any stop or failure would come from the graph
    study = optuna.create_study(direction="maximize",
                                pruner=LCPruner(predictor, n_startup_trials=1, threshold=0.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(objective, n_trials=9)
    # nothing crashed or stopped: the trials without a graph were forecast without one
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 9
    assert all(t.user_attrs[FORECAST_ATTR]["reason"] == "forecast" for t in study.trials[1:])
    with_graph = sum(a is not None for _, a in predictor.seen)
    assert 0 < with_graph < len(predictor.seen)  # graph-free curves reached the predictor too
    assert all(a in (None, from_nb201(CELLS[0]).to_dict()) for _, a in predictor.seen)
    assert len(_messages(caught, "cannot be read")) == 1  # the cyclic graph, said once
    assert len(_messages(caught, "has no architecture")) == 1  # the trials without one, once


def test_arch_callable_that_raises_or_returns_garbage_never_fails_a_trial():
    predictor = RecordingPredictor()

    def arch(params):
        if params["q"] < 0.3:
            raise KeyError("no such architecture")
        return CYCLIC if params["q"] < 0.6 else params["cell"]

    study = optuna.create_study(direction="maximize",
                                pruner=LCPruner(predictor, n_startup_trials=1, threshold=0.0,
                                                arch=arch),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(lambda t: nas_objective(t, set_arch=False), n_trials=12)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for config, a in predictor.seen:
        assert a == (from_nb201(config["cell"]).to_dict() if config["q"] >= 0.6 else None)
    assert len(_messages(caught, "arch(params) raised")) == 1
    assert len(_messages(caught, "cannot be read")) == 1


def test_set_architecture_accepts_every_form_and_refuses_garbage_without_raising():
    torch = pytest.importorskip("torch")
    study = optuna.create_study()
    trial = study.ask()
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    assert set_architecture(trial, model).nodes == ("input", "linear", "relu", "output")
    assert set_architecture(trial, from_nb201(CELLS[1])) == as_graph(CELLS[1])
    with pytest.warns(ForecastWarning, match="cannot be read.*cycle"):
        assert set_architecture(trial, CYCLIC) is None
    assert study.trials[0].user_attrs[ARCH_KEY] == from_nb201(CELLS[1]).to_dict()
    with pytest.raises(TypeError, match="arch must be a callable"):
        LCPruner(arch={"nodes": ["a"], "edges": []})


# --- Ray Tune --------------------------------------------------------------------------------
@pytest.fixture
def ray_session():
    pytest.importorskip("ray")
    sys.path.insert(0, str(HERE))  # ray_helpers imports optuna_objectives by its module name
    from .ray_helpers import quiet_ray

    quiet_ray()
    yield
    import ray

    ray.shutdown()


def test_ray_run_hands_lc_arch_and_the_callable_graph_to_the_predictor(tmp_path, ray_session):
    from ray import tune

    from lc_hpo import LCScheduler

    from .ray_helpers import curve_trainable
    graph = from_nb201(CELLS[0])
    rows = [  # (q, lc_arch, cell for the callable)
        (0.9, graph.to_dict(), None),  # the format's dict in the config
        (0.2, CELLS[1], None),  # a NAS-Bench-201 string in the config
        (0.5, None, CELLS[2]),  # no lc_arch: the callable builds it from the config
        (0.95, CYCLIC, None),  # unreadable: forecast without a graph, trained on
        (0.97, {"nodes": [], "edges": []}, None),  # unreadable too: no second warning
        (0.3, None, None),  # nothing: forecast without a graph
    ]
    space = {"i": tune.grid_search(list(range(len(rows)))),
             "q": tune.sample_from(lambda spec: rows[spec.config["i"]][0]),
             "lc_arch": tune.sample_from(lambda spec: rows[spec.config["i"]][1]),
             "cell": tune.sample_from(lambda spec: rows[spec.config["i"]][2]),
             "checkpoint": False}
    predictor = RecordingPredictor()
    # threshold 0: no forecast stops a trial, so any stop or error would come from the graph
    sched = LCScheduler(predictor, max_t=20, n_startup_trials=1, rank=False, threshold=0.0,
                        arch=lambda config: config.get("cell"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = tune.Tuner(
            curve_trainable, param_space=space,
            tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched,
                                        max_concurrent_trials=2),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name="arch", verbose=0,
                                      callbacks=[sched.callback()])).fit()
    assert grid.num_errors == 0
    expected = {0.9: graph.to_dict(), 0.2: from_nb201(CELLS[1]).to_dict(),
                0.5: from_nb201(CELLS[2]).to_dict(), 0.95: None, 0.97: None, 0.3: None}
    seen: dict[float, set] = {}
    for config, arch in predictor.seen:
        seen.setdefault(config["q"], set()).add(json.dumps(arch))
    assert seen, "the scheduler made no forecast"
    for q, archs in seen.items():
        assert archs == {json.dumps(expected[q])}, q
    assert all(int(r.metrics["training_iteration"]) == 20 for r in grid)  # all trained on
    assert len(_messages(caught, "cannot be read")) == 1
