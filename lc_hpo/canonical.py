"""One study's curves in the units the predictors were trained in, so decisions do not depend on units.

A forecaster reads numbers: the direction a metric is written in, where its values lie and how its
steps are counted all reach it.  The same study written another way (``-accuracy`` minimised instead
of accuracy maximised, steps counted in samples instead of epochs, from 0 instead of 1, a loss that
crosses zero) must get the same decisions.  :func:`canonical_map` finds, from the study's own curves, a
monotone map to one canonical form; the :class:`~lc_hpo.decision.StoppingRule` forecasts there and maps
the numbers it reports back.

* **Direction.**  Metrics whose values are all >= 0 are kept as they are (accuracies maximised, losses
  minimised: what the bundled model was trained on); metrics whose values are all <= 0 are negated
  and their direction flipped (``-accuracy`` minimised reads as accuracy maximised, ``neg_log_loss``
  maximised as a log-loss minimised); metrics with both signs are read minimised.  Each rule gives the
  same canonical study for a metric and its negation with the direction flipped.
* **Unbounded metrics.**  A metric with both signs shows that 0 is no bound for it, but a predictor
  trained on losses reads a value near 0 as a loss near its floor (and stopped good runs of a
  log-likelihood as it crossed 0).  Such a study is mapped affinely to ``[OFFSET, OFFSET + 1]``
  (its minimum to ``OFFSET``, its range to 1), where no bound is near; so any ``a*y + b`` (a > 0) of it
  decides alike.  Metrics of one sign keep their values, since a bound they may have (an accuracy of
  0.98 cannot gain 0.1) is what the predictor reads; those are the cases where rescaling can change a
  decision.
* **Steps.**  A study reporting every ``k`` steps (epochs, iterations, samples seen) is read in units
  of ``k``, and 0-based steps (shifted by one when a curve is made, :mod:`lc_hpo.reports`) like 1-based
  ones, so steps ``k, 2k, ...`` and ``0, k, 2k, ...`` both read as ``1, 2, 3, ...``: the predictors
  were trained on curves measured at every step from 1.

Values within a relative :data:`REL_TOL` of 0 count as 0 when the signs are read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

import numpy as np

from .curve import Curve

#: Relative tolerance under which two values count as equal (ties) or a value as 0.
REL_TOL = 1e-9
#: Where an unbounded study's minimum is put: this many of its ranges above 0.
OFFSET = 10.0


@dataclass(frozen=True)
class CanonicalMap:
    """A monotone map of values (``flip`` then ``(v - shift) / scale``) and of steps."""

    flip: bool = False
    shift: float = 0.0
    scale: float = 1.0
    step_unit: int = 1
    zero_based: bool = False

    @property
    def is_identity(self) -> bool:
        return (not self.flip and self.shift == 0.0 and self.scale == 1.0 and self.step_unit == 1
                and not self.zero_based)

    def values(self, v: np.ndarray | float) -> np.ndarray:
        """Values in canonical units."""
        v = np.asarray(v, dtype=float)
        return ((-v if self.flip else v) - self.shift) / self.scale

    def values_back(self, v: np.ndarray | float) -> np.ndarray:
        """Canonical values back in the study's units."""
        v = np.asarray(v, dtype=float) * self.scale + self.shift
        return -v if self.flip else v

    def step(self, s: int) -> int:
        """A curve step (positive) in canonical units, rounded up to a whole unit."""
        k = self.step_unit
        return -(-(s - 1) // k) + 1 if self.zero_based else -(-s // k)

    def curve(self, c: Curve) -> Curve:
        """The curve in canonical units (anything but a curve is left for its reader to refuse)."""
        if self.is_identity or not isinstance(c, Curve):
            return c
        mode = c.mode if not self.flip else ("min" if c.mode == "max" else "max")
        steps = np.array([self.step(int(s)) for s in c.steps], dtype=np.int64)
        keep = np.ones(steps.size, dtype=bool)
        if steps.size > 1:  # a step between two units rounds onto the next: keep the latest value
            keep[:-1] = steps[1:] != steps[:-1]
        max_step = None if c.max_step is None else self.step(int(c.max_step))
        with np.errstate(over="ignore", invalid="ignore"):
            values = self.values(c.values)
        return c.replace(steps=steps[keep], values=values[keep], mode=mode, max_step=max_step,
                         step_cost=None, extra={})


def canonical_map(curves: Sequence[Curve], context: Sequence[Curve] | None = None,
                  incumbent: float | None = None) -> CanonicalMap:
    """The map of one study (the curves decided on, its finished curves, its incumbent)."""
    study = [c for c in list(curves) + list(context or []) if isinstance(c, Curve)]
    if not study:
        return CanonicalMap()
    finite = [c.values[np.isfinite(c.values)] for c in study]
    if incumbent is not None and math.isfinite(incumbent):
        finite.append(np.array([incumbent], dtype=float))
    v = np.concatenate(finite) if finite else np.zeros(0)
    flip, shift, scale = False, 0.0, 1.0
    if v.size:
        with np.errstate(over="ignore"):
            tol = REL_TOL * float(np.max(np.abs(v)))
        lo, hi = float(v.min()), float(v.max())
        if lo >= -tol:
            pass  # one sign, >= 0: as it is
        elif hi <= tol:
            flip = True  # one sign, <= 0: negated, direction flipped
        else:  # both signs: unbounded, read minimised, on [OFFSET, OFFSET + 1]
            flip = study[0].mode == "max"
            c_lo, c_hi = (-hi, -lo) if flip else (lo, hi)
            width = c_hi - c_lo
            if math.isfinite(width) and width > 0:
                scale = width
                shift = c_lo - OFFSET * width
    unit, zero_based = _step_unit(study)
    return CanonicalMap(flip, shift, scale, unit, zero_based)


def _step_unit(study: Sequence[Curve]) -> tuple[int, bool]:
    """The step unit ``k`` and whether the steps were 0-based (see the module docstring)."""
    steps = np.unique(np.concatenate([c.steps for c in study]).astype(np.int64))
    if steps.size == 0:
        return 1, False
    one_based = reduce(math.gcd, steps.tolist(), 0)
    shifted = [s - 1 for s in steps.tolist() if s > 1]
    zero_based = reduce(math.gcd, shifted, 0) if steps[0] == 1 else 0
    if zero_based > one_based:
        return zero_based, True
    return max(one_based, 1), False


__all__ = ["OFFSET", "REL_TOL", "CanonicalMap", "canonical_map"]
