"""How much time ``trial.should_prune()`` costs with LCPruner, next to MedianPruner, in one run.

Two in-memory studies get the same population of finished trials; then running trials report their
curves step by step and every ``should_prune()`` is timed, alternating between the two pruners so that
both see the same machine load.  The added latency is LCPruner's percentile minus MedianPruner's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm


def synthetic_curves(n: int, steps: int, seed: int) -> np.ndarray:
    """``n`` noisy saturating accuracy-like curves of ``steps`` points (n, steps)."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, steps + 1)[None, :]
    final = rng.uniform(0.5, 0.95, (n, 1))
    rate = rng.uniform(0.05, 0.5, (n, 1))
    start = rng.uniform(0.05, 0.3, (n, 1))
    clean = final - (final - start) * np.exp(-rate * t)
    return clean + rng.normal(0.0, 0.01, (n, steps))


@dataclass
class LatencyResult:
    n_finished: int
    pruner: str
    p50_ms: float
    p99_ms: float
    calls: int


def _populate(study: Any, curves: np.ndarray) -> None:
    import optuna

    trials = [
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE,
            value=float(c[-1]),
            intermediate_values={s + 1: float(v) for s, v in enumerate(c)},
        )
        for c in curves
    ]
    study.add_trials(trials)


def measure(n_finished: int, n_running: int = 20, steps: int = 50, seed: int = 0,
            progress: bool = True) -> list[LatencyResult]:
    """Time should_prune() for LCPruner and MedianPruner with ``n_finished`` finished trials."""
    import optuna

    from lc_hpo.integrations.optuna import LCPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    finished = synthetic_curves(n_finished, steps, seed)
    running = synthetic_curves(n_running, steps, seed + 1)
    pruners = {"LCPruner": LCPruner(), "MedianPruner": optuna.pruners.MedianPruner()}
    studies = {}
    for name, pruner in pruners.items():
        study = optuna.create_study(direction="maximize", pruner=pruner)
        _populate(study, finished)
        studies[name] = study
    times: dict[str, list[float]] = {name: [] for name in pruners}
    bar = tqdm(total=n_running * steps, desc=f"{n_finished} finished", disable=not progress)
    for curve in running:
        trials = {name: study.ask() for name, study in studies.items()}
        for step, value in enumerate(curve, start=1):
            for name, trial in trials.items():
                trial.report(float(value), step)
                start = time.perf_counter()
                trial.should_prune()
                times[name].append(time.perf_counter() - start)
            bar.update(1)
        for name, trial in trials.items():
            studies[name].tell(trial, float(curve[-1]))
    bar.close()
    return [
        LatencyResult(n_finished, name, 1e3 * float(np.percentile(t, 50)),
                      1e3 * float(np.percentile(t, 99)), len(t))
        for name, t in times.items()
    ]


def format_results(results: list[LatencyResult]) -> str:
    """Markdown table: per population size, each pruner's p50/p99 and LCPruner's added latency."""
    lines = ["| finished trials | pruner | p50 (ms) | p99 (ms) | calls |", "|---:|---|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.n_finished} | {r.pruner} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {r.calls} |")
    lines += ["", "| finished trials | added p50 (ms) | added p99 (ms) |", "|---:|---:|---:|"]
    by_n: dict[int, dict[str, LatencyResult]] = {}
    for r in results:
        by_n.setdefault(r.n_finished, {})[r.pruner] = r
    for n, rs in by_n.items():
        lc, med = rs["LCPruner"], rs["MedianPruner"]
        lines.append(f"| {n} | {lc.p50_ms - med.p50_ms:.3f} | {lc.p99_ms - med.p99_ms:.3f} |")
    return "\n".join(lines)
