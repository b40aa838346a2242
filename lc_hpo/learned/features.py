"""How a learned predictor sees a partial curve: normalised, direction-free, scale-free features.

One encoding for training and inference, so that what a network learned is what it is asked:

* **direction**: values of a ``min`` curve are negated, so that "up" always means "better";
* **location and scale**: from the *observed prefix only*, the centre is the last finite value and the
  scale the range of the prefix (at least 10 % of the centre's magnitude, so that a flat prefix, such
  as a run stuck at chance, does not make every later change look infinite), so accuracies in [0, 1]
  or [0, 100], losses near 0.7 or 700, all look alike; ``z = (v - centre) / scale``;
* **bounds**: what the shape alone cannot tell, whether the metric is near a bound it cannot cross
  (an accuracy of 0.98 cannot gain 0.1), enters as the last raw value's distance to 0, 1 and 100 in
  scale units, squashed;
* **steps**: as fractions of the budget ``u = step / max_step``, so irregular steps and any
  ``max_step`` are handled; the budget itself enters as ``log max_step``;
* **diverged measurements** (NaN) are left out of the sequence, as the predictors' batches do.

Sequences keep the last :data:`SEQ_LEN` observations, right-aligned (the last observation in the last
slot) with an explicit padding flag, so that one LSTM pass over a padded batch reads every curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..bounds import NATURAL_BOUNDS

if TYPE_CHECKING:
    from ..curve import Curve

#: Bumped whenever the encoding changes: a checkpoint only fits the encoding it was trained with.
FEATURE_VERSION = 2
SEQ_LEN = 64
Z_CLIP = 100.0
REL_SCALE_FLOOR = 0.1
#: Per-step inputs of the mixture model: u, z, dz, du, pad.
N_SEQ_FEATURES = 5
#: Per-curve inputs: u_last, log max_step, log relative scale, log n_obs, z of the first kept point,
#: the signed log-magnitude of the last value, and its distances to 0, 1 and 100 in scale units.
N_GLOBAL_FEATURES = 9
#: Per-target inputs: u_target, u_target - u_last, log(target / last step).
N_QUERY_FEATURES = 3


@dataclass(frozen=True)
class Encoded:
    """Encoded batch: ``seq`` (N, L, F), ``glob`` (N, G), and what maps ``z`` back to values."""

    seq: np.ndarray
    glob: np.ndarray
    centre: np.ndarray  # (N,) in direction-free units
    scale: np.ndarray  # (N,)
    sign: np.ndarray  # (N,) +1 for max, -1 for min
    last_step: np.ndarray  # (N,)
    max_step: np.ndarray  # (N,)

    def to_values(self, z: np.ndarray) -> np.ndarray:
        """Map ``z`` (N, ...) back to the curves' own units (means; a scale for stds is ``scale``)."""
        shape = (-1,) + (1,) * (z.ndim - 1)
        return self.sign.reshape(shape) * (self.centre.reshape(shape) + self.scale.reshape(shape) * z)

    def to_z(self, values: np.ndarray) -> np.ndarray:
        """Map values (N, ...) in the curves' units to ``z``, clipped to ±:data:`Z_CLIP`."""
        shape = (-1,) + (1,) * (values.ndim - 1)
        z = (self.sign.reshape(shape) * values - self.centre.reshape(shape)) / self.scale.reshape(shape)
        return np.clip(z, -Z_CLIP, Z_CLIP)


def compact_prefix(steps: np.ndarray, values: np.ndarray, cutoff: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The finite measurements among the first ``cutoff`` positions of each row, left-aligned.

    ``steps``/``values`` are (N, L) padded arrays (NaN values = diverged or padding).  Returns
    (steps, values, n_obs) in the layout of :class:`~lc_hpo.predictors.base.ObservedBatch`.
    """
    N, L = values.shape
    pos = np.arange(L)[None, :]
    ok = np.isfinite(values) & (pos < cutoff[:, None])
    rank = np.cumsum(ok, axis=1) - 1
    out_s = np.ones((N, L))
    out_v = np.zeros((N, L))
    rows = np.broadcast_to(np.arange(N)[:, None], (N, L))
    out_s[rows[ok], rank[ok]] = steps[ok]
    out_v[rows[ok], rank[ok]] = values[ok]
    n_obs = ok.sum(axis=1)
    # Pad after the last observation with it, as ObservedBatch does.
    last = np.maximum(n_obs - 1, 0)
    fill = pos >= n_obs[:, None]
    out_s = np.where(fill, out_s[np.arange(N), last][:, None], out_s)
    out_v = np.where(fill, out_v[np.arange(N), last][:, None], out_v)
    return out_s, out_v, n_obs


def encode(steps: np.ndarray, values: np.ndarray, n_obs: np.ndarray, max_step: np.ndarray,
           sign: np.ndarray, seq_len: int = SEQ_LEN) -> Encoded:
    """Encode left-aligned observed prefixes (every row must have ``n_obs >= 1``)."""
    N, L = values.shape
    if np.any(n_obs < 1):
        raise ValueError("every curve needs at least one finite measurement to be encoded")
    pos = np.arange(L)[None, :]
    valid = pos < n_obs[:, None]
    v = sign[:, None] * values
    idx_last = n_obs - 1
    rows = np.arange(N)
    centre = v[rows, idx_last]
    lo = np.where(valid, v, np.inf).min(axis=1)
    hi = np.where(valid, v, -np.inf).max(axis=1)
    scale = np.maximum(hi - lo, REL_SCALE_FLOOR * np.abs(centre))
    scale = np.maximum(scale, 1e-12)
    z = np.clip((v - centre[:, None]) / scale[:, None], -Z_CLIP, Z_CLIP)
    u = steps / max_step[:, None]

    # Right-align the last ``seq_len`` observations.
    start = np.maximum(n_obs - seq_len, 0)
    take = start[:, None] + np.arange(seq_len)[None, :] - np.maximum(seq_len - n_obs, 0)[:, None]
    real = take >= start[:, None]
    take_c = np.clip(take, 0, L - 1)
    zs = np.where(real, np.take_along_axis(z, take_c, axis=1), 0.0)
    us = np.where(real, np.take_along_axis(u, take_c, axis=1), 0.0)
    prev_real = np.concatenate([np.zeros((N, 1), bool), real[:, :-1]], axis=1)
    dz = np.where(real & prev_real, np.diff(zs, axis=1, prepend=0.0), 0.0)
    du = np.where(real & prev_real, np.diff(us, axis=1, prepend=0.0), 0.0)
    seq = np.stack([us, zs, dz, du, (~real).astype(float)], axis=-1)

    last_step = steps[rows, idx_last]
    first_kept = zs[rows, np.argmax(real, axis=1)]
    raw_last = values[rows, idx_last]
    bounds = [np.arcsinh((b - raw_last) / scale) for b in NATURAL_BOUNDS]
    glob = np.stack([
        last_step / max_step,
        np.log(max_step),
        np.log(scale / np.maximum(np.abs(centre), 1e-12)).clip(-10, 10),
        np.log(n_obs),
        first_kept,
        np.sign(raw_last) * np.log1p(np.abs(raw_last)),
        *bounds,
    ], axis=1)
    return Encoded(seq.astype(np.float32), glob.astype(np.float32), centre, scale, sign,
                   last_step.astype(float), max_step.astype(float))


def query_features(enc: Encoded, targets: np.ndarray) -> np.ndarray:
    """Per target step (N, H) the query inputs (N, H, Q)."""
    ut = targets / enc.max_step[:, None]
    ul = (enc.last_step / enc.max_step)[:, None]
    ratio = np.log(np.maximum(targets, 1e-9) / enc.last_step[:, None])
    return np.stack([ut, ut - ul, ratio], axis=-1).astype(np.float32)


def batch_arrays(curves: Sequence[Curve]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Padded (N, L) steps and values (NaN = diverged or padding), max_step and sign of curves."""
    L = max(len(c) for c in curves)
    steps = np.ones((len(curves), L))
    values = np.full((len(curves), L), math.nan)
    for i, c in enumerate(curves):
        steps[i, : len(c)] = c.steps
        values[i, : len(c)] = c.values
        if len(c):
            steps[i, len(c):] = c.steps[-1]
    max_step = np.array([float(c.max_step or c.last_step or 1) for c in curves])
    sign = np.array([1.0 if c.mode == "max" else -1.0 for c in curves])
    return steps, values, max_step, sign
