"""Forecasts that learn from the study they run in: the finished trials of the same task.

A predictor meta-trained on other tasks knows how curves *usually* go on; the trials that have already
finished in this study show how curves go on *here*: which prefixes recover, how far a slow start
climbs, which hyperparameters matter.  :class:`InStudyPredictor` fits a small quantile regression
forest (Meinshausen 2006) on the finished curves, cut at several points, to map what a partial curve
shows (its resampled prefix, how much of the budget it has used, its configuration, and the base
predictor's own forecast) to its final value.  The forest's leaves give a conditional *distribution*
of the final value, not a point, which the stopping rule needs.

Until ``min_context`` trials have finished it is exactly its base predictor.  The forest is fitted on
the first ``m`` finished curves in the order given (Optuna's: trial number), where ``m`` steps through
``min_context``, × ``refit_growth``, × ``refit_growth``², ... up to the number finished, so its cost is
logarithmic in the study's size.  What it is fitted on is a function of the finished curves alone, so
every worker reading the same storage forecasts alike; the fitted forest is only a cache.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Mapping, Sequence

import numpy as np

from .._validation import check_int
from ..curve import Curve
from ..forecast import Forecast
from .base import ObservedBatch, Predictor, merge_rows, target_steps

#: Points of the resampled prefix; cut points (fractions of max_step) for the training rows.
_PREFIX_POINTS = 8
_CUTS = np.linspace(0.05, 0.95, 20)
#: Quantile levels whose values become the equal-weight components of the forecast.
_LEVELS = (np.arange(20) + 0.5) / 20
#: Weight of the base forecast kept in the mixture: tails for what the finished trials never showed.
_BASE_WEIGHT = 0.1
#: Observed fractions of the budget that split the calibration of the spread into three parts.
_SHRINK_EDGES = np.array([1 / 3, 2 / 3])


class InStudyPredictor(Predictor):
    """A base predictor, corrected by a forest fitted on the study's finished curves.

    Args:
        base: The predictor whose forecast is corrected (and used alone while the study is young);
            a registered name, a checkpoint path, or an instance.
        min_context: Finished curves (same direction and ``max_step``) needed before the forest is used.
        n_trees: Trees in the forest.
        refit_growth: Refit when the number of finished curves has grown by this factor (fitted
            on the first ``min_context`` × ``refit_growth``^k of them, in the order given).
        max_context: At most this many finished curves (a seeded random subset) train the forest.
        seed: Seed of the forest and of the subset.
    """

    name = "study"
    uses_context = True

    def __init__(self, base: Predictor | str = "default", min_context: int = 20, n_trees: int = 50,
                 refit_growth: float = 1.25, max_context: int = 1000, seed: int = 0) -> None:
        check_int("min_context", min_context, 5)
        check_int("n_trees", n_trees, 1)
        if not (isinstance(refit_growth, (int, float)) and refit_growth >= 1.0):
            raise ValueError(f"refit_growth must be a number >= 1, got {refit_growth!r}")
        check_int("max_context", max_context, min_context, why="max_context >= min_context")
        self.base = base
        self.min_context = min_context
        self.n_trees = n_trees
        self.refit_growth = float(refit_growth)
        self.max_context = max_context
        self.seed = seed
        self._forests: dict[tuple, tuple[tuple, _StudyForest]] = {}
        self._lock = threading.Lock()

    @property
    def base_(self) -> Predictor:
        """The base predictor resolved from ``base`` (a name or path is loaded on first use; the
        ``base`` parameter itself is left as given, as scikit-learn's conventions ask)."""
        if isinstance(self.base, Predictor):
            return self.base
        cached = self.__dict__.get("_base_resolved")  # (the base it was resolved from, the result)
        if cached is None or cached[0] != self.base:
            from ..defaults import resolve_predictor

            cached = self._base_resolved = (self.base, resolve_predictor(self.base))
        return cached[1]

    @property
    def metadata_(self) -> dict[str, Any]:
        return getattr(self.base_, "metadata_", {})

    def __getstate__(self) -> dict:
        # Ray pickles its scheduler: forests are a cache (refitted on demand), a lock cannot travel.
        state = self.__dict__.copy()
        state["_forests"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # --- prediction ----------------------------------------------------------------------------
    def predict(self, curves: Sequence[Curve], steps: Any | None = None,
                context: Sequence[Curve] | None = None) -> Forecast:
        """Forecast ``curves``; ``context`` holds the study's finished curves (none: the base alone)."""
        base = self.base_.predict(curves, steps)
        if not context:
            return base
        curves = list(curves)
        targets = target_steps(curves, steps)
        finished = _finished(context)
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(curves):
            if c.finite[1].size and c.max_step:
                groups.setdefault((c.task, c.mode, int(c.max_step)), []).append(i)
        parts, done = [], np.zeros(len(curves), dtype=bool)
        for key, idx in groups.items():
            ctx = finished.get(key, [])
            if len(ctx) < self.min_context:
                continue
            forest = self._forest(key, ctx)
            idx_arr = np.asarray(idx)
            parts.append((idx_arr, forest.forecast([curves[i] for i in idx], targets[idx_arr],
                                                   base.subset(idx_arr))))
            done[idx_arr] = True
        if not parts:
            return base
        rest = np.nonzero(~done)[0]
        if rest.size:
            parts.append((rest, base.subset(rest)))
        merged = merge_rows(parts)
        # The forest's quantiles can overshoot a bound as the base's mixture can: the same bounds.
        return merged.censored(base.lower, base.upper) if self.censor_at_bounds else merged

    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:  # pragma: no cover
        raise NotImplementedError("InStudyPredictor overrides predict")

    def _fit_size(self, n: int) -> int:
        """How many of ``n`` finished curves the forest is fitted on (see the module docstring)."""
        m = self.min_context
        while True:
            nxt = max(m + 1, math.ceil(m * self.refit_growth))
            if nxt > n:
                return min(m, n)
            m = nxt

    def _forest(self, key: tuple, ctx: list[Curve]) -> "_StudyForest":
        """The group's forest: fitted on the first :meth:`_fit_size` finished curves, reused
        while those stay the same."""
        ctx = ctx[: self._fit_size(len(ctx))]
        ids = tuple(_identity(c) for c in ctx)
        with self._lock:
            cached = self._forests.get(key)
        if cached is not None and cached[0] == ids:
            return cached[1]
        forest = _StudyForest(self.base_, self.n_trees, self.max_context, self.seed).fit(ctx)
        with self._lock:
            self._forests[key] = (ids, forest)
        return forest


def _identity(c: Curve) -> tuple:
    """What tells one finished curve from another (Optuna's curves carry no ids, only values)."""
    return (c.config_id, repr(sorted(c.config.items())), c.finite[1].size, float(c.finite[1][-1]))


def _finished(context: Sequence[Curve]) -> dict[tuple, list[Curve]]:
    """Context curves that reached their max_step with a finite final value, by (task, mode,
    max_step)."""
    out: dict[tuple, list[Curve]] = {}
    for c in context:
        if not c.max_step or c.last_step is None or c.last_step < c.max_step:
            continue
        s, v = c.finite
        if v.size < 2 or s[-1] < c.max_step:
            continue
        out.setdefault((c.task, c.mode, int(c.max_step)), []).append(c)
    return out


class _ConfigEncoder:
    """Configurations as numbers: numeric values (log-scaled when they span decades), one-hot
    categories, unseen or missing entries as the column mean."""

    def fit(self, configs: Sequence[Mapping[str, Any]]) -> "_ConfigEncoder":
        keys = sorted({k for c in configs for k in c})
        self.columns: list[tuple[str, str, Any]] = []
        for k in keys:
            vals = [c[k] for c in configs if k in c]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in vals):
                arr = np.asarray(vals, dtype=float)
                log = bool(arr.size and arr.min() > 0 and arr.max() / arr.min() > 20)
                self.columns.append((k, "log" if log else "num", None))
            else:
                for cat in sorted({str(v) for v in vals})[:20]:
                    self.columns.append((k, "cat", cat))
        raw = self._raw(configs)
        self.mean = np.nanmean(np.where(np.isfinite(raw), raw, np.nan), axis=0) if raw.size else raw
        self.mean = np.nan_to_num(np.atleast_1d(self.mean))
        return self

    def _raw(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        out = np.full((len(configs), len(self.columns)), np.nan)
        for i, c in enumerate(configs):
            for j, (k, kind, cat) in enumerate(self.columns):
                if k not in c:
                    continue
                v = c[k]
                if kind == "cat":
                    out[i, j] = float(str(v) == cat)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[i, j] = math.log(v) if kind == "log" and v > 0 else float(v)
        return out

    def transform(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        raw = self._raw(configs)
        return np.where(np.isfinite(raw), raw, self.mean[None, :]) if raw.size else raw


class _StudyForest:
    """The quantile regression forest of one study group: features of a partial curve -> final.

    Rows of one curve cut at several points share a final value, so the leaves' spread of finals is
    wider than the truth; the spread around the median is shrunk by the factor that gives 85 %
    coverage (central 90 % interval) on a fifth of the curves held out of a first fit, separately
    for early, middle and late cuts (a split-conformal calibration).  On the same held-out fifth and
    buckets it learns how far to trust its median over the base's: late in a curve a meta-trained
    base is often the sharper of the two (docs/measurements.md, "Forecasts that learn from the study").
    """

    def __init__(self, base: Predictor, n_trees: int, max_context: int, seed: int) -> None:
        self.base, self.n_trees, self.max_context, self.seed = base, n_trees, max_context, seed

    def fit(self, curves: list[Curve]) -> "_StudyForest":
        rng = np.random.default_rng(self.seed)
        if len(curves) > self.max_context:
            curves = [curves[i] for i in sorted(rng.choice(len(curves), self.max_context,
                                                           replace=False))]
        finals = np.array([c.finite[1][-1] for c in curves])
        spread = float(np.subtract(*np.percentile(finals, [90, 10])))
        self.scale = spread if spread > 0 else (float(np.std(finals)) or 1.0)
        self.encoder = _ConfigEncoder().fit([c.config for c in curves])
        partials, y, owner = [], [], []
        for j, (c, final) in enumerate(zip(curves, finals)):
            for cut in _CUTS:
                p = c.observed(cut)
                if p.finite[1].size < 2 or (p.last_step or 0) >= (c.max_step or 0):
                    continue  # too short to read, or nothing left to forecast
                partials.append(p)
                y.append(final)
                owner.append(j)
        X, last = self._features(partials, self.base.predict(partials).quantile(0.5)[:, -1])
        y_arr = (np.asarray(y) - last) / self.scale
        held = np.isin(np.asarray(owner), rng.permutation(len(curves))[: len(curves) // 5])
        self.shrink = np.ones(len(_SHRINK_EDGES) + 1)
        self.trust = np.ones(len(_SHRINK_EDGES) + 1)
        if held.any() and (~held).any():
            self._fit_rows(X[~held], y_arr[~held])
            q = self._quantiles(X[held], np.array([0.05, 0.5, 0.95]))
            bucket, base_med, y_held = self._bucket(X[held]), _base_offset(X[held]), y_arr[held]
            for b in range(self.shrink.size):
                rows = bucket == b
                if np.sum(rows) >= 20:
                    self.trust[b] = _trusted_share(q[rows, 1], base_med[rows], y_held[rows])
                    centre = self._centre(q[rows, 1], base_med[rows], self.trust[b])
                    self.shrink[b] = _calibrated_shrink(q[rows] + (centre - q[rows, 1])[:, None],
                                                        y_held[rows])
        self._fit_rows(X, y_arr)
        return self

    @staticmethod
    def _centre(forest_median: np.ndarray, base_median: np.ndarray, trust: Any) -> np.ndarray:
        """The forecast's median: the forest's, moved towards the base's by ``1 - trust``."""
        return trust * forest_median + (1 - trust) * base_median

    @staticmethod
    def _bucket(X: np.ndarray) -> np.ndarray:
        """Which part of the budget each row has observed (the spread is calibrated per part)."""
        return np.digitize(X[:, _PREFIX_POINTS + 1], _SHRINK_EDGES)

    def _fit_rows(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import ExtraTreesRegressor

        self.y = y
        self.model = ExtraTreesRegressor(
            n_estimators=self.n_trees, min_samples_leaf=3, max_features=1.0,
            random_state=self.seed, n_jobs=1).fit(X, y)
        self.leaves = self.model.apply(X)
        self.leaf_size = [np.bincount(col) for col in self.leaves.T]
        self.order = np.argsort(y, kind="stable")

    def _quantiles(self, X: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Weighted quantiles (N, Q) of the training targets that share leaves with each row."""
        leaves = self.model.apply(X)
        weights = np.zeros((X.shape[0], self.y.size))
        for t in range(leaves.shape[1]):
            same = leaves[:, t][:, None] == self.leaves[:, t][None, :]
            weights += same / self.leaf_size[t][leaves[:, t]][:, None]
        cum = np.cumsum(weights[:, self.order], axis=1) / leaves.shape[1]
        pick = np.minimum((cum[:, :, None] < levels[None, None, :]).sum(axis=1), self.y.size - 1)
        return self.y[self.order][pick]

    def _features(self, partials: Sequence[Curve],
                  med: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of features, and each partial's last value; ``med``: the base's median final.

        Columns: the resampled prefix (``_PREFIX_POINTS``), last value, share of the budget used,
        share of points observed, the base's median offset (read back by :func:`_base_offset`), then
        the encoded configuration."""
        rows, last = [], []
        for p in partials:
            s, v = p.finite
            budget = float(p.max_step or s[-1])  # partials have points, so a max_step
            grid = np.linspace(s[0], s[-1], _PREFIX_POINTS)
            rows.append(np.concatenate([(np.interp(grid, s, v) - v[-1]) / self.scale,
                                        [v[-1] / self.scale, s[-1] / budget, v.size / budget]]))
            last.append(v[-1])
        last_arr = np.asarray(last)
        extra = ((med - last_arr) / self.scale)[:, None]
        extra = np.nan_to_num(extra, nan=0.0, posinf=0.0, neginf=0.0)
        X = np.hstack([np.asarray(rows), extra, self.encoder.transform([p.config for p in partials])])
        return X, last_arr

    def forecast(self, partials: list[Curve], targets: np.ndarray, base: Forecast) -> Forecast:
        """The forest's final-value quantiles as equal-weight components (with the base forecast
        kept at weight ``_BASE_WEIGHT`` for its tails); the way there follows the base forecast's
        median path."""
        bmed = base.quantile(0.5)
        X, last = self._features(partials, bmed[:, -1])
        both = self._quantiles(X, np.append(_LEVELS, 0.5))  # one pass over the leaves
        r, med = both[:, :-1], both[:, -1:]
        bucket = self._bucket(X)
        shrink = self.shrink[bucket][:, None]
        centre = self._centre(med[:, 0], _base_offset(X), self.trust[bucket])[:, None]
        q = last[:, None] + self.scale * (centre + shrink * (r - med))  # (N, Q) final quantiles
        gaps = np.diff(q, axis=1)
        width = np.maximum(0.5 * np.median(gaps, axis=1), 0.005 * self.scale)[:, None]  # (N, 1)
        # Progress towards the final value at each target step, from the base forecast's median path.
        max_step = np.array([p.max_step for p in partials], dtype=float)[:, None]
        last_step = np.array([p.finite[0][-1] for p in partials], dtype=float)[:, None]
        span = bmed[:, -1:] - last[:, None]
        linear = np.clip((targets - last_step) / np.maximum(max_step - last_step, 1e-9), 0, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(np.abs(span) > 1e-9 * self.scale, (bmed - last[:, None]) / span, linear)
        g = np.where(targets >= max_step, 1.0, np.clip(np.nan_to_num(g, nan=1.0), 0, 1))
        means = last[:, None, None] + g[:, None, :] * (q - last[:, None])[:, :, None]
        stds = np.broadcast_to(np.maximum(g, 0.05)[:, None, :] * width[:, :, None], means.shape)
        forest = Forecast(targets, np.full(means.shape, (1 - _BASE_WEIGHT) / _LEVELS.size), means,
                          stds.copy())
        return Forecast(targets, np.concatenate([forest.weights, _BASE_WEIGHT * base.weights], 1),
                        np.concatenate([forest.means, base.means], axis=1),
                        np.concatenate([forest.stds, base.stds], axis=1))


def _base_offset(X: np.ndarray) -> np.ndarray:
    """The base predictor's median final, relative to the last value, as the forest sees it."""
    return X[:, _PREFIX_POINTS + 3]


def _trusted_share(forest_median: np.ndarray, base_median: np.ndarray, y: np.ndarray) -> float:
    """How far to trust the forest's median over the base's (0 to 1 in quarters): the share with the
    smallest absolute error on held-out targets.  Late in a curve a meta-trained base is often
    already sharper than a forest fitted on a few hundred finished trials."""
    shares = np.linspace(0.0, 1.0, 5)
    errors = [np.mean(np.abs(y - (a * forest_median + (1 - a) * base_median))) for a in shares]
    return float(shares[int(np.argmin(errors))])


def _calibrated_shrink(q: np.ndarray, y: np.ndarray) -> float:
    """The smallest factor (0.3 to 1) on the spread around the median whose 90 % interval covers
    85 % of held-out targets (the low end of the 85-95 % that a calibrated interval should cover:
    the discrete quantiles of a forest err wide); ``q``: each row's 5 %, 50 % and 95 % quantiles."""
    for factor in np.linspace(0.3, 1.0, 15):
        lo = q[:, 1] + factor * (q[:, 0] - q[:, 1])
        hi = q[:, 1] + factor * (q[:, 2] - q[:, 1])
        if np.mean((y >= lo) & (y <= hi)) >= 0.85:
            return float(factor)
    return 1.0
