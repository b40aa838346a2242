"""The search space of the real training tasks, described once, framework-free.

Optuna users call :func:`suggest_config` with a trial; the Ray Tune examples translate the same
description into ``tune`` distributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Categorical:
    choices: Sequence[Any]


SEARCH_SPACE: dict[str, Float | Int | Categorical] = {
    "arch": Categorical(["mlp", "cnn"]),
    "depth": Int(1, 3),
    "width": Int(16, 128, log=True),
    "dropout": Float(0.0, 0.5),
    "optimizer": Categorical(["sgd", "adam"]),
    "lr": Float(1e-4, 0.3, log=True),
    "batch_size": Categorical([32, 64, 128]),
    "weight_decay": Float(1e-6, 1e-2, log=True),
}


def scheduled_space(schedules: Sequence[str],
                    space: dict[str, Float | Int | Categorical] | None = None
                    ) -> dict[str, Float | Int | Categorical]:
    """``space`` (default :data:`SEARCH_SPACE`) with a learning-rate schedule drawn per configuration.

    The ``schedule`` entry comes last, so the other settings of a seeded draw are those of the space
    without it.  ``schedules`` are names from :data:`~lc_hpo.bench.tasks.schedules.SCHEDULES`.
    """
    from .schedules import check_schedule

    names = [check_schedule(s) for s in schedules]
    if not names:
        raise ValueError("give at least one learning-rate schedule")
    if len(set(names)) != len(names):
        raise ValueError(f"learning-rate schedules repeated: {names}")
    return {**(space or SEARCH_SPACE), "schedule": Categorical(names)}


def sample_config(rng: Any, space: dict[str, Float | Int | Categorical] | None = None
                  ) -> dict[str, Any]:
    """Sample a configuration uniformly (log-uniformly where marked) with a numpy Generator."""
    import math

    config: dict[str, Any] = {}
    for name, dist in (space or SEARCH_SPACE).items():
        if isinstance(dist, Categorical):
            config[name] = dist.choices[int(rng.integers(len(dist.choices)))]
            continue
        lo, hi = dist.low, dist.high + (1 if isinstance(dist, Int) else 0)
        v = math.exp(rng.uniform(math.log(lo), math.log(hi))) if dist.log else rng.uniform(lo, hi)
        config[name] = min(int(v), dist.high) if isinstance(dist, Int) else float(v)
    return config


def suggest_config(trial: Any, space: dict[str, Float | Int | Categorical] | None = None
                   ) -> dict[str, Any]:
    """Sample a configuration with an Optuna-style trial (``suggest_float/int/categorical``)."""
    config: dict[str, Any] = {}
    for name, dist in (space or SEARCH_SPACE).items():
        if isinstance(dist, Float):
            config[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
        elif isinstance(dist, Int):
            config[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
        else:
            config[name] = trial.suggest_categorical(name, list(dist.choices))
    return config
