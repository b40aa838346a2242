"""Polynomial regression: the baseline of the LSTM learning-curve paper.

Least squares of a degree-``d`` polynomial over (step, value) pairs of the observed curve, extrapolated to
the target steps.  Its predictive spread is the ordinary-least-squares one (noise plus parameter
uncertainty), which grows quickly away from the data: exactly the weakness the paper points out.
"""

from __future__ import annotations

import numpy as np

from ..forecast import Forecast
from .base import ObservedBatch, Predictor
from .noise import uninformative_std


class PolynomialPredictor(Predictor):
    """Least-squares polynomial in the step, fitted per curve.

    Parameters
    ----------
    degree:
        Polynomial degree; lowered per curve to leave at least one residual degree of freedom.
    """

    name = "polynomial"
    #: The LSTM paper's baseline, as the paper has it: its extrapolations are not bounded.
    censor_at_bounds = False

    def __init__(self, degree: int = 2) -> None:
        if degree < 0:
            raise ValueError(f"degree must be non-negative, got {degree}")
        self.degree = degree

    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:
        N, H = targets.shape
        mean = np.empty((N, H))
        std = np.empty((N, H))
        fallback = uninformative_std(batch)
        for i in range(N):
            n = int(batch.n_obs[i])
            scale = batch.max_step[i]  # steps in units of the budget keep the design well conditioned
            x = batch.steps[i, :n] / scale
            y = batch.values[i, :n]
            deg = min(self.degree, max(n - 2, 0))
            X = np.vander(x, deg + 1)
            Xt = np.vander(targets[i] / scale, deg + 1)
            coef, *_ = np.linalg.lstsq(X, y, rcond=None)
            mean[i] = Xt @ coef
            dof = n - (deg + 1)
            if dof <= 0:
                std[i] = fallback[i]
                continue
            resid = y - X @ coef
            s2 = max(float(resid @ resid) / dof, (1e-6 * (abs(y[-1]) + 1e-6)) ** 2)
            cov = np.linalg.pinv(X.T @ X)
            lever = np.einsum("hi,ij,hj->h", Xt, cov, Xt)
            std[i] = np.sqrt(s2 * (1.0 + lever))
        return Forecast.gaussian(targets, mean, std)
