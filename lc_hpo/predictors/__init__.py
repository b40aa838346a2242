"""Learning-curve predictors, and a registry that builds them by name.

``make_predictor("parametric")`` and the command line's ``--predictors`` use the names below, so a new
predictor only has to be added here to be available everywhere.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from .base import ObservedBatch, Predictor
from .last_value import LastValuePredictor
from .parametric import FAMILIES, ParametricEnsemblePredictor
from .polynomial import PolynomialPredictor

def _lstm(**params: Any) -> Predictor:
    from ..learned import RecursiveLSTMPredictor

    return RecursiveLSTMPredictor(**params)


def _lstm_mixture(**params: Any) -> Predictor:
    from ..learned import MixtureLSTMPredictor

    return MixtureLSTMPredictor(**params)


def _lc_gode(**params: Any) -> Predictor:
    """LC-GODE: with no parameters the shipped checkpoint (trained on NAS-Bench-201 cells), with
    parameters an unfitted model to ``fit`` (or train with ``lc-hpo train --model lc_gode``)."""
    from ..learned.lc_gode import LCGODEPredictor

    return LCGODEPredictor(**params) if params else LCGODEPredictor.shipped()


def _lc_gode_nograph(**params: Any) -> Predictor:
    """LC-GODE's graph-free ablation; shipped weights or an unfitted model, as ``lc_gode``."""
    from ..learned.lc_gode import LCGODENoGraphPredictor

    return LCGODENoGraphPredictor(**params) if params else LCGODENoGraphPredictor.shipped()


def _study(**params: Any) -> Predictor:
    from .in_study import InStudyPredictor

    return InStudyPredictor(**params)


def _default(**params: Any) -> Predictor:
    from ..defaults import bundled_predictor

    if params:
        raise ValueError("the bundled default predictor takes no parameters")
    return bundled_predictor()


_REGISTRY: dict[str, Callable[..., Predictor]] = {
    LastValuePredictor.name: LastValuePredictor,
    PolynomialPredictor.name: PolynomialPredictor,
    ParametricEnsemblePredictor.name: ParametricEnsemblePredictor,
    "lstm": _lstm,
    "lstm_mixture": _lstm_mixture,
    "default": _default,
    "lc_gode": _lc_gode,
    "lc_gode_nograph": _lc_gode_nograph,
    "study": _study,
}
#: Predictors that are ready without fitting: the per-curve ones and the bundled default.
READY = ("default", "last_value", "parametric", "polynomial", "study")


def available_predictors() -> list[str]:
    """Names accepted by :func:`make_predictor` (``lstm`` and ``lstm_mixture`` need fitting)."""
    return sorted(_REGISTRY)


def make_predictor(name: str | os.PathLike, **params: Any) -> Predictor:
    """The predictor registered under ``name``, or the one saved in the checkpoint file ``name``."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise TypeError(f"make_predictor takes a predictor name or a checkpoint path, got "
                        f"{type(name).__name__}; available: {', '.join(available_predictors())}")
    if name not in _REGISTRY and (name.endswith(".pt") or os.path.sep in name
                                  or os.path.exists(name)):
        from ..learned import load_predictor

        if params:
            raise ValueError("a predictor loaded from a checkpoint takes no parameters")
        return load_predictor(name)
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown predictor {name!r}; available: {', '.join(available_predictors())}, "
            "or the path of a checkpoint written by 'lc-hpo train'"
        ) from None
    return factory(**params)


__all__ = [
    "FAMILIES",
    "READY",
    "LastValuePredictor",
    "ObservedBatch",
    "ParametricEnsemblePredictor",
    "PolynomialPredictor",
    "Predictor",
    "available_predictors",
    "make_predictor",
]
