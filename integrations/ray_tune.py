"""``LCScheduler``: the Ray Tune scheduler that stops, ranks and budgets trials from forecasts.

A translation of Ray Tune's callbacks into the core's terms: each result extends the trial's curve;
the core :class:`~lc_hpo.decision.StoppingRule` (the same code path as ``LCPruner``) decides whether it
stops; :mod:`lc_hpo.allocation` decides which paused trial resumes first and what a budget can
finish.  Ray does not restore a scheduler's state on ``Tuner.restore`` (ray-project/ray#30838), so
every trial's curve is rebuilt in ``on_trial_add`` from the results Ray logged for it.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field, replace
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from lc_hpo._validation import check_int
from lc_hpo.allocation import OVER_BUDGET
from lc_hpo.budget_prior import ESTIMATE_KEY, EstimateError, predicted_length, soonest_first
from lc_hpo.arch_source import ARCH_KEY, ArchFn, ArchSource
from lc_hpo.curve import MODES, Mode, is_better
from lc_hpo.decision import (DEFAULT_DIVERGED_PATIENCE, DEFAULT_N_STARTUP_TRIALS,
                             DEFAULT_THRESHOLD, LEADER, Decision,
                             StoppingRule)
from lc_hpo.defaults import resolve_calibration, resolve_predictor
from lc_hpo.predictors import Predictor
from lc_hpo.reports import curve_from_reports
from lc_hpo.scheduling import (Progress, fund_trials, next_to_run, progress_left, should_yield,
                               spent, start_within_budget)
from lc_hpo.trust import StudyTrust

PENDING, RUNNING, PAUSED = "pending", "running", "paused"
COMPLETE, STOPPED, ERROR = "complete", "stopped", "error"


@dataclass
class _TrialState:
    history: dict[int, float] = field(default_factory=dict)  # time_attr value -> metric
    status: str = PENDING  # until its first result: it has no curve to forecast or fund
    seconds: float = 0.0  # measured cost so far (time_total_s)
    checkpoints: bool = False
    decision: Decision | None = None
    config: dict = field(default_factory=dict)  # the trial's plain hyperparameters
    arch: Any = None  # the trial's architecture graph (lc_hpo.arch.ArchGraph), if it has one
    curve: Any = None  # the curve, cached once the trial has completed
    length: int | None = None  # reports its training-time estimate (config["lc_estimate"]) expects

    @property
    def last_t(self) -> int:
        return max(self.history) if self.history else 0

    @property
    def final(self) -> float | None:
        """A completed trial's last value, None while it runs or if that value diverged."""
        if self.status != COMPLETE or not self.history:
            return None
        value = self.history[self.last_t]
        return value if math.isfinite(value) else None


class LCScheduler(TrialScheduler):
    """Stop, rank and budget Ray Tune trials from learning-curve forecasts.

    Args:
        predictor: An lc-hpo predictor, a registered name or checkpoint path, or None (default).
        metric, mode: What to optimise; or leave them to ``tune.TuneConfig(metric=, mode=)``.
        time_attr: The result key that counts training progress (``training_iteration``).
        max_t: A trial's full budget in ``time_attr`` units; trials are stopped there.
        grace_period: Never stop a trial before this much progress.
        threshold: Stop when P(final value beats the incumbent) falls below this.
        n_startup_trials: Stop nothing before this many trials have completed (at least 1: the
            incumbent is the best completed trial).
        min_points: Stop no trial with fewer finite results than this (default 2).
        rank: Pause trials at milestones and resume the most promising first (freeze-thaw); needs
            trials that checkpoint (``tune.report(..., checkpoint=...)``), else only stopping is done.
        milestone: Progress between two ranking checks of a running trial (default ``max_t // 4``).
        budget: Optional total budget of the experiment, in ``budget_unit``.  Trials whose config
            carries a training-time estimate (``"lc_estimate"``, a ``TrainingTimeEstimate.to_dict()``)
            start soonest-predicted first, budget or not; with a budget in ``"time_attr"`` units
            each counts as costing its predicted steps-to-target (upper end of the interval, at most
            ``max_t``; ``max_t`` if it predicts no finite time), and one the budget left after the
            started trials cannot finish is never started (reason ``"budget"``).  Trials without a
            usable estimate start as before (the budget decides at their first report).  Ray
            creates trials only as slots free under ``max_concurrent_trials``, so leave it unset
            and limit concurrency by resources for the order to take effect.
        steps_per_report: SGD steps per unit of ``time_attr``, to read estimates' steps (default 1).
        budget_unit: ``"time_attr"`` (sum of trials' progress) or ``"seconds"`` (sum of their
            measured ``time_total_s``).
        standing: Read P(better) together with the trial's standing among the completed trials
            at its current progress, through the standing calibration stored beside the
            predictor's weights if it has one (the default does, and ``"study"`` uses its base's);
            False decides on the forecast alone.
        diverged_patience: Stop a trial once this many of its latest results in a row are NaN or
            infinite (default 1), provided completed trials have a finite incumbent; None never
            stops a trial for diverging.
        arch: A callable taking a trial's config and returning its architecture graph (an
            :class:`~lc_hpo.arch.ArchGraph`, a ``{"nodes", "edges"}`` dict, a NAS-Bench-201 cell
            string or an ``nn.Module``), for an architecture-aware predictor (``lc_gode``); a graph
            in the trial's config under ``"lc_arch"`` takes precedence.  A trial without a usable
            graph is forecast without one, never stopped for it, and one warning says so.
        trust: Veto a stop while completed trials that stood where the trial stands went on to
            reach the incumbent (:class:`~lc_hpo.trust.StudyTrust`); False decides on the
            forecast alone.  A ``StudyTrust`` sets it.
    """

    def __init__(
        self,
        predictor: Predictor | str | None = None,
        *,
        metric: str | None = None,
        mode: str | None = None,
        time_attr: str = "training_iteration",
        max_t: int = 100,
        grace_period: int = 1,
        threshold: float = DEFAULT_THRESHOLD,
        n_startup_trials: int = DEFAULT_N_STARTUP_TRIALS,
        rank: bool = True,
        milestone: int | None = None,
        budget: float | None = None,
        budget_unit: str = "time_attr",
        min_points: int = 2,
        standing: bool = True,
        diverged_patience: int | None = DEFAULT_DIVERGED_PATIENCE,
        arch: ArchFn | None = None,
        trust: bool | StudyTrust = True,
        steps_per_report: int = 1,
    ) -> None:
        super().__init__()
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        check_int("max_t", max_t, 1)
        check_int("milestone", milestone, 1, allow_none=True)
        check_int("steps_per_report", steps_per_report, 1)
        if budget is not None and not budget > 0:
            raise ValueError(f"budget must be positive, got {budget!r}")
        if budget_unit not in ("time_attr", "seconds"):
            raise ValueError("budget_unit must be 'time_attr' or 'seconds'")
        resolved = resolve_predictor(predictor)
        self._rule = StoppingRule(resolved, threshold=threshold,
                                  min_steps=grace_period, n_startup_trials=n_startup_trials,
                                  min_points=min_points,
                                  calibration=resolve_calibration(resolved) if standing else None,
                                  diverged_patience=diverged_patience, trust=trust)
        self._metric = metric
        self._mode: Mode | None = mode  # type: ignore[assignment]
        self._time_attr = time_attr
        self._max_t = max_t
        self._rank = rank
        self._milestone = milestone or max(1, max_t // 4)
        self._budget = budget
        self._budget_unit = budget_unit
        self._steps_per_report = steps_per_report
        self._trials: dict[str, _TrialState] = {}
        self._arch = ArchSource(arch, self._rule.warn_once, "LCScheduler", self._rule.predictor)
        self.n_paused = 0  # how many times a trial was paused to make way for a more promising one
        # Once a trial carries a training-time estimate, trials not started are held (Ray PAUSED)
        # until this scheduler chooses them: Ray would otherwise start every PENDING trial in the
        # order its actors come up, whatever choose_trial_to_run says.
        self._hold = False
        self._ranked: tuple[tuple, str | None] | None = None  # (what was asked, the answer)

    # --- properties the user and the callback read --------------------------------------------
    @property
    def rule(self) -> StoppingRule:
        return self._rule

    def forecast_fields(self, trial_id: str) -> dict[str, Any]:
        """The latest forecast of a trial as flat result fields (NaN where none was made)."""
        st = self._trials.get(trial_id)
        d = st.decision if st else None
        nan = float("nan")
        return {
            "lc_p_better": d.p_better if d and d.p_better is not None else nan,
            # the forecast's own P(better), where lc_p_better also reads the trial's standing
            "lc_p_forecast": d.p_forecast if d and d.p_forecast is not None else nan,
            "lc_predicted_final": d.predicted_final if d and d.predicted_final is not None else nan,
            "lc_lower": d.lower if d and d.lower is not None else nan,
            "lc_upper": d.upper if d and d.upper is not None else nan,
            "lc_reason": d.reason if d else "",
            "lc_stop": bool(d.stop) if d else False,  # the names LCPruner's flat attributes use
        }

    def callback(self) -> "LCForecastCallback":
        """A ``tune.Callback`` that writes each trial's latest forecast into its results."""
        return LCForecastCallback(self)

    # --- Ray's scheduler interface --------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if (metric and self._metric and metric != self._metric) or \
                (mode and self._mode and mode != self._mode):
            return False  # Ray then raises: metric/mode given in two places
        self._metric = metric or self._metric
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self._mode = mode or self._mode  # type: ignore[assignment]
        return True

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self._check_configured()
        st = self._trials.setdefault(trial.trial_id, _TrialState())
        config = getattr(trial, "config", None)
        st.config = _plain_config(config)
        config = config if isinstance(config, dict) else {}
        st.arch = self._arch.graph(str(trial.trial_id), config.get(ARCH_KEY), config)
        st.length = self._estimated_length(str(trial.trial_id), config.get(ESTIMATE_KEY))
        self._rebuild(trial, st)
        self._hold = getattr(self, "_hold", False) or config.get(ESTIMATE_KEY) is not None
        if self._hold and st.status == PENDING and not st.history and \
                getattr(trial, "status", None) == Trial.PENDING:
            trial.set_status(Trial.PAUSED)  # started when chosen (this hook runs before Ray files it)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        st = self._trials.setdefault(trial.trial_id, _TrialState())
        st.status = RUNNING
        point = self._read(result)
        if point is None:
            return TrialScheduler.CONTINUE
        t, value = point
        # A trial that restarted without a checkpoint counts from 1 again: forget the stale tail.
        for stale in [k for k in st.history if k > t]:
            del st.history[stale]
        st.history[t] = value
        st.curve = None  # the curve changed (a completed trial may be resumed after a restore)
        st.seconds = float(result.get("time_total_s", st.seconds) or st.seconds)
        if result.get("should_checkpoint") or result.get("checkpoint_dir_name"):
            st.checkpoints = True
        if t >= self._max_t:
            self._complete(tune_controller, st)
            return TrialScheduler.STOP
        decision = self._decide([st])[0]
        st.decision = decision
        if decision.stop:
            st.status = STOPPED
            return TrialScheduler.STOP
        if self._budget is not None and not self._funded(tune_controller, trial.trial_id):
            st.status = STOPPED
            st.decision = replace(decision, stop=True, reason=OVER_BUDGET)
            return TrialScheduler.STOP
        if self._rank and t % self._milestone == 0 and self._should_yield(tune_controller, trial, st):
            st.status = PAUSED
            self.n_paused += 1
            return TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        st = self._trials.setdefault(trial.trial_id, _TrialState())
        if st.status != STOPPED:
            # When Ray's own stop condition (``stop=``, a Stopper, ``done``) ends a trial, its last
            # result reaches this hook but not on_trial_result: without it the final value would
            # be the one before.
            result = result or {}
            has_point = self._metric in result and self._time_attr in result
            point = self._read(result) if has_point else None
            if point is not None and point[0] >= st.last_t:
                st.history[point[0]] = point[1]
                st.curve = None
            if st.history and st.last_t < self._max_t and not (
                    st.length is not None and st.last_t >= st.length):  # trained to its estimate
                self._rule.warn_once(
                    f"trials complete before max_t={self._max_t} {self._time_attr}, and "
                    "LCScheduler forecasts each to max_t: set max_t to the value of "
                    f"{self._time_attr} a full run ends at (or, if a stopper ends them early, "
                    "expect forecasts beyond it)", key="short-runs")
            self._complete(tune_controller, st)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        self._trials.setdefault(trial.trial_id, _TrialState()).status = ERROR

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        st = self._trials.setdefault(trial.trial_id, _TrialState())
        if st.status not in (COMPLETE, ERROR):
            st.status = STOPPED

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        trials = tune_controller.get_trials()
        paused = {t.trial_id: t for t in self._waiting_to_resume(trials)}
        unstarted = {t.trial_id: t for t in self._unstarted(trials)}
        if unstarted:
            # trials carrying a training-time estimate (config["lc_estimate"]) start soonest-first
            keys = list(unstarted)
            keys = [keys[i] for i in soonest_first(
                [_plain_estimate(unstarted[k]) for k in keys])]
            if self._budget is not None and self._budget_unit == "time_attr":
                # the budget goes to the trials predicted to reach their target soonest: an
                # estimated trial it can no longer finish is never started
                key, skipped = start_within_budget(
                    [(k, self._trials.get(k, _TrialState()).length) for k in keys],
                    self._free_budget(trials))
                self._skip_unstarted(tune_controller, [unstarted[k] for k in skipped])
            else:
                key = next_to_run(self._rule, {}, keys)
            if key is not None:
                return unstarted[key]
        if paused:
            # Ray asks at every step of its loop; paused curves do not change, so the ranking
            # holds until the set of paused trials or the completed ones change.
            inc = self._incumbent()
            asked = (tuple(sorted(paused)), len(self._completed()), inc)
            ranked = getattr(self, "_ranked", None)  # (absent from an older pickled scheduler)
            if ranked is None or ranked[0] != asked:
                curves = {k: self._curve(self._trials[k]) for k in paused}
                self._ranked = (asked, next_to_run(self._rule, curves, (), inc, self._context()))
            return paused[self._ranked[1]]  # type: ignore[index]
        for t in trials:
            if t.status == Trial.PENDING and \
                    self._trials.get(t.trial_id, _TrialState()).status != STOPPED:
                return t
        return None

    def debug_string(self) -> str:
        counts = {s: 0 for s in (PENDING, RUNNING, PAUSED, COMPLETE, STOPPED, ERROR)}
        for st in self._trials.values():
            counts[st.status] += 1
        inc = self._incumbent()
        parts = [f"LCScheduler: {counts[PENDING]} pending, {counts[RUNNING]} running, "
                 f"{counts[PAUSED]} paused, "
                 f"{counts[COMPLETE]} complete, {counts[STOPPED]} stopped, {counts[ERROR]} errored; "
                 f"{self.n_paused} pauses; incumbent {inc if inc is not None else '-'}"]
        if self._budget is not None:
            parts.append(f"budget {self._spent():.4g}/{self._budget:.4g} {self._budget_unit}")
        live = [(k, st) for k, st in self._trials.items()
                if st.status in (RUNNING, PAUSED) and st.decision and st.decision.p_better is not None]
        for k, st in sorted(live, key=lambda kv: -_p_better(kv[1]))[:5]:
            d = st.decision
            assert d is not None  # live trials were chosen for having a forecast
            parts.append(f"  {k}: t={st.last_t} forecast {d.predicted_final:.4g} "
                         f"[{d.lower:.4g}, {d.upper:.4g}], P(beats incumbent)={d.p_better:.3f}")
        return "\n".join(parts)

    # --- state that survives Tuner.restore via the callback ------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {k: {"history": {str(t): v for t, v in st.history.items()}, "status": st.status,
                    "seconds": st.seconds, "checkpoints": st.checkpoints}
                for k, st in self._trials.items()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Merge a saved state in.  What a trial's logged results show (read in ``on_trial_add``)
        can be newer than the last saved state, never older, so the further-advanced record wins."""
        for k, s in state.items():
            saved = _TrialState(
                history={int(t): float(v) for t, v in s["history"].items()},
                status=s["status"], seconds=s["seconds"], checkpoints=s["checkpoints"])
            if not saved.history and saved.status == RUNNING:  # saved before "pending" existed
                saved.status = PENDING
            known = self._trials.get(k)
            if known is None or saved.last_t > known.last_t:
                if known is not None:
                    saved.config, saved.arch, saved.length = known.config, known.arch, known.length
                self._trials[k] = saved

    # --- helpers ---------------------------------------------------------------------------------
    def _check_configured(self) -> None:
        if not self._metric or self._mode not in MODES:
            raise ValueError(
                "LCScheduler needs a metric and a mode ('min' or 'max'): pass them to "
                "LCScheduler(metric=..., mode=...) or to tune.TuneConfig(metric=..., mode=...)"
            )

    def _read(self, result: dict) -> tuple[int, float] | None:
        if self._metric not in result or self._time_attr not in result:
            missing = self._metric if self._metric not in result else self._time_attr
            self._rule.warn_once(f"a result has no {missing!r}; LCScheduler keeps such trials "
                                 "running without a forecast", key=f"missing-{missing}")
            return None
        try:
            t = int(result[self._time_attr])
            value = float(result[self._metric])
        except (TypeError, ValueError):
            self._rule.warn_once(f"{self._metric!r} or {self._time_attr!r} is not a number in a "
                                 "result; such results are ignored", key="not-a-number")
            return None
        return t, value  # NaN/inf values are kept: the curve marks them diverged

    def _curve(self, st: _TrialState):  # noqa: ANN202
        return curve_from_reports(st.history, self._mode, self._max_t,  # type: ignore[arg-type]
                                  config=st.config, arch=st.arch)

    def _context(self) -> list | None:
        """Completed trials' curves, when the rule reads the study's finished trials."""
        if not self._rule.needs_context:
            return None
        out = []
        for st in self._completed():
            if st.curve is None:  # a completed trial's curve no longer changes
                st.curve = self._curve(st)
            out.append(st.curve)
        return out

    def _completed(self) -> list[_TrialState]:
        return [st for st in self._trials.values() if st.status == COMPLETE]

    def _incumbent(self) -> float | None:
        best = None
        for st in self._completed():
            if st.final is not None and (
                    best is None or is_better(st.final, best, self._mode)):  # type: ignore[arg-type]
                best = st.final
        return best

    def _decide(self, states: list[_TrialState]) -> list[Decision]:
        return self._rule.decide_many([self._curve(st) for st in states], self._incumbent(),
                                      len(self._completed()), [st.last_t for st in states],
                                      self._context())

    def _complete(self, tune_controller: Any, st: _TrialState) -> None:
        st.status = COMPLETE
        self._review_paused(tune_controller)

    def _review_paused(self, tune_controller: Any) -> None:
        """The incumbent may have moved: stop paused trials that can no longer win."""
        paused = [(k, st) for k, st in self._trials.items() if st.status == PAUSED]
        if not paused:
            return
        decisions = self._decide([st for _, st in paused])
        for (_, st), d in zip(paused, decisions):
            st.decision = d
        self._stop_paused(tune_controller, [k for (k, _), d in zip(paused, decisions) if d.stop])

    def _stop_paused(self, tune_controller: Any, keys: list[str], reason: str | None = None
                     ) -> None:
        """Stop these paused trials through Ray (they hold no running actor); ``reason``, if
        given, replaces their last decision's (the budget's stop is not the rule's)."""
        by_id = {t.trial_id: t for t in tune_controller.get_trials()}
        for k in keys:
            if k in by_id:
                st = self._trials[k]
                st.status = STOPPED
                if reason is not None and st.decision is not None:
                    st.decision = replace(st.decision, stop=True, reason=reason)
                tune_controller.stop_trial(by_id[k])
                _mark_for_saving(tune_controller, by_id[k])

    def _should_yield(self, tune_controller: Any, trial: Trial, st: _TrialState) -> bool:
        """At a milestone, pause this trial (it resumes later) when others deserve its slot first.

        Freeze-thaw: while trials are still waiting to start, each running trial pauses at its
        milestone so that every configuration gets explored; afterwards a trial pauses only if a
        paused one promises more.  The leader (already at or beyond the incumbent) never pauses, and
        trials that do not checkpoint are never paused, since they would restart from scratch.
        """
        if not st.checkpoints:
            self._rule.warn_once(
                "trials do not checkpoint (tune.report(..., checkpoint=...)): pausing would restart "
                "them from scratch, so LCScheduler only stops trials and does not rank them",
                key="no-checkpoints")
            return False
        trials = tune_controller.get_trials()
        # Waiting to start: Ray's PENDING, and nothing reported yet (also a trial Ray retries after
        # an error before its first result). Ray also marks a paused trial
        # PENDING while it resumes; counting those kept every trial pausing at every milestone
        # (round-robin, no incumbent until all had reached the last one, nothing stopped).
        unstarted = bool(self._unstarted(trials))
        waiting = [self._curve(self._trials[t.trial_id]) for t in self._waiting_to_resume(trials)
                   if t.trial_id != trial.trial_id]
        leader = st.decision is not None and st.decision.reason == LEADER
        return should_yield(self._rule, self._curve(st), waiting, waiting_to_start=unstarted,
                            leader=leader, incumbent=self._incumbent(), context=self._context())

    def _unstarted(self, trials: list[Trial]) -> list[Trial]:
        """Trials waiting to start: Ray's PENDING ones with no result yet (a trial Ray retries after
        an error before its first result too), and those held back until chosen (``_hold``)."""
        out = []
        for t in trials:
            st = self._trials.get(t.trial_id, _TrialState())
            if st.history or st.status == STOPPED:
                continue
            if t.status == Trial.PENDING or (t.status == Trial.PAUSED and st.status == PENDING):
                out.append(t)
        return out

    def _waiting_to_resume(self, trials: list[Trial]) -> list[Trial]:
        """The trials this scheduler paused and that have not resumed yet, by its own record.

        Not by Ray's PAUSED status: Ray marks a paused trial PENDING as soon as it is staged to
        resume (so after a few choices every paused trial showed PENDING, none was ranked, and they
        resumed in Ray's order), and every unfinished trial PENDING after ``Tuner.restore``."""
        return [t for t in trials if t.status in (Trial.PAUSED, Trial.PENDING)
                and self._trials.get(t.trial_id, _TrialState()).status == PAUSED]

    def _spent(self) -> float:
        return spent([(st.last_t, st.seconds) for st in self._trials.values()], self._budget_unit)

    def _funded(self, tune_controller: Any, trial_id: str) -> bool:
        """Whether the budget can still finish this trial; unfunded paused trials are stopped.

        Only trials that have reported compete: one that has not started has no forecast, and
        counting it as most promising (as :func:`~lc_hpo.allocation.promise` must for a trial
        without a finite value) would stop running trials, the best among them, to keep budget
        for trials that may never be better. A trial that starts when the budget can no longer
        finish it is stopped at its first report."""
        remaining = self._budget - self._spent()  # type: ignore[operator]
        live = {k: st for k, st in self._trials.items() if st.status in (RUNNING, PAUSED)}
        progress = {k: Progress(self._curve(st), st.last_t, st.seconds, st.length)
                    for k, st in live.items()}
        funded = fund_trials(self._rule, progress, self._max_t, self._budget_unit, remaining,
                             self._incumbent(), self._context())
        self._stop_paused(tune_controller, [k for k, st in live.items() if k != trial_id
                                            and st.status == PAUSED and k not in funded],
                          reason=OVER_BUDGET)
        return trial_id in funded

    def _estimated_length(self, trial_id: str, raw: Any) -> int | None:
        """The reports a trial's training-time estimate expects (None without a usable one)."""
        if raw is None:
            return None
        try:
            return predicted_length(raw, self._max_t, getattr(self, "_steps_per_report", 1))
        except EstimateError as exc:
            self._rule.warn_once(f"the lc_estimate of trial {trial_id} cannot be read ({exc}); "
                                 "such trials run as trials without an estimate", key="estimate")
            return None

    def _free_budget(self, trials: list[Trial]) -> float:
        """The budget left once every started trial has what it is expected to still need: the
        live ones to their estimate's length (else ``max_t``), and those started that have not
        reported yet likewise from 0."""
        free = self._budget - self._spent()  # type: ignore[operator]
        for t in trials:
            st = self._trials.get(t.trial_id)
            if st is None:
                continue
            if st.status in (RUNNING, PAUSED):
                free -= progress_left(st.last_t, st.length, self._max_t)
            elif st.status == PENDING and t.status == Trial.RUNNING:
                free -= progress_left(0, st.length, self._max_t)
        return free

    def _skip_unstarted(self, tune_controller: Any, trials: list[Trial]) -> None:
        """Stop trials that have not started (the budget cannot finish them); they never run."""
        for trial in trials:
            st = self._trials.setdefault(trial.trial_id, _TrialState())
            st.status = STOPPED
            st.decision = Decision(stop=True, reason=OVER_BUDGET, step=0)
            # Ray gives a trial its directory when it starts; without one, Tuner.fit() fails
            # building the results of a trial that never started.
            init = getattr(trial, "init_local_path", None)
            if callable(init):
                init()
            tune_controller.stop_trial(trial)
            # its result (Result.config, .metrics) shows why it never ran
            meta = getattr(trial, "run_metadata", None)
            if meta is not None and not any(k != "trial_id" for k in meta.last_result or {}):
                meta.last_result = {"trial_id": trial.trial_id, "config": dict(trial.config),
                                    **self.forecast_fields(trial.trial_id)}
            _mark_for_saving(tune_controller, trial)

    def _rebuild(self, trial: Trial, st: _TrialState) -> None:
        """After ``Tuner.restore``: the trial's curve from the results Ray logged for it.

        The log is written as results arrive, so it is at least as recent as any saved scheduler
        state: its points are merged over what ``set_state`` brought, and a trial whose log reaches
        ``max_t`` is complete whatever state the snapshot caught it in."""
        try:
            trial_dir = trial.path
        except Exception:  # a brand-new trial has no directory yet
            return
        if trial_dir is None:
            return
        path = os.path.join(trial_dir, "result.json")
        if not os.path.isfile(path):
            return
        try:
            with open(path) as fh:
                for line in fh:
                    row = _flatten(json.loads(line))
                    if row.get("trial_id") not in (None, trial.trial_id):
                        continue
                    point = self._read(row)
                    if point:
                        st.history[point[0]] = point[1]
                        st.curve = None
                        st.seconds = float(row.get("time_total_s", st.seconds) or st.seconds)
                        if row.get("should_checkpoint") or row.get("checkpoint_dir_name"):
                            st.checkpoints = True
        except (OSError, ValueError) as exc:
            self._rule.warn_once(f"could not read the logged results of trial {trial.trial_id} "
                                 f"({exc}); its curve starts afresh", key="rebuild")
            return
        if st.last_t >= self._max_t:
            st.status = COMPLETE
        elif trial.status == Trial.TERMINATED:
            st.status = STOPPED
        elif trial.status == Trial.ERROR:
            st.status = ERROR
        elif not st.history:
            st.status = PENDING
        elif trial.status in (Trial.PAUSED, Trial.PENDING):
            # Restored part-way (Ray requeues every unfinished trial as PENDING): it waits to
            # resume, as a paused trial does, and resumes in the order of its promise. Ray would
            # start PENDING trials in its own order, so, when ranking, Ray is told it is paused
            # (this hook runs before Ray files the trial under its status).
            st.status = PAUSED
            if self._rank and st.checkpoints and trial.status == Trial.PENDING:
                trial.set_status(Trial.PAUSED)
        else:
            st.status = RUNNING


def _plain_estimate(trial: Trial) -> Any:
    """A trial's training-time estimate (``config["lc_estimate"]``, a ``to_dict()``), or None."""
    config = getattr(trial, "config", None)
    return config.get(ESTIMATE_KEY) if isinstance(config, dict) else None


def _mark_for_saving(tune_controller: Any, trial: Trial) -> None:
    """Have Ray save this trial's state again with the experiment.

    Ray (2.60) re-saves a stopped trial only if it held an actor: a trial stopped while paused
    kept its PAUSED status and last result in the saved experiment (a restore would resume it, and
    its results showed the decision before the one that stopped it).  The scheduler's handle has no
    public way to ask, so the controller behind it is asked where it can be reached."""
    mark = getattr(getattr(tune_controller, "_tune_controller", None),
                   "_mark_trial_to_checkpoint", None)
    if callable(mark):
        mark(trial)


def _p_better(st: _TrialState) -> float:
    """A trial's latest P(better), 0 without a forecast (for ordering)."""
    return (st.decision.p_better or 0.0) if st.decision is not None else 0.0


def _plain_config(config: Any) -> dict:
    """A trial's hyperparameters that are plain numbers or strings (nested keys joined by '/')."""
    if not isinstance(config, dict):
        return {}
    return {k: v for k, v in _flatten(config).items()
            if isinstance(v, (int, float, str)) and not isinstance(v, bool)}


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def _append_logged_result(folder: str | None, result: dict) -> None:
    """Append ``result`` to the trial's ``result.json`` and ``progress.csv`` where Ray's loggers
    wrote them (opened for appending, so rows a logger still writes stay whole)."""
    if not folder:
        return
    from ray.tune.utils.util import SafeFallbackEncoder

    as_json = os.path.join(folder, "result.json")
    if os.path.exists(as_json):
        with open(as_json, "a") as f:
            f.write(json.dumps(result, cls=SafeFallbackEncoder) + "\n")
    as_csv = os.path.join(folder, "progress.csv")
    if os.path.exists(as_csv):
        with open(as_csv, newline="") as f:
            header = next(csv.reader(f), None)
        if header:
            with open(as_csv, "a", newline="") as f:
                csv.DictWriter(f, header, extrasaction="ignore").writerow(_flatten(result))


def _flatten(row: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in row.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/"))
        else:
            out[key] = v
    return out


class LCForecastCallback(Callback):
    """Writes each trial's latest forecast (``lc_p_better``, ``lc_p_forecast``,
    ``lc_predicted_final``, ``lc_lower``, ``lc_upper``, ``lc_reason``, ``lc_stop``) into its results,
    so progress files and ``ResultGrid`` show it; it also carries the scheduler's state through
    ``Tuner.restore``."""

    def __init__(self, scheduler: LCScheduler) -> None:
        self.scheduler = scheduler

    def on_trial_result(self, iteration: int, trials: list, trial: Trial, result: dict,
                        **info: Any) -> None:
        result.update(self.scheduler.forecast_fields(trial.trial_id))

    def on_trial_complete(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        # A paused trial that the scheduler stops reports no further result, so the decision that
        # stopped it would otherwise not reach its results: its last result showed the earlier one
        # (e.g. "startup"). Its last result now carries the final decision. It is reassigned, not
        # updated in place: Ray caches the JSON it saves the experiment state from (and so what
        # `Tuner.restore(...).get_results()` reads) until the attribute is set again.
        # The files Ray's loggers wrote (read by `ResultGrid.get_dataframe()`) get that result as
        # one more row, so the dataframe and `Result.metrics` agree.
        meta = getattr(trial, "run_metadata", None)
        last = getattr(meta, "last_result", None)
        if meta is not None and isinstance(last, dict) and any(k != "trial_id" for k in last):  # reported
            fields = self.scheduler.forecast_fields(trial.trial_id)
            meta.last_result = {**last, **fields}
            if any(not _same(last.get(k), v) for k, v in fields.items()):
                try:
                    _append_logged_result(getattr(trial, "local_path", None), meta.last_result)
                except OSError as exc:  # the record is a courtesy: never fail the experiment
                    self.scheduler.rule.warn_once(
                        f"LCForecastCallback could not add the final decision to the result files "
                        f"of trial {trial.trial_id} ({exc}); Result.metrics has it",
                        key="append-result")

    def get_state(self) -> dict | None:
        return {"scheduler": self.scheduler.get_state()}

    def set_state(self, state: dict) -> None:
        self.scheduler.set_state(state.get("scheduler", {}))


__all__ = ["LCForecastCallback", "LCScheduler"]
