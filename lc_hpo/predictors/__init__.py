"""Learning-curve predictors, and a registry that builds them by name.

``make_predictor("parametric")`` and the command line's ``--predictors`` use the names below, so a new
predictor only has to be added here to be available everywhere.
"""

from __future__ import annotations

from typing import Any, Callable

from .base import ObservedBatch, Predictor
from .last_value import LastValuePredictor
from .parametric import FAMILIES, ParametricEnsemblePredictor
from .polynomial import PolynomialPredictor

_REGISTRY: dict[str, Callable[..., Predictor]] = {
    LastValuePredictor.name: LastValuePredictor,
    PolynomialPredictor.name: PolynomialPredictor,
    ParametricEnsemblePredictor.name: ParametricEnsemblePredictor,
}


def available_predictors() -> list[str]:
    """Names accepted by :func:`make_predictor`."""
    return sorted(_REGISTRY)


def make_predictor(name: str, **params: Any) -> Predictor:
    """Build the predictor registered under ``name`` with the given constructor parameters."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown predictor {name!r}; available: {', '.join(available_predictors())}"
        ) from None
    return factory(**params)


__all__ = [
    "FAMILIES",
    "LastValuePredictor",
    "ObservedBatch",
    "ParametricEnsemblePredictor",
    "PolynomialPredictor",
    "Predictor",
    "available_predictors",
    "make_predictor",
]
