"""Training-time estimates in real local Ray Tune runs (issue 25): which trial ``LCScheduler`` starts
first, and what a budget is spent on, when trials carry ``config["lc_estimate"]``.

The trials really fine-tune a small linear model with full-batch SGD (``torch.optim.SGD``) at
different learning rates, each for its estimated step budget; the estimates are made before any
trial trains, by :func:`lc_hpo.estimate.estimate_training_time`.  Full-batch SGD on a linear model
under MSE is the case the estimator predicts exactly, so the runs reach the target where predicted.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from ray import tune  # noqa: E402

from lc_hpo import LCScheduler  # noqa: E402
from lc_hpo.budget_prior import step_budget  # noqa: E402
from lc_hpo.decision import ForecastWarning  # noqa: E402
from lc_hpo.estimate import EstimateWarning, estimate_training_time  # noqa: E402

from .ray_helpers import quiet_ray  # noqa: E402

MAX_T = 40
#: Learning rates with a finite predicted time, fastest first (predicted 2, 4, 8, 13, 19, 37 steps).
SOONEST_FIRST = (0.2, 0.1, 0.05, 0.03, 0.02, 0.01)
DIVERGES = 3.0  # past the linearised dynamics' stability limit
NO_ESTIMATE, MALFORMED = "none", "malformed"
#: The grid's order. Ray may start the grid's first trials (one per free CPU, 2 here) before it
#: has generated the others, so the scheduler cannot reorder those: the two soonest are put first;
#: the rest are shuffled.
GRID = [0.2, 0.1, 0.02, NO_ESTIMATE, 0.01, DIVERGES, 0.05, MALFORMED, 0.03]


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    quiet_ray()
    yield
    import ray

    ray.shutdown()


@pytest.fixture(scope="module")
def problem() -> dict:
    """A pretrained linear model, its fine-tuning data, a target loss and every trial's estimate."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(48, 5, generator=g)
    y = X @ torch.randn(5, 2, generator=g) + 0.3 * torch.randn(48, 2, generator=g)
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 2)
    with torch.no_grad():
        target = 0.5 * float(F.mse_loss(model(X), y))
    estimates = {}
    for lr in SOONEST_FIRST + (DIVERGES,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimateWarning)  # 3.0: "diverges", said on purpose
            estimates[lr] = estimate_training_time(
                model, X, y, loss="mse", lr=lr, batch_size=len(X), target_loss=target,
                max_steps=MAX_T).to_dict()
    estimates[MALFORMED] = {"steps": "soon"}  # what a broken pipeline might store
    return {"X": X.tolist(), "y": y.tolist(), "weight": model.weight.tolist(),
            "bias": model.bias.tolist(), "target": target, "estimates": estimates}


def finetune(config: dict, problem: dict) -> None:
    """Full-batch SGD from the pretrained weights at ``config["lr"]``, for the trial's step budget
    (its estimate's predicted steps-to-target; ``MAX_T`` without a usable estimate), reporting the
    training loss after every step."""
    import torch
    import torch.nn.functional as F
    from ray import tune

    from lc_hpo.budget_prior import EstimateError, step_budget

    torch.set_num_threads(1)
    X, y = torch.tensor(problem["X"]), torch.tensor(problem["y"])
    model = torch.nn.Linear(X.shape[1], y.shape[1])
    model.load_state_dict({"weight": torch.tensor(problem["weight"]),
                           "bias": torch.tensor(problem["bias"])})
    lr = config["lr"] if isinstance(config["lr"], float) else 0.05
    try:
        steps = step_budget(config["lc_estimate"], cap=MAX_T) or MAX_T
    except (KeyError, EstimateError):
        steps = MAX_T
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(X), y).backward()
        opt.step()
        with torch.no_grad():
            loss = float(F.mse_loss(model(X), y))
        tune.report({"loss": loss if math.isfinite(loss) else float("nan")})


class StartOrder(tune.Callback):
    """The order in which Ray started the trials (the driver's record, one start at a time)."""

    def __init__(self) -> None:
        self.lrs: list = []

    def on_trial_start(self, iteration: int, trials: list, trial, **info) -> None:
        self.lrs.append(trial.config["lr"])


def space(problem: dict) -> dict:
    table = problem["estimates"]
    return {"lr": tune.grid_search(GRID),
            "lc_estimate": tune.sample_from(lambda config: table.get(config["lr"]))}


def run(tmp_path, problem, scheduler, name, started=None):
    # No max_concurrent_trials: with it, Ray creates a trial only when a slot frees, so the
    # scheduler never sees two unstarted trials to order. The 2 CPUs of the session limit it.
    tuner = tune.Tuner(
        tune.with_parameters(finetune, problem=problem), param_space=space(problem),
        tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=scheduler,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0,
                                  callbacks=[scheduler.callback(), started or StartOrder()]))
    return {r.config["lr"]: r for r in tuner.fit()}


def iterations(result) -> int:
    return int(result.metrics.get("training_iteration") or 0)


def test_trials_predicted_soonest_start_first_and_others_are_never_stopped_for_it(
        tmp_path, problem):
    # No forecast may stop a trial here (start-up beyond the grid): only the start order is tested.
    sched = LCScheduler("parametric", max_t=MAX_T, rank=False, n_startup_trials=len(GRID))
    order = StartOrder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run(tmp_path, problem, sched, "order", order)
    started = order.lrs
    assert len(started) == len(GRID)
    # the first two start together, on the two free CPUs; then one at a time, soonest first
    assert set(started[:2]) == set(SOONEST_FIRST[:2])
    assert [lr for lr in started[2:] if lr in SOONEST_FIRST] == list(SOONEST_FIRST[2:]), started
    # without a usable estimate: after every estimated trial, before the one predicted to diverge
    assert set(started[len(SOONEST_FIRST):-1]) == {NO_ESTIMATE, MALFORMED}
    assert started[-1] == DIVERGES
    # ... and trained to the end like any trial without an estimate
    assert iterations(results[NO_ESTIMATE]) == iterations(results[MALFORMED]) == MAX_T
    unreadable = [w for w in caught if issubclass(w.category, ForecastWarning)
                  and "lc_estimate" in str(w.message) and "cannot be read" in str(w.message)]
    assert len(unreadable) == 1
    # each estimated trial trained for its predicted steps and reached the target loss there
    for lr in SOONEST_FIRST:
        e = problem["estimates"][lr]
        assert iterations(results[lr]) == e["steps"]
        assert results[lr].metrics["loss"] <= problem["target"]


def test_a_budget_is_spent_on_the_trials_predicted_soonest(tmp_path, problem):
    # The budget covers exactly the four trials predicted soonest (2 + 4 + 8 + 13 steps).
    costs = {lr: step_budget(problem["estimates"][lr], cap=MAX_T) for lr in SOONEST_FIRST}
    budget = sum(costs[lr] for lr in SOONEST_FIRST[:4])
    sched = LCScheduler("parametric", max_t=MAX_T, rank=False, n_startup_trials=len(GRID),
                        budget=budget)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ForecastWarning)  # the malformed estimate, tested above
        results = run(tmp_path, problem, sched, "budget")
    for lr in SOONEST_FIRST[:4]:  # funded: trained to their predicted steps, target reached
        assert iterations(results[lr]) == costs[lr]
        assert results[lr].metrics["loss"] <= problem["target"]
    # estimated trials the budget left could not finish never started: no step spent on them
    for lr in (*SOONEST_FIRST[4:], DIVERGES):
        assert iterations(results[lr]) == 0
    # trials without a usable estimate start as before; the budget stops them at their first
    # report, since what is left cannot finish a full run
    assert iterations(results[NO_ESTIMATE]) == iterations(results[MALFORMED]) == 1
    assert sum(iterations(r) for r in results.values()) == budget + 2
    for lr in (*SOONEST_FIRST[4:], DIVERGES, NO_ESTIMATE, MALFORMED):
        assert results[lr].metrics["lc_reason"] == "budget"
    # the funded ones completed (the best of them is the incumbent), the others were stopped
    assert "4 complete, 5 stopped" in sched.debug_string()


def test_steps_per_report_is_validated():
    with pytest.raises(ValueError, match="steps_per_report"):
        LCScheduler("parametric", steps_per_report=0)
