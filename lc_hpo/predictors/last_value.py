"""The last-value predictor: the final value will be the last one seen.

The simplest baseline and a surprisingly strong one where curves rank early.  Its uncertainty is that of
a driftless random walk fitted to the observed increments, so it widens with the horizon.
"""

from __future__ import annotations

import numpy as np

from ..forecast import Forecast
from .base import ObservedBatch, Predictor
from .noise import increment_scale, uninformative_std


class LastValuePredictor(Predictor):
    """Forecast = last finite value; spread = random walk with the observed step-to-step noise.

    Parameters
    ----------
    window:
        How many of the latest increments estimate the random walk's scale.
    """

    name = "last_value"

    def __init__(self, window: int = 10) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window

    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:
        mean = np.repeat(batch.last_value[:, None], targets.shape[1], axis=1)
        sigma, gap = increment_scale(batch, self.window)  # per observation interval
        n_ahead = np.maximum(targets - batch.last_step[:, None], 0.0) / gap[:, None]
        std = sigma[:, None] * np.sqrt(np.maximum(n_ahead, 1.0))
        fallback = uninformative_std(batch)[:, None]
        std = np.where(batch.n_obs[:, None] >= 2, std, fallback)
        return Forecast.gaussian(targets, mean, std)
