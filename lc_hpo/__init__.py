"""lc-hpo: learning-curve forecasts that kill, rank and budget trials in Optuna and Ray Tune.

The core (this package) is framework-free: curves, curve-set files, predictors, forecasts and the
decision rule.  ``LCPruner`` (Optuna) and ``LCScheduler`` (Ray Tune) live in ``lc_hpo.integrations`` and
are imported lazily here, so importing the core never imports a framework.
"""

from __future__ import annotations

from typing import Any

from .curve import Curve, CurveError
from .curveset import CurveSetError, read_curves, write_curves
from .forecast import Forecast
from .predictors import Predictor, available_predictors, make_predictor

__version__ = "0.1.0"

_LAZY = {
    "LCPruner": ("lc_hpo.integrations.optuna", "LCPruner", None),
    "LCScheduler": ("lc_hpo.integrations.ray_tune", "LCScheduler", "ray"),  # an optional extra
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr, extra = _LAZY[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if extra and exc.name and exc.name.split(".")[0] == extra:
                raise ModuleNotFoundError(
                    f"{name} needs Ray Tune, an optional extra: pip install 'lc-hpo[{extra}]'",
                    name=exc.name) from exc
            raise
    raise AttributeError(f"module 'lc_hpo' has no attribute {name!r}")


__all__ = [
    "Curve",
    "CurveError",
    "CurveSetError",
    "Forecast",
    "LCPruner",
    "LCScheduler",
    "Predictor",
    "available_predictors",
    "make_predictor",
    "read_curves",
    "write_curves",
    "__version__",
]
