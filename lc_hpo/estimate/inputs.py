"""Input checks for the training-time estimator: what it was given, and what was wrong with it.

Kept apart from the estimator so that :meth:`TrainingTimeEstimator.fit` (model and data) and
:meth:`TrainingTimeEstimator.predict` (SGD's hyperparameters) each refuse bad input with one clear
``ValueError`` before any work is done.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .._validation import check_int
from .ntk import outputs

LOSSES = ("cross_entropy", "mse")


def check_loss(loss: str) -> str:
    """``loss`` if it is one the estimator models (its gradient in function space is known)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def check_sgd(lr: float, batch_size: int, momentum: float, weight_decay: float,
              target_loss: float, max_steps: int, n_paths: int) -> None:
    """SGD's hyperparameters as ``torch.optim.SGD`` accepts them, plus the target and horizon."""
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    check_int("batch_size", batch_size)
    check_int("max_steps", max_steps)
    check_int("n_paths", n_paths)
    if not (isinstance(momentum, (int, float)) and 0.0 <= momentum < 1.0):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not (isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay)
            and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    if not (isinstance(target_loss, (int, float)) and math.isfinite(target_loss)):
        raise ValueError(f"target_loss must be finite, got {target_loss!r}")


def as_tensors(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, y) as tensors: given as tensors, or gathered from a DataLoader of (inputs, targets)."""
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


def check_shapes(net: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                 loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's outputs on X (N, C) and y in the form the loss takes, or why they do not fit."""
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


def full_loss(loss: str, out: torch.Tensor, y: torch.Tensor) -> float:
    """The loss on the whole data set, as ``torch.nn.functional`` defines it (mean reduction)."""
    if loss == "cross_entropy":
        return float(F.cross_entropy(out, y))
    return float(F.mse_loss(out, y))


__all__ = ["LOSSES", "as_tensors", "check_loss", "check_sgd", "check_shapes", "full_loss"]
