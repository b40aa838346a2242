"""Turning what a framework reports (step → value) into a :class:`~lc_hpo.curve.Curve`.

Frameworks number steps from zero (Optuna's docs say so) or from one, report every k steps, and let
values be NaN or infinite.  The curve format wants positive, strictly increasing steps, so a trial whose
first reported step is 0 is shifted by one; everything else is kept as reported.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from .curve import Curve, Mode


def step_offset(first_step: int) -> int:
    """The shift that makes a trial's steps positive: 1 if it starts at step 0, else 0."""
    if first_step < 0:
        raise ValueError(f"steps must be non-negative, got {first_step}")
    return 1 if first_step == 0 else 0


def curve_from_reports(
    reports: Mapping[int, float] | Iterable[tuple[int, float]],
    mode: Mode,
    max_step: int | None = None,
    **fields: object,
) -> Curve:
    """A curve from (step, value) reports, sorted by step, 0-based steps shifted by one.

    ``max_step`` is in the caller's numbering (the last step a complete run reports); a trial that has
    gone beyond it gets its own last step as budget.  Repeated steps keep the first value reported,
    as Optuna does.
    """
    items = reports.items() if isinstance(reports, Mapping) else reports
    seen: dict[int, float] = {}
    for s, v in items:
        s = int(s)
        if s not in seen:
            seen[s] = float(v) if v is not None else float("nan")
    if not seen:
        return Curve(steps=np.zeros(0, dtype=np.int64), values=np.zeros(0), mode=mode,
                     max_step=None if max_step is None else max_step + 1, **fields)  # type: ignore[arg-type]
    steps = np.array(sorted(seen), dtype=np.int64)
    values = np.array([seen[s] for s in steps.tolist()])
    shift = step_offset(int(steps[0]))
    steps = steps + shift
    budget = None if max_step is None else max(int(max_step) + shift, int(steps[-1]))
    return Curve(steps=steps, values=values, mode=mode, max_step=budget, **fields)  # type: ignore[arg-type]
