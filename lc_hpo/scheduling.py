"""Scheduling policy for a freeze-thaw scheduler: when a running trial yields, which paused trial
resumes, and what a budget can still finish.

Framework-free, like :mod:`lc_hpo.decision` and :mod:`lc_hpo.allocation`: a scheduler for a
particular framework (``lc_hpo.integrations.ray_tune.LCScheduler``) keeps its own record of which
trials it paused and translates the framework's callbacks into these calls.  It must rank the trials
*it* paused, not the ones the framework currently shows as paused: Ray, for one, marks a paused trial
PENDING as soon as it is staged to resume, and marks every unfinished trial PENDING after
``Tuner.restore``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .allocation import Candidate, fund, promise
from .curve import Curve
from .decision import StoppingRule

#: Budget units: the sum of the trials' progress, or of their measured seconds.
BUDGET_UNITS = ("time_attr", "seconds")


def should_yield(rule: StoppingRule, curve: Curve, paused: Sequence[Curve], *,
                 waiting_to_start: bool, leader: bool, incumbent: float | None,
                 context: Sequence[Curve] | None = None) -> bool:
    """Whether a running trial, at a milestone, should pause so that another gets its slot.

    While trials are still waiting to start, a running trial yields, so that every configuration is
    explored (freeze-thaw); afterwards it yields only when one of the ``paused`` trials promises
    more (:func:`~lc_hpo.allocation.promise`).  The leader (at or beyond the incumbent) never
    yields.  Trials that cannot resume where they paused (no checkpoint) must not be asked.
    """
    if leader:
        return False
    if waiting_to_start:
        return True
    if not paused:
        return False
    scores = promise(rule, [curve, *paused], incumbent, context)
    return bool(np.max(scores[1:]) > scores[0])


def next_to_run(rule: StoppingRule, paused: Mapping[str, Curve], unstarted: Sequence[str] = (),
                incumbent: float | None = None,
                context: Sequence[Curve] | None = None) -> str | None:
    """The key of the trial to give the next free slot, or None if none waits.

    A trial waiting to start comes first (the first of ``unstarted``), for the reason a running
    trial yields while one waits (:func:`should_yield`): were a paused trial preferred, the trial
    that just yielded would take its own slot back.  Then the paused trial that promises most (the
    first of equals).
    """
    if unstarted:
        return unstarted[0]
    keys = list(paused)
    if not keys:
        return None
    scores = promise(rule, [paused[k] for k in keys], incumbent, context)
    return keys[int(np.argmax(scores))]


@dataclass(frozen=True)
class Progress:
    """What a scheduler knows of a live trial's cost: progress made and seconds measured, and the
    length the trial is expected to train to when that is known before it ends (a training-time
    estimate's step budget, :func:`~lc_hpo.budget_prior.predicted_length`; None: the full run)."""

    curve: Curve
    done: int  # progress so far, in the scheduler's time unit
    seconds: float = 0.0
    length: int | None = None


def spent(progress: Sequence[Progress] | Sequence[tuple[int, float]], unit: str) -> float:
    """Budget spent so far by all trials (``(done, seconds)`` pairs or :class:`Progress`)."""
    _check_unit(unit)
    pairs = [(p.done, p.seconds) if isinstance(p, Progress) else p for p in progress]
    if unit == "seconds":
        return float(sum(s for _, s in pairs))
    return float(sum(d for d, _ in pairs))


def progress_left(done: int, length: int | None, max_t: int) -> int:
    """Progress a trial still has to make: to its expected ``length`` until it has passed it (a
    trial that trains on past its estimate is expected to go to ``max_t``), else to ``max_t``."""
    end = min(length, max_t) if length is not None and done <= length else max_t
    return max(end - done, 0)


def remaining_cost(p: Progress, max_t: int, unit: str) -> float:
    """What finishing a trial will still cost: the progress left (to its expected length, if it
    has one), or that many times the seconds one unit of progress has cost it so far."""
    _check_unit(unit)
    per_unit = 1.0
    if unit == "seconds":
        per_unit = p.seconds / p.done if p.done else 0.0
    return progress_left(p.done, p.length, max_t) * per_unit


def start_within_budget(candidates: Sequence[tuple[str, int | None]], free_budget: float
                        ) -> tuple[str | None, list[str]]:
    """Which trial not yet started to start next, under a budget, and which never to start.

    ``candidates`` are ``(key, predicted length)`` in start order (soonest predicted first,
    :func:`~lc_hpo.budget_prior.soonest_first`); ``free_budget`` is the budget left once the trials
    already started have been given what they are expected to still need.  The first candidate
    whose predicted length fits is started; the estimated ones before it, which the budget cannot
    finish, are returned to be skipped, so the budget is spent on the trials predicted to reach
    their target soonest and none on trials it could not finish.  A candidate without a predicted
    length (None: no usable estimate) is always started, as without estimates: the budget then
    decides at its first report whether it can finish it.
    """
    skipped: list[str] = []
    for key, length in candidates:
        if length is None or length <= free_budget:
            return key, skipped
        skipped.append(key)
    return None, skipped


def fund_trials(rule: StoppingRule, live: Mapping[str, Progress], max_t: int, unit: str,
           remaining_budget: float, incumbent: float | None,
           context: Sequence[Curve] | None = None) -> set[str]:
    """The live trials a budget should finish (greedy by promise per remaining cost); the others
    should stop.  Only trials that have reported belong in ``live``: one that has not started has
    no forecast, and counting it as most promising would stop running trials to keep budget for it.
    A trial with nothing left to spend (at its expected length) is always funded: stopping it there
    would save nothing and lose its result.
    """
    candidates = [Candidate(k, p.curve, remaining_cost(p, max_t, unit)) for k, p in live.items()]
    done = {c.key for c in candidates if c.remaining_cost <= 0}
    return done | fund(rule, [c for c in candidates if c.key not in done], incumbent,
                       remaining_budget, context)


def _check_unit(unit: str) -> None:
    if unit not in BUDGET_UNITS:
        raise ValueError(f"budget unit must be one of {BUDGET_UNITS}, got {unit!r}")


__all__ = ["BUDGET_UNITS", "Progress", "fund_trials", "next_to_run", "progress_left",
           "remaining_cost", "should_yield", "spent", "start_within_budget"]
