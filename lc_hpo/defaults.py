"""What ``LCPruner()`` and ``LCScheduler()`` use when given no predictor: the bundled checkpoint."""

from __future__ import annotations

import threading
from importlib import resources

from .predictors import Predictor, make_predictor

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
