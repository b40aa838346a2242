"""How well can *any* forecaster do on a curve set?  A reference for `lc-hpo bench predict`.

For each task, a gradient-boosted regressor (scikit-learn, absolute error) is fitted on one half of
the task's *own* complete curves and forecasts the final value of the other half from their first
``--cutoff`` of the budget (then the halves swap), clipped to the metric's natural bounds as the
library's forecasts are.  Once from the curve alone (the resampled prefix, its last, lowest and highest
value), once from the curve and the configuration (numeric hyperparameters, log-scaled when positive,
categories as codes).  A meta-trained default never sees a held-out task's curves; this reference
sees half of them, so it is an optimistic bound on what the observed prefix (and the configuration)
can say about the final value.

    python benchmarks/forecast_ceiling.py --curves ../shared/data/taskset/patch32_GRU64_avg_bs128.jsonl \\
        ../shared/data/taskset/patch32_IRNN64_relu_last_bs128.jsonl \\
        ../shared/data/taskset/patch128_LSTM128_avg_bs64.jsonl --diverged-above 10

Prints, per task and over all, the final-value MAE of the last value and of both references, and
their ratios to the last value's (the measure of issue 5's target).
"""

from __future__ import annotations

import argparse
import math
from typing import Sequence

import numpy as np

from lc_hpo import read_curves
from lc_hpo.bounds import natural_bounds
from lc_hpo.curve import Curve
from lc_hpo.curveset import group_by_task, mark_diverged
from lc_hpo.predictors import ObservedBatch

PREFIX_POINTS = 8


def _rows(curves: Sequence[Curve], cutoff: float) -> tuple[np.ndarray, ...]:
    """Features of each curve's prefix, its configuration, its last value, bounds and final value."""
    partials = [c.truncate(max(1, int(round(cutoff * c.max_step)))) for c in curves]
    keep = [i for i, p in enumerate(partials)
            if p.finite[1].size and math.isfinite(curves[i].final_value)]
    partials, curves = [partials[i] for i in keep], [curves[i] for i in keep]
    batch = ObservedBatch.from_curves(partials)
    lower, upper = natural_bounds(batch.values, batch.mask, batch.sign)
    prefix, last = [], []
    for p in partials:
        s, v = p.finite
        grid = np.linspace(s[0], s[-1], PREFIX_POINTS)
        prefix.append(np.concatenate([np.interp(grid, s, v) - v[-1], [v[-1], v.min(), v.max()]]))
        last.append(v[-1])
    keys = sorted({k for c in curves for k in c.config})
    categories = {k: sorted({str(c.config.get(k)) for c in curves}) for k in keys}
    config = np.array([[_number(c.config.get(k), categories[k]) for k in keys]
                       for c in curves]).reshape(len(curves), len(keys))
    final = np.array([c.final_value for c in curves])
    return np.asarray(prefix), config, np.asarray(last), lower, upper, final


def _number(v: object, categories: list[str]) -> float:
    """A hyperparameter as a number: log of a positive number, a category as its index."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return math.log(v) if v > 0 else float(v)
    return float(categories.index(str(v))) if v is not None else math.nan


def _two_fold(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor

    pred = np.zeros_like(y)
    order = np.random.default_rng(seed).permutation(len(y))
    halves = (order[: len(y) // 2], order[len(y) // 2:])
    for fit, test in (halves, halves[::-1]):
        model = HistGradientBoostingRegressor(loss="absolute_error", max_iter=300,
                                              learning_rate=0.05, random_state=seed)
        pred[test] = model.fit(X[fit], y[fit]).predict(X[test])
    return pred


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", nargs="+", required=True, metavar="FILE")
    ap.add_argument("--cutoff", type=float, default=0.2, help="share of the budget observed (0.2)")
    ap.add_argument("--diverged-above", type=float, metavar="X")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    curves = [c for c in mark_diverged(read_curves(args.curves), args.diverged_above)
              if c.is_complete]
    print("| task | curves | last value MAE | curve alone | ratio | curve + config | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    totals = np.zeros(3)
    n_all = 0
    for task, cs in sorted(group_by_task(curves).items()):
        prefix, config, last, lower, upper, final = _rows(cs, args.cutoff)
        errors = [np.abs(last - final)]
        for X in (prefix, np.hstack([prefix, config])):
            guess = np.clip(last + _two_fold(X, final - last, args.seed), lower, upper)
            errors.append(np.abs(guess - final))
        mae = [float(e.mean()) for e in errors]
        totals += [float(e.sum()) for e in errors]
        n_all += len(final)
        print(f"| {task} | {len(final)} | {mae[0]:.4g} | {mae[1]:.4g} | {mae[1] / mae[0]:.2f} | "
              f"{mae[2]:.4g} | {mae[2] / mae[0]:.2f} |")
    t = totals / n_all
    print(f"| all | {n_all} | {t[0]:.4g} | {t[1]:.4g} | {t[1] / t[0]:.2f} | {t[2]:.4g} | "
          f"{t[2] / t[0]:.2f} |")


if __name__ == "__main__":
    main()
