"""The range a metric cannot leave, guessed from a curve's own values and direction.

An accuracy cannot exceed 1 (or 100 %), a loss cannot fall below 0; a forecaster that extrapolates a
steep climb or a steep fall does not know that, and can forecast an accuracy above 1 or a negative
loss (docs/predictors.md).  Forecasts are therefore *censored* at these bounds
(:meth:`lc_hpo.Forecast.censored`): the probability mass a predictor puts beyond a bound lands on the
bound, so "far above 1" reads as "close to 1".

The bounds are a guess from what a curve has shown, which :func:`natural_bounds` makes thus:

* ``max`` curves whose finite values all lie in [0, 1] are bounded by [0, 1] (accuracies, AUCs,
  F1 scores); those in [0, 100] by [0, 100] (accuracies in per cent);
* ``min`` curves whose finite values are all non-negative are bounded below by 0 (losses, errors);
* anything else is unbounded.

A guess can be wrong (a reward that is still below 1, say).  That never stops a trial by itself: a
forecast's probability of beating a reference that lies *beyond* a guessed bound ignores the bound,
since that reference shows the metric can go there (:meth:`lc_hpo.Forecast.prob_better`).
"""

from __future__ import annotations

import math

import numpy as np

#: The values metrics are commonly bounded by: losses and errors by 0, accuracies by 1 or 100.
NATURAL_BOUNDS = (0.0, 1.0, 100.0)


def natural_bounds(values: np.ndarray, mask: np.ndarray, sign: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per curve, the (lower, upper) bounds its metric is taken to have (±inf where none).

    ``values`` and ``mask`` are (N, L) with the finite measurements where ``mask`` is set; ``sign``
    is +1 for ``max`` curves and −1 for ``min`` curves.  A curve without measurements is unbounded.
    """
    values = np.asarray(values, dtype=float)
    mask = np.asarray(mask, dtype=bool) & np.isfinite(values)
    seen = mask.any(axis=1)
    lo = np.where(mask, values, math.inf).min(axis=1)
    hi = np.where(mask, values, -math.inf).max(axis=1)
    maximise = np.asarray(sign) > 0
    # within a relative 1e-9 of a bound counts as on it, so that rounding never changes the guess
    tol = 1e-9
    non_negative = seen & (lo >= -tol * np.abs(hi))
    unit = maximise & non_negative & (hi <= 1.0 + tol)
    percent = maximise & non_negative & (hi <= 100.0 * (1 + tol)) & ~unit
    lower = np.where(non_negative & (~maximise | unit | percent), 0.0, -math.inf)
    upper = np.where(unit, 1.0, np.where(percent, 100.0, math.inf))
    return lower, upper
