"""A parametric ensemble of saturating curve families, in the manner of Domhan et al. (2015).

Domhan et al. fit eleven families by MCMC (about a minute per forecast).  A pruner is called at every
reported step, so here each family is written as an affine map of a shape function,

    y(x) = a + b * phi(x; theta),

with ``theta`` the one or two parameters that enter non-linearly.  For a grid of ``theta`` the best
``(a, b)`` is a closed-form weighted least-squares solution (variable projection), so every family and
grid point is fitted to every curve of a batch at once in a few array operations.  The grid points are
then weighed by their profile likelihood, which turns the ensemble into a Bayesian model average with a
Gaussian predictive per member: a mixture whose spread combines noise, parameter uncertainty, the
disagreement between families and an extrapolation term that grows with the forecast change.

The families, with the Domhan names they cover (up to reparametrisation and a free affine map):

* ``pow``   phi = (x + c)^-alpha             pow3, pow4
* ``exp``   phi = exp(-k x^d)                exp4, Janoschek, Weibull
* ``mmf``   phi = 1 / (1 + (k x)^d)          MMF, Hill3, log power
* ``ilog``  phi = 1 / log(e + k x)           ilog2
* ``vapor`` phi = exp(-k / x)                vapour pressure (its log-x term fixed at zero)

``x`` is the step divided by the last observed step, so the grids are scale free.  Values are centred and
scaled per curve, so the predictor works for accuracies, losses and any other scale, in both modes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..forecast import Forecast
from .base import ObservedBatch, Predictor, merge_rows
from .last_value import LastValuePredictor


def _grid(*axes: np.ndarray) -> np.ndarray:
    """All combinations of the axes' values, one row per grid point (G, n_params)."""
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _pow(x: np.ndarray, p: list[np.ndarray]) -> np.ndarray:
    return (x + p[1]) ** (-p[0])


def _exp(x: np.ndarray, p: list[np.ndarray]) -> np.ndarray:
    return np.exp(-p[0] * x ** p[1])


def _mmf(x: np.ndarray, p: list[np.ndarray]) -> np.ndarray:
    return 1.0 / (1.0 + (p[0] * x) ** p[1])


def _ilog(x: np.ndarray, p: list[np.ndarray]) -> np.ndarray:
    return 1.0 / np.log(np.e + p[0] * x)


def _vapor(x: np.ndarray, p: list[np.ndarray]) -> np.ndarray:
    return np.exp(-p[0] / x)


def _families() -> dict[str, tuple[np.ndarray, Callable[[np.ndarray, list[np.ndarray]], np.ndarray]]]:
    """Each family: its grid of non-linear parameters and its vectorised shape function.

    A shape function takes ``x`` (any shape) and the parameter columns, each shaped (G, 1, ..., 1) to
    broadcast against ``x``, and returns phi for every grid point at once, shape (G, *x.shape).  They
    are module-level functions, not lambdas, so that the predictor pickles (process pools, Ray).
    """
    return {
        "pow": (_grid(np.geomspace(0.05, 4.0, 12), np.array([0.0, 0.1, 0.3, 1.0])), _pow),
        "exp": (_grid(np.geomspace(0.05, 20.0, 12), np.array([0.5, 1.0, 2.0])), _exp),
        "mmf": (_grid(np.geomspace(0.1, 30.0, 12), np.array([0.5, 1.0, 2.0, 4.0])), _mmf),
        "ilog": (_grid(np.geomspace(0.1, 1000.0, 12)), _ilog),
        "vapor": (_grid(np.geomspace(0.01, 5.0, 12)), _vapor),
    }


FAMILIES: tuple[str, ...] = tuple(_families())


class ParametricEnsemblePredictor(Predictor):
    """Bayesian model average over saturating curve families, fitted by variable projection.

    Parameters
    ----------
    families:
        Which families to use (default: all of :data:`FAMILIES`).
    recency:
        Observation ``i`` of ``n`` gets weight ``((i + 1) / n) ** recency``: early measurements (an
        initial checkpoint, a warm-up) should not steer the extrapolation as much as recent ones.
    temperature:
        Divides the log-likelihood that weighs the members; above 1 it admits that residuals of real
        curves are correlated and keeps the average from collapsing onto one member too early.
    extrapolation_std:
        Per member, adds this fraction of the forecast change (from the last observation to the
        target) to the standard deviation: model error grows with how far a family extrapolates.
    max_change:
        Members whose forecast change exceeds this many times the observed range are implausible
        and dropped.
    n_components:
        How many of the heaviest members the returned mixture keeps.
    min_points:
        With fewer finite observations the forecast falls back to :class:`LastValuePredictor`.
    """

    name = "parametric"

    def __init__(
        self,
        families: tuple[str, ...] | None = None,
        recency: float = 2.0,
        temperature: float = 4.0,
        extrapolation_std: float = 0.7,
        max_change: float = 3.0,
        n_components: int = 16,
        min_points: int = 3,
    ) -> None:
        unknown = set(families or ()) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown families {sorted(unknown)}; choose from {list(FAMILIES)}")
        if families is not None and not families:
            raise ValueError("families must name at least one family")
        if temperature <= 0 or extrapolation_std < 0 or max_change <= 0:
            raise ValueError("temperature and max_change must be positive, extrapolation_std >= 0")
        if n_components < 1 or min_points < 3:
            raise ValueError("n_components must be >= 1 and min_points >= 3")
        self.families = families
        self.recency = recency
        self.temperature = temperature
        self.extrapolation_std = extrapolation_std
        self.max_change = max_change
        self.n_components = n_components
        self.min_points = min_points
        chosen = families or FAMILIES
        fams = _families()
        self._shapes = [fams[f] for f in chosen]
        # Equal prior mass per family, spread evenly over its grid.
        self._log_prior = np.concatenate(
            [np.full(len(fams[f][0]), -np.log(len(fams[f][0]))) for f in chosen]
        )

    def _phi(self, x: np.ndarray) -> np.ndarray:
        """Shape functions of every family and grid point at ``x`` (any shape) → (G, *x.shape)."""
        parts = []
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            for grid, fn in self._shapes:
                cols = [grid[:, j].reshape((-1,) + (1,) * x.ndim) for j in range(grid.shape[1])]
                parts.append(fn(x[None], cols))
        out = np.concatenate(parts)
        return np.nan_to_num(out, nan=0.0, posinf=1e12, neginf=-1e12)

    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:
        short = batch.n_obs < self.min_points
        parts = []
        if short.any():  # too few points to fit a family: a random walk says what little we know
            idx = np.nonzero(short)[0]
            parts.append((idx, LastValuePredictor().predict([batch.curves[int(i)] for i in idx],
                                                            targets[idx])))
        if (~short).any():
            idx = np.nonzero(~short)[0]
            fit = batch if not short.any() else ObservedBatch.from_curves(
                [batch.curves[int(i)] for i in idx])
            chunks = [self._fit_chunk(fit, slice(s, s + 128), targets[idx][s:s + 128])
                      for s in range(0, len(idx), 128)]
            parts.append((idx, Forecast.concat(chunks)))
        return merge_rows(parts)

    def _fit_chunk(self, batch: ObservedBatch, sl: slice, targets: np.ndarray) -> Forecast:
        steps, values, mask = batch.steps[sl], batch.values[sl], batch.mask[sl]
        n_obs = batch.n_obs[sl].astype(float)
        last_step = batch.last_step[sl]
        N, L = steps.shape
        # Normalise: x relative to the observed length, z centred on the last value, unit range.
        x = steps / last_step[:, None]
        xt = targets / last_step[:, None]
        lo = np.where(mask, values, np.inf).min(axis=1)
        hi = np.where(mask, values, -np.inf).max(axis=1)
        centre = batch.last_value[sl]
        scale = np.maximum(hi - lo, 1e-6 * (np.abs(centre) + 1e-6))
        z = (values - centre[:, None]) / scale[:, None]
        pos = np.arange(L)[None, :] + 1.0
        w = np.where(mask, (pos / np.maximum(n_obs[:, None], 1.0)) ** self.recency, 0.0)
        n_eff = w.sum(axis=1) ** 2 / np.maximum((w**2).sum(axis=1), 1e-12)

        phi = self._phi(x)  # (G, N, L)
        sw = w.sum(axis=1)  # (N,)
        sp = np.einsum("nl,gnl->gn", w, phi)
        spp = np.einsum("nl,gnl->gn", w, phi * phi)
        sz = (w * z).sum(axis=1)
        spz = np.einsum("nl,gnl->gn", w * z, phi)
        szz = (w * z * z).sum(axis=1)
        det = sw * spp - sp**2  # (G, N)
        good = det > 1e-10 * np.maximum(sw * spp, 1e-300)
        det_safe = np.where(good, det, 1.0)
        b = np.where(good, (sw * spz - sp * sz) / det_safe, 0.0)
        a = np.where(good, (sz - b * sp) / sw, sz / sw)
        sse = szz - 2 * a * sz - 2 * b * spz + a * a * sw + 2 * a * b * sp + b * b * spp
        # Weighted SSE is on the scale of sum(w); convert to a per-observation residual variance.
        dof = np.maximum(n_eff - 2.0, 1.0)
        sigma2 = np.maximum(sse / sw * n_eff / dof, 1e-8)

        phit = self._phi(xt)  # (G, N, H)
        phil = self._phi(np.ones_like(last_step))  # (G, N): x = 1 is the last observed step
        mean = a[..., None] + b[..., None] * phit
        fit_last = a + b * phil
        change = mean - fit_last[..., None]
        # Leverage of the target point in the weighted 2-parameter fit.
        inv00 = np.where(good, spp / det_safe, 1.0 / sw)
        inv01 = np.where(good, -sp / det_safe, 0.0)
        inv11 = np.where(good, sw / det_safe, 0.0)
        lever = (inv00[..., None] + 2 * inv01[..., None] * phit + inv11[..., None] * phit**2)
        lever = lever * (sw / n_eff)[None, :, None]
        var = sigma2[..., None] * (1.0 + lever) + (self.extrapolation_std * change) ** 2

        loglik = -0.5 * n_eff * np.log(sigma2) / self.temperature
        logw = loglik + self._log_prior[:, None]
        plausible = good & (np.abs(change).max(axis=-1) <= self.max_change)
        logw = np.where(plausible, logw, -np.inf)
        logw = np.where(np.isfinite(logw).any(axis=0, keepdims=True), logw,
                        np.where(good, loglik, -np.inf))
        # Keep the heaviest members.
        K = min(self.n_components, logw.shape[0])
        top = np.argsort(-logw, axis=0)[:K]  # (K, N)
        cols = np.arange(N)[None, :]
        lw = logw[top, cols]
        lw = lw - lw.max(axis=0, keepdims=True)
        weights = np.exp(lw)  # (K, N)
        means = mean[top, cols]  # (K, N, H)
        stds = np.sqrt(var[top, cols])
        H = targets.shape[1]
        weights = np.transpose(np.broadcast_to(weights[..., None], (K, N, H)), (1, 0, 2))
        means = np.transpose(means, (1, 0, 2)) * scale[:, None, None] + centre[:, None, None]
        stds = np.transpose(stds, (1, 0, 2)) * scale[:, None, None]
        return Forecast(targets, weights, means, stds)
