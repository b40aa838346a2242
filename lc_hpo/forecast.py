"""The forecast distribution every predictor returns: a Gaussian mixture per curve and step.

A mixture is general enough for every predictor here (a single Gaussian for regression baselines, a
weighted set of fitted parametric curves, an ensemble of networks, mixture-density heads) and it gives
the decision rule what it needs in closed form: the probability that the final value beats the
incumbent.  Quantiles, log-likelihoods and samples follow from it.

A forecast may be *censored* at bounds the metric cannot leave (an accuracy at 1, a loss at 0; see
:mod:`lc_hpo.bounds`): the mixture's mass beyond a bound then sits on the bound, which its CDF,
quantiles, mean, samples and expected improvement all reflect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

from .curve import Mode, check_mode

_MIN_STD = 1e-12
_SQRT_2PI = math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class Forecast:
    """Forecast of ``N`` curves at ``H`` target steps each, as a ``K``-component Gaussian mixture.

    Shapes: ``steps`` (N, H); ``weights`` (N, K, H), summing to one over K; ``means`` and ``stds``
    (N, K, H).  Values are on the curves' own scale.  ``lower`` and ``upper`` (N,), ±inf by default,
    censor the mixture: the forecast value is the mixture's draw clipped to [lower, upper].
    """

    steps: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    # Given as None, a scalar or (N,); always an (N,) float array once constructed.
    lower: Any = None
    upper: Any = None

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
        for name, default in (("lower", -math.inf), ("upper", math.inf)):
            given = getattr(self, name)
            bound = np.full(means.shape[0], default) if given is None else \
                np.broadcast_to(np.asarray(given, dtype=float), (means.shape[0],)).copy()
            object.__setattr__(self, name, np.where(np.isnan(bound), default, bound))
        if np.any(self.lower > self.upper):
            raise ValueError("a forecast's lower bound must not exceed its upper bound")

    # --- constructors ----------------------------------------------------------------------------
    @classmethod
    def gaussian(cls, steps: np.ndarray, mean: np.ndarray, std: np.ndarray) -> "Forecast":
        """A single Gaussian per curve and step; ``mean`` and ``std`` of shape (N, H)."""
        mean = np.asarray(mean, dtype=float)[:, None, :]
        std = np.asarray(std, dtype=float)[:, None, :]
        return cls(steps=steps, weights=np.ones_like(mean), means=mean, stds=std)

    def censored(self, lower: np.ndarray | float, upper: np.ndarray | float) -> "Forecast":
        """The same mixture censored at per-curve bounds ((N,) or scalars; ±inf for none)."""
        return Forecast(self.steps, self.weights, self.means, self.stds, lower, upper)

    # --- summaries -------------------------------------------------------------------------------
    @property
    def n_curves(self) -> int:
        return int(self.means.shape[0])

    @property
    def is_censored(self) -> np.ndarray:
        """Per curve: whether it has a finite bound (N,)."""
        return np.isfinite(self.lower) | np.isfinite(self.upper)

    @property
    def mean(self) -> np.ndarray:
        """Mean of the (censored) forecast, shape (N, H)."""
        return self._moments()[0]

    @property
    def std(self) -> np.ndarray:
        """Standard deviation of the (censored) forecast, shape (N, H)."""
        return self._moments()[1]

    def _mixture_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the uncensored mixture, each (N, H)."""
        m = np.sum(self.weights * self.means, axis=1)
        var = np.sum(self.weights * (self.stds**2 + (self.means - m[:, None, :]) ** 2), axis=1)
        return m, np.sqrt(np.maximum(var, 0.0))

    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of min(max(X, lower), upper), X the mixture.

        Per component X = μ + σZ, the censored value is μ + σW with W = Z clipped to [a, b]:
        E[W] = aΦ(a) + b(1 − Φ(b)) + φ(a) − φ(b) and E[W²] = a²Φ(a) + b²(1 − Φ(b)) + Φ(b) − Φ(a)
        + aφ(a) − bφ(b), taken about the component's own mean so that far-away bounds cost no
        precision; the mixture then combines the components' means and variances."""
        if not self.is_censored.any():
            return self._mixture_moments()
        a = (self.lower[:, None, None] - self.means) / self.stds
        b = (self.upper[:, None, None] - self.means) / self.stds
        below, above = ndtr(a), 1.0 - ndtr(b)
        with np.errstate(invalid="ignore"):
            ew = _finite_part(a * below) + _finite_part(b * above) + _phi(a) - _phi(b)
            ew2 = (_finite_part(a * a * below) + _finite_part(b * b * above)
                   + (1.0 - below - above) + _xphi(a) - _xphi(b))
        m = self.means + self.stds * ew
        v = self.stds**2 * np.maximum(ew2 - ew**2, 0.0)
        mean = np.sum(self.weights * m, axis=1)
        var = np.sum(self.weights * (v + (m - mean[:, None, :]) ** 2), axis=1)
        return mean, np.sqrt(np.maximum(var, 0.0))

    @property
    def is_finite(self) -> np.ndarray:
        """Per curve: whether every number of its forecast is finite (N,)."""
        ok = np.isfinite(self.means) & np.isfinite(self.stds) & np.isfinite(self.weights)
        return ok.all(axis=(1, 2))

    def cdf(self, y: np.ndarray) -> np.ndarray:
        """P(Y <= y) for ``y`` broadcastable to (N, H): 0 below the lower bound, 1 from the upper on."""
        shape = self.steps.shape
        y = np.broadcast_to(np.asarray(y, dtype=float), shape)
        raw = self._mixture_cdf(y)
        return np.where(y < self.lower[:, None], 0.0, np.where(y >= self.upper[:, None], 1.0, raw))

    def _mixture_cdf(self, y: np.ndarray) -> np.ndarray:
        """P(X <= y) of the uncensored mixture, ``y`` of shape (N, H)."""
        return np.sum(self.weights * ndtr((y[:, None, :] - self.means) / self.stds), axis=1)

    def logpdf(self, y: np.ndarray) -> np.ndarray:
        """Log density of the mixture at ``y`` (broadcastable to (N, H)).

        For a censored forecast this is the density of its continuous part, between the bounds:
        the point masses on the bounds have no density, and a value measured exactly at a bound (an
        accuracy of 1) is scored by the mixture's density there."""
        y = np.broadcast_to(np.asarray(y, dtype=float), self.steps.shape)[:, None, :]
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
        mix_mean, mix_std = self._mixture_moments()
        x = mix_mean[:, None, :] + mix_std[:, None, :] * ndtri(qs)[None, :, None]
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
            done = np.abs(new - x) <= 1e-10 * (np.abs(x) + mix_std[:, None, :] + 1e-300)
            x = new
            if np.all(done | ~np.isfinite(x)):
                break
        x = np.clip(x, self.lower[:, None, None], self.upper[:, None, None])
        return x[:, 0, :] if np.ndim(q) == 0 else x

    def interval(self, coverage: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """The central interval holding ``coverage`` of the probability, each (N, H)."""
        tail = (1.0 - coverage) / 2.0
        qs = self.quantile(np.array([tail, 1.0 - tail]))
        return qs[:, 0, :], qs[:, 1, :]

    def prob_better(self, reference: np.ndarray | float, mode: Mode | Sequence[Mode],
                    horizon: int = -1) -> np.ndarray:
        """P(value at target step ``horizon`` is strictly better than ``reference``), shape (N,).

        ``mode`` is one mode for all curves or one per curve.  A reference beyond a censoring bound
        on the better side (an incumbent above 1 for a curve bounded by 1) shows that the bound does
        not hold for this metric: the uncensored mixture answers then.
        """
        minimise = self._signs(mode) < 0
        ref = np.broadcast_to(np.asarray(reference, dtype=float), (self.n_curves,))
        refs = np.repeat(ref[:, None], self.means.shape[2], axis=1)
        raw = self._mixture_cdf(refs)[:, horizon]
        lo, hi = self.lower, self.upper
        # Strictly better: a minimised value on its lower bound does not beat a reference there.
        below = np.where(ref <= lo, 0.0, np.where(ref > hi, 1.0, raw))  # P(Y < ref)
        above = 1.0 - np.where(ref < lo, 0.0, np.where(ref >= hi, 1.0, raw))  # P(Y > ref)
        p = np.where(self._bound_disproved(ref, minimise), np.where(minimise, raw, 1.0 - raw),
                     np.where(minimise, below, above))
        # Mixture weights summing to 1 ± ulp can put the CDF a hair above 1: keep a probability.
        return np.clip(p, 0.0, 1.0)

    def _bound_disproved(self, ref: np.ndarray, minimise: np.ndarray) -> np.ndarray:
        """Per curve: whether ``ref`` lies strictly beyond the bound on the better side."""
        return np.where(minimise, ref < self.lower, ref > self.upper)

    def expected_improvement(self, reference: np.ndarray | float, mode: Mode | Sequence[Mode],
                             horizon: int = -1) -> np.ndarray:
        """E[max(0, improvement over ``reference``)] at target step ``horizon``, shape (N,).

        The gain a scheduler can expect from running a trial to that step: closed form for a
        Gaussian mixture, Σ w (σ φ(d/σ) + d Φ(d/σ)) with d the component's mean improvement.
        Censored at a bound on the better side, the gain stops at the bound: the mixture's expected
        gain over the reference less its expected gain beyond the bound (unless the reference lies
        beyond it, see :meth:`prob_better`); a reference beyond the bound on the worse side is
        improved on by the censored mean.
        """
        signs = self._signs(mode)
        ref = np.broadcast_to(np.asarray(reference, dtype=float), (self.n_curves,))
        bound = np.where(signs < 0, self.lower, self.upper)
        cap = np.where(self._bound_disproved(ref, signs < 0) | ~np.isfinite(bound), np.nan, bound)
        gain = self._mixture_gain(ref, signs, horizon)
        beyond = self._mixture_gain(np.nan_to_num(cap), signs, horizon)
        gain = np.where(np.isnan(cap), gain, np.maximum(gain - beyond, 0.0))
        # A reference beyond the bound on the worse side is always improved on, by the whole mean.
        worse = np.where(signs < 0, ref > self.upper, ref < self.lower)
        if worse.any():
            gain = np.where(worse, signs * (self.mean[:, horizon] - ref), gain)
        return gain

    def _mixture_gain(self, ref: np.ndarray, signs: np.ndarray, horizon: int) -> np.ndarray:
        """E[max(0, sign · (X − ref))] of the uncensored mixture at ``horizon``, shape (N,)."""
        w, mu, sd = self.weights[:, :, horizon], self.means[:, :, horizon], self.stds[:, :, horizon]
        d = signs[:, None] * (mu - ref[:, None])
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
        draws = mu + sd * rng.standard_normal((N, n, H))
        return np.clip(draws, self.lower[:, None, None], self.upper[:, None, None])

    def subset(self, index: np.ndarray | slice | list[int]) -> "Forecast":
        """The forecasts of some curves only."""
        return Forecast(self.steps[index], self.weights[index], self.means[index], self.stds[index],
                        self.lower[index], self.upper[index])

    def at(self, horizon: int) -> "Forecast":
        """The forecast at one target step (H = 1)."""
        sl = slice(horizon, horizon + 1) if horizon != -1 else slice(-1, None)
        return Forecast(self.steps[:, sl], self.weights[:, :, sl], self.means[:, :, sl],
                        self.stds[:, :, sl], self.lower, self.upper)

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
            lower=np.concatenate([p.lower for p in parts]),
            upper=np.concatenate([p.upper for p in parts]),
        )


def _phi(z: np.ndarray) -> np.ndarray:
    """The standard normal density, 0 at ±inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(np.isfinite(z), np.exp(-0.5 * np.square(np.nan_to_num(z))) / _SQRT_2PI,
                        0.0)


def _finite_part(x: np.ndarray) -> np.ndarray:
    """``x`` with the products of an infinite bound and a vanishing probability (inf · 0) as 0."""
    return np.where(np.isfinite(x), x, 0.0)


def _xphi(z: np.ndarray) -> np.ndarray:
    """z · φ(z), 0 at ±inf."""
    return np.where(np.isfinite(z), np.nan_to_num(z) * _phi(z), 0.0)
