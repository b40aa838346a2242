"""Replaying recorded curves through real Optuna studies, for ``lc-hpo bench hpo``.

Each replay is a genuine in-memory Optuna study: the objective reports a recorded curve step by step
(``trial.report`` / ``trial.should_prune``) and the study's pruner decides, exactly as in a live sweep.
Only the training is replaced by the recording.  What is measured (regret, speedup) is computed by the
framework-free :mod:`lc_hpo.bench.protocol`.

Besides Optuna's own pruners and ``LCPruner``, two reference methods are defined here as pruners:
``one-step`` (Egele et al. 2023: keep a run past its first step only if its first value is among the
``k`` best first values seen) and ``oracle`` (it knows every final value and stops after the first step
every run that will not beat the incumbent: the limit of what stopping can gain).
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from lc_hpo.bench.protocol import (LC_METHOD_SYNTAX, RegretTracker, ReplayTask,
                                    oracle_stops, parse_lc_method)
from lc_hpo.curve import is_better

from lc_hpo.integrations.optuna import LCPruner, set_architecture

#: The methods every replay knows, besides ``lc:NAME[@THRESHOLD][:startup=N]``.
BUILTIN_METHODS = ("none", "median", "percentile", "sha", "hyperband", "patient", "one-step",
                   "oracle")


def _mode(study: "optuna.study.Study") -> str:
    return "min" if study.direction == StudyDirection.MINIMIZE else "max"


class OneStepPruner(BasePruner):
    """Keep a run past its first step only if its first value is among the ``k`` best first values."""

    def __init__(self, k: int = 3) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self.k = k

    def prune(self, study: "optuna.study.Study", trial: FrozenTrial) -> bool:
        if len(trial.intermediate_values) != 1:
            return False
        first = next(iter(trial.intermediate_values.values()))
        if math.isnan(first):
            return True
        mode = _mode(study)
        better = 0
        for t in study.get_trials(deepcopy=False):
            if t.number == trial.number or not t.intermediate_values:
                continue
            v = t.intermediate_values[min(t.intermediate_values)]
            if not math.isnan(v) and is_better(v, first, mode):  # type: ignore[arg-type]
                better += 1
                if better >= self.k:
                    return True
        return False


class OraclePruner(BasePruner):
    """Knows each run's final value; stops after its first step every run that will not beat the
    best completed run so far."""

    def __init__(self, final_of: Callable[[int], float]) -> None:
        self.final_of = final_of

    def prune(self, study: "optuna.study.Study", trial: FrozenTrial) -> bool:
        if len(trial.intermediate_values) != 1:
            return False
        mode = _mode(study)
        done = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.value is not None and not math.isnan(t.value)]
        incumbent = (min(done) if mode == "min" else max(done)) if done else None
        return oracle_stops(self.final_of(trial.number), incumbent, mode)  # type: ignore[arg-type]


def _patient() -> BasePruner:
    with warnings.catch_warnings():  # experimental in Optuna; the benchmark knows
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.pruners.PatientPruner(optuna.pruners.MedianPruner(), patience=2)


def make_pruner(method: str, final_of: Callable[[int], float]) -> BasePruner:
    """The pruner a method name stands for."""
    if method.startswith("lc:"):
        spec = parse_lc_method(method)
        return LCPruner(spec.predictor, **spec.options())
    factories: dict[str, Callable[[], BasePruner]] = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "percentile": lambda: optuna.pruners.PercentilePruner(25.0),
        "sha": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "patient": _patient,
        "one-step": OneStepPruner,
        "oracle": lambda: OraclePruner(final_of),
    }
    if method not in factories:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(BUILTIN_METHODS)} "
                         f"or {LC_METHOD_SYNTAX}")
    return factories[method]()


def check_method(method: str) -> None:
    """Raise a clear error for a method this replay does not know."""
    make_pruner(method, lambda number: float("nan"))


def replay_ordering(task: ReplayTask, order: np.ndarray, method: str, budget: int,
                    study_name: str) -> tuple[np.ndarray, int]:
    """One replayed study; returns the anytime regret (one entry per step) and the steps spent."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tracker = RegretTracker(task, budget)

    def final_of(number: int) -> float:
        return float(task.finals[order[number]]) if number < len(order) else math.nan

    study = optuna.create_study(
        study_name=study_name,
        direction="minimize" if task.mode == "min" else "maximize",
        pruner=make_pruner(method, final_of),
        sampler=optuna.samplers.RandomSampler(seed=0),
    )

    def objective(trial: optuna.Trial) -> float:
        curve = task.curves[order[trial.number]]
        if curve.arch is not None:  # as a live NAS sweep would, for architecture-aware predictors
            set_architecture(trial, curve.arch)
        previous = 0
        last = len(curve.steps) - 1
        for k, (step, value) in enumerate(zip(curve.steps.tolist(), curve.values.tolist())):
            done = k == last
            if not tracker.spend(step - previous, completed_final=value if done else None):
                study.stop()
                raise optuna.TrialPruned()
            previous = step
            trial.report(value, step)
            if not done and trial.should_prune():
                if tracker.exhausted:
                    study.stop()
                raise optuna.TrialPruned()
        if tracker.exhausted:
            study.stop()
        return float(curve.final_value)

    study.optimize(objective, n_trials=len(order), catch=())
    return tracker.finish(), tracker.spent
