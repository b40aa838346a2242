"""Objectives for the Optuna tests; importable so that worker processes can run them too."""

from __future__ import annotations

import numpy as np
import optuna

STEPS = 30


def curve_for(q: float, seed: int, steps: int = STEPS) -> np.ndarray:
    """An accuracy-like curve whose final value rises with ``q`` in [0, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, steps + 1)
    final = 0.5 + 0.45 * q
    return final - (final - 0.1) * np.exp(-0.25 * t) + rng.normal(0, 0.003, steps)


def accuracy_objective(trial: optuna.Trial, every: int = 1, first_step: int = 1,
                       minimize: bool = False) -> float:
    """Reports a synthetic curve every ``every`` steps, starting at ``first_step``."""
    q = trial.suggest_float("q", 0.0, 1.0)
    curve = curve_for(q, trial.number)
    sign = -1.0 if minimize else 1.0
    value = None
    for i in range(0, STEPS, every):
        value = sign * float(curve[i])
        trial.report(value, first_step + i)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value
