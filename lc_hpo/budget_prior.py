"""Budgets from training-time estimates: a trial's prior curve, its step budget, and start order.

A :class:`~lc_hpo.estimate.TrainingTimeEstimate` made before a fine-tuning trial trains predicts its
training-loss curve and the SGD steps to a target loss.  The integrations turn that into three budget
decisions, all here so that Optuna and Ray Tune share them:

* **prior stop** (:func:`prior_decision`): before the trial has reported anything, stop it when its
  predicted loss at the end of its horizon beats the incumbent
  with probability below the threshold.  This compares the predicted *training loss* with the
  incumbent, so it is only meaningful when the trials report that same loss (a minimised metric).
* **step budget** (:func:`step_budget`): train to the predicted steps-to-target (the upper end of its
  80 % interval), not to a fixed maximum.
* **start order** (:func:`soonest_first`): among trials not yet started, start those predicted to
  reach the target soonest; trials without an estimate keep their order, after the estimated ones.
* **predicted cost** (:func:`predicted_length`): what a trial not yet started will cost a budget, in
  reports, so that a budget is spent on the trials predicted to reach the target soonest
  (:func:`lc_hpo.scheduling.start_within_budget`).

An estimate is stored as plain JSON (``TrainingTimeEstimate.to_dict()``).  A missing estimate changes
nothing; a malformed one is ignored (the caller warns), never a reason to stop a trial.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from scipy.stats import norm

from .decision import Decision

#: Where an estimate is kept: the Optuna user attribute and the Ray Tune config key.
ESTIMATE_KEY = "lc_estimate"
#: The reason recorded for a trial the prior stops before it reports.
PRIOR = "prior"
#: z of the 90th percentile: the stored 80 % band is mean ± Z80 σ for a normal spread.
Z80 = float(norm.ppf(0.9))


class EstimateError(ValueError):
    """A stored estimate that cannot be read (it is then ignored)."""


def read_estimate(raw: Any) -> dict[str, Any]:
    """Validate a stored estimate (a ``to_dict()`` or a TrainingTimeEstimate); returns the dict."""
    if hasattr(raw, "to_dict"):
        raw = raw.to_dict()
    if not isinstance(raw, Mapping):
        raise EstimateError(f"an estimate must be a mapping from TrainingTimeEstimate.to_dict(), "
                            f"got {type(raw).__name__}")
    missing = {"steps", "diverges", "max_steps", "curve_steps", "curve_loss"} - set(raw)
    if missing:
        raise EstimateError(f"the estimate lacks {sorted(missing)}")
    if len(raw["curve_steps"]) != len(raw["curve_loss"]) or not raw["curve_steps"]:
        raise EstimateError("the estimate's curve_steps and curve_loss differ in length or are empty")
    return dict(raw)


def _inf(x: Any) -> float:
    return math.inf if x is None else float(x)


def step_budget(estimate: Mapping[str, Any], steps_per_report: int = 1,
                cap: int | None = None) -> int | None:
    """Reports a trial should make: its predicted steps-to-target (upper end of the interval)
    in reporting units, capped at ``cap``; None when the estimate predicts no finite time
    (diverges, or not within its horizon): then the caller's own limit applies."""
    e = read_estimate(estimate)
    if e["diverges"]:
        return None
    interval = e.get("steps_interval") or [e["steps"], e["steps"]]
    steps = _inf(interval[1]) if interval[1] is not None else _inf(e["steps"])
    if not math.isfinite(steps):
        steps = _inf(e["steps"])
    if not math.isfinite(steps):
        return None
    out = max(1, math.ceil(steps / steps_per_report))
    return min(out, cap) if cap is not None else out


def prior_decision(estimate: Mapping[str, Any], incumbent: float | None, *, threshold: float,
                   mode: str = "min") -> Decision:
    """Whether to stop a trial before it reports, from its estimate alone.

    With an incumbent and a minimised metric, the predicted loss at the end of the horizon (mean,
    with the spread of its 80 % band read as a normal) gives P(better than the incumbent); below
    ``threshold`` the trial stops.  A trial predicted to *diverge* is not stopped: that prediction is
    the linearised model's step-size limit, and real networks past it often leave the sharp region
    after a few steps (a catapult) and then train fastest of all (docs/estimate_cnn.md measured every
    such run of its sweep train to the target).  Divergence is left to the reported curve: NaN or
    infinite reports are stopped by the rule's ``diverged_patience``, a loss that stays high by the
    forecast.
    """
    e = read_estimate(estimate)
    if e["diverges"]:
        return Decision(stop=False, reason=PRIOR, step=0, incumbent=incumbent, threshold=threshold)
    if incumbent is None or mode != "min" or not math.isfinite(incumbent):
        return Decision(stop=False, reason=PRIOR, step=0, incumbent=incumbent, threshold=threshold)
    final = _inf(e["curve_loss"][-1])
    lo, hi = (_inf(v) for v in (e.get("curve_lo") or [final])[-1:] + (e.get("curve_hi") or [final])[-1:])
    if not math.isfinite(final):
        return Decision(stop=False, reason=PRIOR, step=0, incumbent=incumbent, threshold=threshold)
    sigma = max((hi - lo) / (2 * Z80), 1e-12) if math.isfinite(hi - lo) else 1e-12
    p = float(norm.cdf((incumbent - final) / sigma))
    return Decision(stop=p < threshold, reason=PRIOR, step=0, p_better=p, predicted_final=final,
                    lower=lo, upper=hi, incumbent=incumbent, threshold=threshold)


def soonest_first(estimates: Sequence[Any]) -> list[int]:
    """Indices ordered by predicted steps-to-target: finite estimates first (soonest first), then
    trials without a usable estimate (in their order), then those predicted never to get there."""
    def key(i: int) -> tuple[int, float, int]:
        raw = estimates[i]
        if raw is None:
            return (1, 0.0, i)
        try:
            e = read_estimate(raw)
            steps = math.inf if e["diverges"] else _inf(e["steps"])
        except (TypeError, ValueError):  # EstimateError, or a field that is not a number
            return (1, 0.0, i)
        return (0, steps, i) if math.isfinite(steps) else (2, 0.0, i)
    return sorted(range(len(estimates)), key=key)


def predicted_length(estimate: Any, max_t: int, steps_per_report: int = 1) -> int:
    """The reports a trial with this estimate is expected to make, at most ``max_t``: its step
    budget (:func:`step_budget`), or ``max_t`` when the estimate predicts no finite time (it
    diverges, or does not get there within its horizon).

    Raises:
        EstimateError: the estimate cannot be read (callers then treat the trial as one without
            an estimate, and warn).
    """
    try:
        budget = step_budget(estimate, steps_per_report, cap=max_t)
    except EstimateError:
        raise
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise EstimateError(f"the estimate's steps cannot be read ({exc})") from None
    return max_t if budget is None else budget


__all__ = ["ESTIMATE_KEY", "EstimateError", "PRIOR", "predicted_length", "prior_decision",
           "read_estimate", "soonest_first", "step_budget"]
