"""The predictor interface, and the padded batch every predictor reads partial curves from.

Predictors follow scikit-learn's conventions: parameters are set in ``__init__``, ``fit`` learns from a
corpus of complete curves (a no-op for per-curve methods) and returns ``self``, ``predict`` forecasts a
batch of partial curves at once.  Vectorising over curves matters: the benchmark forecasts thousands of
curves, and a scheduler ranks every running trial at every milestone.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from ..bounds import natural_bounds
from ..curve import Curve
from ..forecast import Forecast


@dataclass(frozen=True)
class ObservedBatch:
    """Partial curves padded to a common length ``L``; only entries where ``mask`` is set are real.

    ``steps`` and ``values`` are (N, L) float arrays holding each curve's finite measurements first
    (diverged ones dropped) followed by padding; ``n_obs`` counts them; ``last_step``/``last_value``
    are those of the last finite measurement (NaN where a curve has none).
    """

    steps: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    n_obs: np.ndarray
    last_step: np.ndarray
    last_value: np.ndarray
    max_step: np.ndarray
    sign: np.ndarray  # +1 for mode "max", -1 for "min": sign * value is "higher is better"
    curves: Sequence[Curve]

    @classmethod
    def from_curves(cls, curves: Sequence[Curve]) -> "ObservedBatch":
        N = len(curves)
        finite = [c.finite for c in curves]
        L = max([1] + [s.size for s, _ in finite])
        steps = np.ones((N, L))
        values = np.zeros((N, L))
        mask = np.zeros((N, L), dtype=bool)
        for i, (s, v) in enumerate(finite):
            steps[i, : s.size] = s
            values[i, : v.size] = v
            mask[i, : s.size] = True
            if s.size:  # pad with the last step so that padding never looks like an earlier step
                steps[i, s.size:] = s[-1]
                values[i, v.size:] = v[-1]
        n_obs = mask.sum(axis=1)
        idx = np.maximum(n_obs - 1, 0)
        rows = np.arange(N)
        has = n_obs > 0
        last_step = np.where(has, steps[rows, idx], math.nan)
        last_value = np.where(has, values[rows, idx], math.nan)
        max_step = np.array([c.max_step if c.max_step else (c.last_step or 1) for c in curves],
                            dtype=float)
        sign = np.array([1.0 if c.mode == "max" else -1.0 for c in curves])
        return cls(steps, values, mask, n_obs, last_step, last_value, max_step, sign, curves)

    @property
    def n(self) -> int:
        return int(self.steps.shape[0])


def target_steps(curves: Sequence[Curve], steps: Any | None) -> np.ndarray:
    """The (N, H) array of steps to forecast: each curve's max_step when ``steps`` is None."""
    N = len(curves)
    if steps is None:
        out = np.array([[c.max_step if c.max_step else (c.last_step or 1)] for c in curves])
    else:
        arr = np.asarray(steps)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (N, arr.size))
        if arr.ndim != 2 or arr.shape[0] != N:
            raise ValueError(f"steps must have shape (H,) or (N, H) with N = {N}, got {arr.shape}")
        out = arr
    out = np.asarray(out, dtype=float)
    if out.size and (not np.all(np.isfinite(out)) or np.any(out < 1)):
        raise ValueError("steps to forecast must be positive")
    return out


class Predictor(ABC):
    """Forecasts the rest of partial learning curves as a :class:`~lc_hpo.forecast.Forecast`."""

    #: Registry name, e.g. ``"parametric"``.
    name: ClassVar[str] = ""
    #: Whether :meth:`fit` must be called on a corpus of curves before :meth:`predict`.
    needs_fit: ClassVar[bool] = False
    #: Whether :meth:`predict` takes ``context=``, the study's finished curves (see
    #: :class:`~lc_hpo.predictors.in_study.InStudyPredictor`); the rule passes them only then.
    uses_context: ClassVar[bool] = False
    #: Whether forecasts are censored at the bounds the metric is taken to have (an accuracy at 1,
    #: a loss at 0; see :mod:`lc_hpo.bounds`).  Off for the seed papers' faithful baselines; set it
    #: to False on an instance whose metric only looks bounded.
    censor_at_bounds: bool = True

    def fit(self, curves: Sequence[Curve]) -> "Predictor":
        """Learn from complete curves; per-curve predictors need nothing and return ``self``."""
        return self

    def predict(self, curves: Sequence[Curve], steps: Any | None = None) -> Forecast:
        """Forecast each partial curve at ``steps`` ((H,) shared or (N, H) per curve; default: max_step).

        A curve with no finite measurement gets a NaN forecast (``Forecast.is_finite`` is False) rather
        than an exception, so that one bad curve never spoils a batch.
        """
        if isinstance(curves, Curve):
            raise TypeError("predict takes a sequence of curves; wrap a single curve in a list")
        curves = list(curves)
        if not curves:
            raise ValueError("predict needs at least one curve")
        targets = target_steps(curves, steps)
        batch = ObservedBatch.from_curves(curves)
        ok = batch.n_obs > 0
        if ok.all():
            return self._censor(batch, self._predict(batch, targets))
        H = targets.shape[1]
        nan = np.full((int((~ok).sum()), 1, H), math.nan)
        parts = [(np.nonzero(~ok)[0], Forecast(targets[~ok], np.ones_like(nan), nan, nan))]
        if ok.any():
            idx = np.nonzero(ok)[0]
            parts.append((idx, self._predict(ObservedBatch.from_curves([curves[i] for i in idx]),
                                             targets[idx])))
        return self._censor(batch, merge_rows(parts))

    def _censor(self, batch: ObservedBatch, forecast: Forecast) -> Forecast:
        """The forecast censored at the natural bounds of each curve's metric (if enabled)."""
        if not self.censor_at_bounds:
            return forecast
        return forecast.censored(*natural_bounds(batch.values, batch.mask, batch.sign))

    @abstractmethod
    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:
        """Forecast a batch in which every curve has at least one finite measurement."""

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (scikit-learn convention)."""
        return {k: getattr(self, k) for k in self._param_names()}

    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect

        sig = inspect.signature(cls.__init__)
        # ``**kwargs`` / ``*args`` pass parameters on; they are not parameters themselves.
        return [name for name, p in sig.parameters.items() if name != "self"
                and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def merge_rows(parts: list[tuple[np.ndarray, Forecast]]) -> Forecast:
    """One forecast from forecasts of disjoint sets of rows (row indices, forecast), padding K."""
    joined = Forecast.concat([f for _, f in parts])
    order = np.argsort(np.concatenate([idx for idx, _ in parts]), kind="stable")
    return joined.subset(order)
