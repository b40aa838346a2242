"""LRPO: a learning-rate schedule that warms up at a constant rate, jumps once, then fine-tunes.

The Learning Rate Predictor Optimizer (Guszkiewicz; ``docs/lrpo.md``) trains in three phases:

1. *warm*: ``warm_epochs`` epochs at the optimiser's base rate;
2. *jump*: ``jump_epochs`` epochs at ``base * alpha``, alpha decided from the warm-phase losses;
3. *finetune*: ``finetune_epochs`` epochs at the low rate ``finetune_lr``.

The paper's text says a small predictor fitted on the warm-phase loss trajectory decides alpha; its
public code fits such a predictor but never uses it, and takes alpha from a fixed rule on the last three
losses instead.  Both are here, selectable:

* ``mode="code"`` (alias ``"faithful_code"``): the public code's rule,
  ``r = (L[-3] - L[-1]) / 3``; ``alpha = min(2, 1 + 10 r)`` if ``r > 0`` else ``0.8``, clipped to
  [0.5, 2].
* ``mode="predictor"``: what the text describes.  A learning-curve predictor of this library (the
  parametric ensemble by default) is fitted to the warm-phase losses, and alpha is the largest rate in
  [1, 2] whose predicted loss after the jump stays below the current loss with probability at least
  ``confidence``.  The jump epoch at ``alpha`` times the rate is modelled as ``alpha`` epochs of the
  warm trajectory (for small steps SGD's progress scales with rate x steps), so the forecast is read
  at step ``warm_epochs + alpha``.  When no rate >= 1 passes, there is no jump (alpha = 1).

The controller works like a ``torch.optim.lr_scheduler``: call :meth:`LRPO.step` once after each
epoch with that epoch's training loss; it sets the optimiser's rate for the next epoch.  Nothing here
imports a framework; the optimiser only needs torch's ``param_groups`` list of dicts.

Bad input never stops a training loop: a non-finite loss, a warm-phase loss that rises, a predictor
that fails, or ``step`` called after the schedule ended each warn once (:class:`LRPOWarning`) and fall
back to the safe behaviour documented on :class:`LRPO` (no jump; extra steps ignored).  Mistakes
that are the caller's (an optimiser with several parameter groups, bad settings, a state dict from a
different schedule) raise at once, before any training, with a message that says what to change.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._validation import check_int
from .curve import Curve
from .predictors import Predictor, make_predictor

MODES = ("predictor", "code")
_ALIASES = {"faithful_code": "code"}
#: The public code clips the jumped rate to this range of multiples of the base rate.
ALPHA_RANGE = (0.5, 2.0)
PHASES = ("warm", "jump", "finetune")


class LRPOWarning(UserWarning):
    """LRPO met bad input during training and fell back to its safe behaviour (no jump)."""


def code_alpha(losses: Sequence[float]) -> float:
    """Alpha by the public code's rule on the last three epoch losses.

    ``r = (L[-3] - L[-1]) / 3``; ``min(2, 1 + 10 r)`` if ``r > 0`` else ``0.8``; clipped to
    :data:`ALPHA_RANGE`.  Raises ``ValueError`` with fewer than three losses or a non-finite one.
    """
    last = [float(v) for v in losses][-3:]
    if len(last) < 3:
        raise ValueError(f"the code's rule needs the last three losses, got {len(last)}")
    if not all(math.isfinite(v) for v in last):
        raise ValueError(f"the code's rule needs finite losses, got {last}")
    r = (last[0] - last[2]) / 3.0
    factor = min(2.0, 1.0 + 10.0 * r) if r > 0 else 0.8
    return float(min(max(factor, ALPHA_RANGE[0]), ALPHA_RANGE[1]))


def predictor_alpha(losses: Sequence[float], predictor: Predictor | None = None, *,
                    confidence: float = 0.8, grid: int = 21) -> float:
    """Alpha chosen from a trajectory forecast, as the paper's text describes.

    ``losses`` are the warm-phase epoch losses (epochs 1..t).  The predictor forecasts the loss at
    steps ``t + a`` for ``a`` on an even grid over [1, 2] (the upper clip of the public code); alpha is
    the largest ``a`` with ``P(loss(t + a) < loss(t)) >= confidence``, or 1 (no jump) when none.
    """
    values = np.asarray([float(v) for v in losses], dtype=float)
    if values.size < 3 or not np.all(np.isfinite(values)):
        raise ValueError("the trajectory predictor needs at least three finite losses")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    model = predictor if predictor is not None else make_predictor("parametric")
    t = values.size
    alphas = np.linspace(1.0, ALPHA_RANGE[1], grid)
    curve = Curve(steps=np.arange(1, t + 1), values=values, mode="min", metric="train_loss",
                  max_step=t + math.ceil(ALPHA_RANGE[1]))
    forecast = model.predict([curve], steps=t + alphas)
    if not bool(forecast.is_finite[0]):
        raise ValueError("the trajectory predictor returned a non-finite forecast")
    p_below = forecast.cdf(np.array([[values[-1]]]))[0]  # P(loss <= current) at each t + a
    ok = np.nonzero(p_below >= confidence)[0]
    return float(alphas[ok[-1]]) if ok.size else 1.0


class LRPO:
    """Sets an optimiser's learning rate through LRPO's warm / jump / finetune phases.

    Parameters
    ----------
    optimizer:
        A torch optimiser (anything with ``param_groups``) with exactly one parameter group; its
        current ``lr`` is the base rate.
    warm_epochs, jump_epochs, finetune_epochs:
        Length of each phase (paper and code: 10, 1, 5, so 16 epochs in all).  ``warm_epochs`` is at
        least 3: both rules read the last three warm losses.
    finetune_lr:
        The rate of the fine-tune phase (paper: 1e-3), absolute, not a multiple of the base.
    mode:
        ``"code"`` (alias ``"faithful_code"``) or ``"predictor"``; see the module docstring.
    predictor:
        Predictor mode only: a :class:`~lc_hpo.predictors.Predictor` or a registry name
        (default ``"parametric"``).
    confidence:
        Predictor mode only: how sure the forecast must be that the loss after the jump stays below
        the current loss.  0.8 was chosen on a development set (scikit-learn's digits), not on the
        sets the documentation reports; see ``docs/lrpo.md``.

    Safe behaviour on bad input (each warns once with :class:`LRPOWarning`):

    * a NaN or infinite loss in the warm phase: no jump (alpha = 1); later losses are recorded as
      given and the schedule goes on unchanged;
    * a loss that rose over the last three warm epochs: predictor mode makes no jump (alpha = 1);
      code mode follows the code's rule, which lowers the rate (alpha = 0.8);
    * the predictor failing: no jump;
    * :meth:`step` after the schedule is done: ignored, the rate is left as it is.

    Resuming: save :meth:`state_dict` beside the model's and optimiser's; after a restart build the
    controller with the same settings on the restored optimiser and call :meth:`load_state_dict`,
    which restores the base rate (so the rate the optimiser was saved with does not matter) and sets
    the rate of the next epoch.

    Attributes
    ----------
    history:
        One dict per finished epoch: ``epoch`` (1-based), ``loss``, ``lr`` (the rate that epoch
        trained at) and ``phase``.
    alpha:
        The jump factor once decided (None before), and ``alpha_reason`` saying why.
    """

    def __init__(self, optimizer: Any, *, warm_epochs: int = 10, jump_epochs: int = 1,
                 finetune_epochs: int = 5, finetune_lr: float = 1e-3, mode: str = "predictor",
                 predictor: Predictor | str = "parametric", confidence: float = 0.8) -> None:
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not groups:
            raise TypeError("LRPO needs a torch optimiser (an object with a param_groups list), "
                            f"got {type(optimizer).__name__}")
        if len(groups) != 1:
            raise ValueError(
                f"LRPO drives one learning rate but the optimiser has {len(groups)} parameter "
                "groups; put all parameters in one group, or drive each group with its own "
                "optimiser and controller")
        check_int("warm_epochs", warm_epochs, 3)
        check_int("jump_epochs", jump_epochs, 0)
        check_int("finetune_epochs", finetune_epochs, 0)
        base_lr = float(groups[0]["lr"])
        if not (math.isfinite(base_lr) and base_lr > 0):
            raise ValueError(f"the optimiser's learning rate must be positive and finite, "
                             f"got {base_lr}")
        if not (isinstance(finetune_lr, (int, float)) and math.isfinite(finetune_lr)
                and finetune_lr > 0):
            raise ValueError(f"finetune_lr must be positive and finite, got {finetune_lr!r}")
        mode = _ALIASES.get(mode, mode)
        if mode not in MODES:
            raise ValueError(f"mode must be 'predictor' or 'code' ('faithful_code'), got {mode!r}")
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
        self.optimizer = optimizer
        self.warm_epochs = int(warm_epochs)
        self.jump_epochs = int(jump_epochs)
        self.finetune_epochs = int(finetune_epochs)
        self.finetune_lr = float(finetune_lr)
        self.mode = mode
        self.confidence = float(confidence)
        self.predictor = make_predictor(predictor) if isinstance(predictor, str) else predictor
        self.base_lr = base_lr
        self.history: list[dict[str, Any]] = []
        self.alpha: float | None = None
        self.alpha_reason = ""
        self._warned: set[str] = set()
        self._caller_depth = 0  # extra frames between step() and the user's code (lrpo_schedule)
        self._bad_warm_loss = False

    # --- schedule ------------------------------------------------------------------------------
    @property
    def total_epochs(self) -> int:
        """Epochs in the whole schedule: warm + jump + finetune."""
        return self.warm_epochs + self.jump_epochs + self.finetune_epochs

    @property
    def epoch(self) -> int:
        """Epochs finished so far (the number of :meth:`step` calls that counted)."""
        return len(self.history)

    @property
    def done(self) -> bool:
        """Whether every epoch of the schedule has been stepped."""
        return self.epoch >= self.total_epochs

    def phase_of(self, epoch: int) -> str:
        """The phase of 1-based ``epoch``."""
        if epoch <= self.warm_epochs:
            return "warm"
        if epoch <= self.warm_epochs + self.jump_epochs:
            return "jump"
        return "finetune"

    def lr_of(self, epoch: int) -> float | None:
        """The rate for 1-based ``epoch`` (None for a jump epoch before alpha is decided)."""
        phase = self.phase_of(epoch)
        if phase == "warm":
            return self.base_lr
        if phase == "jump":
            return None if self.alpha is None else self.base_lr * self.alpha
        return self.finetune_lr

    @property
    def lr(self) -> float:
        """The rate the optimiser holds now."""
        return float(self.optimizer.param_groups[0]["lr"])

    # --- stepping ------------------------------------------------------------------------------
    def step(self, epoch_loss: float) -> None:
        """Record the epoch just trained and set the rate of the next one."""
        try:
            loss = float(epoch_loss)
        except (TypeError, ValueError):
            raise TypeError(f"step takes the epoch's training loss as a number, "
                            f"got {type(epoch_loss).__name__}") from None
        if self.done:
            self._warn("done", f"LRPO.step called after the {self.total_epochs}-epoch schedule "
                               "ended; ignored (loop over range(ctl.total_epochs) or check .done)")
            return
        epoch = self.epoch + 1
        phase = self.phase_of(epoch)
        if not math.isfinite(loss):
            self._warn("nonfinite", f"LRPO got a non-finite loss ({loss}) at epoch {epoch}"
                       + ("; no jump will be made" if phase == "warm" else ""))
            if phase == "warm":
                self._bad_warm_loss = True
        self.history.append({"epoch": epoch, "loss": loss, "lr": self.lr, "phase": phase})
        if epoch == self.warm_epochs:
            self._decide_alpha()
        if not self.done:
            self._set_lr(self.lr_of(epoch + 1))

    def _decide_alpha(self) -> None:
        losses = [h["loss"] for h in self.history if h["phase"] == "warm"]
        if self._bad_warm_loss:
            self.alpha, self.alpha_reason = 1.0, "non-finite warm-phase loss: no jump"
            return
        rising = losses[-1] >= losses[-3]
        if self.mode == "code":
            self.alpha = code_alpha(losses)
            self.alpha_reason = "code rule"
            if rising:
                self._warn("rising", "the loss rose over the last three warm epochs; the code's "
                                     f"rule lowers the rate (alpha = {self.alpha})", stacklevel=4)
            return
        if rising:
            self._warn("rising", "the loss rose over the last three warm epochs; no jump",
                       stacklevel=4)
            self.alpha, self.alpha_reason = 1.0, "rising warm-phase loss: no jump"
            return
        try:
            self.alpha = predictor_alpha(losses, self.predictor, confidence=self.confidence)
            self.alpha_reason = "predictor forecast"
        except Exception as exc:  # noqa: BLE001 - a failed forecast must never stop training
            self._warn("predictor", f"the trajectory predictor failed ({exc!r}); no jump",
                       stacklevel=4)
            self.alpha, self.alpha_reason = 1.0, "predictor failed: no jump"

    def _set_lr(self, lr: float | None) -> None:
        if lr is not None:
            self.optimizer.param_groups[0]["lr"] = float(lr)

    def _warn(self, key: str, message: str, stacklevel: int = 3) -> None:
        """Warn once per kind of problem; ``stacklevel`` points at the caller of :meth:`step`."""
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, LRPOWarning, stacklevel=stacklevel + self._caller_depth)

    # --- checkpointing -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The controller's state, for a checkpoint beside the model's and the optimiser's."""
        return {"settings": self._settings(), "base_lr": self.base_lr,
                "history": [dict(h) for h in self.history], "alpha": self.alpha,
                "alpha_reason": self.alpha_reason, "bad_warm_loss": self._bad_warm_loss}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`, and set the optimiser's rate for the next epoch.

        Raises ``ValueError`` when the state comes from a schedule with other settings (its phases
        would not line up with this one's)."""
        if not isinstance(state, dict) or "settings" not in state or "history" not in state:
            raise ValueError("not an LRPO state dict (expected the dict LRPO.state_dict returns)")
        if state["settings"] != self._settings():
            raise ValueError(f"this LRPO state was saved with settings {state['settings']}, but "
                             f"the controller has {self._settings()}; build it with the same "
                             "settings to resume")
        self.base_lr = float(state["base_lr"])
        self.history = [dict(h) for h in state["history"]]
        self.alpha = None if state["alpha"] is None else float(state["alpha"])
        self.alpha_reason = str(state["alpha_reason"])
        self._bad_warm_loss = bool(state["bad_warm_loss"])
        if not self.done:
            self._set_lr(self.lr_of(self.epoch + 1))

    def _settings(self) -> dict[str, Any]:
        return {"warm_epochs": self.warm_epochs, "jump_epochs": self.jump_epochs,
                "finetune_epochs": self.finetune_epochs, "finetune_lr": self.finetune_lr,
                "mode": self.mode, "confidence": self.confidence}

    def __repr__(self) -> str:
        return (f"LRPO(mode={self.mode!r}, epoch={self.epoch}/{self.total_epochs}, "
                f"base_lr={self.base_lr}, alpha={self.alpha})")


def lrpo_schedule(optimizer: Any, train_epoch: Callable[[], float], *,
                  evaluate: Callable[[], float] | None = None,
                  report: Callable[[dict[str, Any]], None] | None = None,
                  **params: Any) -> LRPO:
    """Run a trial's whole training as an LRPO short schedule; the budget option for HPO.

    ``train_epoch()`` trains one epoch and returns its training loss; ``evaluate()`` (optional)
    returns the metric to report after each epoch; ``report(entry)`` (optional) hands the epoch's
    history entry (``epoch``, ``loss``, ``lr``, ``phase``, ``alpha`` once decided, and ``metric``
    when ``evaluate`` is given) to the HPO framework: ``trial.report(e["metric"], e["epoch"])`` in
    Optuna, ``tune.report(e)`` in Ray Tune.  ``params`` go to :class:`LRPO`.  Returns the
    controller, finished (``done``).
    """
    ctl = LRPO(optimizer, **params)
    ctl._caller_depth = 1  # warnings point at the caller of lrpo_schedule
    for _ in range(ctl.total_epochs):
        ctl.step(train_epoch())
        entry = ctl.history[-1]
        if evaluate is not None:
            entry["metric"] = float(evaluate())
        if report is not None:
            report({**entry, "alpha": ctl.alpha})
    return ctl


__all__ = [
    "ALPHA_RANGE",
    "LRPO",
    "MODES",
    "PHASES",
    "LRPOWarning",
    "code_alpha",
    "lrpo_schedule",
    "predictor_alpha",
]
