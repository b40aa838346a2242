"""The forecast distribution every predictor returns: a Gaussian mixture per curve and step.

A mixture is general enough for every predictor here (a single Gaussian for regression baselines, a
weighted set of fitted parametric curves, an ensemble of networks, mixture-density heads) and it gives
the decision rule what it needs in closed form: the probability that the final value beats the
incumbent.  Quantiles, log-likelihoods and samples follow from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

from .curve import Mode, check_mode

_MIN_STD = 1e-12
_SQRT_2PI = math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class Forecast:
    """Forecast of ``N`` curves at ``H`` target steps each, as a ``K``-component Gaussian mixture.

    Shapes: ``steps`` (N, H); ``weights`` (N, K, H), summing to one over K; ``means`` and ``stds``
    (N, K, H).  Values are on the curves' own scale.
    """

    steps: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    stds: np.ndarray

    def __post_init__(self) -> None:
        steps = np.atleast_2d(np.asarray(self.steps))
        means = np.asarray(self.means, dtype=float)
        if means.ndim != 3:
            raise ValueError(f"means must have shape (N, K, H), got {means.shape}")
        weights = np.broadcast_to(np.asarray(self.weights, dtype=float), means.shape)
        stds = np.broadcast_to(np.asarray(self.stds, dtype=float), means.shape)
        if steps.shape != (means.shape[0], means.shape[2]):
            raise ValueError(f"steps must have shape (N, H) = {(means.shape[0], means.shape[2])}")
        total = weights.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            weights = weights / total
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", np.maximum(stds, _MIN_STD))

    # --- constructors ----------------------------------------------------------------------------
    @classmethod
    def gaussian(cls, steps: np.ndarray, mean: np.ndarray, std: np.ndarray) -> "Forecast":
        """A single Gaussian per curve and step; ``mean`` and ``std`` of shape (N, H)."""
        mean = np.asarray(mean, dtype=float)[:, None, :]
        std = np.asarray(std, dtype=float)[:, None, :]
        return cls(steps=steps, weights=np.ones_like(mean), means=mean, stds=std)

    # --- summaries -------------------------------------------------------------------------------
    @property
    def n_curves(self) -> int:
        return int(self.means.shape[0])

    @property
    def mean(self) -> np.ndarray:
        """Mixture mean, shape (N, H)."""
        return np.sum(self.weights * self.means, axis=1)

    @property
    def std(self) -> np.ndarray:
        """Mixture standard deviation, shape (N, H)."""
        m = self.mean[:, None, :]
        var = np.sum(self.weights * (self.stds**2 + (self.means - m) ** 2), axis=1)
        return np.sqrt(np.maximum(var, 0.0))

    @property
    def is_finite(self) -> np.ndarray:
        """Per curve: whether every number of its forecast is finite (N,)."""
        ok = np.isfinite(self.means) & np.isfinite(self.stds) & np.isfinite(self.weights)
        return ok.all(axis=(1, 2))

    def cdf(self, y: np.ndarray) -> np.ndarray:
        """P(Y <= y) for ``y`` broadcastable to (N, H)."""
        y = np.broadcast_to(np.asarray(y, dtype=float), self.mean.shape)[:, None, :]
        return np.sum(self.weights * ndtr((y - self.means) / self.stds), axis=1)

    def logpdf(self, y: np.ndarray) -> np.ndarray:
        """Log density at ``y`` (broadcastable to (N, H))."""
        y = np.broadcast_to(np.asarray(y, dtype=float), self.mean.shape)[:, None, :]
        z = (y - self.means) / self.stds
        comp = -0.5 * z**2 - np.log(self.stds) - 0.5 * math.log(2 * math.pi)
        with np.errstate(divide="ignore"):
            return logsumexp(comp + np.log(self.weights), axis=1)

    def quantile(self, q: float | np.ndarray) -> np.ndarray:
        """Quantiles of the mixture; ``q`` scalar → (N, H), array of Q levels → (N, Q, H).

        Safeguarded Newton iterations on the mixture CDF, all levels at once: Newton steps from the
        moment-matched Gaussian guess, falling back to bisection of the bracket whenever a step
        would leave it.
        """
        qs = np.atleast_1d(np.asarray(q, dtype=float))
        if np.any((qs <= 0) | (qs >= 1)):
            raise ValueError("quantile levels must lie strictly between 0 and 1")
        w, mu, sd = (a[:, None] for a in (self.weights, self.means, self.stds))  # (N, 1, K, H)
        level = qs[None, :, None]  # (1, Q, 1)
        a = np.min(self.means - 10 * self.stds, axis=1)[:, None, :]
        b = np.max(self.means + 10 * self.stds, axis=1)[:, None, :]
        shape = (self.n_curves, qs.size, self.means.shape[2])
        a, b = np.broadcast_to(a, shape).copy(), np.broadcast_to(b, shape).copy()
        x = self.mean[:, None, :] + self.std[:, None, :] * ndtri(qs)[None, :, None]
        x = np.clip(x, a, b)
        for _ in range(50):
            z = (x[:, :, None, :] - mu) / sd
            f = np.sum(w * ndtr(z), axis=2) - level
            dens = np.sum(w * np.exp(-0.5 * z * z) / (sd * _SQRT_2PI), axis=2)
            a = np.where(f < 0, x, a)
            b = np.where(f < 0, b, x)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                step = x - f / dens
            inside = np.isfinite(step) & (step > a) & (step < b)
            new = np.where(inside, step, 0.5 * (a + b))
            done = np.abs(new - x) <= 1e-10 * (np.abs(x) + self.std[:, None, :] + 1e-300)
            x = new
            if np.all(done | ~np.isfinite(x)):
                break
        return x[:, 0, :] if np.ndim(q) == 0 else x

    def interval(self, coverage: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """The central interval holding ``coverage`` of the probability, each (N, H)."""
        tail = (1.0 - coverage) / 2.0
        qs = self.quantile(np.array([tail, 1.0 - tail]))
        return qs[:, 0, :], qs[:, 1, :]

    def prob_better(self, reference: np.ndarray | float, mode: Mode | Sequence[Mode],
                    horizon: int = -1) -> np.ndarray:
        """P(value at target step ``horizon`` is strictly better than ``reference``), shape (N,).

        ``mode`` is one mode for all curves or one per curve.
        """
        minimise = self._signs(mode) < 0
        ref = np.broadcast_to(np.asarray(reference, dtype=float), (self.n_curves,))
        cdf = self.cdf(np.repeat(ref[:, None], self.means.shape[2], axis=1))[:, horizon]
        # Mixture weights summing to 1 ± ulp can put the CDF a hair above 1: keep a probability.
        return np.clip(np.where(minimise, cdf, 1.0 - cdf), 0.0, 1.0)

    def expected_improvement(self, reference: np.ndarray | float, mode: Mode | Sequence[Mode],
                             horizon: int = -1) -> np.ndarray:
        """E[max(0, improvement over ``reference``)] at target step ``horizon``, shape (N,).

        The gain a scheduler can expect from running a trial to that step: closed form for a
        Gaussian mixture, Σ w (σ φ(d/σ) + d Φ(d/σ)) with d the component's mean improvement.
        """
        sign = self._signs(mode)[:, None]
        ref = np.broadcast_to(np.asarray(reference, dtype=float), (self.n_curves,))[:, None]
        w, mu, sd = self.weights[:, :, horizon], self.means[:, :, horizon], self.stds[:, :, horizon]
        d = sign * (mu - ref)
        z = d / sd
        return np.sum(w * (sd * np.exp(-0.5 * z * z) / _SQRT_2PI + d * ndtr(z)), axis=1)

    def _signs(self, mode: Mode | Sequence[Mode]) -> np.ndarray:
        """+1 per ``max`` curve, −1 per ``min`` curve, from one mode for all or one per curve."""
        modes = [mode] * self.n_curves if isinstance(mode, str) else list(mode)
        if len(modes) != self.n_curves:
            raise ValueError(f"need one mode per curve ({self.n_curves}), got {len(modes)}")
        return np.array([1.0 if check_mode(m) == "max" else -1.0 for m in modes])

    def sample(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Draw ``n`` samples per curve and step, shape (N, n, H); steps are sampled independently."""
        rng = rng or np.random.default_rng()
        N, K, H = self.means.shape
        u = rng.random((N, n, H))
        cum = np.cumsum(self.weights, axis=1)  # (N, K, H)
        comp = (u[:, :, None, :] > cum[:, None, :, :]).sum(axis=2).clip(max=K - 1)  # (N, n, H)
        mu = np.take_along_axis(self.means, comp, axis=1)
        sd = np.take_along_axis(self.stds, comp, axis=1)
        return mu + sd * rng.standard_normal((N, n, H))

    def subset(self, index: np.ndarray | slice | list[int]) -> "Forecast":
        """The forecasts of some curves only."""
        return Forecast(self.steps[index], self.weights[index], self.means[index], self.stds[index])

    def at(self, horizon: int) -> "Forecast":
        """The forecast at one target step (H = 1)."""
        sl = slice(horizon, horizon + 1) if horizon != -1 else slice(-1, None)
        return Forecast(self.steps[:, sl], self.weights[:, :, sl], self.means[:, :, sl],
                        self.stds[:, :, sl])

    @staticmethod
    def concat(parts: list["Forecast"]) -> "Forecast":
        """Join forecasts of different curves (same H); mixtures are padded to the largest K."""
        K = max(p.means.shape[1] for p in parts)

        def pad(a: np.ndarray, fill: float) -> np.ndarray:
            extra = K - a.shape[1]
            if extra == 0:
                return a
            shape = (a.shape[0], extra, a.shape[2])
            return np.concatenate([a, np.full(shape, fill)], axis=1)

        return Forecast(
            steps=np.concatenate([p.steps for p in parts]),
            weights=np.concatenate([pad(p.weights, 0.0) for p in parts]),
            means=np.concatenate([pad(p.means, 0.0) for p in parts]),
            stds=np.concatenate([pad(p.stds, 1.0) for p in parts]),
        )
