"""Learned curve predictors: meta-trained on many curves, loaded from weights-only checkpoints."""

import os
from typing import Any

from .checkpoint import CheckpointError, load_checkpoint
from .lc_gode import LCGODENoGraphPredictor, LCGODEPredictor
from .predictors import MixtureLSTMPredictor, RecursiveLSTMPredictor
from .prior import synthetic_curves

_KINDS: dict[str, Any] = {MixtureLSTMPredictor.kind: MixtureLSTMPredictor,
                          RecursiveLSTMPredictor.kind: RecursiveLSTMPredictor,
                          LCGODEPredictor.kind: LCGODEPredictor,
                          LCGODENoGraphPredictor.kind: LCGODENoGraphPredictor}


def load_predictor(path: str | os.PathLike
                   ) -> MixtureLSTMPredictor | RecursiveLSTMPredictor | LCGODEPredictor:
    """Whatever learned predictor a checkpoint holds (weights only)."""
    kind = load_checkpoint(path).get("kind")
    if kind not in _KINDS:
        raise CheckpointError(f"{path}: unknown model kind {kind!r}")
    return _KINDS[kind].load(path)

__all__ = [
    "CheckpointError",
    "LCGODENoGraphPredictor",
    "LCGODEPredictor",
    "MixtureLSTMPredictor",
    "RecursiveLSTMPredictor",
    "load_checkpoint",
    "load_predictor",
    "synthetic_curves",
]
