"""Training dynamics of the linearised network in function space (Zancato et al. 2020).

On the M subset samples, with the subset kernel rescaled to the N samples of the data set
(Θ̃ = U Λ Uᵀ, :func:`rescale_to_full`), one SGD step of the linearised network moves the outputs by

    f ← f − (η/N) Θ̃ g(f) − η λ_wd (J w0 + f − f0) + noise,

where g(f) stacks each sample's loss gradient with respect to its outputs (softmax(f) − onehot(y) for
cross-entropy, 2 (f − y) / C for the mean squared error) and the weight-decay term pulls the weights
towards zero (J w0 is what that pull does to the outputs).  Each sample keeps its own block of Θ
(self-influence); the pull of the other N − 1 samples is estimated from the other M − 1.

* MSE without noise: the recursion is affine, so the loss at every step is a closed form in the
  eigenbasis (:func:`mse_closed_form`).
* Cross-entropy, and either loss with SGD noise: the outputs are iterated (:func:`simulate`).  The
  minibatch noise of batch size B has covariance (η² / B) (N − B) / (N − 1) Cov_i(v_i), where
  v_i = Θ_{:,i} g_i is how sample i's gradient moves the outputs; it is simulated as a low-dimensional
  SDE in the eigen-directions that move within the horizon (Euler–Maruyama on a grid coarse enough to
  be cheap and fine enough to stay accurate).
* Momentum m: the effective rate η / (1 − m) (the heavy-ball SDE limit), with the momentum buffer's
  warm-up counted: after t steps the weights have moved as far as t − m (1 − m^t) / (1 − m) steps at
  the effective rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: A mode moves at most this fraction of its residual per simulation step (see :func:`simulate`).
STIFF = 0.5
#: A direction is kept when it moves at least this much (η λ_i t / M) within the horizon.
MOVES = 1e-3


@dataclass(frozen=True)
class Spectrum:
    """Θ's eigendecomposition, descending, restricted to the directions worth keeping."""

    values: np.ndarray  # (k,)
    vectors: np.ndarray  # (M*C, k)
    top: float  # the largest eigenvalue of Θ


#: Drive the shared directions by the whole data's gradient at step 0 (one backward pass and one jvp).
FULL_DRIFT = False
#: How the subset's cross-sample coupling is scaled to N samples (see :func:`rescale_to_full`).
RESCALE = "linear"
MODES = ("calibrated", "signal", "debias", "bulk", "linear")


@dataclass(frozen=True)
class Rescaled:
    """The subset kernel scaled to the full data set, and the parts the SGD noise is made of."""

    theta: np.ndarray  # (M*C, M*C) Θ̃, used at rate η / N
    blocks: np.ndarray  # (M, C, C) each sample's own block of Θ (self-influence)
    cross: np.ndarray  # (M*C, M*C) Θ off its diagonal blocks, unscaled (one sample's pull on others)
    edge: float  # the noise bulk's edge in the cross part (0 with mode "linear")
    gain: float = 1.0  # how much the cross part's signal was amplified (s but with "calibrated")
    signal: np.ndarray | None = None  # (M*C, r) the cross part's eigenvectors above its noise bulk


def rescale_to_full(theta: np.ndarray, C: int, n_total: int, mode: str | None = None,
                    g0: np.ndarray | None = None, slope: float | None = None) -> Rescaled:
    """The subset kernel Θ̃ whose dynamics at rate η / N mimic the full data's on the subset's outputs.

    Sample i's outputs move by (η / N) [Θ_ii g_i + Σ_{j ≠ i} Θ_ij g_j]; its own block D stays as it
    is, and the sum over the other N − 1 samples is estimated from the other M − 1 through the
    cross part O = Θ − D, with s = (N − 1) / (M − 1).  Modes (:data:`MODES`; default
    :data:`RESCALE`):

    * ``"linear"`` (default): Θ̃ = D + s·O.  Unbiased at step 0, but indefinite (most of its
      eigenvalues are negative once s·O's bulk outweighs D) and the negative part is clipped by
      :func:`spectrum`, so the predicted loss starts to fall too fast (docs/estimate.md).
    * ``"bulk"``: O's eigen-components above its noise bulk (the bulk's edge read from O's most
      negative eigenvalue) scaled by s, the rest by sqrt(s) (a random matrix's edge grows as the
      square root of the sample count).
    * ``"signal"``: Θ + (s − 1)·O_signal: only the shared directions are amplified (positive
      semi-definite by construction).
    * ``"calibrated"``: Θ + (γ − 1)·O_signal with γ in [1, s] fitted so that the loss starts to fall
      as fast as the whole data set's exact gradient says (``g0``, ``slope``:
      :func:`calibrated_gain`).
    * ``"debias"``: a gain per shared direction from the subset's cross terms (:func:`shared_gain`).

    None beat ``"linear"`` on the development seed's real fine-tuning runs, so it stays the default;
    the others are kept for the ablation (``benchmarks/estimate_ablate.py``).
    """
    mode = RESCALE if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    M = theta.shape[0] // C
    s = (n_total - 1) / max(M - 1, 1)
    blocks = np.stack([theta[i * C:(i + 1) * C, i * C:(i + 1) * C] for i in range(M)])
    cross = theta.copy()
    for i in range(M):
        cross[i * C:(i + 1) * C, i * C:(i + 1) * C] = 0.0
    edge = 0.0
    if mode == "linear" or s == 1.0:
        scaled = s * cross
    else:
        vals, vecs = np.linalg.eigh(cross)
        edge = max(-float(vals[0]), 0.0)
        signal = vals > edge
        sig = (vecs[:, signal] * vals[signal]) @ vecs[:, signal].T
        if mode == "calibrated":
            gain = calibrated_gain(theta, sig, g0, slope, s)
            return Rescaled(theta=theta + (gain - 1.0) * sig, blocks=blocks, cross=cross, edge=edge,
                            gain=gain, signal=vecs[:, signal])
        if mode == "signal":
            return Rescaled(theta=theta + (s - 1.0) * sig, blocks=blocks, cross=cross, edge=edge,
                            gain=s, signal=vecs[:, signal])
        if mode == "debias":
            gains = shared_gain(vecs[:, signal], g0, C, s)
            amp = (vecs[:, signal] * (vals[signal] * (gains - 1.0))) @ vecs[:, signal].T
            return Rescaled(theta=theta + amp, blocks=blocks, cross=cross, edge=edge)
        scaled = s * sig + math.sqrt(s) * (cross - sig)
    out = scaled.copy()
    for i in range(M):
        out[i * C:(i + 1) * C, i * C:(i + 1) * C] = blocks[i]
    return Rescaled(theta=out, blocks=blocks, cross=cross, edge=edge, gain=s)


def calibrated_gain(theta: np.ndarray, sig: np.ndarray, g0: np.ndarray | None,
                    slope: float | None, s: float) -> float:
    """The gain γ in [1, s] at which Θ + (γ − 1) O_signal makes the loss fall as fast at step 0 as
    the whole data set's exact gradient says.

    With full-batch steps the loss starts to fall at rate η |∇L|²; the subset kernel at rate η/N
    says η gᵀ Θ̃ g / (N M) (``slope`` is N M |∇L|², already divided by how much the subset's
    starting loss differs from the whole set's).  That is linear in γ, so one number of the whole
    data (one backward pass) fixes how strongly the subset's shared directions stand for all N
    samples, instead of s = (N − 1) / (M − 1), which also amplifies the subset's own sampling noise.
    Without ``slope`` (or without signal) the gain is s.
    """
    if g0 is None or slope is None or not math.isfinite(slope):
        return s
    g = g0.reshape(-1)
    base, extra = float(g @ theta @ g), float(g @ sig @ g)
    if extra <= 0:
        return s
    return float(np.clip(1.0 + (slope - base) / extra, 1.0, s))


def shared_gain(vecs: np.ndarray, g0: np.ndarray | None, C: int, s: float) -> np.ndarray:
    """Per signal direction, how much N samples pull along it compared with the M of the subset.

    Along a direction u the subset's gradient energy (uᵀg)² is the samples' own parts Σ_i (u_iᵀg_i)²
    plus the cross terms Σ_{i≠j}; with N samples the own parts count once and the cross terms s
    times, so the gain is (own + s·cross) / (own + cross), kept in [1, s].  The own parts are the
    subset's sampling noise in the mean gradient: amplifying them by s made the subset fit its own
    noise N / M times too strongly.
    """
    if g0 is None or vecs.shape[1] == 0:
        return np.full(vecs.shape[1], s)
    M = g0.shape[0]
    per_sample = (vecs.reshape(M, C, -1) * g0.reshape(M, C, 1)).sum(axis=1)  # (M, k) u_iᵀ g_i
    own = (per_sample ** 2).sum(axis=0)
    total = per_sample.sum(axis=0) ** 2
    gain = (own + s * (total - own)) / np.maximum(total, 1e-300)
    return np.clip(np.where(total > 0, gain, 1.0), 1.0, s)


def spectrum(theta: np.ndarray) -> Spectrum:
    vals, vecs = np.linalg.eigh(theta)
    vals, vecs = vals[::-1].clip(min=0.0), vecs[:, ::-1]
    return Spectrum(values=vals, vectors=vecs, top=float(vals[0]) if vals.size else 0.0)


def keep_moving(spec: Spectrum, lr: float, n: int, horizon: int, max_dirs: int) -> Spectrum:
    """The eigen-directions that move within ``horizon`` steps (at most ``max_dirs``)."""
    moves = lr * spec.values * horizon / n >= MOVES  # n: the full N (Θ̃ is rescaled to it)
    k = int(min(max(int(moves.sum()), 1), max_dirs))
    return Spectrum(values=spec.values[:k], vectors=spec.vectors[:, :k], top=spec.top)


# --- losses and their gradients with respect to the outputs -------------------------------------
def per_sample_loss(loss: str, f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each sample's loss, shape f.shape[:-1] (f is (..., M, C))."""
    if loss == "cross_entropy":
        m = f.max(axis=-1, keepdims=True)
        lse = (m + np.log(np.exp(f - m).sum(axis=-1, keepdims=True)))[..., 0]
        idx = np.broadcast_to(y.astype(int)[:, None], f.shape[:-1] + (1,))
        return lse - np.take_along_axis(f, idx, -1)[..., 0]
    return ((f - y) ** 2).mean(axis=-1)


def grad(loss: str, f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d loss_i / d f_i for every sample (same shape as f)."""
    if loss == "cross_entropy":
        p = np.exp(f - f.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        p[..., np.arange(f.shape[-2]), y.astype(int)] -= 1.0
        return p
    return 2.0 * (f - y) / f.shape[-1]


def sharpness(loss: str, theta: np.ndarray, f0: np.ndarray, top: float, n: int,
              iters: int = 50) -> float:
    """The largest eigenvalue of the Gauss-Newton matrix at w0 in function space, per sample.

    For the MSE it is (2/C) λ_max(Θ) / N; for cross-entropy λ_max(Θ H) / N, with H the block-diagonal
    softmax Hessian, by power iteration.  Gradient descent on the linearised model is stable while
    η λ < 2 (the classical step-size limit), and diverges beyond it.
    """
    M, C = f0.shape
    if loss != "cross_entropy":
        return 2.0 * top / (C * n)
    p = np.exp(f0 - f0.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)

    def h(v: np.ndarray) -> np.ndarray:
        v = v.reshape(M, C)
        return (p * v - p * (p * v).sum(axis=1, keepdims=True)).reshape(-1)

    v = np.random.default_rng(0).normal(size=M * C)
    lam = 0.0
    for _ in range(iters):
        w = theta @ h(v) / n
        lam = float(np.linalg.norm(w) / max(np.linalg.norm(v), 1e-300))
        v = w / max(np.linalg.norm(w), 1e-300)
    return lam


# --- MSE, noise-free: closed form ----------------------------------------------------------------
def mse_closed_form(spec: Spectrum, f0: np.ndarray, y: np.ndarray, jw0: np.ndarray | None,
                    lr: float, wd: float, times: np.ndarray, n_total: int) -> np.ndarray:
    """Full-batch GD loss of the linearised network at ``times`` (effective steps), exactly.

    With a = 2 η / (N C) and residual r = f − y: r ← (I − a Θ − η λ_wd) r − η λ_wd (y + J w0 − f0),
    an affine recursion whose solution is r_t = r* + (I − a Θ − η λ_wd)^t (r_0 − r*).
    """
    M, C = f0.shape
    r0 = (f0 - y).reshape(-1)
    a = 2.0 * lr / (n_total * C)
    U, lam = spec.vectors, spec.values
    if wd > 0:
        b = -lr * wd * (y + (jw0 if jw0 is not None else 0.0) - f0).reshape(-1)
        # fixed point r* solves (a Θ + η λ_wd) r* = b, in the eigenbasis plus the rest of the space
        c_b = U.T @ b
        rest_b = b - U @ c_b
        r_star_c = c_b / (a * lam + lr * wd)
        r_star_rest = rest_b / (lr * wd)
    else:
        r_star_c = np.zeros(lam.size)
        r_star_rest = np.zeros(M * C)
    c0 = U.T @ r0 - r_star_c
    rest0 = r0 - U @ (U.T @ r0) - r_star_rest
    factor = 1.0 - a * lam - lr * wd
    t = np.asarray(times, dtype=float)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        in_span = r_star_c[None, :] + (factor[None, :] ** t) * c0[None, :]
        out = (1.0 - lr * wd) ** t[:, 0]
        energy = (in_span ** 2).sum(axis=1) + ((r_star_rest[None, :] + out[:, None] * rest0[None, :]) ** 2
                                               ).sum(axis=1)
    return energy / (M * C)


# --- simulation: iterated output dynamics with SGD noise ------------------------------------------
@dataclass(frozen=True)
class Paths:
    times: np.ndarray  # (T,) effective steps of the grid
    losses: np.ndarray  # (P, T) loss on the M samples along each path


def simulate(loss: str, spec: Spectrum, f0: np.ndarray, y: np.ndarray, jw0: np.ndarray | None, *,
             lr: float, wd: float, batch_size: int, n_total: int, horizon: int, curvature: float,
             n_paths: int, noise: bool, rng: np.random.Generator, n_grid: int = 200,
             cross: np.ndarray | None = None, bias: np.ndarray | None = None,
             bias_basis: np.ndarray | None = None) -> Paths:
    """Iterate the linearised outputs for ``horizon`` effective steps along ``n_paths`` SDE paths.

    Steps of ``horizon / n_grid`` SGD steps (at least 1) are taken; modes faster than that are
    slowed to :data:`STIFF` per step, stiffness read from ``curvature`` (:func:`sharpness`).
    ``spec`` is that of the rescaled kernel Θ̃ (:func:`rescale_to_full`); ``cross`` is the unscaled
    cross-sample part O that the minibatch noise is made of (one sample's pull on the others).
    """
    M, C = f0.shape
    rho = max(n_total - batch_size, 0) / max(n_total - 1, 1)  # finite-population factor
    noisy = noise and rho > 0
    P = n_paths if noisy else 1
    s = int(max(1, math.ceil(horizon / n_grid)))
    n_steps = int(math.ceil(horizon / s))
    U = np.ascontiguousarray(spec.vectors, dtype=np.float32)  # (MC, k)
    # Stiff modes (those that relax within one grid step) are slowed to relax by at most half per
    # step, so the explicit iteration stays stable at the effective rate η/(1 − m) even where a
    # step of it alone would not be (heavy-ball SGD is stable up to η λ < 2 (1 + m)); they are
    # done within a few steps either way.  h is the loss curvature in function space at w0.
    h = curvature * n_total / max(spec.top, 1e-300)  # the loss curvature along the top mode
    lam = np.minimum(spec.values, STIFF * n_total / (lr * s * h)).astype(np.float32)
    # U_kᵀ O: maps sample i's gradient to its pull on the others' outputs in the kept directions;
    # a stiff mode's noise is slowed as much as its drift (its variance settles within a step)
    cross_u = None
    if cross is not None and noisy:
        slowed = np.divide(lam, spec.values, out=np.ones_like(lam), where=spec.values > 0)
        cross_u = ((cross @ spec.vectors) * slowed).astype(np.float32)
    # the whole data's pull along the shared directions, where the subset's own differs (step 0),
    # fading as the subset's gradient along them is fitted
    bias_u, bias_ref = None, 1.0
    if bias is not None and bias_basis is not None:
        slowed_b = np.divide(lam, spec.values, out=np.ones_like(lam), where=spec.values > 0)
        bias_u = ((spec.vectors.T @ bias) * slowed_b).astype(np.float32)
        bias_ref = max(float(np.linalg.norm(grad(loss, f0, y).reshape(-1) @ bias_basis)), 1e-30)
    f = np.broadcast_to(f0, (P, M, C)).astype(np.float32)
    f0_32 = f0.astype(np.float32)
    drift_wd = (jw0 - f0).astype(np.float32) if wd > 0 else None  # J w0 is required then
    noise_scale = lr * math.sqrt(rho * s / (batch_size * M)) if noisy else 0.0
    times = np.minimum(np.arange(n_steps + 1, dtype=float) * s, float(horizon))
    out = np.empty((P, n_steps + 1))
    out[:, 0] = per_sample_loss(loss, f0_32[None], y).mean(axis=1)
    for j in range(1, n_steps + 1):
        g = grad(loss, f, y)  # (P, M, C)
        a = g.reshape(P, M * C) @ U * lam  # (P, k) = U_kᵀ Θ g = Σ_i v_i, v_i = Λ U_kᵀ[i] g_i
        if bias_u is not None and bias_basis is not None:
            left = np.linalg.norm(g.reshape(P, M * C) @ bias_basis, axis=1) / bias_ref
            a = a + left[:, None] * bias_u
        move = (lr * s / n_total) * a
        if noisy:
            # v_i = U_kᵀ O_{:,i} g_i, how sample i's gradient moves the others' outputs (O: Θ off its
            # diagonal blocks); Σ_i ε_i (v_i − v̄), ε ~ N(0, I_M), has covariance M Cov_i(v_i).
            eps = rng.standard_normal((P, M)).astype(np.float32)
            eg = eps[:, :, None] * g
            if cross_u is None:
                raise ValueError("simulating the SGD noise needs the cross-sample kernel (cross)")
            z = eg.reshape(P, M * C) @ cross_u
            vbar = (g.reshape(P, M * C) @ cross_u) / M
            z -= eps.sum(axis=1)[:, None] * vbar
            move -= noise_scale * z
        f -= (move @ U.T).reshape(P, M, C)
        if drift_wd is not None:
            f -= (lr * wd * s) * (f + drift_wd)
        out[:, j] = per_sample_loss(loss, f, y).mean(axis=1)
        if not np.isfinite(out[:, j]).all():
            out[:, j:] = np.inf
            break
    return Paths(times=times, losses=out)


# --- momentum: real steps and effective steps -----------------------------------------------------
def effective_steps(t: np.ndarray, momentum: float) -> np.ndarray:
    """How many steps at rate η / (1 − m) the heavy ball has moved after t real steps."""
    t = np.asarray(t, dtype=float)
    if momentum == 0:
        return t
    m = momentum
    return np.maximum(t - m * (1.0 - m ** t) / (1.0 - m), 0.0)


def real_steps(tau: np.ndarray, momentum: float) -> np.ndarray:
    """The inverse of :func:`effective_steps` (by bisection; exact for m = 0)."""
    tau = np.asarray(tau, dtype=float)
    if momentum == 0:
        return tau
    lo = np.zeros_like(tau)
    hi = tau + momentum / (1.0 - momentum) + 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        below = effective_steps(mid, momentum) < tau
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.where(np.isfinite(tau), hi, np.inf)


__all__ = ["MODES", "RESCALE", "Paths", "Rescaled", "Spectrum", "effective_steps", "grad", "keep_moving",
           "mse_closed_form", "per_sample_loss", "real_steps", "rescale_to_full", "shared_gain",
           "calibrated_gain",
           "sharpness", "simulate", "spectrum"]
