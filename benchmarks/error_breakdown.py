"""Which curves carry a predictor's final-value error?  A breakdown of `lc-hpo bench predict`'s MAE.

Issue 5 measures a forecast by its final-value MAE from the first ``--cutoff`` of each curve, against
the last value's.  An absolute error is a mean, so a few curves can carry much of it.  This example
forecasts every complete curve as ``bench predict`` does (the median, from the first ``cutoff ×
max_step`` steps) and splits the error three ways:

* curves that **diverged in the observed prefix** (a NaN or infinite value there, e.g. a loss above
  ``--diverged-above``): the forecast sees only their finite values, so it cannot know;
* **late blow-ups** among the others: the final value is worse than *every* value of the prefix, by
  more than the task's spread of final values (90th − 10th percentile, the unit of ``bench
  predict``'s ``nmae``) and by more than a quarter of that worst value's magnitude.  For a median
  forecast to foresee one, the prefix would have to make it more likely than not;
* and the rest.  It also counts the **flat** clean prefixes (at least two values, range under 2 % of
  the last value's magnitude, e.g. a run sitting at chance) and how many of them blew up later.

    python benchmarks/error_breakdown.py --curves ../shared/data/taskset/patch32_GRU64_avg_bs128.jsonl \\
        ../shared/data/taskset/patch32_IRNN64_relu_last_bs128.jsonl \\
        ../shared/data/taskset/patch128_LSTM128_avg_bs64.jsonl --diverged-above 10

Prints, per task and over all: curves, the predictor's and the last value's MAE and their ratio; the
curves diverged in their prefix and the late blow-ups (how many, their share of each MAE); the ratio
without either; and the flat prefixes (how many blew up later).
"""

from __future__ import annotations

import argparse
import math
from typing import Sequence

import numpy as np

from lc_hpo import make_predictor, read_curves
from lc_hpo.bench.predict import check_cutoffs
from lc_hpo.curve import Curve
from lc_hpo.curveset import group_by_task, mark_diverged

#: A late blow-up ends worse than its prefix's worst value by more than this fraction of it (and
#: by more than the task's spread of final values).
JUMP = 0.25
#: A flat prefix: its range is under this fraction of its last value's magnitude.
FLAT = 0.02


def breakdown(predictor_name: str, curves: Sequence[Curve], cutoff: float) -> list[dict]:
    """One row per task, then one over all, of the quantities printed (see the module docstring)."""
    try:
        check_cutoffs([cutoff])
    except ValueError as exc:
        raise SystemExit(f"--cutoff: {exc}") from None
    predictor = make_predictor(predictor_name)
    unfitted = predictor.needs_fit and not getattr(predictor, "is_fitted", False)
    if predictor.uses_context or unfitted:
        raise SystemExit(f"{predictor_name!r} needs finished trials or fitting; use a ready "
                         "predictor (default, parametric, last_value, a checkpoint)")
    rows, pooled = [], {k: [] for k in ("pred", "last", "div", "blow", "flat")}
    for task, group in group_by_task(curves).items():
        group = [c for c in group if c.is_complete and math.isfinite(c.final_value)]
        partials = [c.observed(cutoff) for c in group]  # as bench predict cuts them
        keep = [i for i, p in enumerate(partials) if p.finite[1].size]
        if not keep:
            continue
        group, partials = [group[i] for i in keep], [partials[i] for i in keep]
        final = np.array([c.final_value for c in group])
        sign = 1.0 if group[0].mode == "min" else -1.0  # positive = worse
        seen = [p.finite[1] for p in partials]
        last = np.array([v[-1] for v in seen])
        worst = np.array([(v.max() if sign > 0 else v.min()) for v in seen])
        spread = float(np.subtract(*np.percentile(final, [90, 10])))
        pred = predictor.predict(partials).quantile(0.5)[:, -1]
        e_pred, e_last = np.abs(pred - final), np.abs(last - final)
        diverged = np.array([not np.isfinite(p.values).all() for p in partials])
        blow = ~diverged & (sign * (final - worst) > np.maximum(spread, JUMP * np.abs(worst)))
        flat = ~diverged & np.array([v.size >= 2 and np.ptp(v) < FLAT * abs(v[-1]) for v in seen])
        rows.append(_row(task, e_pred, e_last, diverged, blow, flat))
        for key, val in zip(pooled, (e_pred, e_last, diverged, blow, flat)):
            pooled[key].append(val)
    if rows:
        rows.append(_row("all", *(np.concatenate(v) for v in pooled.values())))
    return rows


def _row(task: str, e_pred: np.ndarray, e_last: np.ndarray, diverged: np.ndarray,
         blow: np.ndarray, flat: np.ndarray) -> dict:
    rest = ~(diverged | blow)
    return {
        "task": task, "curves": len(e_pred),
        "mae": e_pred.mean(), "last_mae": e_last.mean(),
        "ratio": _ratio(e_pred.sum(), e_last.sum()),
        "diverged": int(diverged.sum()),
        "div_share": _ratio(e_pred[diverged].sum(), e_pred.sum()),
        "blow_ups": int(blow.sum()),
        "blow_share": _ratio(e_pred[blow].sum(), e_pred.sum()),
        "blow_share_last": _ratio(e_last[blow].sum(), e_last.sum()),
        "ratio_without": _ratio(e_pred[rest].sum(), e_last[rest].sum()),
        "flat": int(flat.sum()), "flat_blow_ups": int((flat & blow).sum()),
    }


def _ratio(a: float, b: float) -> float:
    """a / b, NaN when b is 0 (e.g. no error left to share)."""
    return float(a / b) if b > 0 else math.nan


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--curves", nargs="+", required=True)
    ap.add_argument("--diverged-above", type=float, default=None)
    ap.add_argument("--predictor", default="default")
    ap.add_argument("--cutoff", type=float, default=0.2)
    args = ap.parse_args(argv)
    curves = mark_diverged(read_curves(args.curves), args.diverged_above)
    rows = breakdown(args.predictor, curves, args.cutoff)
    print(f"{args.predictor} from the first {args.cutoff:.0%}: final-value MAE, and the late "
          "blow-ups' part of it\n")
    print("| task | curves | MAE | last value MAE | ratio | diverged in the prefix (share of MAE) "
          "| late blow-ups | their share of MAE (last value's) | ratio without either | "
          "flat prefixes (blown up later) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['task']} | {r['curves']} | {r['mae']:.4g} | {r['last_mae']:.4g} | "
              f"{r['ratio']:.3f} | {r['diverged']} ({r['div_share']:.0%}) | {r['blow_ups']} | "
              f"{r['blow_share']:.0%} ({r['blow_share_last']:.0%}) | {r['ratio_without']:.3f} | "
              f"{r['flat']} ({r['flat_blow_ups']}) |")


if __name__ == "__main__":
    main()
