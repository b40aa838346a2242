"""``LCPruner``: the Optuna pruner that stops trials whose forecast final value cannot beat the best.

A thin translation: it reads the trial's reported values and the completed trials from the study's
storage, hands them to the core :class:`~lc_hpo.decision.StoppingRule`, and records the decision on the
trial as the user attribute ``lc_forecast``.  It keeps no state of its own that a decision depends on, so
any number of worker processes sharing one RDB storage make the same decisions.
"""

from __future__ import annotations

import warnings
import weakref

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from lc_hpo.arch import ArchError, ArchGraph
from lc_hpo.arch_source import ARCH_KEY, ArchFn, ArchSource, as_graph
from lc_hpo._validation import check_int
from lc_hpo.budget_prior import ESTIMATE_KEY, prior_decision, read_estimate, step_budget
from lc_hpo.curve import Curve, Mode
from lc_hpo.decision import (DEFAULT_DIVERGED_PATIENCE, DEFAULT_N_STARTUP_TRIALS,
                             DEFAULT_THRESHOLD, Decision,
                             ForecastWarning, StoppingRule)
from lc_hpo.defaults import resolve_calibration, resolve_predictor
from lc_hpo.explain import HISTORY_ATTR, append_history, flat_fields
from lc_hpo.predictors import Predictor
from lc_hpo.reports import curve_from_reports
from lc_hpo.sanity import direction_mismatch
from lc_hpo.trust import StudyTrust

#: The user attribute holding the latest decision's forecast (see :meth:`Decision.to_dict`); the
#: flat attributes ``lc_stop``, ``lc_reason``, ``lc_p_better``, ``lc_predicted_final``, ``lc_lower``,
#: ``lc_upper`` and the history ``lc_history`` sit beside it (:mod:`lc_hpo.explain`).
FORECAST_ATTR = "lc_forecast"


class LCPruner(BasePruner):
    """Prune a trial when its forecast final value is unlikely to beat the best completed trial.

    At each ``trial.should_prune()`` the trial's reported curve is forecast to ``max_step`` and the
    trial is pruned when P(final value better than the incumbent) < ``threshold``.  The incumbent is
    the best *last reported value* among completed trials (their objective value if they reported
    nothing), so the forecast and the incumbent measure the same thing.

    Args:
        predictor: An lc-hpo predictor, a registered name (see
            :func:`lc_hpo.available_predictors`), or None for the default.
        threshold: Stop probability threshold.
        min_steps: Never prune before this step (in the steps you report).
        n_startup_trials: Never prune before this many trials have completed (at least 1: the
            incumbent is the best completed trial).
        min_points: Never prune a trial with fewer finite reported values than this (default 2).
        max_step: The last step a complete trial reports; inferred from completed trials if None.
        record: Store each forecast on the trial as the user attribute ``lc_forecast``.
        standing: Read P(better) together with the trial's standing among the completed trials
            at its current step, through the standing calibration stored beside the predictor's
            weights if it has one (the default does, and ``"study"`` uses its base's); False
            decides on the forecast alone.
        diverged_patience: Prune a trial once this many of its latest reported values in a row are
            NaN or infinite (default 1, as Optuna's ThresholdPruner does), provided completed trials
            have a finite incumbent; None never prunes a trial for diverging.
        arch: A callable taking a trial's params and returning its architecture graph (an
            :class:`~lc_hpo.arch.ArchGraph`, a ``{"nodes", "edges"}`` dict, a NAS-Bench-201 cell
            string or an ``nn.Module``), for an architecture-aware predictor (``lc_gode``); a graph
            stored with :func:`set_architecture` takes precedence.  A trial without a usable graph is
            forecast without one, never pruned for it, and one warning says so.
        trust: Veto a prune while completed trials that stood where the trial stands at its step
            went on to reach the incumbent (:class:`~lc_hpo.trust.StudyTrust`, read from storage
            like everything else); False decides on the forecast alone.  A ``StudyTrust`` sets it.
    """

    def __init__(
        self,
        predictor: Predictor | str | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        min_steps: int = 1,
        n_startup_trials: int = DEFAULT_N_STARTUP_TRIALS,
        max_step: int | None = None,
        record: bool = True,
        min_points: int = 2,
        standing: bool = True,
        diverged_patience: int | None = DEFAULT_DIVERGED_PATIENCE,
        arch: ArchFn | None = None,
        trust: bool | StudyTrust = True,
    ) -> None:
        check_int("max_step", max_step, 1, allow_none=True)
        resolved = resolve_predictor(predictor)
        self._rule = StoppingRule(
            resolved,
            threshold=threshold,
            min_steps=min_steps,
            n_startup_trials=n_startup_trials,
            min_points=min_points,
            calibration=resolve_calibration(resolved) if standing else None,
            diverged_patience=diverged_patience,
            trust=trust,
        )
        self._standing = bool(standing)
        self._max_step = max_step
        self._record = record
        self._arch = ArchSource(arch, self._rule.warn_once, "LCPruner", self._rule.predictor)
        # Derived, immutable facts about completed trials ((last step, final value), and their
        # curves), cached only to save time: every decision can be rebuilt from storage alone.  Kept
        # per storage object, since trial ids restart in every storage and one pruner may serve
        # several studies.
        self._caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._checked_direction: set[str] = set()

    @property
    def rule(self) -> StoppingRule:
        """The core decision rule this pruner translates to."""
        return self._rule

    def prune(self, study: "optuna.study.Study", trial: FrozenTrial) -> bool:
        if len(study.directions) > 1:
            raise ValueError(
                "LCPruner supports single-objective studies only (Optuna's trial.report does too); "
                "create the study with one direction"
            )
        step = trial.last_step
        if step is None:  # before the first report only a stored estimate can decide
            return self._prior_stop(study, trial)
        if step < self._rule.min_steps:
            return False
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) < self._rule.n_startup_trials:
            return False
        mode: Mode = "min" if study.direction == StudyDirection.MINIMIZE else "max"
        finals, curves = self._cache(study)
        incumbent, max_step = self._incumbent_and_budget(completed, mode, finals)
        if self._max_step is not None:
            if max_step is not None and max_step > self._max_step:
                # Forecasting to max_step would compare them with finals measured later, and
                # stop the runs that would have won.
                self._rule.warn_once(
                    f"completed trials reported up to step {max_step}, past the max_step="
                    f"{self._max_step} given to LCPruner: forecasts go to step {max_step}; pass "
                    "LCPruner(max_step=...) with the last step a full run reports (or leave it "
                    "out to infer it)", key="completed-past-max-step")
            else:
                max_step = self._max_step
        if max_step is None:
            self._rule.warn_once(
                "LCPruner cannot infer max_step: no completed trial reported intermediate values; "
                "pass LCPruner(max_step=...) — trials keep training until then"
            )
            return False
        if step > max_step:
            origin = "given" if self._max_step is not None else "inferred from completed trials"
            self._rule.warn_once(
                f"trial {trial.number} reported step {step}, past max_step={max_step} ({origin}): "
                "a trial past max_step is never stopped; pass LCPruner(max_step=...) with the last "
                "step a full run reports", key="past-max-step")
        self._check_direction(study, mode, max_step)
        graph = self._arch.graph(f"#{trial.number}", trial.user_attrs.get(ARCH_KEY), trial.params)
        curve = curve_from_reports(trial.intermediate_values, mode, max_step, config=trial.params,
                                   arch=graph)
        context = self._context(completed, mode, max_step, curves)
        decision = self._rule.decide(curve, incumbent, len(completed), step=step, context=context)
        if self._record and (decision.forecast_made or decision.stop):
            self._store(study, trial, decision)
        return decision.stop

    # --- helpers -------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_caches"] = None  # caches of storage objects do not travel; rebuilt on use
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._caches = weakref.WeakKeyDictionary()
        if "_arch" not in state:  # pickled by a version without architectures
            self._arch = ArchSource(None, self._rule.warn_once, "LCPruner", self._rule.predictor)

    def _cache(self, study: "optuna.study.Study") -> tuple[dict, dict]:
        """This storage's (finals, curves) caches, keyed by trial id."""
        storage = study._storage
        try:
            return self._caches.setdefault(storage, ({}, {}))
        except TypeError:  # a storage that cannot be weakly referenced: no caching
            return {}, {}

    def _incumbent_and_budget(self, completed: list[FrozenTrial], mode: Mode,
                              finals: dict) -> tuple[float | None, int | None]:
        best: float | None = None
        budget: int | None = None
        for t in completed:
            cached = finals.get(t._trial_id)
            if cached is None:
                if t.intermediate_values:
                    last = max(t.intermediate_values)
                    cached = (last, t.intermediate_values[last])
                else:
                    cached = (None, t.value)
                finals[t._trial_id] = cached
            last_step, final = cached
            if last_step is not None and (budget is None or last_step > budget):
                budget = last_step
            if final is None or final != final or final in (float("inf"), float("-inf")):
                continue
            if best is None or (final < best if mode == "min" else final > best):
                best = final
        return best, budget

    def _context(self, completed: list[FrozenTrial], mode: Mode, max_step: int,
                 curves: dict) -> list[Curve] | None:
        """Completed trials' curves, when the rule reads the study's finished trials."""
        if not self._rule.needs_context:
            return None
        out = []
        for t in completed:
            if not t.intermediate_values:
                continue
            key = (t._trial_id, mode, max_step)
            curve = curves.get(key)
            if curve is None:
                graph = self._arch.graph(f"#{t.number}", t.user_attrs.get(ARCH_KEY), t.params,
                                         quiet=True)
                curve = curve_from_reports(t.intermediate_values, mode, max_step, config=t.params,
                                           arch=graph)
                curves[key] = curve
            out.append(curve)
        return out

    def _check_direction(self, study: "optuna.study.Study", mode: Mode, max_step: int) -> None:
        """Warn once per study when its finished trials (completed or pruned) mostly got worse."""
        key = study.study_name
        if key in self._checked_direction:
            return
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        curves = [curve_from_reports(t.intermediate_values, mode, max_step)
                  for t in finished if t.intermediate_values]
        message = direction_mismatch(curves)
        if len(curves) >= 5:
            self._checked_direction.add(key)
        if message:
            warnings.warn(f"study {study.study_name!r}: {message}", ForecastWarning, stacklevel=2)

    def _store(self, study: "optuna.study.Study", trial: FrozenTrial, decision: Decision) -> None:
        # The full record, flat scalars a dashboard can sort and filter (written only when they
        # change: each is one storage write), and the bounded per-step history `lc-hpo explain`
        # prints (lc_hpo.explain).
        # What is stored is read back from storage: the FrozenTrial Optuna hands the pruner is the
        # trial's cached copy, which never sees the pruner's own writes, so building on it would
        # keep only the latest decision in the history.
        try:
            try:
                stored = study._storage.get_trial(trial._trial_id).user_attrs
            except Exception:  # noqa: BLE001 - fall back to the copy we were given
                stored = trial.user_attrs
            attrs: dict[str, object] = {FORECAST_ATTR: decision.to_dict()}
            attrs.update((k, v) for k, v in flat_fields(decision).items()
                         if k not in stored or stored[k] != v)
            attrs[HISTORY_ATTR] = append_history(stored.get(HISTORY_ATTR), decision)
            _set_user_attrs(study._storage, trial._trial_id, attrs)
        except Exception as exc:  # recording is a courtesy; it must never fail the trial
            self._rule.warn_once(
                f"LCPruner could not record its forecast on trial {trial.number} ({exc}); "
                "decisions are unaffected, further failures are not reported",
                key="record",
            )

    def _prior_stop(self, study: "optuna.study.Study", trial: FrozenTrial) -> bool:
        """Stop a trial before its first report from its stored estimate (see :func:`set_estimate`);
        without one, or with one that cannot be read, never."""
        raw = trial.user_attrs.get(ESTIMATE_KEY)
        if raw is None:
            return False
        try:
            completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            mode: Mode = "min" if study.direction == StudyDirection.MINIMIZE else "max"
            incumbent = None
            if len(completed) >= self._rule.n_startup_trials:
                incumbent, _ = self._incumbent_and_budget(completed, mode, self._cache(study)[0])
            decision = prior_decision(raw, incumbent, threshold=self._rule.threshold, mode=mode)
        except Exception as exc:  # noqa: BLE001 - an estimate that fails never stops a trial
            self._rule.warn_once(f"the training-time estimate on trial {trial.number} could not be "
                                 f"used ({exc}); such trials train as without one", key="estimate")
            return False
        if self._record and decision.stop:
            self._store(study, trial, decision)
        return decision.stop

    def __repr__(self) -> str:
        return (f"LCPruner(predictor={self._rule.predictor!r}, threshold={self._rule.threshold}, "
                f"min_steps={self._rule.min_steps}, n_startup_trials={self._rule.n_startup_trials},"
                f" max_step={self._max_step}, standing={self._standing!r}, "
                f"diverged_patience={self._rule.diverged_patience})")


_UNREADABLE_WARNED: set[str | None] = set()  # studies already told of an unreadable graph


def set_architecture(trial: optuna.trial.BaseTrial, graph: object) -> ArchGraph | None:
    """Store a trial's architecture graph in the study's storage, for ``LCPruner`` to forecast with.

    ``graph`` is an :class:`~lc_hpo.arch.ArchGraph`, a ``{"nodes", "edges"}`` dict, a NAS-Bench-201
    cell string or an ``nn.Module`` (traced with ``torch.fx``).  It is stored as the user attribute
    ``lc_arch`` (the curve-set format's ``arch`` object), so every worker of an RDB study reads it.
    Call it before the trial's first ``trial.report``.  A graph that cannot be read does not fail the
    trial: nothing is stored, a :class:`~lc_hpo.decision.ForecastWarning` says why, and the trial is
    forecast without a graph (said once per study and process).  Returns the stored graph (None if
    none was).
    """
    try:
        parsed = as_graph(graph)
    except ArchError as exc:
        study = getattr(getattr(trial, "study", None), "study_name", None)
        if study not in _UNREADABLE_WARNED:
            _UNREADABLE_WARNED.add(study)
            warnings.warn(f"set_architecture: the architecture of trial {trial.number} cannot be "
                          f"read ({exc}); such trials are forecast without a graph",
                          ForecastWarning, stacklevel=2)
        return None
    trial.set_user_attr(ARCH_KEY, parsed.to_dict())
    return parsed


def set_estimate(trial: optuna.trial.BaseTrial, estimate: object) -> bool:
    """Store a trial's training-time estimate before its first epoch, for ``LCPruner`` to budget with.

    ``estimate`` is a :class:`~lc_hpo.estimate.TrainingTimeEstimate` (or its ``to_dict()``), kept as
    plain JSON in the user attribute ``lc_estimate``.  ``LCPruner`` then reads it when the trial calls
    ``trial.should_prune()`` before reporting: a trial whose predicted training loss cannot beat the
    incumbent with probability at least the threshold is pruned at step 0 (so report the training
    loss the estimate predicts).  One predicted to diverge is not: past the linearised model's
    step-size limit real networks often recover and train fastest; its reports decide.
    :func:`estimated_budget` gives the trial's step budget.  An estimate that cannot be read is not
    stored and never stops the trial (a :class:`~lc_hpo.decision.ForecastWarning` says so).
    Returns whether it was stored.
    """
    try:
        trial.set_user_attr(ESTIMATE_KEY, read_estimate(estimate))
    except Exception as exc:  # noqa: BLE001 - a failed estimate must never fail the trial
        warnings.warn(f"set_estimate: the estimate of trial {trial.number} cannot be stored ({exc}); "
                      "it trains as without one", ForecastWarning, stacklevel=2)
        return False
    return True


def estimated_budget(trial: optuna.trial.BaseTrial, default: int, steps_per_report: int = 1) -> int:
    """How many reports the trial should train for: its stored estimate's predicted steps to the
    target (upper end of the 80 % interval, in reporting units of ``steps_per_report`` SGD steps),
    at most ``default``; ``default`` when it has no usable estimate."""
    raw = trial.user_attrs.get(ESTIMATE_KEY) if hasattr(trial, "user_attrs") else None
    if raw is None:
        return default
    try:
        budget = step_budget(raw, steps_per_report, cap=default)
    except Exception:  # noqa: BLE001 - an unreadable estimate means the usual budget
        return default
    return default if budget is None else budget


def _set_user_attrs(storage: optuna.storages.BaseStorage, trial_id: int,
                    attrs: dict[str, object]) -> None:
    """Write several user attributes; on an RDB storage in one transaction, which costs what one
    attribute costs (each commit is a disk sync or a network round trip), elsewhere one by one."""
    backend = getattr(storage, "_backend", storage)  # a _CachedStorage forwards writes as they are
    if isinstance(backend, optuna.storages.RDBStorage):
        try:
            from optuna.storages._rdb import models
            from optuna.storages._rdb.storage import _create_scoped_session

            with _create_scoped_session(backend.scoped_session, True) as session:
                for key, value in attrs.items():
                    backend._set_trial_attr_without_commit(
                        session, models.TrialUserAttributeModel, trial_id, key, value)
            return
        except (ImportError, AttributeError, TypeError):  # another Optuna's internals: plain writes
            pass
    for key, value in attrs.items():
        storage.set_trial_user_attr(trial_id, key, value)


__all__ = ["FORECAST_ATTR", "LCPruner", "estimated_budget", "set_architecture", "set_estimate"]
