"""Learned predictors: the seed paper's recursive LSTM, and lc-hpo's mixture LSTM (the default).

Both are fitted on corpora of complete curves (``fit``), save to and load from weights-only checkpoints
(``save`` / ``load``), and forecast whole batches at once.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
import torch

from ..curve import Curve
from ..forecast import Forecast
from ..predictors.base import ObservedBatch, Predictor
from .checkpoint import (CheckpointError, check_config_sizes, check_shapes, load_checkpoint,
                         save_checkpoint)
from .features import FEATURE_VERSION, Encoded, encode, query_features
from .networks import MixtureLSTM, RecursiveLSTM, mixture_nll
from .threads import single_threaded
from .training import (Batch, CurveArrays, TrainSettings, fit_loop, sample_batch, split_by_task,
                       tensors)

_CHUNK = 4096


def _encode_batch(batch: ObservedBatch) -> Encoded:
    return encode(batch.steps, batch.values, batch.n_obs, batch.max_step, batch.sign)


class _LearnedPredictor(Predictor):
    """Shared fitting, checkpointing and metadata of the learned predictors."""

    needs_fit = True
    kind = ""

    def __init__(self, hidden: int = 64, max_minutes: float = 10.0, max_steps: int = 50_000,
                 batch_size: int = 256, lr: float = 2e-3, val_fraction: float = 0.1, seed: int = 0,
                 progress: bool = False) -> None:
        if hidden < 1 or max_minutes <= 0 or max_steps < 1 or batch_size < 1 or lr <= 0:
            raise ValueError("hidden, max_minutes, max_steps, batch_size and lr must be positive")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError("val_fraction must lie between 0 and 1")
        self.hidden = hidden
        self.max_minutes = max_minutes
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.val_fraction = val_fraction
        self.seed = seed
        self.progress = progress
        self.model_: torch.nn.Module | None = None
        self.metadata_: dict[str, Any] = {}

    @property
    def is_fitted(self) -> bool:
        return self.model_ is not None

    def _settings(self) -> TrainSettings:
        return TrainSettings(batch_size=self.batch_size, lr=self.lr, max_minutes=self.max_minutes,
                             max_steps=self.max_steps, val_fraction=self.val_fraction,
                             seed=self.seed, progress=self.progress)

    def _split(self, curves: Sequence[Curve]) -> tuple[CurveArrays, CurveArrays]:
        arr = CurveArrays.from_curves(curves)
        tr, va = split_by_task(arr.tasks, self.val_fraction, self.seed)
        if len(va) == 0 or len(tr) == 0:
            raise ValueError("fit needs more curves: none are left for validation")
        single = len(set(arr.tasks)) == 1
        # A fresh dict: a standing calibration stored for the old model's P(better) (metadata
        # "standing", see lc_hpo.defaults.resolve_calibration) does not carry over.
        self.metadata_ = {
            "trained_on": {
                "curves": int(len(arr.length)),
                "tasks": sorted(set(arr.tasks)),
                "validation_tasks": sorted({arr.tasks[i] for i in va}),
                "validation_split": "by curve (one task only)" if single else "by task",
            },
        }
        return arr.subset(tr), arr.subset(va)

    def predict(self, curves: Sequence[Curve], steps: Any | None = None) -> Forecast:
        """Forecast as :meth:`Predictor.predict` does, on one intra-op thread: the networks are
        small, and torch's default pool fights the trials for the cores (the user's thread count
        comes back afterwards, see :mod:`lc_hpo.learned.threads`)."""
        with single_threaded():
            return super().predict(curves, steps)

    def _require_fitted(self) -> torch.nn.Module:
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(curves) or load a "
                               "checkpoint with .load(path)")
        return self.model_

    # --- checkpoints ---------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {"hidden": self.hidden}

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model and its metadata as a weights-only checkpoint."""
        model = self._require_fitted()
        meta = {**self.metadata_, "feature_version": FEATURE_VERSION}
        save_checkpoint(path, self.kind, model.state_dict(), self._config(), meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "_LearnedPredictor":
        """A fitted predictor from a checkpoint written by :meth:`save` (weights only)."""
        payload = load_checkpoint(path, kind=cls.kind)
        version = payload["metadata"].get("feature_version")
        if version != FEATURE_VERSION:
            raise CheckpointError(f"{path}: trained on feature encoding {version}, this lc-hpo "
                                  f"encodes curves as version {FEATURE_VERSION}; retrain it with "
                                  "'lc-hpo train'")
        try:
            check_config_sizes(payload["config"])
            self = cls(**payload["config"])
            # Sizes checked against the weights on a skeleton that allocates nothing ("meta"),
            # before anything is built: a config naming a huge model fails here, not in memory.
            with torch.device("meta"):
                skeleton = self._build()
            check_shapes(skeleton.state_dict(), payload["state_dict"])
            self.model_ = self._build()
        except (TypeError, ValueError) as exc:  # a config this version cannot build
            raise CheckpointError(f"{path}: its model configuration is not valid here "
                                  f"({exc}); retrain it with 'lc-hpo train'") from None
        try:
            self.model_.load_state_dict(payload["state_dict"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{path}: weights do not fit a {cls.kind!r} model "
                                  f"({str(exc).splitlines()[0]})") from None
        if not all(torch.isfinite(t).all() for t in self.model_.state_dict().values()):
            raise CheckpointError(f"{path}: holds non-finite weights (NaN or inf); it is corrupt, "
                                  "retrain it with 'lc-hpo train'")
        self.model_.eval()
        self.metadata_ = payload["metadata"]
        try:
            self._after_load()
        except (AttributeError, TypeError, ValueError, KeyError, ArithmeticError) as exc:
            raise CheckpointError(f"{path}: its calibration metadata is not valid "
                                  f"({type(exc).__name__}: {exc})") from None
        return self

    def _after_load(self) -> None:
        pass

    def _build(self) -> torch.nn.Module:
        raise NotImplementedError


class MixtureLSTMPredictor(_LearnedPredictor):
    """LSTM encoder + mixture-density head queried at any target step; calibrated after training.

    The head outputs a ``components``-Gaussian mixture of the normalised value at each target step;
    after training, one scale factor on the standard deviations is fitted on the validation tasks so
    that the central 90 % interval of the final value covers 90 % of them.
    """

    name = "lstm_mixture"
    kind = "lstm_mixture"

    def __init__(self, hidden: int = 64, components: int = 5, **kwargs: Any) -> None:
        super().__init__(hidden=hidden, **kwargs)
        if components < 1:
            raise ValueError("components must be at least 1")
        self.components = components
        self.std_scale_ = 1.0

    def _config(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "components": self.components}

    def _build(self) -> MixtureLSTM:
        return MixtureLSTM(hidden=self.hidden, components=self.components)

    def _after_load(self) -> None:
        self.std_scale_ = float(self.metadata_.get("calibration", {}).get("std_scale", 1.0))

    def fit(self, curves: Sequence[Curve]) -> "MixtureLSTMPredictor":
        train, val = self._split(curves)
        torch.manual_seed(self.seed)
        model = self._build()

        def loss_fn(m: torch.nn.Module, b: Batch) -> torch.Tensor:
            t = tensors(b)
            logw, mean, log_std = m(t["seq"], t["glob"], t["query"])
            return mixture_nll(logw, mean, log_std, t["target"], t["mask"])

        report = fit_loop(model, loss_fn, train, val, self._settings(), "training lstm_mixture")
        self.model_ = model
        self.std_scale_ = 1.0
        self.std_scale_, coverage = self._calibrate(val)
        self.metadata_["training"] = report
        self.metadata_["calibration"] = {"std_scale": self.std_scale_,
                                         "validation_coverage90": coverage}
        return self

    def _raw(self, enc: Encoded, targets: np.ndarray) -> tuple[np.ndarray, ...]:
        model = self._require_fitted()
        q = query_features(enc, targets)
        with torch.no_grad():
            logw, mean, log_std = model(torch.from_numpy(enc.seq), torch.from_numpy(enc.glob),
                                        torch.from_numpy(q))
        return (logw.exp().numpy().astype(float), mean.numpy().astype(float),
                log_std.exp().numpy().astype(float))

    def _forecast(self, enc: Encoded, targets: np.ndarray) -> Forecast:
        w, mz, sz = self._raw(enc, targets)  # (N, H, K)
        means = enc.to_values(mz)
        stds = enc.scale[:, None, None] * sz * self.std_scale_
        t = lambda a: np.transpose(a, (0, 2, 1))  # noqa: E731  (N, K, H)
        return Forecast(targets, t(w), t(means), t(stds))

    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:
        enc = _encode_batch(batch)
        if batch.n <= _CHUNK:
            return self._forecast(enc, targets)
        parts = []
        for s in range(0, batch.n, _CHUNK):
            sl = slice(s, s + _CHUNK)
            sub = Encoded(enc.seq[sl], enc.glob[sl], enc.centre[sl], enc.scale[sl], enc.sign[sl],
                          enc.last_step[sl], enc.max_step[sl])
            parts.append(self._forecast(sub, targets[sl]))
        return Forecast.concat(parts)

    def _calibrate(self, val: CurveArrays, n: int = 4096) -> tuple[float, float]:
        """The std scale that makes the 90 % interval of validation finals cover 90 %."""
        b = sample_batch(val, np.random.default_rng(self.seed + 2), n, 1)
        ok = b.mask[:, 0]
        finals = b.enc.to_values(b.target_z)[:, 0]
        w, mz, sz = self._raw(b.enc, b.target_steps[:, :1])

        def coverage(scale: float) -> float:
            f = Forecast(b.target_steps[:, :1], np.transpose(w, (0, 2, 1)),
                         np.transpose(b.enc.to_values(mz), (0, 2, 1)),
                         np.transpose(b.enc.scale[:, None, None] * sz * scale, (0, 2, 1)))
            lo, hi = f.interval(0.9)
            return float(np.mean(((finals >= lo[:, 0]) & (finals <= hi[:, 0]))[ok]))

        lo_s, hi_s = 0.25, 4.0
        for _ in range(20):
            mid = math.sqrt(lo_s * hi_s)
            if coverage(mid) < 0.9:
                lo_s = mid
            else:
                hi_s = mid
        scale = math.sqrt(lo_s * hi_s)
        return scale, coverage(scale)


class RecursiveLSTMPredictor(_LearnedPredictor):
    """The LSTM learning-curve paper's method: (step, value, change) in, next value out, recursively.

    Trained with teacher forcing on next-step prediction; a forecast rolls the LSTM forward from the
    last observation at the curve's own step spacing, feeding each prediction back as the next input.
    The paper gives point forecasts; for the decision rule a Gaussian spread is added whose standard
    deviation is the rollout error measured on the validation tasks, by how far ahead it forecasts.
    """

    name = "lstm"
    kind = "lstm_recursive"
    #: The seed paper's method, as the paper has it: its rollouts are not bounded.
    censor_at_bounds = False
    #: Horizon bins (fractions of the budget ahead) of the measured rollout error.
    BINS = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.01])

    def __init__(self, hidden: int = 64, **kwargs: Any) -> None:
        super().__init__(hidden=hidden, **kwargs)
        self.error_std_ = np.ones(len(self.BINS) - 1)

    def _build(self) -> RecursiveLSTM:
        return RecursiveLSTM(hidden=self.hidden)

    def _after_load(self) -> None:
        self.error_std_ = np.asarray(self.metadata_.get("calibration", {}).get(
            "error_std", [1.0] * (len(self.BINS) - 1)), dtype=float)

    def fit(self, curves: Sequence[Curve]) -> "RecursiveLSTMPredictor":
        train, val = self._split(curves)
        torch.manual_seed(self.seed)
        model = self._build()

        def loss_fn(m: torch.nn.Module, b: Batch) -> torch.Tensor:
            x, y, mask = _teacher_forcing(b, train if m.training else val)
            pred, _ = m(torch.from_numpy(x))
            err = (pred - torch.from_numpy(y)) ** 2 * torch.from_numpy(mask)
            return err.sum() / torch.from_numpy(mask).sum().clamp(min=1)

        report = fit_loop(model, loss_fn, train, val, self._settings(), "training lstm")
        self.model_ = model
        self.error_std_ = self._measure_errors(val)
        self.metadata_["training"] = report
        self.metadata_["calibration"] = {"error_std": self.error_std_.tolist(),
                                         "bins": self.BINS.tolist()}
        return self

    def _rollout(self, enc: Encoded, steps: np.ndarray, values: np.ndarray, n_obs: np.ndarray,
                 targets: np.ndarray) -> np.ndarray:
        """Point forecasts (N, H) in z units: read the prefix, then predict step by step."""
        model: Any = self._require_fitted()  # a RecursiveLSTM: its lstm and out layers are read
        N = len(n_obs)
        x, _, _ = _paper_inputs(enc, steps, values)
        gap = _median_gap(steps, n_obs)
        R = int(np.clip(np.ceil((targets.max(axis=1) - enc.last_step) / gap).max(initial=0), 0,
                        1024))
        u_last = enc.last_step / enc.max_step
        du = gap / enc.max_step
        preds = np.zeros((N, R + 1))
        with torch.no_grad():
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                torch.from_numpy(x), torch.from_numpy(n_obs.astype(np.int64)), batch_first=True,
                enforce_sorted=False)
            h, state = model.lstm(packed)
            h, _ = torch.nn.utils.rnn.pad_packed_sequence(h, batch_first=True)
            last = h[torch.arange(N), torch.from_numpy(n_obs.astype(np.int64) - 1)]
            z_prev = np.zeros(N)  # the last observation is the centre: z = 0
            z = model.out(last).squeeze(-1).numpy().astype(float)
            for r in range(1, R + 1):
                preds[:, r] = z
                if r == R:
                    break
                inp = np.stack([u_last + r * du, z, z - z_prev], axis=1)[:, None, :]
                o, state = model(torch.from_numpy(inp.astype(np.float32)), state)
                z_prev, z = z, o[:, -1].numpy().astype(float)
        grid_u = u_last[:, None] + np.arange(R + 1)[None, :] * du[:, None]
        tu = targets / enc.max_step[:, None]
        return np.stack([np.interp(tu[i], grid_u[i], preds[i]) for i in range(N)])

    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:
        enc = _encode_batch(batch)
        z = self._rollout(enc, batch.steps, batch.values, batch.n_obs, targets)
        ahead = (targets - enc.last_step[:, None]) / enc.max_step[:, None]
        b = np.clip(np.digitize(ahead, self.BINS) - 1, 0, len(self.error_std_) - 1)
        std = enc.scale[:, None] * self.error_std_[b]
        return Forecast.gaussian(targets, enc.to_values(z), std)

    def _measure_errors(self, val: CurveArrays, n: int = 2048) -> np.ndarray:
        """RMS rollout error (z units) on validation tasks, per horizon bin."""
        b = sample_batch(val, np.random.default_rng(self.seed + 2), n, 4)
        z = self._rollout(b.enc, b.prefix_steps, b.prefix_values, b.n_obs, b.target_steps)
        ahead = (b.target_steps - b.enc.last_step[:, None]) / b.enc.max_step[:, None]
        bins = np.clip(np.digitize(ahead, self.BINS) - 1, 0, len(self.BINS) - 2)
        out = np.ones(len(self.BINS) - 1)
        err = (z - b.target_z) ** 2
        for k in range(len(out)):
            sel = (bins == k) & b.mask
            if sel.sum() >= 20:
                out[k] = math.sqrt(float(err[sel].mean()))
            elif k:
                out[k] = out[k - 1]
        return np.maximum.accumulate(out)


def _paper_inputs(enc: Encoded, steps: np.ndarray,
                  values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's per-step inputs (u, z, dz), (N, L, 3), for training and forecasting alike.

    Also returns ``z`` and where it is finite: diverged values enter as z = 0.
    """
    z = enc.to_z(values)
    finite = np.isfinite(z)
    z = np.where(finite, z, 0.0)
    u = steps / enc.max_step[:, None]
    dz = np.diff(z, axis=1, prepend=z[:, :1])
    return np.stack([u, z, dz], axis=-1).astype(np.float32), z, finite


def _median_gap(steps: np.ndarray, n_obs: np.ndarray) -> np.ndarray:
    """Per row, the median gap between observed steps (at least 1)."""
    gaps = np.ones(len(n_obs))
    for i, n in enumerate(n_obs.tolist()):
        if n >= 2:
            gaps[i] = max(float(np.median(np.diff(steps[i, :n]))), 1.0)
    return gaps


def _teacher_forcing(b: Batch, arr: CurveArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole curves normalised with their observed prefix: inputs (u, z, dz) and next-value targets."""
    length = arr.length[b.rows]
    x, z_f, finite = _paper_inputs(b.enc, arr.steps[b.rows], arr.values[b.rows])
    y = np.concatenate([z_f[:, 1:], np.zeros((len(z_f), 1))], axis=1).astype(np.float32)
    pos = np.arange(z_f.shape[1])[None, :]
    ok_next = np.concatenate([finite[:, 1:], np.zeros((len(z_f), 1), bool)], axis=1)
    mask = (finite & ok_next & (pos < length[:, None] - 1)).astype(np.float32)
    return x, y, mask
