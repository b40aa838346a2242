"""What the training-time estimator returns: steps to a target, the predicted curve, and its cost."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The central interval reported for steps and losses (10th to 90th percentile of the SDE paths).
QUANTILES = (10.0, 90.0)
#: The standard normal's 90th percentile: a central 80 % interval is ±Z80 standard deviations.
Z80 = 1.2815515655446004


@dataclass(frozen=True)
class TrainingTimeEstimate:
    """A prediction of a fine-tuning run made before it trains (see :func:`estimate_training_time`).

    Attributes:
        steps: The first SGD step at which the loss on the whole data set is at or below
            ``target_loss`` (median over the simulated SGD paths); ``math.inf`` if not within
            ``max_steps`` or if the dynamics diverge.
        steps_interval: Central 80 % interval of that step over the paths.
        diverges: True when the learning rate is past the linearised dynamics' stability limit.
        seconds: The estimator's own wall time.
        initial_loss: The loss on the whole data set at the given weights (step 0).
        note: Why the prediction is what it is, when that needs saying (e.g. divergence).
    """

    steps: float
    steps_interval: tuple[float, float]
    diverges: bool
    seconds: float
    initial_loss: float
    target_loss: float
    max_steps: int
    loss: str
    hyperparameters: dict[str, float]
    n_samples: int
    note: str = ""
    times: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # real steps
    paths: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))  # (P, T)
    ode: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # noise-free, (T,)
    #: noise-free curves from halves of the kernel's subset, (K, T): the subset's own uncertainty
    subsets: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    #: how much of the halves' spread a subset of M of the N samples keeps (0 when M = N)
    subset_shrink: float = 0.0

    # --- curves -----------------------------------------------------------------------------------
    def loss_curve(self, steps: Any) -> np.ndarray:
        """Predicted mean training loss (over the SGD paths) at these steps; NaN past max_steps."""
        return self._at(steps, self.paths.mean(axis=0) if self.paths.size else None)

    def loss_interval(self, steps: Any) -> tuple[np.ndarray, np.ndarray]:
        """Central 80 % band of the training loss at these steps (the spread of the SGD noise)."""
        if not self.paths.size:
            return self.loss_curve(steps), self.loss_curve(steps)
        lo, hi = np.percentile(self.paths, QUANTILES, axis=0)
        return self._at(steps, lo), self._at(steps, hi)

    def steps_to(self, target_loss: float, noise: bool = True) -> tuple[float, tuple[float, float]]:
        """Steps (median, central 80 % interval) to another target, from the same simulation;
        ``noise=False`` reads the noise-free (full-batch ODE) curve instead."""
        paths = self.paths if noise or not self.ode.size else self.ode[None, :]
        steps, interval = steps_to_target(self.times, paths, target_loss, self.diverges)
        if not noise or self.subsets.shape[0] < 2 or self.subset_shrink <= 0:
            return steps, interval
        halves, _ = zip(*(steps_to_target(self.times, row[None, :], target_loss, False)
                          for row in self.subsets))
        return steps, widen(steps, interval, np.array(halves), self.subset_shrink,
                            float(self.times[-1]) if self.times.size else math.inf)

    def _at(self, steps: Any, curve: np.ndarray | None) -> np.ndarray:
        s = np.asarray(steps, dtype=float)
        if self.diverges or curve is None:
            return np.where(s <= 0, self.initial_loss, np.inf)
        out = np.interp(s, self.times, curve)
        return np.where((s < 0) | (s > self.max_steps), np.nan, out)

    # --- plain data (stored on Optuna trials, passed to Ray) ---------------------------------------
    def to_dict(self, n_points: int = 64) -> dict[str, Any]:
        """A JSON-serialisable summary: steps, interval, and the mean curve and its 80 % band at
        ``n_points`` steps (what :mod:`lc_hpo.budget_prior` reads)."""
        grid = np.unique(np.linspace(0, self.max_steps, n_points).round()).astype(int)
        curve = self.loss_curve(grid)
        lo, hi = self.loss_interval(grid)
        return {
            "steps": _num(self.steps),
            "steps_interval": [_num(self.steps_interval[0]), _num(self.steps_interval[1])],
            "diverges": bool(self.diverges),
            "seconds": float(self.seconds),
            "initial_loss": float(self.initial_loss),
            "target_loss": float(self.target_loss),
            "max_steps": int(self.max_steps),
            "curve_steps": grid.tolist(),
            "curve_loss": [_num(v) for v in curve],
            "curve_lo": [_num(v) for v in lo],
            "curve_hi": [_num(v) for v in hi],
        }


def _num(x: float) -> float | None:
    """JSON has no infinity: infinite or NaN becomes None."""
    x = float(x)
    return x if math.isfinite(x) else None


def widen(steps: float, interval: tuple[float, float], halves: np.ndarray, shrink: float,
          horizon: float) -> tuple[float, float]:
    """The SGD-noise interval widened by the kernel subset's own uncertainty.

    The subset's M samples are one draw: a different subset moves the prediction, which the SDE
    paths (all on the same subset) cannot show.  Predictions from halves of the subset vary more
    than the whole subset's, by a known factor (a mean over M of N samples has variance
    (1/M − 1/N)); ``shrink`` is the square root of that ratio.  In log-steps, the SDE's spread and
    the subset's add in quadrature, and the central 80 % interval is ±1.2816 standard deviations.
    A half that does not reach the target within the horizon counts as twice the horizon.
    """
    if not math.isfinite(steps) or steps <= 0:
        return interval
    logs = np.log(np.where(np.isfinite(halves), np.maximum(halves, 1.0), 2.0 * horizon))
    sd_subset = float(np.std(logs, ddof=1)) * shrink
    lo, hi = interval
    sd_sde = (math.log(hi / lo) / (2 * Z80)) if (lo > 0 and math.isfinite(hi)) else 0.0
    half_width = Z80 * math.hypot(sd_subset, sd_sde)
    new_lo = float(math.floor(steps * math.exp(-half_width)))
    new_hi = float(math.ceil(steps * math.exp(half_width)))
    return min(lo, new_lo), max(hi, new_hi if new_hi <= horizon else math.inf)


def steps_to_target(times: np.ndarray, paths: np.ndarray, target: float,
                    diverges: bool) -> tuple[float, tuple[float, float]]:
    """Median and central 80 % interval over paths of the first step with loss <= target."""
    if diverges or not paths.size:
        return math.inf, (math.inf, math.inf)
    hits = np.empty(paths.shape[0])
    for p, row in enumerate(paths):
        idx = np.flatnonzero(row <= target)
        if idx.size == 0:
            hits[p] = math.inf
        elif idx[0] == 0:
            hits[p] = 0.0
        else:
            j = idx[0]
            l0, l1 = row[j - 1], row[j]
            frac = (l0 - target) / (l0 - l1) if l0 > l1 else 1.0
            hits[p] = math.ceil(times[j - 1] + frac * (times[j] - times[j - 1]) - 1e-9)
    hits.sort()
    lo, med, hi = (float(np.percentile(hits, q, method="lower")) if np.isfinite(
        np.percentile(hits, q, method="lower")) else math.inf for q in (QUANTILES[0], 50.0,
                                                                       QUANTILES[1]))
    return med, (lo, hi)


__all__ = ["QUANTILES", "TrainingTimeEstimate", "Z80", "steps_to_target", "widen"]
