"""Where a running trial stands among the study's finished trials, and how that sharpens P(better).

A forecast of one curve reads that curve alone.  A study knows more: how its finished trials looked
at the step the running trial has reached.  A trial that is behind most of them *there* loses more
often than its own curve suggests, early in training above all, which is what rank-based rules such
as successive halving live on.  Two numbers say where a trial stands at its current step:

* ``share``: among the finished trials with a finite value at that step, the fraction whose value
  there was better than the trial's latest finite value (diverged or not yet measured runs do not
  count either way);
* ``gap``: how far the trial is behind the incumbent trial (the finished trial with the best final
  value) at that step, in units of the incumbent's range of values, squashed by ``log1p`` (positive
  is behind, negative ahead).

A :class:`StandingCalibration` is a logistic model that turns a forecast's P(better) into one that
also reads the standing: ``logit P' = a·logit P + b·share + c·share·u + d·gap + e·gap·u + f``, with
``u`` the fraction of the budget observed.  It is fitted on decision situations of curve sets the
predictor was trained on (``lc-hpo calibrate``; docs/measurements.md), ships in the predictor's
checkpoint, and the :class:`~lc_hpo.decision.StoppingRule` applies it whenever finished trials are
at hand.  ``benchmarks/decision_features.py`` measures what each part adds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .curve import Curve

#: The model's inputs, in the order of :attr:`StandingCalibration.coef`.
FEATURES = ("logit_p", "share", "share_x_observed", "gap", "gap_x_observed")

#: P(better) is clipped to [P_CLIP, 1 - P_CLIP] before its logit is taken.
P_CLIP = 1e-4
#: The largest magnitude a calibration's coefficient or intercept may have (see __post_init__).
MAX_PARAMETER = 20.0


def value_at(curve: Curve, step: int) -> float:
    """The curve's latest measurement at or before ``step`` (NaN if none, or if it diverged)."""
    i = int(np.searchsorted(curve.steps, step, side="right")) - 1
    return float(curve.values[i]) if i >= 0 else math.nan


class _Field:
    """The finished curves on one shared step grid, so that each trial's standing is one lookup.

    Built once per batch of decisions: what grows with the number of finished trials is then one
    vectorised column read per trial instead of a Python loop over them.  Building the grid costs
    about as much as a few such loops, so for a handful of trials (one ``should_prune()``) it is not
    built and each lookup loops."""

    #: Above this many grid cells the field is not materialised and each lookup loops instead.
    MAX_CELLS = 5_000_000
    #: Batches of fewer trials than this loop instead of materialising the field.
    MIN_BATCH = 16

    def __init__(self, finished: Sequence[Curve], batch: int = 1) -> None:
        self.finished = list(finished)
        self.finals = np.array([c.final_value for c in self.finished], dtype=float)
        self.table: np.ndarray | None = None
        if batch < self.MIN_BATCH or not self.finished:
            return
        self.grid = np.unique(np.concatenate([c.steps for c in self.finished]))
        if len(self.finished) * self.grid.size > self.MAX_CELLS:
            return
        table = np.full((len(self.finished), self.grid.size), math.nan)
        for i, c in enumerate(self.finished):
            j = np.searchsorted(c.steps, self.grid, side="right") - 1
            seen = j >= 0
            table[i, seen] = c.values[j[seen]]
        self.table = table

    def at(self, step: int) -> np.ndarray:
        """Every finished curve's :func:`value_at` ``step``."""
        if self.table is None:
            return np.array([value_at(c, step) for c in self.finished], dtype=float)
        col = int(np.searchsorted(self.grid, step, side="right")) - 1
        return self.table[:, col] if col >= 0 else np.full(len(self.finished), math.nan)

    def standing(self, curve: Curve) -> tuple[float, float]:
        _, values = curve.finite
        if values.size == 0 or curve.last_step is None:
            raise ValueError("standing needs a curve with at least one finite value")
        sign = 1.0 if curve.mode == "min" else -1.0  # positive = behind
        step, last = curve.last_step, float(values[-1])
        there = self.at(step)
        ok = np.isfinite(there)
        # better there by more than a relative 1e-9: a tie (a copy of a finished trial) is not
        tol = 1e-9 * np.maximum(np.abs(there[ok]), abs(last))
        share = float(np.mean(sign * (there[ok] - last) < -tol)) if ok.any() else 0.5
        ranked = np.isfinite(self.finals)
        if not ranked.any():
            return share, 0.0
        b = int(np.flatnonzero(ranked)[np.argmin(sign * self.finals[ranked])])
        _, best_values = self.finished[b].finite
        width = float(best_values.max() - best_values.min())
        at = float(there[b])
        gap = sign * (last - at) / width if math.isfinite(at) and width > 0 else 0.0
        return share, math.copysign(math.log1p(abs(gap)), gap)


def standing(curve: Curve, finished: Sequence[Curve]) -> tuple[float, float]:
    """``(share, gap)`` of a partial curve among ``finished`` curves of the same study (see above;
    ``share`` counts only the finished curves with a finite value at the curve's last step).

    With nothing to compare against (no finished curve measured there, no incumbent with a finite
    final value, a flat incumbent) the neutral values are used: share 0.5, gap 0.
    """
    return _Field(finished).standing(curve)


def features(p_better: Sequence[float] | np.ndarray, curves: Sequence[Curve],
             finished: Sequence[Curve]) -> np.ndarray:
    """The model's input rows (:data:`FEATURES`), one per curve."""
    p = np.clip(np.asarray(p_better, dtype=float), P_CLIP, 1.0 - P_CLIP)
    field_ = _Field(finished, batch=len(p))
    rows = []
    for z, c in zip(np.log(p / (1.0 - p)), curves):
        share, gap = field_.standing(c)
        u = min(max(c.last_step / c.max_step, 0.0), 1.0) if c.max_step and c.last_step else 0.0
        rows.append((z, share, share * u, gap, gap * u))
    return np.array(rows, dtype=float).reshape(len(rows), len(FEATURES))


def _plain(obj: Any) -> Any:
    """numpy scalars and arrays as the Python numbers and lists a weights-only load accepts."""
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} cannot be stored in a checkpoint's metadata")


@dataclass(frozen=True)
class StandingCalibration:
    """A logistic model of P(the trial beats the incumbent) from the forecast's P and the standing."""

    coef: tuple[float, ...]
    intercept: float
    #: What it was fitted on (free-form, kept in the checkpoint for the record).
    fitted_on: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        usage = (f"a standing calibration needs {len(FEATURES)} finite coefficients "
                 f"({', '.join(FEATURES)}) and a finite intercept, got "
                 f"{self.coef!r}, {self.intercept!r}")
        numbers = (int, float, np.integer, np.floating)
        if not isinstance(self.coef, (list, tuple, np.ndarray)) or \
                not all(isinstance(c, numbers) and not isinstance(c, bool) for c in self.coef) or \
                not isinstance(self.intercept, numbers) or isinstance(self.intercept, bool):
            raise ValueError(usage)
        try:
            coef = tuple(float(c) for c in self.coef)
            intercept = float(self.intercept)
        except OverflowError:
            raise ValueError(usage) from None
        if len(coef) != len(FEATURES) or not all(math.isfinite(c) for c in coef) or \
                not math.isfinite(intercept):
            raise ValueError(usage)
        if max(abs(c) for c in (*coef, intercept)) > MAX_PARAMETER:
            # A fitted one is of order 1 (the bundled one's largest is 1.7); one far beyond this
            # would decide alone whatever the forecast says (an intercept of -1e6 stops all).
            raise ValueError(f"a standing calibration's coefficients and intercept must lie in "
                             f"[-{MAX_PARAMETER:g}, {MAX_PARAMETER:g}], got {coef!r}, {intercept!r}; "
                             "refit it with 'lc-hpo calibrate'")
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "intercept", intercept)
        if self.fitted_on is not None:  # plain data only: checkpoints load as weights only
            if not isinstance(self.fitted_on, dict):
                raise ValueError(f"fitted_on must be a dict, got {type(self.fitted_on).__name__}")
            object.__setattr__(self, "fitted_on", json.loads(json.dumps(self.fitted_on,
                                                                        default=_plain)))

    @classmethod
    def fit(cls, p_better: Sequence[float], curves: Sequence[Curve],
            finished: Sequence[Sequence[Curve]], won: Sequence[bool], c: float = 10.0,
            fitted_on: dict[str, Any] | None = None,
            p_only: bool = False) -> "StandingCalibration":
        """Fit on decision situations: each curve's P(better), its study's finished curves, and
        whether its final value did beat the incumbent (L2-regularised, strength ``1/c``).

        ``p_only`` fits the logit-P term alone (standing coefficients 0): a plain recalibration of
        the forecast's P, the ablation that says what reading the standing adds."""
        from sklearn.linear_model import LogisticRegression

        if not (len(p_better) == len(curves) == len(finished) == len(won)):
            raise ValueError("p_better, curves, finished and won must have one entry per situation")
        y = np.asarray(won, dtype=bool)
        if y.all() or not y.any():
            raise ValueError("fitting a standing calibration needs both winners and losers")
        x = np.vstack([features([p], [cv], fin) for p, cv, fin in zip(p_better, curves, finished)])
        model = LogisticRegression(C=c, max_iter=5000).fit(x[:, :1] if p_only else x, y)
        coef = np.zeros(len(FEATURES))
        coef[:model.coef_.shape[1]] = model.coef_[0]
        return cls(tuple(coef), float(model.intercept_[0]), fitted_on)

    def adjust(self, p_better: Sequence[float] | np.ndarray, curves: Sequence[Curve],
               finished: Sequence[Curve]) -> np.ndarray:
        """P(better) of each curve, read together with its standing among ``finished``."""
        s = features(p_better, curves, finished) @ np.array(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-s))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint's metadata."""
        out: dict[str, Any] = {"features": list(FEATURES), "coef": list(self.coef),
                               "intercept": self.intercept}
        if self.fitted_on is not None:
            out["fitted_on"] = self.fitted_on
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StandingCalibration":
        """The inverse of :meth:`to_dict`; a ValueError if the data are not one."""
        if not isinstance(data, dict) or list(data.get("features", [])) != list(FEATURES):
            raise ValueError(f"not a standing calibration over features {FEATURES}")
        return cls(tuple(data["coef"]), data["intercept"], data.get("fitted_on"))
