"""Checks on a study's curves that catch a misconfiguration early, such as a wrong direction."""

from __future__ import annotations

from typing import Sequence

from .curve import Curve


def direction_mismatch(curves: Sequence[Curve], min_curves: int = 5, fraction: float = 0.8,
                       decisive: float = 0.05) -> str | None:
    """A message when most complete curves get clearly *worse* from start to end under their mode.

    Training almost always improves the measured metric at first, so when ``fraction`` of the curves
    that changed decisively (by more than ``decisive`` of their magnitude, with at least three finite
    measurements) end worse than they began, the direction is probably the wrong way round (a loss
    maximised, an accuracy minimised).  Runs stuck at chance level change too little to count.
    None when all looks right.
    """
    worse = total = 0
    mode = None
    for c in curves:
        _, v = c.finite
        if v.size < 3:
            continue
        first, last = float(v[0]), float(v[-1])
        if abs(last - first) <= decisive * max(abs(first), abs(last), 1e-12):
            continue
        mode = c.mode
        total += 1
        worse += int(last < first if c.mode == "max" else last > first)
    if total < min_curves or worse < fraction * total:
        return None
    other = "minimize" if mode == "max" else "maximize"
    return (
        f"in {worse} of {total} finished trials that changed clearly, the reported value got worse "
        f"from the first to the last step under mode {mode!r}; if the metric is a "
        f"{'loss' if mode == 'max' else 'score'}, the direction should be {other!r}. Forecasts are "
        "judged against the wrong end."
    )
