"""Checks on a study's curves that catch a misconfiguration early, such as a wrong direction."""

from __future__ import annotations

from typing import Sequence

from .curve import Curve


def direction_mismatch(curves: Sequence[Curve], min_curves: int = 5,
                       fraction: float = 0.8) -> str | None:
    """A message when most complete curves get *worse* from start to end under their mode.

    Training almost always improves the measured metric at first, so when ``fraction`` of the curves
    (with at least three finite measurements) end worse than they began, the metric direction is
    probably the wrong way round (a loss maximised, an accuracy minimised).  None when all looks right.
    """
    worse = total = 0
    mode = None
    for c in curves:
        _, v = c.finite
        if v.size < 3:
            continue
        mode = c.mode
        total += 1
        first, last = v[0], v[-1]
        worse += int(last < first if c.mode == "max" else last > first)
    if total < min_curves or worse < fraction * total:
        return None
    other = "minimize" if mode == "max" else "maximize"
    return (
        f"in {worse} of {total} finished trials the reported value got worse from the first to the "
        f"last step under mode {mode!r}; if the metric is a {'loss' if mode == 'max' else 'score'}, "
        f"the direction should be {other!r}. Forecasts are judged against the wrong end."
    )

