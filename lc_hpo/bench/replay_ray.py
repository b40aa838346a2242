"""Replaying recorded curves through real Ray Tune experiments, for ``lc-hpo bench hpo --framework ray``.

Each replay is a genuine local Ray Tune run: one trial per configuration (in the ordering's order), a
function trainable that reports the recorded curve one step per ``training_iteration`` and, under a
scheduler that pauses trials (HyperBand, ``LCScheduler``), checkpoints its position so that it resumes
where it paused, the method's scheduler deciding, and a small concurrency.  The others get no
checkpoints: Ray persists each one to the experiment's storage, which halved a replay's speed.
A callback spends the budget and tracks regret with the framework-free
:mod:`lc_hpo.bench.protocol`; a stopper ends the experiment when the budget is spent.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from lc_hpo.bench.protocol import (LC_METHOD_SYNTAX, RegretTracker, ReplayTask,
                                    oracle_stops, parse_lc_method)
from lc_hpo.curve import Mode, is_better
from lc_hpo.decision import ForecastWarning

#: Methods of the Ray replay, besides ``lc:NAME[@THRESHOLD][:startup=N]``.
BUILTIN_METHODS = ("none", "asha", "hyperband", "median", "oracle")
CONCURRENCY = 2
#: Built-in methods whose scheduler pauses trials (and so needs them to checkpoint); ``lc:`` too.
PAUSING_METHODS = ("hyperband",)


def _ensure_ray() -> None:
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
    # The budget stopper ends an experiment with a trial that never reported: Ray then warns that
    # it "failed to fetch metrics" of that trial, which is expected here and only noise.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    # Trials resumed after a pause (MedianStoppingRule yields time, LCScheduler ranks) make Ray's
    # logger look for a "remote" result.json of the local storage path; also only noise here.
    logging.getLogger("ray.tune.logger").setLevel(logging.ERROR)
    if not ray.is_initialized():
        ray.init(num_cpus=CONCURRENCY, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, configure_logging=False)


def pauses(method: str) -> bool:
    """Whether a method's scheduler pauses trials, so that the replayed trials must checkpoint."""
    return method in PAUSING_METHODS or method.startswith("lc:")


def _trainable(config: dict, curves: list, checkpoint: bool = True) -> None:
    """Reports one recorded curve, resuming from its checkpointed position after a pause."""
    from ray import tune

    steps, values = curves[config["idx"]]
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d, open(os.path.join(d, "pos.json")) as fh:
            start = json.load(fh)["pos"]
    for pos in range(start, len(steps)):
        if not checkpoint:
            tune.report({"value": values[pos], "step": steps[pos], "idx": config["idx"]})
            continue
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "pos.json"), "w") as fh:
                json.dump({"pos": pos + 1}, fh)
            tune.report({"value": values[pos], "step": steps[pos], "idx": config["idx"]},
                        checkpoint=tune.Checkpoint.from_directory(d))


def make_scheduler(method: str, max_t: int, mode: Mode, final_of: Callable[[int], float],
                   length_of: Callable[[int], int] = lambda idx: 0) -> Any:
    """The scheduler a method name stands for (metric ``value``, time ``training_iteration``)."""
    from ray.tune.schedulers import (ASHAScheduler, FIFOScheduler, HyperBandScheduler,
                                     MedianStoppingRule, TrialScheduler)

    if method.startswith("lc:"):
        from lc_hpo.integrations.ray_tune import LCScheduler

        spec = parse_lc_method(method)
        return LCScheduler(spec.predictor, max_t=max_t, **spec.options())
    if method == "none":
        return FIFOScheduler()
    if method == "asha":
        return ASHAScheduler(max_t=max_t, grace_period=1, reduction_factor=3)
    if method == "hyperband":
        return HyperBandScheduler(max_t=max_t, reduction_factor=3)
    if method == "median":
        return MedianStoppingRule(time_attr="training_iteration", grace_period=1,
                                  min_samples_required=3)
    if method == "oracle":

        class OracleScheduler(FIFOScheduler):
            """Knows every final value: stops after its first step each run that cannot win."""

            def __init__(self) -> None:
                super().__init__()
                self.best: float | None = None

            def on_trial_result(self, tc: Any, trial: Any, result: dict) -> str:
                if result["training_iteration"] == 1 and oracle_stops(
                        final_of(int(result["idx"])), self.best, mode):
                    return TrialScheduler.STOP
                return TrialScheduler.CONTINUE

            def on_trial_complete(self, tc: Any, trial: Any, result: dict) -> None:
                if result and result.get("training_iteration") == length_of(int(result["idx"])):
                    v = final_of(int(result["idx"]))
                    if not math.isnan(v) and (self.best is None or is_better(v, self.best, mode)):
                        self.best = v

        return OracleScheduler()
    raise ValueError(f"unknown Ray method {method!r}; choose from {', '.join(BUILTIN_METHODS)} "
                     f"or {LC_METHOD_SYNTAX}")


def replay_ordering(task: ReplayTask, order: np.ndarray, method: str, budget: int,
                    study_name: str) -> tuple[np.ndarray, int]:
    """One replayed Ray Tune experiment; returns the anytime regret and the steps spent."""
    _ensure_ray()
    from ray import tune

    tracker = RegretTracker(task, budget)
    curves = [(c.steps.tolist(), [float(v) for v in c.values]) for c in task.curves]
    positions: dict[str, int] = {}

    class Spend(tune.Callback):
        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                            **info: Any) -> None:
            if tracker.exhausted:
                return
            steps, values = curves[int(result["idx"])]
            pos = int(result["training_iteration"])
            prev = positions.get(trial.trial_id, 0)
            positions[trial.trial_id] = max(prev, pos)
            if pos <= prev:  # a replayed step after a resume costs nothing new
                return
            done = pos == len(steps)
            delta = steps[pos - 1] - (steps[prev - 1] if prev else 0)
            tracker.spend(int(delta), completed_final=values[-1] if done else None)

    class BudgetStopper(tune.Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return tracker.exhausted

    def final_of(idx: int) -> float:
        return float(task.finals[idx])

    scheduler = make_scheduler(method, max(len(c[0]) for c in curves), task.mode, final_of,
                               lambda idx: len(curves[idx][0]))
    callbacks: list = [Spend()]
    if method.startswith("lc:"):
        callbacks.append(scheduler.callback())
    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            tune.with_parameters(_trainable, curves=curves, checkpoint=pauses(method)),
            param_space={"idx": tune.grid_search([int(i) for i in order])},
            tune_config=tune.TuneConfig(metric="value", mode=task.mode, scheduler=scheduler,
                                        max_concurrent_trials=CONCURRENCY, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=storage, name=_safe(study_name), verbose=0,
                                      stop=BudgetStopper(), callbacks=callbacks),
        )
        with warnings.catch_warnings(), _without_result_files():
            # The budget stopper ends the last trials before max_t: expected here, not a
            # misconfigured max_t as LCScheduler's warning supposes.
            warnings.filterwarnings("ignore", message="trials complete before max_t",
                                    category=ForecastWarning)
            tuner.fit()
    return tracker.finish(), tracker.spent


@contextmanager
def _without_result_files() -> Iterator[None]:
    """Ray's default loggers off for one replay (unless the caller set them): they write every result
    to JSON, CSV and TensorBoard files, which a replay never reads, and halved its speed (a TaskSet
    ``none`` ordering: 5.9 s against 3.0 s without).  Set only around the replay's ``fit``, so that
    other Ray runs in the same process keep their result files."""
    key = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
    before = os.environ.get(key)
    if before is None:
        os.environ[key] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:100]


def check_method(method: str) -> None:
    """Raise a clear error for a method this replay does not know."""
    if method.startswith("lc:"):
        from lc_hpo.defaults import resolve_predictor

        resolve_predictor(parse_lc_method(method).predictor)
    elif method not in BUILTIN_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(BUILTIN_METHODS)} "
                         f"or {LC_METHOD_SYNTAX}")


__all__ = ["BUILTIN_METHODS", "PAUSING_METHODS", "check_method", "make_scheduler", "pauses",
           "replay_ordering"]
