"""What ``LCPruner()`` and ``LCScheduler()`` use when given no predictor."""

from __future__ import annotations

from .predictors import ParametricEnsemblePredictor, Predictor, make_predictor


def default_predictor() -> Predictor:
    """The predictor used when none is given: the parametric ensemble (no fitting, no files)."""
    return ParametricEnsemblePredictor()


def resolve_predictor(predictor: Predictor | str | None) -> Predictor:
    """A predictor from an instance, a registry name, or None for the default."""
    if predictor is None:
        return default_predictor()
    if isinstance(predictor, str):
        return make_predictor(predictor)
    if not isinstance(predictor, Predictor):
        raise TypeError(
            f"predictor must be an lc_hpo Predictor, a registered name or None, got "
            f"{type(predictor).__name__}"
        )
    if predictor.needs_fit and not getattr(predictor, "is_fitted", True):
        raise ValueError(f"{type(predictor).__name__} needs fit() on complete curves before use")
    return predictor
