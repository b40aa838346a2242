"""``lc-hpo bench predict``: how well each predictor forecasts curves it has not seen.

For every curve and cutoff (the fraction of ``max_step`` observed) the rest of the curve is forecast.
Predictors that learn are fitted on curves of *other* tasks only (``--train``), never on evaluated ones.

JSON shape (``--json``)::

    {"predictors": {NAME: {CUTOFF: {
        "final":     {"mae", "rmse", "mape", "nmae", "loglik", "coverage90", "spearman"},
        "remaining": {"mae", "rmse", "mape", "nmae"},
        "seconds_per_curve": x, "n_curves": n}}},
     "tasks": [...], "train_tasks": [...], "cutoffs": [...]}

``final`` scores the forecast of the value at ``max_step``; ``remaining`` every step after the cutoff.
Errors are those of the forecast's median, the point forecast that minimises the absolute error
(``--point mean`` scores the mean instead): a forecast that says "stuck at chance, or learns" is
bimodal, and its mean lies where neither outcome does.
``nmae`` divides each error by its task's spread of final values (90th − 10th percentile), so that tasks
measured in different units weigh alike; ``loglik`` is the mean log density of the true final value;
``coverage90`` the share of finals inside the central 90 % interval; ``spearman`` the rank correlation of
predicted and true finals within a task, averaged over tasks.  Diverged (``null``) values are skipped.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from ..curve import Curve
from ..curveset import group_by_task
from ..predictors import Predictor, make_predictor

DEFAULT_CUTOFFS = (0.1, 0.2, 0.4, 0.8)


def task_scales(curves: Sequence[Curve]) -> dict[str, float]:
    """Per task, the spread of finite final values (90th − 10th percentile), never zero."""
    scales = {}
    for task, cs in group_by_task(curves).items():
        finals = np.array([c.final_value for c in cs])
        finals = finals[np.isfinite(finals)]
        spread = float(np.subtract(*np.percentile(finals, [90, 10]))) if finals.size else 0.0
        if not spread > 0:
            spread = float(np.std(finals)) if finals.size > 1 else 0.0
        scales[task] = spread if spread > 0 else 1.0
    return scales


def check_cutoffs(cutoffs: Sequence[float]) -> None:
    """Cutoffs are fractions of a curve's budget observed before forecasting."""
    if any(not 0.0 < c < 1.0 for c in cutoffs):
        raise ValueError("cutoffs are fractions of max_step strictly between 0 and 1")


def trained_tasks(predictor: Predictor) -> set[str]:
    """The tasks a (meta-trained) predictor's checkpoint says it was trained on."""
    return set(getattr(predictor, "metadata_", {}).get("trained_on", {}).get("tasks", []))


def trained_config_ids(predictor: Predictor) -> set[tuple[str, str]]:
    """The (task, config_id) pairs a predictor's checkpoint lists as trained on (may be empty)."""
    ids = getattr(predictor, "metadata_", {}).get("trained_on", {}).get("config_ids", [])
    return {tuple(i.split("\x1f", 1)) for i in ids if "\x1f" in i}  # type: ignore[misc]


def held_out_tasks(train: Sequence[Curve], evaluated: Sequence[Curve]) -> list[str]:
    """Tasks that ``train`` and ``evaluated`` share with no configuration in common (held-out
    configurations, e.g. unseen architectures of a NAS space); a shared config_id is an error."""
    shared_ids = {(c.task, c.config_id) for c in train} & {(c.task, c.config_id) for c in evaluated}
    if shared_ids:
        shown = ", ".join(f"{t}/{c}" for t, c in sorted(shared_ids)[:3])
        raise ValueError(f"--train shares {len(shared_ids)} configuration(s) with the evaluated "
                         f"curves (task/config_id: {shown}); evaluate on configurations it never saw")
    return sorted({c.task for c in train} & {c.task for c in evaluated})


def _prepare(predictor: str | Predictor, train: Sequence[Curve] | None,
             evaluated: Sequence[Curve]) -> Predictor:
    p = make_predictor(predictor) if isinstance(predictor, str) else predictor
    eval_tasks = {c.task for c in evaluated}
    refit = bool(train) and getattr(p, "refit_with_train", False)
    if p.needs_fit and (refit or not getattr(p, "is_fitted", False)):
        if not train:
            raise ValueError(f"predictor {p.name!r} must be fitted: give curves of other tasks "
                             "(or other configurations of the same tasks) with --train")
        held_out_tasks(train, evaluated)
        p.fit(train)
        return p
    ids = trained_config_ids(p)
    if ids:  # the checkpoint lists its configurations: refuse only those
        shared = ids & {(c.task, c.config_id) for c in evaluated}
        if shared:
            raise ValueError(f"{predictor!r} was trained on {len(shared)} of the evaluated "
                             f"configurations (e.g. {'/'.join(sorted(shared)[0])}); evaluate on "
                             "configurations it never saw")
        return p
    seen = trained_tasks(p)
    if seen & eval_tasks:
        raise ValueError(f"{predictor!r} was trained on task(s) {sorted(seen & eval_tasks)[:3]} "
                         "that are being evaluated; evaluate on tasks it never saw")
    return p


def evaluate(predictor: Predictor, curves: Sequence[Curve], cutoff: float,
             scales: dict[str, float], point: str = "median", folds: int = 2,
             seed: int = 0) -> dict[str, Any]:
    """Forecast every curve from its first ``cutoff × max_step`` steps and score the forecasts.

    A predictor that learns from the study's finished trials (``uses_context``) gets, for each curve,
    the complete curves of the *other* ``folds - 1`` folds of its task (a seeded split) as those
    finished trials: with 2 folds, a study half-way through.
    """
    fold = _folds(curves, folds, seed) if predictor.uses_context else np.zeros(len(curves), int)
    groups: dict[tuple, list[int]] = {}
    partial, remaining = [], []
    for i, c in enumerate(curves):
        p = c.observed(cutoff)
        rest = c.steps[c.steps > p.last_step]
        partial.append(p)
        remaining.append(rest)
        key = (c.task, int(fold[i])) if predictor.uses_context else ()
        groups.setdefault((tuple(rest.tolist()), key), []).append(i)
    means: list[np.ndarray | None] = [None] * len(curves)
    final_pred = np.full(len(curves), math.nan)
    final_ll = np.full(len(curves), math.nan)
    covered = np.zeros(len(curves), dtype=bool)
    elapsed = 0.0
    for (steps, key), idx in groups.items():
        if not steps:
            continue
        start = time.perf_counter()
        if key:
            context = [c for c, k in zip(curves, fold) if c.task == key[0] and k != key[1]]
            f = predictor.predict([partial[i] for i in idx], steps=np.array(steps),
                                  context=context)  # type: ignore[call-arg]
        else:
            f = predictor.predict([partial[i] for i in idx], steps=np.array(steps))
        elapsed += time.perf_counter() - start
        last = f.at(-1)
        lo, hi = last.interval(0.9)
        mean = f.quantile(0.5) if point == "median" else f.mean
        y = np.array([curves[i].final_value for i in idx])
        with np.errstate(invalid="ignore"):
            ll = last.logpdf(np.nan_to_num(y)[:, None])[:, 0]
        for j, i in enumerate(idx):
            means[i] = mean[j]
            final_pred[i] = mean[j, -1]
            if math.isfinite(y[j]):
                final_ll[i] = float(ll[j])
                covered[i] = lo[j, 0] <= y[j] <= hi[j, 0]
    finals = np.array([c.final_value for c in curves])
    ok = np.isfinite(finals) & np.isfinite(final_pred)
    scale = np.array([scales[c.task] for c in curves])
    err = final_pred - finals
    rest_err, rest_y, rest_scale = [], [], []
    for i, c in enumerate(curves):
        rest_mean = means[i]
        if rest_mean is None:
            continue
        y = c.values[np.isin(c.steps, remaining[i])]
        good = np.isfinite(y) & np.isfinite(rest_mean)
        rest_err.append((rest_mean - y)[good])
        rest_y.append(y[good])
        rest_scale.append(np.full(int(good.sum()), scales[c.task]))
    re, ry, rs = (np.concatenate(a) if a else np.zeros(0) for a in (rest_err, rest_y, rest_scale))
    return {
        "final": {
            **_errors(err[ok], finals[ok], scale[ok]),
            "loglik": _mean(final_ll[ok]),
            "coverage90": _mean(covered[ok].astype(float)),
            "spearman": _rank_correlation(curves, final_pred, finals),
        },
        "remaining": _errors(re, ry, rs),
        "seconds_per_curve": elapsed / max(len(curves), 1),
        "n_curves": int(ok.sum()),
    }


def _folds(curves: Sequence[Curve], folds: int, seed: int) -> np.ndarray:
    """A seeded assignment of each task's curves to ``folds`` folds of (nearly) equal size."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer of at least 2, got {folds!r}")
    rng = np.random.default_rng(seed)
    out = np.zeros(len(curves), dtype=int)
    for task, idx in sorted(_indices_by_task(curves).items()):
        out[idx] = rng.permutation(len(idx)) % folds
    return out


def _indices_by_task(curves: Sequence[Curve]) -> dict[str, list[int]]:
    by_task: dict[str, list[int]] = {}
    for i, c in enumerate(curves):
        by_task.setdefault(c.task, []).append(i)
    return by_task


def _errors(err: np.ndarray, y: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    nz = np.abs(y) > 1e-12
    return {
        "mae": _mean(np.abs(err)),
        "rmse": math.sqrt(_mean(err**2)) if err.size else math.nan,
        "mape": _mean(np.abs(err[nz]) / np.abs(y[nz])),
        "nmae": _mean(np.abs(err) / scale),
    }


def _mean(a: np.ndarray) -> float:
    return float(np.mean(a)) if a.size else math.nan


def _rank_correlation(curves: Sequence[Curve], pred: np.ndarray, true: np.ndarray) -> float:
    rhos = []
    for idx in _indices_by_task(curves).values():
        idx = [i for i in idx if math.isfinite(pred[i]) and math.isfinite(true[i])]
        if len(idx) >= 3 and np.ptp(true[idx]) > 0 and np.ptp(pred[idx]) > 0:
            rhos.append(spearmanr(pred[idx], true[idx]).statistic)
    return float(np.mean(rhos)) if rhos else math.nan


def run_predict_bench(
    curves: Sequence[Curve],
    predictors: Sequence[str | Predictor],
    cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
    train: Sequence[Curve] | None = None,
    progress: bool = True,
    point: str = "median",
    folds: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate each predictor at each cutoff on the complete curves of ``curves``.

    ``folds``: predictors that learn from a study's finished trials see, for each curve, the
    other folds of its task as finished (see :func:`evaluate`); ``seed`` draws that split."""
    if point not in ("median", "mean"):
        raise ValueError("point must be 'median' or 'mean'")
    check_cutoffs(cutoffs)
    complete = [c for c in curves if c.is_complete]
    if not complete:
        raise ValueError("bench predict needs complete curves (ending at their max_step)")
    scales = task_scales(complete)
    eval_tasks = {c.task for c in complete}
    out: dict[str, Any] = {"predictors": {}, "tasks": sorted(eval_tasks),
                           "train_tasks": sorted({c.task for c in train or []}),
                           "cutoffs": list(cutoffs), "point": point, "folds": folds,
                           "seed": seed}
    shared = held_out_tasks(train, complete) if train else []
    if shared:
        out["notes"] = [f"--train and --curves share task(s) {', '.join(shared)} but no "
                        "config_id: predictors fitted here are scored on held-out configurations "
                        "of tasks they were trained on (e.g. unseen architectures), not on unseen "
                        "tasks"]
    bar = tqdm(total=len(predictors) * len(cutoffs), desc="forecasts", disable=not progress)
    for spec in predictors:
        p = _prepare(spec, train, complete)
        name = spec if isinstance(spec, str) else p.name
        out["predictors"][name] = {}
        for cutoff in cutoffs:
            out["predictors"][name][str(cutoff)] = evaluate(p, complete, cutoff, scales, point,
                                                               folds, seed)
            bar.update(1)
    bar.close()
    if not any(r["n_curves"] for per in out["predictors"].values() for r in per.values()):
        raise ValueError("bench predict could score no curve at any cutoff: each needs at least "
                         "two points, a finite value among those observed and a finite final one")
    return out


def _readable(x: float) -> str:
    """Three decimals for everyday magnitudes, four significant digits beyond (e.g. -8.797e+10)."""
    return f"{x:.3f}" if abs(x) < 1e4 else f"{x:.4g}"


def format_predict(results: dict[str, Any]) -> str:
    """Markdown table, one row per predictor and cutoff."""
    lines = ["| predictor | observed | final MAE | final RMSE | final nMAE | rest MAE | rest RMSE "
             "| log-lik. | 90% coverage | Spearman | ms/curve |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, per in results["predictors"].items():
        for cutoff, r in per.items():
            f, rest = r["final"], r["remaining"]
            lines.append(
                f"| {name} | {float(cutoff):.0%} | {f['mae']:.4g} | {f['rmse']:.4g} | "
                f"{_readable(f['nmae'])} | {rest['mae']:.4g} | {rest['rmse']:.4g} | "
                f"{_readable(f['loglik'])} | "
                f"{f['coverage90']:.2f} | {f['spearman']:.2f} | {1e3 * r['seconds_per_curve']:.3f} |")
    lines += [f"\nnote: {note}" for note in results.get("notes", [])]
    return "\n".join(lines)
