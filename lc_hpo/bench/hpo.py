"""``lc-hpo bench hpo``: replay HPO on curve sets, every method side by side, on every core.

Work is split into (task, method, ordering) jobs that run in worker processes; each job is a real
framework study (see ``lc_hpo.bench.replay_optuna``), deterministic for a given seed, so the
results do not depend on how many workers ran them or in which order they finished.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..curve import Curve
from ..curveset import group_by_task
from .protocol import MethodOnTask, ReplayTask, combine_orderings, score_task, summarise

#: Replay runners by framework: each module has ``replay_ordering(task, order, method, budget,
#: name)``, ``check_method(method)`` and ``BUILTIN_METHODS``.
RUNNERS = {
    "optuna": "lc_hpo.bench.replay_optuna",
    "ray": "lc_hpo.bench.replay_ray",
}
#: Frameworks that parallelise themselves: their replays run one at a time in this process.
SELF_PARALLEL = ("ray",)

_TASKS: dict[str, ReplayTask] = {}
_RUNNER: Callable[..., tuple[np.ndarray, int]] | None = None


def _module(framework: str) -> Any:
    if framework not in RUNNERS:
        raise ValueError(f"unknown framework {framework!r}; choose from {sorted(RUNNERS)}")
    return importlib.import_module(RUNNERS[framework])


def _runner(framework: str) -> Callable[..., tuple[np.ndarray, int]]:
    return _module(framework).replay_ordering


def _init_worker(tasks: dict[str, ReplayTask], framework: str) -> None:
    global _TASKS, _RUNNER
    import warnings

    import torch

    torch.set_num_threads(1)
    # Optuna's own pruners warn on every all-NaN slice of diverged runs; the replay knows.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="optuna")
    _TASKS = tasks
    _RUNNER = _runner(framework)


def _job(task_name: str, method: str, ordering: int, seed: int,
         budget_factor: float) -> tuple[str, str, int, np.ndarray, int]:
    task = _TASKS[task_name]
    order = task.ordering(seed, ordering)
    assert _RUNNER is not None
    regret, spent = _RUNNER(task, order, method, task.budget(budget_factor),
                            f"{task_name}|{method}|{ordering}")
    return task_name, method, ordering, regret.astype(np.float64), spent


def default_methods(framework: str = "optuna") -> list[str]:
    """Every built-in method and ``lc:NAME`` for every predictor that needs no fitting."""
    from lc_hpo.predictors import READY

    return list(_module(framework).BUILTIN_METHODS) + [f"lc:{p}" for p in READY]


def run_hpo_bench(
    curves: Sequence[Curve],
    methods: Sequence[str] | None = None,
    orderings: int = 20,
    budget_factor: float = 20.0,
    seed: int = 0,
    workers: int | None = None,
    framework: str = "optuna",
    progress: bool = True,
) -> dict[str, Any]:
    """Replay every task of ``curves`` with every method; returns the JSON-ready results."""
    if orderings < 1 or budget_factor <= 0:
        raise ValueError("orderings must be >= 1 and the budget positive")
    module = _module(framework)
    methods = list(methods) if methods else default_methods(framework)
    for required in ("none", "oracle"):  # the speedup target and the limit
        if required not in methods:
            methods.insert(0 if required == "none" else 1, required)
    for m in methods:
        module.check_method(m)
    tasks = {name: ReplayTask(name, cs) for name, cs in group_by_task(curves).items()}
    jobs = [(t, m, o) for t in tasks for m in methods for o in range(orderings)]
    workers = 1 if framework in SELF_PARALLEL else workers or min(os.cpu_count() or 1, len(jobs))
    collected: dict[tuple[str, str], dict[int, tuple[np.ndarray, int]]] = {}
    bar = tqdm(total=len(jobs), desc="replays", disable=not progress)
    if workers == 1:
        _init_worker(tasks, framework)
        for t, m, o in jobs:
            _store(collected, _job(t, m, o, seed, budget_factor))
            bar.update(1)
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(tasks, framework)) as pool:
            futures = [pool.submit(_job, t, m, o, seed, budget_factor) for t, m, o in jobs]
            for fut in futures:
                _store(collected, fut.result())
                bar.update(1)
    bar.close()

    results: dict[str, dict[str, MethodOnTask]] = {}
    for t in tasks:
        results[t] = {}
        for m in methods:
            runs = collected[(t, m)]
            results[t][m] = combine_orderings([runs[o][0] for o in sorted(runs)],
                                              [runs[o][1] for o in sorted(runs)])
        score_task(results[t])
    return {
        "tasks": {t: {m: r.to_dict() for m, r in per.items()} for t, per in results.items()},
        "summary": summarise(results),
        "anytime_regret": {t: {m: _rounded(r.mean_regret) for m, r in per.items()}
                           for t, per in results.items()},
        "setup": {"framework": framework, "methods": methods, "orderings": orderings,
                  "budget_factor": budget_factor, "seed": seed,
                  "max_step": {t: task.max_step for t, task in tasks.items()},
                  "configurations": {t: len(task.curves) for t, task in tasks.items()}},
    }


def _store(collected: dict, item: tuple[str, str, int, np.ndarray, int]) -> None:
    t, m, o, regret, spent = item
    collected.setdefault((t, m), {})[o] = (regret, spent)


def _rounded(a: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in a]


def format_summary(results: dict[str, Any]) -> str:
    """Markdown tables: the summary over tasks, then speedup / regret per task."""
    summary = results["summary"]
    lines = ["| method | median speedup | median oracle fraction | mean regret | missed |",
             "|---|---:|---:|---:|---:|"]
    for m, s in summary.items():
        lines.append(f"| {m} | {s['median_speedup']:.2f} | {s['median_oracle_fraction']:.2f} | "
                     f"{s['mean_regret']:.4g} | {s['missed']:.2f} |")
    methods = list(summary)
    lines += ["", "Speedup per task (regret at the full budget in brackets):", "",
              "| task | " + " | ".join(methods) + " |",
              "|---|" + "---:|" * len(methods)]
    for t, per in results["tasks"].items():
        cells = [f"{per[m]['speedup']:.2f} ({per[m]['regret']:.3g})" for m in methods]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(results, indent=1))
