"""Can a study calibrate P(better) from its trials' own later steps?  A check, not a feature.

The stopping rule trusts the forecast's tail on the *better* side: a trial stops when P(final beats the
incumbent) < 0.05.  Finished trials cannot say whether that 5 % is really 5 % (they are the runs the
pruner kept), but every trial, pruned ones too, reports later steps that its earlier forecasts can be
scored against.  This script measures, per task, how often the observed value falls beyond the
forecast's better-side quantile at levels 2/5/10/20 %, for

* *next steps*: a cut early in the budget (step 2 to 30 % of it) forecast 1-5 steps ahead, which any
  study sees long before a trial finishes, and
* *finals*: the same cuts forecast to ``max_step``, which is what the rule decides on.

A calibrated forecast gives 0.02/0.05/0.10/0.20 in both rows.  If the next-step row tracks the final
row, a study could recalibrate its tail online from its own trials.

    python benchmarks/tail_calibration.py --curves ../shared/data/taskset/patch32_GRU64_avg_bs128.jsonl \\
        --diverged-above 10
"""

from __future__ import annotations

import argparse

import numpy as np

from lc_hpo import make_predictor, read_curves
from lc_hpo.curveset import group_by_task, mark_diverged

LEVELS = (0.02, 0.05, 0.10, 0.20)


def better_side_pit(predictor, curves, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """P(forecast better than what was observed) at a next step and at the final, per sampled cut.

    The cuts are drawn first, then forecast in one batch (per curve: the next step and the final)."""
    curves = [c for c in curves if np.isfinite(c.final_value)]
    T = curves[0].max_step
    parts, targets, observed, minimise = [], [], [], []
    for i in rng.choice(len(curves), min(n, len(curves)), replace=False):
        c = curves[i]
        cut = int(rng.integers(2, max(3, int(0.3 * T))))
        part = c.truncate(cut)
        if part.finite[1].size < 2:
            continue
        target = min(T, cut + int(rng.integers(1, 6)))
        at = {int(s): v for s, v in zip(c.steps, c.values)}
        if not np.isfinite(at.get(target, np.nan)):
            continue
        parts.append(part)
        targets.append([target, T])
        observed.append([at[target], c.final_value])
        minimise.append(c.mode == "min")
    if not parts:
        return np.empty(0), np.empty(0)
    u = predictor.predict(parts, steps=np.array(targets)).cdf(np.array(observed))
    u = np.where(np.array(minimise)[:, None], u, 1.0 - u)
    return u[:, 0], u[:, 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", nargs="+", required=True, metavar="FILE")
    ap.add_argument("--predictor", default="default")
    ap.add_argument("--diverged-above", type=float, metavar="X")
    ap.add_argument("--per-task", type=int, default=300, help="cuts sampled per task (300)")
    ap.add_argument("--max-tasks", type=int, default=None, help="only the first N tasks")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    curves = mark_diverged(read_curves(args.curves), args.diverged_above)
    predictor = make_predictor(args.predictor)
    rng = np.random.default_rng(args.seed)
    head = " | ".join(f"<{a:.0%}" for a in LEVELS)
    print(f"| task | cuts | next steps: {head} | finals: {head} |")
    print("|---|---:|" + "---:|" * (2 * len(LEVELS)))
    for k, (task, cs) in enumerate(group_by_task(curves).items()):
        if args.max_tasks is not None and k >= args.max_tasks:
            break
        nxt, fin = better_side_pit(predictor, cs, args.per_task, rng)
        row = [f"{np.mean(nxt < a):.3f}" for a in LEVELS] + [f"{np.mean(fin < a):.3f}" for a in LEVELS]
        print(f"| {task.split('/')[-1]} | {nxt.size} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
