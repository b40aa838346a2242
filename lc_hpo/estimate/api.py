"""``estimate_training_time``: one SGD setting's training time, predicted without training.

A thin wrapper over :class:`~lc_hpo.estimate.estimator.TrainingTimeEstimator` (``fit`` then
``predict``) for the one-off question; a sweep over many settings of one model on one data set
should fit the estimator once and call ``predict`` per setting.
"""

from __future__ import annotations

from typing import Any

import torch

from .estimator import EstimateWarning, TrainingTimeEstimator, with_seconds
from .inputs import check_loss, check_sgd
from .result import TrainingTimeEstimate


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

    The same as ``TrainingTimeEstimator(loss, n_samples, seed, projection_dim=...).fit(model, X,
    y).predict(lr=..., ...)``, with ``seconds`` the wall time of both.  Arguments as there: ``X`` a
    tensor (with ``y``) or a DataLoader of (inputs, targets) (with ``y=None``); ``loss`` is
    ``"cross_entropy"`` or ``"mse"``; SGD's hyperparameters as ``torch.optim.SGD`` takes them;
    ``max_steps`` the horizon (steps past it are ``math.inf``); ``noise=False`` gives the noise-free
    ODE; ``n_paths`` SDE paths give the intervals.  The model is never modified.

    Raises:
        ValueError: no trainable parameters, bad hyperparameters, shapes that do not match, or a
            target the model already reaches at step 0.
    """
    check_loss(loss)
    check_sgd(lr, batch_size, momentum, weight_decay, target_loss, max_steps, n_paths)
    est = TrainingTimeEstimator(loss, n_samples, seed, projection_dim=projection_dim)
    est.fit(model, X, y)
    e = est.predict(lr=lr, batch_size=batch_size, momentum=momentum, weight_decay=weight_decay,
                    target_loss=target_loss, max_steps=max_steps, noise=noise, n_paths=n_paths)
    return with_seconds(e, est.fit_seconds_ + e.seconds)


__all__ = ["EstimateWarning", "estimate_training_time"]
