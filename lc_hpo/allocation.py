"""Ranking and budgeting from forecasts: which trial to run next, and which ones a budget can finish.

Stopping answers "can this trial still win?" (:mod:`lc_hpo.decision`).  A scheduler that can pause and
resume trials, or that has a fixed budget, also needs "which trial is most worth the next unit of
compute?".  The answer used here is the forecast's *expected improvement* of the final value over the
incumbent, per unit of cost still needed to reach ``max_step`` (freeze-thaw in the spirit of Swersky
et al. 2014).  Framework-free, like the rule: the Ray Tune scheduler only translates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .curve import Curve
from .decision import StoppingRule

#: The reason a scheduler records for a trial it stops because the budget cannot finish it.
OVER_BUDGET = "budget"


@dataclass(frozen=True)
class Candidate:
    """A live trial as the allocator sees it."""

    key: str
    curve: Curve
    remaining_cost: float  # cost (budget units) to run it from where it is to max_step


@np.errstate(over="ignore", invalid="ignore", divide="ignore")  # overflow means "not finite" here
def promise(rule: StoppingRule, curves: Sequence[Curve], incumbent: float | None,
            context: Sequence[Curve] | None = None) -> np.ndarray:
    """Expected improvement of each curve's final value over ``incumbent`` (higher is better).

    Without an incumbent, the forecast final value itself, turned so that higher is better.  A trial
    with no finite value yet (it has just started) has nothing to forecast and gets +inf, quietly.  If
    the forecast fails or is not finite the promise is +inf too: a trial is never starved for lack of
    a forecast, and the rule says so once.
    """
    curves = list(curves)
    seen = np.array([c.finite[1].size > 0 for c in curves], dtype=bool)
    if not seen.all():
        out = np.full(len(curves), math.inf)
        if seen.any():
            out[seen] = promise(rule, [c for c, s in zip(curves, seen) if s], incumbent, context)
        return out
    if not curves:
        return np.zeros(0)
    try:
        f = rule.forecast(curves, context)
        if incumbent is None or not math.isfinite(incumbent):
            sign = np.array([1.0 if c.mode == "max" else -1.0 for c in curves])
            score = sign * f.mean[:, -1]
        else:
            score = f.expected_improvement(incumbent, [c.mode for c in curves])
    except Exception as exc:  # noqa: BLE001 - a ranking failure must never stop a trial
        rule.warn_once(f"ranking forecast failed ({type(exc).__name__}: {exc}); trials are run in "
                       "arrival order while forecasts fail", key="promise")
        return np.full(len(curves), math.inf)
    bad = ~np.isfinite(score)
    if bad.any():
        rule.warn_once("ranking forecast was not finite for some trials; they are treated as "
                       "most promising", key="promise-nan")
        score = np.where(bad, math.inf, score)
    return score


def fund(rule: StoppingRule, candidates: Sequence[Candidate], incumbent: float | None,
         remaining_budget: float, context: Sequence[Curve] | None = None) -> set[str]:
    """The candidates a budget should finish: greedily by promise per unit of remaining cost.

    Every candidate whose remaining cost fits in what is left of the budget, taken in order of
    expected gain per cost, is funded; the rest should stop.  With no budget left, nothing is.
    """
    if remaining_budget <= 0 or not candidates:
        return set()
    gains = promise(rule, [c.curve for c in candidates], incumbent, context)
    costs = np.array([max(c.remaining_cost, 1e-12) for c in candidates])
    with np.errstate(invalid="ignore"):
        ratio = np.where(np.isinf(gains), np.inf, gains / costs)
    order = sorted(range(len(candidates)), key=lambda i: (-ratio[i], costs[i]))
    funded, left = set(), remaining_budget
    for i in order:
        if costs[i] <= left:
            funded.add(candidates[i].key)
            left -= costs[i]
    return funded
