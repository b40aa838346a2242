"""``estimate_training_time``: how many SGD steps a fine-tuning run needs, predicted without training.

Zancato et al. (2020), "Predicting training time without training": fine-tuning from pretrained
weights stays close to the network's linearisation, whose dynamics in function space are fixed by the
empirical NTK on the training data.  Its spectrum (on M samples, rescaled to all N) gives the
full-batch loss curve in closed form (MSE) or by iterating the outputs (cross-entropy); the SGD noise
of the batch size is a low-dimensional SDE around it.  See :mod:`lc_hpo.estimate.dynamics`.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import dynamics as dyn
from .ntk import empirical_ntk, outputs, trainable
from .result import TrainingTimeEstimate, steps_to_target

LOSSES = ("cross_entropy", "mse")
#: The default subset is sized so that the kernel has about this many rows (samples × outputs).
KERNEL_ROWS = 1024
#: At most this many eigen-directions are simulated (the fastest; the rest barely move).
MAX_DIRECTIONS = 64
#: A simulated mean loss this many times the starting loss means the dynamics diverge.
DIVERGED_FACTOR = 10.0
#: Above this many steps the curve is stored on a grid rather than at every step.
DENSE_STEPS = 5000


class EstimateWarning(UserWarning):
    """The estimate was made, but with a caveat (e.g. the dynamics diverge)."""


def estimate_training_time(
    model: torch.nn.Module,
    X: Any,
    y: torch.Tensor | None = None,
    *,
    loss: str = "cross_entropy",
    lr: float,
    batch_size: int,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    target_loss: float,
    max_steps: int,
    n_samples: int | None = None,
    seed: int = 0,
    noise: bool = True,
    n_paths: int = 8,
    projection_dim: int = 16384,
) -> TrainingTimeEstimate:
    """Predict the SGD steps a fine-tuning run from ``model``'s current weights needs to reach a loss.

    Args:
        model: The network at its pretrained weights (with the head it will be fine-tuned with).
            Its trainable parameters are the ones that train; it is never modified (a copy in eval
            mode is linearised, so dropout and batch-norm statistics are frozen).
        X: Inputs, a tensor of shape (N, ...); or a DataLoader yielding (inputs, targets), with
            ``y`` None.
        y: Class indices (cross-entropy) or targets shaped like the model's outputs (MSE).
        loss: ``"cross_entropy"`` (mean over samples) or ``"mse"`` (mean over all elements), as
            ``torch.nn.functional`` defines them.
        lr, batch_size, momentum, weight_decay: SGD's hyperparameters (``torch.optim.SGD``).
        target_loss: The loss on the whole of (X, y) to reach.
        max_steps: The horizon: steps past it are reported as ``math.inf``.
        n_samples: Samples M on which the kernel is computed (default: about 1024 / outputs).
        seed: Seeds the subset, the random projection and the SDE paths.
        noise: Simulate the SGD noise (False: the noise-free ODE of full-batch descent).
        n_paths: SDE paths simulated (they give the intervals).
        projection_dim: Jacobian rows are CountSketched to this size above it (memory bound).

    Returns:
        A :class:`TrainingTimeEstimate`.

    Raises:
        ValueError: no trainable parameters, bad hyperparameters, shapes that do not match, or a
            target the model already reaches at step 0.
    """
    start = time.perf_counter()
    _check_hyperparameters(loss, lr, batch_size, momentum, weight_decay, target_loss, max_steps,
                           n_samples, n_paths)
    X, y = _as_tensors(X, y)
    if not trainable(model):
        raise ValueError("the model has no trainable parameters (requires_grad=True): "
                         "nothing would train")
    net = copy.deepcopy(model).eval()
    out, y = _check_shapes(net, X, y, loss)
    initial = _full_loss(loss, out, y)
    if not math.isfinite(initial):
        raise ValueError(f"the model's loss on (X, y) at its current weights is {initial}; "
                         "the estimate needs a finite starting loss")
    if initial <= target_loss:
        raise ValueError(f"target_loss={target_loss} is already reached at step 0 (the loss on "
                         f"(X, y) is {initial:.6g}): pick a lower target")

    N, C = out.shape
    M = min(N, n_samples if n_samples is not None else max(32, KERNEL_ROWS // C))
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(N, size=M, replace=False)) if M < N else np.arange(N)
    kernel = empirical_ntk(net, X[idx], projection_dim=projection_dim,
                           weight_decay=weight_decay > 0, seed=seed)
    ys = (y[idx].numpy().astype(np.int64) if loss == "cross_entropy"
          else y[idx].double().numpy().reshape(M, C))
    theta, blocks, scale = dyn.rescale_to_full(kernel.theta, C, N)
    spec = dyn.spectrum(theta)
    curvature = dyn.sharpness(loss, theta, kernel.f0, spec.top, N)
    lr_eff = lr / (1.0 - momentum)
    hyper = {"lr": float(lr), "batch_size": int(batch_size), "momentum": float(momentum),
             "weight_decay": float(weight_decay)}
    common: dict[str, Any] = dict(initial_loss=initial, target_loss=float(target_loss),
                                  max_steps=int(max_steps), loss=loss, hyperparameters=hyper,
                                  n_samples=int(M))
    # Heavy-ball gradient descent on the quadratic (linearised, Gauss-Newton) model is stable while
    # lr · sharpness < 2 (1 + momentum); past it the linearised dynamics diverge.  Exact for the MSE;
    # for cross-entropy it is the model at the pretrained weights (the classical step-size limit).
    stability = lr * (curvature + weight_decay)
    limit = 2.0 * (1.0 + momentum)
    if stability >= limit:
        note = (f"the linearised dynamics diverge at this learning rate: lr times the sharpness "
                f"{curvature + weight_decay:.4g} is {stability:.3g} >= 2 (1 + momentum) = "
                f"{limit:.3g}; lower lr below {limit / (curvature + weight_decay):.4g}")
        warnings.warn(note, EstimateWarning, stacklevel=2)
        return TrainingTimeEstimate(steps=math.inf, steps_interval=(math.inf, math.inf),
                                    diverges=True, seconds=time.perf_counter() - start,
                                    note=note, **common)

    horizon = float(dyn.effective_steps(np.array([max_steps]), momentum)[0])
    rho_zero = batch_size >= N
    if loss == "mse" and (not noise or rho_zero):
        real = (np.arange(max_steps + 1, dtype=float) if max_steps <= DENSE_STEPS
                else np.unique(np.linspace(0, max_steps, DENSE_STEPS + 1).round()))
        losses = dyn.mse_closed_form(spec, kernel.f0, ys, kernel.jw0, lr_eff, weight_decay,
                                     dyn.effective_steps(real, momentum), N)[None, :]
        ode = losses
    else:
        kept = dyn.keep_moving(spec, lr_eff, N, int(math.ceil(horizon)), MAX_DIRECTIONS)
        runs = [dyn.simulate(loss, kept, kernel.f0, ys, kernel.jw0, lr=lr_eff, wd=weight_decay,
                             batch_size=batch_size, n_total=N, horizon=int(math.ceil(horizon)),
                             curvature=curvature, n_paths=n_paths, noise=with_noise, rng=rng,
                             blocks=blocks, scale=scale)
                for with_noise in ((noise, False) if noise else (False,))]
        real = np.minimum(dyn.real_steps(runs[0].times, momentum), max_steps)
        real[-1] = max_steps
        losses, ode = runs[0].losses, runs[-1].losses
    # The subset's starting loss is a noisy estimate of the whole set's: rescale to the exact one.
    subset_initial = float(losses[0, 0])
    if subset_initial > 0 and math.isfinite(subset_initial):
        losses = losses * (initial / subset_initial)
        ode = ode * (initial / subset_initial)
    note = ""
    mean = losses.mean(axis=0)
    if not np.isfinite(losses).all() or mean.max() > DIVERGED_FACTOR * initial:
        note = "the simulated linearised dynamics diverge at this learning rate"
        warnings.warn(note, EstimateWarning, stacklevel=2)
        return TrainingTimeEstimate(steps=math.inf, steps_interval=(math.inf, math.inf),
                                    diverges=True, seconds=time.perf_counter() - start,
                                    note=note, **common)
    steps, interval = steps_to_target(real, losses, target_loss, False)
    if kernel.projected:
        note = (f"kernel from a {projection_dim}-dimensional sketch of the "
                f"{kernel.n_params}-parameter Jacobian")
    return TrainingTimeEstimate(steps=steps, steps_interval=interval, diverges=False,
                                seconds=time.perf_counter() - start, note=note, times=real,
                                paths=losses, ode=ode[0], **common)


# --- input checks ----------------------------------------------------------------------------------
def _check_hyperparameters(loss: str, lr: float, batch_size: int, momentum: float,
                           weight_decay: float, target_loss: float, max_steps: int,
                           n_samples: int | None, n_paths: int) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    for name, v in (("batch_size", batch_size), ("max_steps", max_steps), ("n_paths", n_paths)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if n_samples is not None and (isinstance(n_samples, bool) or not isinstance(
            n_samples, (int, np.integer)) or n_samples < 1):
        raise ValueError(f"n_samples must be a positive integer or None, got {n_samples!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    if not math.isfinite(target_loss):
        raise ValueError(f"target_loss must be finite, got {target_loss!r}")


def _as_tensors(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(X, torch.Tensor):
        if y is not None or not hasattr(X, "__iter__"):
            raise ValueError("X must be a tensor with y a tensor, or a DataLoader of (inputs, "
                             "targets) with y=None")
        xs, ys = [], []
        for batch in X:
            if not isinstance(batch, (list, tuple)) or len(batch) < 2:
                raise ValueError("a DataLoader given as X must yield (inputs, targets) pairs")
            xs.append(torch.as_tensor(batch[0]))
            ys.append(torch.as_tensor(batch[1]))
        if not xs:
            raise ValueError("the DataLoader given as X yielded no batches")
        X, y = torch.cat(xs), torch.cat(ys)
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"y must be a tensor, got {type(y).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if len(X) < 2:
        raise ValueError("X needs at least 2 samples")
    return X, y


def _check_shapes(net: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                  loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        raw = outputs(net, X)
    except Exception as exc:  # noqa: BLE001 - any failure here is a shape/type mismatch to report
        raise ValueError(f"the model could not be applied to X of shape {tuple(X.shape)} "
                         f"({type(exc).__name__}: {exc})") from exc
    if loss == "cross_entropy":
        if y.dim() != 1 or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise ValueError("for cross_entropy, y must be a 1-D tensor of class indices, got "
                             f"dtype {y.dtype} shape {tuple(y.shape)}")
        if raw.shape[1] < 2:
            raise ValueError(f"for cross_entropy the model needs at least 2 outputs, it has "
                             f"{raw.shape[1]}")
        if int(y.min()) < 0 or int(y.max()) >= raw.shape[1]:
            raise ValueError(f"class indices in y must lie in [0, {raw.shape[1]}) (the model's "
                             f"outputs), got [{int(y.min())}, {int(y.max())}]")
        return raw.double(), y.long()
    target = y.double().reshape(len(y), -1)
    if target.shape != raw.shape:
        raise ValueError(f"for mse, y must match the model's outputs: outputs are "
                         f"{tuple(raw.shape)}, y is {tuple(y.shape)}")
    return raw.double(), target


def _full_loss(loss: str, out: torch.Tensor, y: torch.Tensor) -> float:
    if loss == "cross_entropy":
        return float(F.cross_entropy(out, y))
    return float(F.mse_loss(out, y))


__all__ = ["EstimateWarning", "estimate_training_time"]
