"""How far a forecast can be trusted in *this* study: a guard read from its finished trials.

A forecaster learned on some curve families is sure of itself on others where it is wrong: on
NAS-Bench-201's cosine-annealed curves the bundled default forecasts a plateau where every run still
climbs several points, and stops the eventual best run.  The study itself shows what the forecaster
does not know: its finished trials went through the same step, and what they gained from there on is
what a running trial at the same level can gain.

:class:`StudyTrust` turns that into evidence against a stop.  For a running trial at step ``t`` with
level ``x`` (the mean of its finite values over the last ``window`` of the budget, so that one noisy
epoch does not decide), each finished trial ``i`` with level ``x_i`` there and final value ``F_i``
says: "a trial at ``x`` that gains what I gained ends at ``x + (F_i - x_i)``".  Among the
``neighbours`` finished trials whose level at ``t`` was nearest to ``x``, the share whose transported
final would match or beat the incumbent is ``p_reach``.  The :class:`~lc_hpo.decision.StoppingRule`
stops a trial only when its forecast says so *and* ``p_reach`` is below ``veto``: where curves rise
late or cross, finished trials that were where this one is went on to win, and the rule keeps
training; where runs rank early, none did, and the forecast decides as before.  It is a conformal-
style check (the study's own finished runs as the calibration set, no model), so it adapts to each
study without training and reads nothing but the storage that every worker shares.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ._validation import check_int
from .curve import Curve


def level_at(curve: Curve, step: int, window: int) -> float:
    """Mean of ``curve``'s finite values at steps in ``(step - window, step]`` (its latest finite
    value at or before ``step`` if none falls in that window; NaN if there is none)."""
    steps, values = curve.finite
    hi = int(np.searchsorted(steps, step, side="right"))
    if hi == 0:
        return math.nan
    lo = int(np.searchsorted(steps, step - window, side="right"))
    lo = min(lo, hi - 1)
    return float(values[lo:hi].mean())


class _Levels:
    """The finished curves on one shared step grid, with running sums, so that every finished
    trial's :func:`level_at` a step is one vectorised read instead of a loop over them.  Built once
    per set of finished curves (a trial completing makes a new one)."""

    #: Above this many grid cells the table is not built and each read loops instead.
    MAX_CELLS = 5_000_000

    def __init__(self, finished: Sequence[Curve]) -> None:
        self.finished = list(finished)
        self.finals = np.array([c.final_value for c in self.finished], dtype=float)
        self.grid = np.unique(np.concatenate([c.steps for c in self.finished]))
        self.table = len(self.finished) * self.grid.size <= self.MAX_CELLS
        if not self.table:
            return
        n, g = len(self.finished), self.grid.size
        values = np.full((n, g), math.nan)
        for i, c in enumerate(self.finished):
            values[i, np.searchsorted(self.grid, c.steps)] = c.values
        ok = np.isfinite(values)
        self.sums = np.cumsum(np.where(ok, values, 0.0), axis=1)
        self.counts = np.cumsum(ok, axis=1)
        # the latest finite value at or before each grid step (NaN before the first)
        last = np.where(ok, np.arange(g), -1)
        np.maximum.accumulate(last, axis=1, out=last)
        self.latest = np.where(last >= 0, np.take_along_axis(values, np.maximum(last, 0), 1),
                               math.nan)

    def at(self, step: int, window: int) -> np.ndarray:
        """Every finished curve's :func:`level_at` ``step``."""
        if not self.table:
            return np.array([level_at(c, step, window) for c in self.finished], dtype=float)
        hi = int(np.searchsorted(self.grid, step, side="right")) - 1
        if hi < 0:
            return np.full(len(self.finished), math.nan)
        lo = int(np.searchsorted(self.grid, step - window, side="right")) - 1
        total = self.sums[:, hi] - (self.sums[:, lo] if lo >= 0 else 0.0)
        count = self.counts[:, hi] - (self.counts[:, lo] if lo >= 0 else 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), self.latest[:, hi])


class StudyTrust:
    """Evidence from the study's finished trials that a running trial can still reach the incumbent.

    Args:
        neighbours: How many finished trials, nearest to the trial at its step, are asked (fewer
            when fewer have finished).  A single finished trial is enough to ask: the incumbent's
            own run says whether the trial is ahead of where the winner was.
        window: The level is the mean over the last ``window`` × ``max_step`` steps (at least one
            step), read alike for the running and the finished trials.
        veto: A stop is vetoed when at least this share of the neighbours reach the incumbent.
            The default, 0.3, vetoes when two of five do, or one of up to three (so a study with
            few finished trials vetoes on one witness); chosen on development curve sets, not on
            the ones reported (docs/adaptive.md).
        slope: 0 (the default): "nearest" means nearest in level.  A fraction of the budget:
            nearest in level *and* in how much the level rose over the last ``slope`` × ``max_step``
            steps, each scaled by its spread among the finished trials there, so that a slow
            starter's witnesses are other slow starters rather than fast starters that happen to
            stand at the same level mid-run.
        lift: 1 (the default): a witness's gain from the step on is transported as it is.  Above
            1 (needs ``slope``): a trial that rose faster than its witness over the last
            ``slope`` of the budget is credited with the witness's gain times the ratio of the
            rises, at most ``lift`` times (never less than the gain itself): of two runs of the same
            shape, the one rising twice as fast gains about twice as much.
        confirm: None (the default): the evidence only vetoes.  A count: the evidence may also
            stop a trial, when at least ``confirm`` trials have finished and none of the
            ``confirm`` nearest would reach the incumbent from where the trial stands, provided
            the forecast's P(better) is below ``hedge`` as well (the rank-based stop of a study
            where runs rank early; where curves rise late, some witness reaches and it is silent).
        hedge: The forecast's P(better) below which the witnesses' stop goes through.
    """

    def __init__(self, neighbours: int = 5, window: float = 0.05, veto: float = 0.3,
                 slope: float = 0.0, lift: float = 1.0, confirm: int | None = None,
                 hedge: float = 0.5) -> None:
        neighbours = check_int("neighbours", neighbours)  # type: ignore[assignment]
        confirm = check_int("confirm", confirm, allow_none=True)
        if not (isinstance(window, (int, float)) and 0.0 <= window < 1.0):
            raise ValueError(f"window must be a fraction of the budget in [0, 1), got {window!r}")
        if not (isinstance(veto, (int, float)) and 0.0 < veto <= 1.0):
            raise ValueError(f"veto must be a share in (0, 1], got {veto!r}")
        if not (isinstance(slope, (int, float)) and 0.0 <= slope < 1.0):
            raise ValueError(f"slope must be a fraction of the budget in [0, 1) (0: level only), "
                             f"got {slope!r}")
        if not (isinstance(lift, (int, float)) and lift >= 1.0):
            raise ValueError(f"lift must be a factor of at least 1 (1: off), got {lift!r}")
        if lift > 1 and slope == 0:
            raise ValueError("lift scales the witnesses' gains by the rises over the last slope "
                             "of the budget: set slope > 0 as well")
        if not (isinstance(hedge, (int, float)) and 0.0 < hedge <= 1.0):
            raise ValueError(f"hedge must be a probability in (0, 1], got {hedge!r}")
        self.neighbours = neighbours
        self.window = float(window)
        self.veto = float(veto)
        self.slope = float(slope)
        self.lift = float(lift)
        self.confirm = confirm
        self.hedge = float(hedge)

    #: The spec's letters (:meth:`from_spec`) and the settings they name.
    SPEC = {"n": "neighbours", "w": "window", "v": "veto", "s": "slope", "l": "lift",
            "c": "confirm", "h": "hedge"}

    @classmethod
    def from_spec(cls, spec: str) -> "StudyTrust":
        """A guard from a short spec, for replays' method names: ``on`` (the defaults) or
        dash-separated settings, e.g. ``n5-w0.05-v0.3-s0.1-l2-c10-h0.5`` (``n`` neighbours, ``w``
        window, ``v`` veto, ``s`` slope, ``l`` lift, ``c`` confirm, ``h`` hedge); settings not
        named keep their defaults."""
        usage = (f"trust spec {spec!r}: write 'on' or dash-separated settings such as "
                 "n5-w0.05-v0.3-s0.1-l2-c10-h0.5 (n neighbours, w window, v veto, s slope, "
                 "l lift, c confirm, h hedge)")
        if spec == "on":
            return cls()
        kw: dict = {}
        for token in spec.split("-"):
            key, value = token[:1], token[1:]
            if key not in cls.SPEC:
                raise ValueError(usage)
            try:
                kw[cls.SPEC[key]] = int(value) if key in "nc" else float(value)
            except ValueError:
                raise ValueError(usage) from None
        return cls(**kw)

    def p_reach(self, curves: Sequence[Curve], finished: Sequence[Curve],
                incumbent: float) -> np.ndarray:
        """For each running curve, the share of its nearest finished trials whose gain from the
        curve's current step on would carry it to the incumbent or past it (NaN: no evidence)."""
        return self.assess(curves, finished, incumbent)[0]

    def assess(self, curves: Sequence[Curve], finished: Sequence[Curve],
               incumbent: float) -> tuple[np.ndarray, np.ndarray]:
        """``(p_reach, decisive)`` per running curve: :meth:`p_reach`, and whether the
        ``confirm`` nearest finished trials all fail to carry it to the incumbent (always False
        without ``confirm``, or with fewer finished trials than it asks for)."""
        out = np.full(len(curves), math.nan)
        decisive = np.zeros(len(curves), dtype=bool)
        if not finished or not math.isfinite(incumbent):
            return out, decisive
        table = self._levels(finished)
        for j, curve in enumerate(curves):
            if curve.last_step is None:
                continue
            sign = -1.0 if curve.mode == "min" else 1.0  # higher is better from here on
            step = curve.last_step
            budget = curve.max_step or step
            w = max(1, int(round(self.window * budget)))
            x = level_at(curve, step, w)
            if not math.isfinite(x):
                continue
            levels = table.at(step, w)
            ok = np.isfinite(levels) & np.isfinite(table.finals)
            if not ok.any():
                continue
            lv, fv = sign * levels[ok], sign * table.finals[ok]
            gain = fv - lv
            distance = np.abs(lv - sign * x)
            if self.slope > 0:
                rise, rises = self._rises(curve, table, step, w, budget, sign, ok, lv, x)
                distance = _with_rise(distance, lv, rise, rises)
                if self.lift > 1 and math.isfinite(rise) and rise > 0:
                    # a trial rising faster than its witness gains more than it did, up to lift×
                    with np.errstate(divide="ignore", invalid="ignore"):
                        ratio = np.where(rises > 0, rise / rises, self.lift)
                    gain = gain * np.where(np.isfinite(ratio),
                                           np.clip(ratio, 1.0, self.lift), 1.0)
            # matching the incumbent within a relative 1e-9 counts (a copy of it is a tie)
            tol = 1e-9 * (abs(x) + np.abs(lv) + np.abs(fv) + abs(incumbent))
            reach = sign * x + gain >= sign * incumbent - tol
            order = np.argsort(distance, kind="stable")
            out[j] = float(reach[order[:self.neighbours]].mean())
            if self.confirm is not None and order.size >= self.confirm:
                decisive[j] = not reach[order[:self.confirm]].any()
        return out, decisive

    def _rises(self, curve: Curve, table: "_Levels", step: int, w: int, budget: int,
               sign: float, ok: np.ndarray, lv: np.ndarray, x: float) -> tuple[float, np.ndarray]:
        """How much the trial's level and each finished trial's rose (better is up) over the last
        ``slope`` of the budget (from the trial's first step, if it began within that)."""
        first = int(curve.steps[0])
        back = max(first, step - max(1, int(round(self.slope * budget))))
        if back >= step:
            return math.nan, np.full(lv.size, math.nan)
        rise = sign * (x - level_at(curve, back, w))
        rises = lv - sign * table.at(back, w)[ok]
        return rise, rises

    def vetoes(self, p_reach: np.ndarray) -> np.ndarray:
        """Which stops the evidence vetoes (no evidence vetoes nothing)."""
        p = np.asarray(p_reach, dtype=float)
        return np.isfinite(p) & (p >= self.veto)

    def _levels(self, finished: Sequence[Curve]) -> _Levels:
        """The level table of ``finished``, reused while the same finished curves come back (the
        adapters hand over the same curve objects until a trial completes).  A cache of derived
        facts only: a decision never depends on it being there."""
        key = tuple(map(id, finished))
        cached = getattr(self, "_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        table = _Levels(finished)
        self._cache = (key, table)  # the table holds the curves, so their ids stay theirs
        return table

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_cache", None)  # derived; rebuilt on use
        return state

    def __setstate__(self, state: dict) -> None:
        # pickled by a version without the slope and the witnesses' stop
        state.setdefault("slope", 0.0)
        state.setdefault("lift", 1.0)
        state.setdefault("confirm", None)
        state.setdefault("hedge", 0.5)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (f"StudyTrust(neighbours={self.neighbours}, window={self.window}, "
                f"veto={self.veto}, slope={self.slope}, lift={self.lift}, confirm={self.confirm}, "
                f"hedge={self.hedge})")


def _with_rise(distance: np.ndarray, lv: np.ndarray, rise: float, rises: np.ndarray) -> np.ndarray:
    """The distance over (level, rise), each scaled by its spread among the finished trials; the
    level's alone where the rise cannot be read."""
    fine = np.isfinite(rises)
    if not math.isfinite(rise) or fine.sum() < 2:
        return distance
    spread_l, spread_r = float(np.std(lv)), float(np.std(rises[fine]))
    if not (spread_l > 0 and spread_r > 0):
        return distance
    d_rise = np.where(fine, np.abs(rises - rise) / spread_r, np.inf)
    return np.hypot(distance / spread_l, d_rise)
