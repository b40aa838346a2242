"""A picture of one trial's forecast: what it reported, where it is going, and the bar it must clear.

:func:`plot_forecast` draws the observed curve, the forecast's median to ``max_step`` with its
central 50 % and 90 % bands, and the incumbent, for a :class:`~lc_hpo.curve.Curve` or for a trial of
an Optuna study.  It draws on the Axes it is given (or on a new figure) and returns it; pyplot is
imported only when no Axes is given, and the matplotlib backend is never switched.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .curve import Curve, Mode
from .defaults import resolve_predictor
from .predictors import Predictor

#: Colours: observed (black), forecast (blue), incumbent (red): distinct in colour-blind palettes.
_OBSERVED, _FORECAST, _INCUMBENT = "#222222", "#1f77b4", "#d62728"


def plot_forecast(source: Curve | Any, trial: int | None = None, *,
                  predictor: Predictor | str | None = None, incumbent: float | None = None,
                  max_step: int | None = None, ax: Any = None, points: int = 60) -> Any:
    """Plot one trial's forecast fan and return the matplotlib Axes.

    Args:
        source: A partial :class:`~lc_hpo.curve.Curve` (with ``max_step``), or an Optuna study.
        trial: With a study, the trial's number; its reported values are the curve.
        predictor: What forecasts (a Predictor, a registered name, a checkpoint path; None: the
            bundled default, as ``LCPruner()``).
        incumbent: The value to beat; with a study, by default the best last reported value of
            its completed trials (as ``LCPruner`` takes it).  None with a curve: not drawn.
        max_step: With a study, the last step of a full run (default: the latest step a completed
            trial reported, as ``LCPruner`` infers it).
        ax: The Axes to draw on; None makes a new figure with pyplot.
        points: Forecast steps drawn between the last observation and ``max_step``.
    """
    if trial is not None or not isinstance(source, Curve):
        curve, study_incumbent = _from_study(source, trial, max_step)
        if incumbent is None:
            incumbent = study_incumbent
    else:
        curve = source
    steps, values = curve.finite
    if values.size == 0:
        raise ValueError("the trial has no finite reported value to forecast from")
    start = int(steps[-1])
    if curve.max_step is None or curve.max_step <= start:
        raise ValueError(f"nothing to forecast: the curve ends at its max_step ({curve.max_step}); "
                         "give the Curve max_step=, the last step of a full run")
    grid = np.unique(np.linspace(start, curve.max_step, points).round().astype(int))
    forecast = resolve_predictor(predictor).predict([curve], steps=grid)
    q = forecast.quantile(np.array([0.05, 0.25, 0.5, 0.75, 0.95]))[0]  # (5, H)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    ax.fill_between(grid, q[0], q[4], color=_FORECAST, alpha=0.15, lw=0, label="90 % interval")
    ax.fill_between(grid, q[1], q[3], color=_FORECAST, alpha=0.3, lw=0, label="50 % interval")
    ax.plot(grid, q[2], color=_FORECAST, ls="--", lw=1.5, label="forecast median")
    ax.plot(steps, values, color=_OBSERVED, marker="o", ms=3, lw=1.5, label="observed")
    if incumbent is not None and math.isfinite(incumbent):
        ax.axhline(incumbent, color=_INCUMBENT, lw=1, ls=":", label="incumbent")
    ax.set_xlabel("step")
    ax.set_ylabel(curve.metric or "value")
    title = f"trial {trial}" if trial is not None else (curve.config_id or "")
    ax.set_title(f"{title} ({'higher' if curve.mode == 'max' else 'lower'} is better)".strip())
    ax.legend(loc="best", fontsize="small")
    return ax


def _from_study(study: Any, number: int | None, max_step: int | None) -> tuple[Curve, float | None]:
    """The trial's curve and the study's incumbent, read as LCPruner reads them."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from .reports import curve_from_reports

    if number is None or not hasattr(study, "get_trials"):
        raise TypeError("plot_forecast takes a Curve, or an Optuna study and a trial number")
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise ValueError(f"the study has no trial {number} ({len(trials)} trials, from 0)")
    mode: Mode = "min" if study.direction == StudyDirection.MINIMIZE else "max"
    best, budget = None, None
    for t in trials.values():
        if t.state != TrialState.COMPLETE:
            continue
        if t.intermediate_values:
            last = max(t.intermediate_values)
            budget = last if budget is None else max(budget, last)
            final = t.intermediate_values[last]
        else:
            final = t.value
        if final is not None and math.isfinite(final) and (
                best is None or (final < best if mode == "min" else final > best)):
            best = final
    max_step = max_step if max_step is not None else budget
    if max_step is None:
        raise ValueError("max_step is unknown: no completed trial reported intermediate values; "
                         "pass max_step=")
    t = trials[number]
    return curve_from_reports(t.intermediate_values, mode, max_step, config=t.params), best
