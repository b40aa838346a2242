"""``TrainingTimeEstimator``: the kernel once per model and data, then any number of SGD settings.

Zancato et al. (2020), "Predicting training time without training": fine-tuning from pretrained
weights stays close to the network's linearisation, whose dynamics in function space are fixed by the
empirical NTK on the training data.  Its spectrum (on M samples, rescaled to all N) gives the
full-batch loss curve in closed form (MSE) or by iterating the outputs (cross-entropy); the SGD noise
of the batch size is a low-dimensional SDE around it.  See :mod:`lc_hpo.estimate.dynamics`.

The kernel, its eigendecomposition, the outputs f0, J w0 and the full-data starting loss depend only on
the model, the data and the loss, never on the learning rate, batch size, momentum, weight decay,
target or horizon.  A sweep estimates many settings of one model on one data set, so the work is split
the scikit-learn way: :meth:`~TrainingTimeEstimator.fit` computes the kernel (the expensive part),
:meth:`~TrainingTimeEstimator.predict` runs the dynamics for one setting.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_int
from . import dynamics as dyn
from .inputs import as_tensors, check_loss, check_sgd, check_shapes, full_loss
from .ntk import Kernel, empirical_ntk, full_pull, gradient_norm2, trainable
from .result import TrainingTimeEstimate

#: The default subset is sized so that the kernel has about this many rows (samples × outputs).
KERNEL_ROWS = 1024
#: At most this many eigen-directions are simulated (the fastest; the rest barely move).
MAX_DIRECTIONS = 64
#: A simulated mean loss this many times the starting loss means the dynamics diverge.
DIVERGED_FACTOR = 10.0
#: Above this many steps the curve is stored on a grid rather than at every step.
DENSE_STEPS = 5000
#: Random half-splits of the kernel's subset whose spread widens the steps interval.
HALF_SPLITS = 2


class EstimateWarning(UserWarning):
    """The estimate was made, but with a caveat (e.g. the dynamics diverge)."""


class NotFittedError(ValueError, AttributeError):
    """``predict`` was called before ``fit`` (scikit-learn's convention: both error types)."""


class TrainingTimeEstimator:
    """Predicts the SGD steps fine-tuning runs from one model on one data set need to reach a loss.

    ``fit(model, X, y)`` computes the linearised network's kernel on a subset of the data once;
    ``predict(lr=..., batch_size=..., target_loss=..., max_steps=...)`` then predicts one SGD
    setting's loss curve and steps to the target from it, in a fraction of ``fit``'s time.

    Args:
        loss: ``"cross_entropy"`` (mean over samples) or ``"mse"`` (mean over all elements), as
            ``torch.nn.functional`` defines them.
        n_samples: Samples M on which the kernel is computed (default: about 1024 / outputs).
        seed: Seeds the subset, the random projection and the SDE paths (each ``predict`` starts
            its paths from the same state, so predictions do not depend on their order).
        projection_dim: Jacobian rows are CountSketched to this size above it (memory bound).

    Attributes (after ``fit``):
        fit_seconds_: ``fit``'s wall time.
        initial_loss_: The loss on the whole of (X, y) at the model's weights.
        n_total_: N, the samples in (X, y); ``subset_size_``: M, those the kernel was computed on.
        kernel_: The :class:`~lc_hpo.estimate.ntk.Kernel` on the subset.
        gradient_norm2_: |∇L|² on the whole of (X, y) (NaN unless the rescaling is
            ``"calibrated"`` and the subset is not all of it).
        gain_: How strongly the subset's shared (signal) directions were amplified to stand for
            all N samples, calibrated so that the predicted loss starts to fall as fast as
            ``gradient_norm2_`` says (:func:`~lc_hpo.estimate.dynamics.calibrated_gain`).
        bulk_edge_: The edge of the cross-sample kernel's noise bulk that separates the signal.
    """

    def __init__(self, loss: str = "cross_entropy", n_samples: int | None = None, seed: int = 0,
                 *, projection_dim: int = 16384) -> None:
        self.loss = loss
        self.n_samples = n_samples
        self.seed = seed
        self.projection_dim = projection_dim

    def __repr__(self) -> str:
        return (f"TrainingTimeEstimator(loss={self.loss!r}, n_samples={self.n_samples!r}, "
                f"seed={self.seed!r}, projection_dim={self.projection_dim!r})")

    # --- fit: everything that depends only on the model, the data and the loss --------------------
    def fit(self, model: torch.nn.Module, X: Any, y: torch.Tensor | None = None
            ) -> TrainingTimeEstimator:
        """Compute the kernel of ``model`` (at its current weights) on a subset of (X, y).

        Args:
            model: The network at its pretrained weights (with the head it will be fine-tuned
                with).  Its trainable parameters are the ones that train; it is never modified (a
                copy in eval mode is linearised, so dropout and batch-norm statistics are frozen).
            X: Inputs, a tensor of shape (N, ...); or a DataLoader yielding (inputs, targets), with
                ``y`` None.
            y: Class indices (cross-entropy) or targets shaped like the model's outputs (MSE).

        Returns:
            self.

        Raises:
            ValueError: bad parameters, no trainable parameters, shapes that do not match, or a
                starting loss that is not finite.
        """
        start = time.perf_counter()
        loss = check_loss(self.loss)
        check_int("n_samples", self.n_samples, 2, allow_none=True,
                  why="the kernel's cross-sample part needs two samples")
        check_int("seed", self.seed, 0)
        check_int("projection_dim", self.projection_dim)
        X, y = as_tensors(X, y)
        if not trainable(model):
            raise ValueError("the model has no trainable parameters (requires_grad=True): "
                             "nothing would train")
        net = copy.deepcopy(model).eval()
        out, y = check_shapes(net, X, y, loss)
        initial = full_loss(loss, out, y)
        if not math.isfinite(initial):
            raise ValueError(f"the model's loss on (X, y) at its current weights is {initial}; "
                             "the estimate needs a finite starting loss")
        N, C = out.shape
        M = min(N, self.n_samples if self.n_samples is not None else max(32, KERNEL_ROWS // C))
        rng = np.random.default_rng(self.seed)
        idx = np.sort(rng.choice(N, size=M, replace=False)) if M < N else np.arange(N)
        kernel = empirical_ntk(net, X[idx], projection_dim=self.projection_dim,
                               weight_decay=True, seed=self.seed)
        self.kernel_: Kernel = kernel
        self.y_subset_ = (y[idx].numpy().astype(np.int64) if loss == "cross_entropy"
                          else y[idx].double().numpy().reshape(M, C))
        # one backward pass over all the data, only where the rescaling is calibrated on it
        self.gradient_norm2_ = (gradient_norm2(net, X, y, loss)
                                if M < N and dyn.RESCALE == "calibrated" else math.nan)
        pull = (full_pull(net, X, y, loss, X[idx])
                if M < N and dyn.FULL_DRIFT and dyn.RESCALE in ("signal", "calibrated") else None)
        self._pull = pull
        self._main = _fit_subset(loss, kernel.theta, kernel.f0, self.y_subset_, kernel.jw0, N,
                                 initial, self.gradient_norm2_, pull)
        self.gain_ = self._main.gain
        self.cross_, self.bulk_edge_ = self._main.cross, self._main.edge
        self.spectrum_, self.sharpness_ = self._main.spec, self._main.sharpness
        self._halves = (_fit_halves(loss, kernel, self.y_subset_, N, self.seed, initial,
                                    self.gradient_norm2_, pull) if M < N else [])
        self.initial_loss_ = initial
        self.n_total_, self.subset_size_ = int(N), int(M)
        self._rng_state = rng.bit_generator.state  # the SDE paths continue the subset's stream
        self.fit_seconds_ = time.perf_counter() - start
        return self

    # --- predict: the dynamics for one SGD setting ------------------------------------------------
    def predict(self, *, lr: float, batch_size: int, momentum: float = 0.0,
                weight_decay: float = 0.0, target_loss: float, max_steps: int,
                noise: bool = True, n_paths: int = 8) -> TrainingTimeEstimate:
        """Predict the loss curve and steps to ``target_loss`` of SGD with these hyperparameters.

        Args:
            lr, batch_size, momentum, weight_decay: SGD's hyperparameters (``torch.optim.SGD``).
            target_loss: The loss on the whole of (X, y) to reach.
            max_steps: The horizon: steps past it are reported as ``math.inf``.
            noise: Simulate the SGD noise (False: the noise-free ODE of full-batch descent).
            n_paths: SDE paths simulated (they give the intervals).

        Returns:
            A :class:`TrainingTimeEstimate`; its ``seconds`` is this call's own wall time.

        Raises:
            NotFittedError: ``fit`` has not been called.
            ValueError: bad hyperparameters, or a target the model already reaches at step 0.
        """
        start = time.perf_counter()
        if not hasattr(self, "fit_seconds_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call "
                                 "'fit' with the model and its data before using 'predict'.")
        check_sgd(lr, batch_size, momentum, weight_decay, target_loss, max_steps, n_paths)
        initial = self.initial_loss_
        if initial <= target_loss:
            raise ValueError(f"target_loss={target_loss} is already reached at step 0 (the loss "
                             f"on (X, y) is {initial:.6g}): pick a lower target")
        hyper = {"lr": float(lr), "batch_size": int(batch_size), "momentum": float(momentum),
                 "weight_decay": float(weight_decay)}
        common: dict[str, Any] = dict(initial_loss=initial, target_loss=float(target_loss),
                                      max_steps=int(max_steps), loss=self.loss,
                                      hyperparameters=hyper, n_samples=self.subset_size_)
        note = self._unstable(lr, momentum, weight_decay)
        if note:
            warnings.warn(note, EstimateWarning, stacklevel=2)
            return _diverged(note, time.perf_counter() - start, common)
        sgd: dict[str, Any] = dict(lr=lr, batch_size=batch_size, momentum=momentum,
                                   weight_decay=weight_decay, max_steps=max_steps)
        real, losses, ode = self._dynamics(self._main, noise=noise, n_paths=n_paths, **sgd)
        # The subset's starting loss is a noisy estimate of the whole set's: rescale to the exact one.
        losses, ode = _to_initial(losses, initial), _to_initial(ode, initial)
        halves = np.zeros((0, 0))
        if noise and self._halves:
            halves = np.concatenate([_to_initial(self._dynamics(h, noise=False, n_paths=1, **sgd)[2],
                                                 initial) for h in self._halves])
        if not np.isfinite(losses).all() or losses.mean(axis=0).max() > DIVERGED_FACTOR * initial:
            note = "the simulated linearised dynamics diverge at this learning rate"
            warnings.warn(note, EstimateWarning, stacklevel=2)
            return _diverged(note, time.perf_counter() - start, common)
        note = ""
        if self.kernel_.projected:
            note = (f"kernel from a {self.projection_dim}-dimensional sketch of the "
                    f"{self.kernel_.n_params}-parameter Jacobian")
        M, N = self.subset_size_, self.n_total_
        shrink = math.sqrt((N - M) / (2 * N - M))  # (1/M - 1/N) / (2/M - 1/N): halves to M
        est = TrainingTimeEstimate(steps=math.inf, steps_interval=(math.inf, math.inf),
                                   diverges=False, seconds=0.0, note=note, times=real,
                                   paths=losses, ode=ode[0], subsets=halves,
                                   subset_shrink=shrink, **common)
        steps, interval = est.steps_to(target_loss)
        return dataclasses.replace(est, steps=steps, steps_interval=interval,
                                   seconds=time.perf_counter() - start)

    def _unstable(self, lr: float, momentum: float, weight_decay: float) -> str:
        """Why the linearised dynamics diverge at this rate, or "" if they do not.

        Heavy-ball gradient descent on the quadratic (linearised, Gauss-Newton) model is stable while
        lr · sharpness < 2 (1 + momentum).  Exact for the MSE; for cross-entropy it is the model at
        the pretrained weights (the classical step-size limit).
        """
        curvature = self.sharpness_ + weight_decay
        stability, limit = lr * curvature, 2.0 * (1.0 + momentum)
        if stability < limit:
            return ""
        return (f"the linearised dynamics diverge at this learning rate: lr times the sharpness "
                f"{curvature:.4g} is {stability:.3g} >= 2 (1 + momentum) = {limit:.3g}; lower lr "
                f"below {limit / curvature:.4g}")

    def _dynamics(self, sub: _Subset, *, lr: float, batch_size: int, momentum: float,
                  weight_decay: float, max_steps: int, noise: bool, n_paths: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(real steps, loss paths (P, T), noise-free loss (1, T)) on one subset, unscaled."""
        N, spec = self.n_total_, sub.spec
        lr_eff = lr / (1.0 - momentum)
        horizon = float(dyn.effective_steps(np.array([max_steps]), momentum)[0])
        if self.loss == "mse" and (not noise or batch_size >= N):
            real = (np.arange(max_steps + 1, dtype=float) if max_steps <= DENSE_STEPS
                    else np.unique(np.linspace(0, max_steps, DENSE_STEPS + 1).round()))
            losses = dyn.mse_closed_form(spec, sub.f0, sub.y, sub.jw0, lr_eff, weight_decay,
                                         dyn.effective_steps(real, momentum), N)[None, :]
            return real, losses, losses
        rng = np.random.default_rng()
        rng.bit_generator.state = self._rng_state
        kept = dyn.keep_moving(spec, lr_eff, N, int(math.ceil(horizon)), MAX_DIRECTIONS)
        runs = [dyn.simulate(self.loss, kept, sub.f0, sub.y, sub.jw0, lr=lr_eff,
                             wd=weight_decay, batch_size=batch_size, n_total=N,
                             horizon=int(math.ceil(horizon)), curvature=self.sharpness_,
                             n_paths=n_paths, noise=with_noise, rng=rng, cross=sub.cross,
                             bias=sub.bias, bias_basis=sub.bias_basis)
                for with_noise in ((noise, False) if noise else (False,))]
        real = np.minimum(dyn.real_steps(runs[0].times, momentum), max_steps)
        real[-1] = max_steps
        return real, runs[0].losses, runs[-1].losses


@dataclass(frozen=True)
class _Subset:
    """One subset's kernel rescaled to N, and the outputs its dynamics start from."""

    spec: dyn.Spectrum
    cross: np.ndarray
    edge: float
    gain: float
    sharpness: float
    f0: np.ndarray
    y: np.ndarray
    jw0: np.ndarray | None
    bias: np.ndarray | None = None  # the whole data's pull minus the subset's, shared directions
    bias_basis: np.ndarray | None = None


def _fit_subset(loss: str, theta: np.ndarray, f0: np.ndarray, y: np.ndarray,
                jw0: np.ndarray | None, n_total: int, initial: float, grad2: float,
                pull: np.ndarray | None = None) -> _Subset:
    """Rescale a subset's kernel to ``n_total`` samples and decompose it.

    ``initial`` and ``grad2`` (the whole set's loss and |∇L|²) calibrate how strongly the subset's
    shared directions stand for all samples (:func:`~lc_hpo.estimate.dynamics.calibrated_gain`); the
    predicted curve is later rescaled by initial / the subset's own loss, so the slope is too.
    """
    M, C = f0.shape
    sub_loss = float(dyn.per_sample_loss(loss, f0, y).mean())
    slope = n_total * M * grad2 * sub_loss / initial if sub_loss > 0 else math.nan
    scaled = dyn.rescale_to_full(theta, C, n_total, g0=dyn.grad(loss, f0, y), slope=slope)
    spec = dyn.spectrum(scaled.theta)
    bias = None
    if pull is not None and scaled.signal is not None and scaled.signal.shape[1]:
        # where the whole data's pull differs from the subset's own along the shared directions
        V = scaled.signal
        bias = V @ (V.T @ (pull.reshape(-1) - scaled.theta @ dyn.grad(loss, f0, y).reshape(-1)))
    return _Subset(spec=spec, cross=scaled.cross, edge=scaled.edge, gain=scaled.gain,
                   sharpness=dyn.sharpness(loss, scaled.theta, f0, spec.top, n_total),
                   f0=f0, y=y, jw0=jw0, bias=bias,
                   bias_basis=scaled.signal if bias is not None else None)


def _fit_halves(loss: str, kernel: Kernel, y: np.ndarray, n_total: int, seed: int,
                initial: float, grad2: float, pull: np.ndarray | None = None) -> list[_Subset]:
    """The kernel's subset split in random halves, :data:`HALF_SPLITS` times (no new Jacobians:
    each half's kernel is a block of the subset's).  Their spread is the subset's uncertainty."""
    M, C = kernel.f0.shape
    if M < 8:
        return []
    rng = np.random.default_rng([seed, 1])
    out = []
    for _ in range(HALF_SPLITS):
        perm = rng.permutation(M)
        for half in (np.sort(perm[:M // 2]), np.sort(perm[M // 2:])):
            rows = (half[:, None] * C + np.arange(C)).reshape(-1)
            out.append(_fit_subset(loss, kernel.theta[np.ix_(rows, rows)], kernel.f0[half],
                                   y[half], None if kernel.jw0 is None else kernel.jw0[half],
                                   n_total, initial, grad2,
                                   None if pull is None else pull[half]))
    return out


def _to_initial(losses: np.ndarray, initial: float) -> np.ndarray:
    """Loss curves rescaled so that they start at the whole data set's exact starting loss."""
    start = float(losses[0, 0])
    return losses * (initial / start) if start > 0 and math.isfinite(start) else losses


def _diverged(note: str, seconds: float, common: dict[str, Any]) -> TrainingTimeEstimate:
    """The estimate of a run whose linearised dynamics diverge: never reaches the target."""
    return TrainingTimeEstimate(steps=math.inf, steps_interval=(math.inf, math.inf), diverges=True,
                                seconds=seconds, note=note, **common)


def with_seconds(estimate: TrainingTimeEstimate, seconds: float) -> TrainingTimeEstimate:
    """The same estimate reporting another wall time (e.g. fit and predict together)."""
    return dataclasses.replace(estimate, seconds=seconds)


__all__ = ["DIVERGED_FACTOR", "EstimateWarning", "KERNEL_ROWS", "MAX_DIRECTIONS", "NotFittedError",
           "TrainingTimeEstimator", "with_seconds"]
