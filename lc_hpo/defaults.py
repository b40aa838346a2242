"""What ``LCPruner()`` and ``LCScheduler()`` use when given no predictor: the bundled checkpoint, and
the standing calibration stored beside its weights.

The decision rule owns the standing calibration (``StoppingRule(..., calibration=...)``); it is kept
in a checkpoint's metadata under ``"standing"`` (``lc-hpo calibrate`` writes it) and read back here,
so predictors carry it only as plain data and never import the rule's modules.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Any

from .predictors import Predictor, make_predictor
from .standing import StandingCalibration

#: The bundled checkpoint, inside the package (made by ``benchmarks/train_default.sh``).
BUNDLED = "models/default.pt"

_lock = threading.Lock()
_cache: dict[str, Predictor] = {}


def bundled_predictor() -> Predictor:
    """The mixture-LSTM predictor shipped with lc-hpo, loaded once per process (weights only)."""
    with _lock:
        if "default" not in _cache:
            from .learned import MixtureLSTMPredictor

            ref = resources.files("lc_hpo") / BUNDLED
            with resources.as_file(ref) as path:
                _cache["default"] = MixtureLSTMPredictor.load(path)
        return _cache["default"]


def calibration_from_metadata(metadata: dict[str, Any]) -> StandingCalibration | None:
    """The standing calibration stored in a checkpoint's metadata (``"standing"``), or None.

    A ValueError names what is wrong and how to re-make it when the stored one is not valid."""
    data = metadata.get("standing") if isinstance(metadata, dict) else None
    if data is None:
        return None
    try:
        return StandingCalibration.from_dict(data)
    except (AttributeError, TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise ValueError(
            f"the predictor's checkpoint holds a standing calibration that is not valid "
            f"({type(exc).__name__}: {exc}); re-make it with 'lc-hpo calibrate --checkpoint PATH "
            "--curves FILE ...', or decide without it (standing=False)") from None


def resolve_calibration(predictor: Predictor) -> StandingCalibration | None:
    """The standing calibration stored beside ``predictor``'s weights, or None if it has none.

    Learned predictors keep their checkpoint's metadata (``metadata_``); an in-study predictor
    shows its base's, so ``"study"`` over the bundled default gets the default's calibration."""
    return calibration_from_metadata(getattr(predictor, "metadata_", None) or {})


def bundled_calibration() -> StandingCalibration | None:
    """The standing calibration shipped with the bundled predictor (in its checkpoint)."""
    return resolve_calibration(bundled_predictor())


def default_predictor() -> Predictor:
    """The predictor used when none is given."""
    return bundled_predictor()


def resolve_predictor(predictor: Predictor | str | None) -> Predictor:
    """A predictor from an instance, a registered name or checkpoint path, or None for the default."""
    if predictor is None:
        return default_predictor()
    if isinstance(predictor, str):
        predictor = make_predictor(predictor)
    if not isinstance(predictor, Predictor):
        raise TypeError(
            f"predictor must be an lc_hpo Predictor, a registered name or None, got "
            f"{type(predictor).__name__}"
        )
    if predictor.needs_fit and not getattr(predictor, "is_fitted", True):
        raise ValueError(f"{type(predictor).__name__} needs fit() on complete curves (or .load() "
                         "of a checkpoint) before use")
    return predictor
