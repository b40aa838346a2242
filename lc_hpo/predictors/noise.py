"""Noise-scale estimates shared by the per-curve predictors."""

from __future__ import annotations

import numpy as np

from .base import ObservedBatch


def increment_scale(batch: ObservedBatch, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per curve: the RMS of the last ``window`` increments, and the median gap between steps.

    Both come from the finite measurements only.  The scale has a floor of a millionth of the
    curve's magnitude so that a constant curve still gets a (tiny) non-zero spread.
    """
    N = batch.n
    sigma = np.zeros(N)
    gap = np.ones(N)
    for i in range(N):
        n = int(batch.n_obs[i])
        if n < 2:
            continue
        s = batch.steps[i, :n]
        v = batch.values[i, :n]
        d = np.diff(v)[-window:]
        sigma[i] = np.sqrt(np.mean(d**2))
        gap[i] = max(float(np.median(np.diff(s)[-window:])), 1.0)
    floor = 1e-6 * (np.abs(batch.last_value) + 1e-6)
    return np.maximum(sigma, floor), gap


def uninformative_std(batch: ObservedBatch) -> np.ndarray:
    """A deliberately wide spread for curves too short to estimate any noise (one point)."""
    return np.maximum(np.abs(batch.last_value), 1.0)
