"""The decision rule: when a forecast means a trial should stop.

This is the one place that decides; the Optuna pruner and the Ray Tune scheduler only translate their
framework's state into a partial :class:`~lc_hpo.curve.Curve`, the incumbent and the number of completed
trials, and act on the :class:`Decision` that comes back.

The rule (Domhan et al. 2015, LC-PFN): stop a trial when the forecast probability that its value at
``max_step`` beats the incumbent (the best value among completed trials) falls below ``threshold``; never
before ``min_steps``, never on fewer than ``min_points`` finite values, never before
``n_startup_trials`` trials have completed, and never while the trial is itself the leader (its
latest value already matches or beats the incumbent).  A trial whose latest measurements diverged
(NaN or infinite, ``diverged_patience`` of them in a row) stops without a forecast once completed
trials have a finite incumbent, as Optuna's ThresholdPruner prunes NaN values.  When the rule is
given a standing calibration (:mod:`lc_hpo.standing`; ``lc_hpo.defaults.resolve_calibration`` finds
the one stored beside a predictor's weights, the bundled default's included) and the study's finished
curves are given, P(better) is read together with where the trial stands among them at its current
step.  A forecast that raises or comes back non-finite means *keep training*, and says
so once.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from ._validation import check_int
from .canonical import REL_TOL, canonical_map
from .curve import Curve, is_better
from .forecast import Forecast
from .predictors import Predictor
from .standing import StandingCalibration
from .trust import StudyTrust

#: Default stop threshold on P(final value beats the incumbent).  0.05 is what Domhan et al. and LC-PFN
#: use; the replays of ``lc-hpo bench hpo`` (docs/measurements.md) are the evidence for keeping it.
DEFAULT_THRESHOLD = 0.05

#: Default number of completed trials before anything is stopped.  One is enough: an incumbent that is
#: weak only makes the rule stop less, and every step spent waiting for more completed trials is spent
#: on full runs.  Chosen on the default's *training* tasks against 2 and 5 (docs/measurements.md,
#: "How the rule's settings were chosen").
DEFAULT_N_STARTUP_TRIALS = 1

#: Stop a trial at its first diverged (NaN or infinite) measurement; see ``diverged_patience``.
DEFAULT_DIVERGED_PATIENCE: int | None = 1


class ForecastWarning(UserWarning):
    """A forecast could not be used, so the trial keeps training."""


# Reasons a decision can give.  Only FORECAST and DIVERGED stop a trial.
STARTUP = "startup"  # too few completed trials to have an incumbent worth trusting
MIN_STEPS = "min_steps"  # too early in this trial
NO_INCUMBENT = "no_incumbent"  # no completed trial has a finite value
AT_MAX_STEP = "at_max_step"  # the trial already reached its budget
NO_DATA = "no_data"  # the trial has no finite measurement yet (e.g. it diverged at once)
FEW_POINTS = "few_points"  # too few finite values to see the curve's shape
LEADER = "leader"  # the trial's latest value already matches or beats the incumbent
FORECAST_FAILED = "forecast_failed"  # the predictor raised or returned non-finite numbers
FORECAST = "forecast"  # the forecast decided (stop or continue)
DIVERGED = "diverged"  # the trial's latest measurements diverged (NaN or inf): stopped


@dataclass(frozen=True)
class Decision:
    """What the rule decided for one trial at one step, and why."""

    stop: bool
    reason: str
    step: int | None
    p_better: float | None = None
    predicted_final: float | None = None  # the forecast's median final value
    lower: float | None = None  # central 90 % interval of the final value
    upper: float | None = None
    incumbent: float | None = None
    threshold: float | None = None
    #: The forecast's own P(better) when ``p_better`` also reads the trial's standing.
    p_forecast: float | None = None
    #: The study-trust evidence (:mod:`lc_hpo.trust`): the share of the nearest finished trials
    #: whose gain from this step on would carry the trial to the incumbent.
    p_reach: float | None = None

    @property
    def forecast_made(self) -> bool:
        return self.p_better is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (no NaN), e.g. to store on an Optuna trial."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class StoppingRule:
    """Decides whether trials should stop, from forecasts of their learning curves.

    Parameters
    ----------
    predictor:
        Any :class:`~lc_hpo.predictors.Predictor` (already fitted if it needs fitting).
    threshold:
        Stop when P(final value beats the incumbent) is below this.
    min_steps:
        Never stop a trial whose current step (in the caller's numbering) is below this.
    n_startup_trials:
        Never stop anything until this many trials have completed.
    min_points:
        Never stop a trial with fewer finite values than this.  One value says where a curve is,
        not where it is going: one-value forecasts are far less calibrated than two-value ones
        (docs/measurements.md, "How the rule's settings were chosen"), so the default is 2.
    calibration:
        A :class:`~lc_hpo.standing.StandingCalibration`: read P(better) together with the trial's
        standing among the finished trials passed as ``context``.  None: the forecast's P(better)
        alone.  A calibration is fitted for one predictor's P(better) (``lc-hpo calibrate``) and
        stored beside its weights; :func:`lc_hpo.defaults.resolve_calibration` reads it back.
    diverged_patience:
        Stop a trial once this many of its latest measurements in a row are NaN or infinite
        (diverged), provided completed trials have a finite incumbent; None never stops a trial for
        diverging.  Without a finite value to forecast from, the rule would otherwise let such
        trials run on, often to the end (the evidence: docs/measurements.md, "Stopping diverged
        runs").
    trust:
        Evidence from the study's finished trials (passed as ``context``) on how far the forecast
        can be trusted there (:class:`~lc_hpo.trust.StudyTrust`): a stop is vetoed while finished
        trials that stood where the trial stands went on to reach the incumbent.  True: the
        default guard; False or None: the forecast decides alone (docs/adaptive.md).
    """

    def __init__(
        self,
        predictor: Predictor,
        threshold: float = DEFAULT_THRESHOLD,
        min_steps: int = 1,
        n_startup_trials: int = DEFAULT_N_STARTUP_TRIALS,
        min_points: int = 2,
        calibration: StandingCalibration | None = None,
        diverged_patience: int | None = DEFAULT_DIVERGED_PATIENCE,
        trust: StudyTrust | bool | None = True,
    ) -> None:
        if not isinstance(predictor, Predictor):
            raise TypeError(
                f"predictor must be an lc_hpo Predictor, got {type(predictor).__name__}; "
                "build one with lc_hpo.make_predictor(name)"
            )
        if not (isinstance(threshold, (int, float)) and 0.0 <= threshold < 1.0):
            raise ValueError(f"threshold must be a probability in [0, 1), got {threshold!r}")
        check_int("min_steps", min_steps, 0)
        check_int("n_startup_trials", n_startup_trials, 1,
                  why="at least one completed trial is needed for an incumbent")
        check_int("min_points", min_points, 1)
        check_int("diverged_patience", diverged_patience, 1, allow_none=True)
        if calibration is not None and not isinstance(calibration, StandingCalibration):
            raise TypeError(f"calibration must be a StandingCalibration or None, got "
                            f"{type(calibration).__name__}; lc_hpo.defaults.resolve_calibration("
                            "predictor) reads the one stored with a predictor")
        if not isinstance(trust, (bool, StudyTrust)) and trust is not None:
            raise TypeError(f"trust must be True (the default StudyTrust), False/None (the forecast "
                            f"decides alone) or a StudyTrust, got {type(trust).__name__}")
        self.predictor = predictor
        self.calibration = calibration
        self.trust: StudyTrust | None = StudyTrust() if trust is True else (trust or None)
        self.min_points = min_points
        self.threshold = float(threshold)
        self.min_steps = min_steps
        self.n_startup_trials = n_startup_trials
        self.diverged_patience = diverged_patience
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        # Ray Tune pickles its scheduler (and so this rule) into the experiment state: a lock
        # cannot travel, a fresh one is made on the other side.
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        if "calibration" not in state:  # pickled by a version whose predictor held it
            standing = state.pop("standing", True)
            state["calibration"] = standing if isinstance(standing, StandingCalibration) else (
                getattr(state.get("predictor"), "standing_", None) if standing else None)
        state.setdefault("diverged_patience", DEFAULT_DIVERGED_PATIENCE)  # nor stop diverged
        state.setdefault("trust", None)  # nor read the study's trust evidence
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def needs_context(self) -> bool:
        """Whether decisions read the study's finished curves (callers may skip building them)."""
        return bool(self.predictor.uses_context or self.calibration is not None
                    or self.trust is not None)

    # --- public API ------------------------------------------------------------------------------
    def decide(
        self,
        curve: Curve,
        incumbent: float | None,
        n_completed: int,
        step: int | None = None,
        context: Sequence[Curve] | None = None,
    ) -> Decision:
        """Decide for one trial; ``step`` is the trial's current step in the caller's numbering.

        ``context`` holds the study's finished curves (same direction and budget), for predictors
        that learn from them (``predictor.uses_context``) and for the standing calibration; without
        it the forecast's P(better) decides alone.
        """
        return self.decide_many([curve], incumbent, n_completed, [step], context)[0]

    def decide_many(
        self,
        curves: Sequence[Curve],
        incumbent: float | None,
        n_completed: int,
        steps: Sequence[int | None] | None = None,
        context: Sequence[Curve] | None = None,
    ) -> list[Decision]:
        """Decide for several trials of one study at once (one batched forecast)."""
        curves = list(curves)
        steps = list(steps) if steps is not None else [None] * len(curves)
        if len(steps) != len(curves):
            raise ValueError("steps must give one step per curve")
        inc = None if incumbent is None or not math.isfinite(incumbent) else float(incumbent)
        decisions: list[Decision | None] = []
        to_forecast: list[int] = []
        for i, (curve, step) in enumerate(zip(curves, steps)):
            step = curve.last_step if step is None else int(step)
            early = self._precheck(curve, inc, n_completed, step)
            decisions.append(early)
            if early is None:
                to_forecast.append(i)
        if to_forecast:
            assert inc is not None  # _precheck settles every decision without an incumbent
            self._forecast_into(decisions, [curves[i] for i in to_forecast], to_forecast, inc,
                                steps, context)
        return decisions  # type: ignore[return-value]

    # --- internals -------------------------------------------------------------------------------
    def _precheck(self, curve: Curve, inc: float | None, n_completed: int,
                  step: int | None) -> Decision | None:
        """The cheap checks that can settle a decision without a forecast."""
        keep = lambda reason: Decision(False, reason, step, incumbent=inc)  # noqa: E731
        if step is None or step < self.min_steps:
            return keep(MIN_STEPS)
        if n_completed < self.n_startup_trials:
            return keep(STARTUP)
        if inc is None:
            return keep(NO_INCUMBENT)
        if curve.last_step is not None and curve.max_step is not None and \
                curve.last_step >= curve.max_step:
            return keep(AT_MAX_STEP)
        k = self.diverged_patience
        if k is not None and len(curve) >= k and not np.isfinite(curve.values[-k:]).any():
            return Decision(True, DIVERGED, step, incumbent=inc)
        _, finite = curve.finite
        if finite.size == 0:
            return keep(NO_DATA)
        if finite.size < self.min_points:
            return keep(FEW_POINTS)
        if not _clearly_better(inc, float(finite[-1]), curve.mode):  # as good as the incumbent now
            return keep(LEADER)
        return None

    # Values near the float range (1e300) overflow inside a forecast's moments: the result is not
    # finite and the trial keeps training (said once), without numpy's warnings reaching the user.
    @np.errstate(over="ignore", invalid="ignore", divide="ignore")
    def _forecast_into(self, decisions: list[Decision | None], curves: list[Curve],
                       index: list[int], inc: float, steps: list[int | None],
                       context: Sequence[Curve] | None = None) -> None:
        try:
            # Forecast in the study's canonical units (direction, location of unbounded metrics,
            # step unit and numbering: lc_hpo.canonical), so decisions do not depend on them.
            cmap = canonical_map(curves, context, inc)
            curves_c = [cmap.curve(c) for c in curves]
            context_c = None if context is None else [cmap.curve(c) for c in context]
            forecast = self.forecast(curves_c, context_c)
            p_forecast = forecast.prob_better(float(cmap.values(inc)), [c.mode for c in curves_c])
            adjusted = self._read_standing(p_forecast, curves_c, context_c) if context_c else None
            p = p_forecast if adjusted is None else adjusted
            # The median, not the mean, as the point forecast: it lies inside the 90 % interval
            # (a wide tail component can pull a mixture's mean outside it) and it is the point
            # forecast `lc-hpo bench predict` scores.
            qs = cmap.values_back(forecast.quantile(np.array([0.05, 0.5, 0.95]))[:, :, -1])
            lo, median, hi = np.minimum(qs[:, 0], qs[:, 2]), qs[:, 1], np.maximum(qs[:, 0], qs[:, 2])
        except Exception as exc:  # a forecast must never kill a trial
            self.warn_once(
                f"predictor {type(self.predictor).__name__} failed ({type(exc).__name__}: {exc}); "
                "trials keep training when no forecast is available",
                key=f"failed:{type(exc).__name__}",  # once per kind, whatever the message says
            )
            for i, c in zip(index, curves):
                decisions[i] = Decision(False, FORECAST_FAILED, _step(steps[i], c), incumbent=inc)
            return
        reach, veto, decisive = self._read_trust(curves_c, context_c, float(cmap.values(inc)))
        for j, (i, c) in enumerate(zip(index, curves)):
            step = _step(steps[i], c)
            numbers = (p[j], median[j], lo[j], hi[j])
            if not all(math.isfinite(float(v)) for v in numbers):
                self.warn_once(
                    f"predictor {type(self.predictor).__name__} returned a non-finite forecast; "
                    "trials keep training when no usable forecast is available"
                )
                decisions[i] = Decision(False, FORECAST_FAILED, step, incumbent=inc)
                continue
            pb = float(p[j])
            # the forecast's stop unless the witnesses veto it, or the witnesses' own stop where
            # the forecast leans the same way (StudyTrust's confirm and hedge)
            witnessed = bool(decisive[j]) and self.trust is not None and pb < self.trust.hedge
            decisions[i] = Decision(
                stop=bool(pb < self.threshold and not veto[j]) or witnessed,
                reason=FORECAST,
                step=step,
                p_better=pb,
                predicted_final=float(median[j]),
                lower=float(lo[j]),
                upper=float(hi[j]),
                incumbent=inc,
                threshold=self.threshold,
                p_forecast=None if adjusted is None else float(p_forecast[j]),
                p_reach=float(reach[j]) if math.isfinite(reach[j]) else None,
            )

    def _read_trust(self, curves: list[Curve], context: Sequence[Curve] | None,
                    inc: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The study-trust evidence (:mod:`lc_hpo.trust`): ``(p_reach, veto, decisive)`` per
        curve.  Without a guard or finished curves, or if reading fails (said once), nothing is
        vetoed nor stopped by it, and the forecast decides alone."""
        none = (np.full(len(curves), np.nan), np.zeros(len(curves), bool),
                np.zeros(len(curves), bool))
        if self.trust is None or not context:
            return none
        try:
            reach, decisive = self.trust.assess(curves, list(context), inc)
            return reach, self.trust.vetoes(reach), decisive
        except Exception as exc:  # noqa: BLE001 - the forecast still decides
            self.warn_once(f"reading the study's finished trials for trust evidence failed "
                           f"({type(exc).__name__}: {exc}); deciding on the forecast alone",
                           key=f"trust:{type(exc).__name__}")
            return none

    def _read_standing(self, p_forecast: np.ndarray, curves: list[Curve],
                       context: Sequence[Curve]) -> np.ndarray | None:
        """P(better) read with the standing; None without a calibration, or if reading fails
        (said once): the forecast's own P then decides."""
        calibration = self.calibration
        if calibration is None:
            return None
        try:
            return calibration.adjust(p_forecast, curves, list(context))
        except Exception as exc:  # noqa: BLE001 - a good forecast is not thrown away for this
            self.warn_once(f"reading the trials' standing among the finished ones failed "
                           f"({type(exc).__name__}: {exc}); deciding on the forecast alone",
                           key=f"standing:{type(exc).__name__}")
            return None

    def forecast(self, curves: Sequence[Curve], context: Sequence[Curve] | None = None) -> Forecast:
        """The predictor's forecast of ``curves``, given the study's finished curves if it uses them."""
        if context and self.predictor.uses_context:
            return self.predictor.predict(curves, context=context)  # type: ignore[call-arg]
        return self.predictor.predict(curves)

    def warn_once(self, message: str, key: str | None = None) -> None:
        """Issue a :class:`ForecastWarning` the first time ``key`` (default: the message) comes up."""
        key = message if key is None else key
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        warnings.warn(message, ForecastWarning, stacklevel=3)

    def __repr__(self) -> str:
        return (f"StoppingRule(predictor={self.predictor!r}, threshold={self.threshold}, "
                f"min_steps={self.min_steps}, n_startup_trials={self.n_startup_trials}, "
                f"calibration={self.calibration!r})")


def _clearly_better(a: float, b: float, mode: str) -> bool:
    """``a`` beats ``b`` by more than a relative :data:`~lc_hpo.canonical.REL_TOL` (ties are not)."""
    return is_better(a, b, mode) and abs(a - b) > REL_TOL * max(abs(a), abs(b))  # type: ignore[arg-type]


def _step(step: int | None, curve: Curve) -> int | None:
    return curve.last_step if step is None else int(step)
