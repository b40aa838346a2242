"""The learning curve: one trained configuration's metric, measured at increasing steps.

Everything in lc-hpo speaks this type: the curve-set files, the predictors, the decision rule and the
framework adapters.  It validates on construction so that a bad curve fails where it was made, with a
message that says what to fix, instead of deep inside a forecast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from .arch import ArchError, ArchGraph, from_dict

Mode = Literal["min", "max"]
MODES: tuple[str, ...] = ("min", "max")


class CurveError(ValueError):
    """A curve (or a value meant for one) breaks a rule of the curve format."""


def check_mode(mode: object) -> Mode:
    """Return ``mode`` if it is ``"min"`` or ``"max"``; raise a clear error otherwise."""
    if mode not in MODES:
        raise CurveError(
            f"mode must be 'min' (lower is better, e.g. a loss) or 'max' (higher is better, "
            f"e.g. an accuracy), got {mode!r}"
        )
    return mode  # type: ignore[return-value]


def is_better(a: float, b: float, mode: Mode) -> bool:
    """Whether value ``a`` is strictly better than ``b`` under ``mode``."""
    return a < b if mode == "min" else a > b


def best_of(values: Sequence[float] | np.ndarray, mode: Mode) -> float:
    """The best finite value under ``mode``; NaN when there is none."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return math.nan
    return float(arr.min() if mode == "min" else arr.max())


@dataclass(frozen=True, eq=False)
class Curve:
    """A (possibly partial) learning curve.

    ``steps`` are positive, strictly increasing integers (epochs, checkpoints); ``values`` has the same
    length and holds NaN where a measurement diverged (``null`` in the file format, a non-finite value
    reported by a framework).  ``max_step`` is the budget of a complete run; a curve whose last step is
    below it is partial.  ``arch``, the trained network's graph, is given as an
    :class:`~lc_hpo.arch.ArchGraph` or the format's ``{"nodes": ..., "edges": ...}`` object and stored
    as an ``ArchGraph``.  The remaining fields mirror the curve-set format (``FORMAT.md``).
    """

    steps: np.ndarray
    values: np.ndarray
    mode: Mode
    max_step: int | None = None
    task: str = ""
    config_id: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    metric: str = "value"
    step_cost: np.ndarray | None = None
    arch: ArchGraph | Mapping[str, Any] | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_mode(self.mode)
        steps = _as_steps(self.steps)
        values = _as_values(self.values, "values")
        if values.shape != steps.shape:
            raise CurveError(
                f"steps and values must have the same length, got {steps.size} steps and "
                f"{values.size} values"
            )
        max_step = self.max_step
        if max_step is None:
            max_step = int(steps[-1]) if steps.size else None
        else:
            if (isinstance(max_step, bool) or not isinstance(max_step, (int, float, np.integer,
                                                                        np.floating))
                    or not float(max_step).is_integer() or max_step < 1):
                raise CurveError(f"max_step must be a positive integer, got {max_step!r}")
            max_step = int(max_step)
            if steps.size and steps[-1] > max_step:
                raise CurveError(
                    f"the last step ({int(steps[-1])}) is beyond max_step ({max_step}); "
                    "max_step is the budget of a complete run"
                )
        step_cost = None
        if self.step_cost is not None:
            step_cost = _as_values(self.step_cost, "step_cost")
            if step_cost.shape != steps.shape:
                raise CurveError("step_cost must have one entry per step")
        extra = {}
        for name, series in dict(self.extra).items():
            arr = _as_values(series, f"extra[{name!r}]")
            if arr.shape != steps.shape:
                raise CurveError(f"extra[{name!r}] must have one entry per step")
            extra[name] = arr
        arch = None if self.arch is None else check_arch(self.arch)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "max_step", max_step)
        object.__setattr__(self, "step_cost", step_cost)
        object.__setattr__(self, "extra", extra)
        object.__setattr__(self, "arch", arch)
        object.__setattr__(self, "config", dict(self.config))

    # --- views -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.steps.size)

    @property
    def last_step(self) -> int | None:
        return int(self.steps[-1]) if self.steps.size else None

    @property
    def is_complete(self) -> bool:
        """Whether the curve reaches its ``max_step``."""
        return bool(self.steps.size) and int(self.steps[-1]) == self.max_step

    @property
    def finite(self) -> tuple[np.ndarray, np.ndarray]:
        """The steps and values of the measurements that did not diverge."""
        ok = np.isfinite(self.values)
        return self.steps[ok], self.values[ok]

    @property
    def final_value(self) -> float:
        """The value at the last step (NaN if that measurement diverged or the curve is empty)."""
        return float(self.values[-1]) if self.values.size else math.nan

    def best_value(self) -> float:
        """The best finite value seen so far (NaN if none)."""
        return best_of(self.values, self.mode)

    def truncate(self, last_step: int) -> "Curve":
        """The partial curve observed up to and including ``last_step``."""
        keep = self.steps <= last_step
        return self.replace(
            steps=self.steps[keep],
            values=self.values[keep],
            step_cost=None if self.step_cost is None else self.step_cost[keep],
            extra={k: v[keep] for k, v in self.extra.items()},
        )

    def observed(self, fraction: float) -> "Curve":
        """The partial curve seen at ``fraction`` of the budget (``max_step``), and at least the
        first measurement even when it comes later: what a forecast from that point reads."""
        if self.max_step is None:  # an empty curve: nothing to cut
            return self
        return self.truncate(max(int(round(fraction * self.max_step)), int(self.steps[0])))

    def replace(self, **changes: Any) -> "Curve":
        """A copy with some fields replaced (validated again)."""
        fields: dict[str, Any] = dict(
            steps=self.steps,
            values=self.values,
            mode=self.mode,
            max_step=self.max_step,
            task=self.task,
            config_id=self.config_id,
            config=self.config,
            metric=self.metric,
            step_cost=self.step_cost,
            arch=self.arch,
            extra=self.extra,
        )
        fields.update(changes)
        return Curve(**fields)

    def __repr__(self) -> str:
        return (
            f"Curve(task={self.task!r}, config_id={self.config_id!r}, mode={self.mode!r}, "
            f"{len(self)} steps up to {self.last_step}, max_step={self.max_step})"
        )


def _as_steps(steps: Any) -> np.ndarray:
    raw = np.asarray(steps)
    if raw.ndim != 1:
        raise CurveError(f"steps must be a flat list, got an array of shape {raw.shape}")
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    if raw.dtype == bool or raw.dtype.kind not in "iuf":
        raise CurveError(f"steps must be integers, got {raw.dtype} values")
    as_float = raw.astype(float)
    if not np.all(np.isfinite(as_float)) or not np.all(as_float == np.round(as_float)):
        raise CurveError("steps must be whole numbers")
    out = as_float.astype(np.int64)
    if out[0] < 1:
        raise CurveError(f"steps must be positive integers, got {int(out[0])} first")
    bad = np.nonzero(np.diff(out) <= 0)[0]
    if bad.size:
        i = int(bad[0])
        kind = "repeated" if out[i + 1] == out[i] else "out of order"
        raise CurveError(
            f"steps must be strictly increasing, but step {int(out[i + 1])} at position {i + 1} "
            f"is {kind} (after {int(out[i])}); sort the measurements and keep one per step"
        )
    return out


def _as_values(values: Any, what: str) -> np.ndarray:
    try:
        if isinstance(values, np.ndarray) and values.dtype.kind != "O":
            if values.dtype.kind in "USV":  # text: not numbers, whatever it says
                raise TypeError(f"an array of {values.dtype} holds text, not numbers")
            arr = values.astype(float)
        else:
            items = [math.nan if v is None else v for v in values]
            bad = next((v for v in items if isinstance(v, (str, bytes))), None)
            if bad is not None:
                raise TypeError(f"{bad!r} is text, not a number")
            arr = np.array(items, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CurveError(f"{what} must be numbers or null: {exc}") from None
    if arr.ndim != 1:
        raise CurveError(f"{what} must be a flat list, got an array of shape {arr.shape}")
    # An infinite measurement is a diverged one: NaN is the single in-memory representation.
    return np.where(np.isfinite(arr), arr, math.nan)


def check_arch(arch: ArchGraph | Mapping[str, Any]) -> ArchGraph:
    """The :class:`~lc_hpo.arch.ArchGraph` of a curve's ``arch``; a malformed graph is a CurveError
    that says what is wrong with it."""
    try:
        return from_dict(arch)
    except ArchError as exc:
        raise CurveError(f"arch: {exc}") from None
