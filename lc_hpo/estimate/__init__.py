"""Training time without training: the linearised-SDE estimator (Zancato et al. 2020).

``estimate_training_time(model, X, y, lr=..., batch_size=..., target_loss=..., max_steps=...)``
predicts, before a fine-tuning run trains, its training-loss curve and the SGD steps it needs to reach
a target loss, from the empirical NTK of the network at its pretrained weights.  Plain PyTorch; no
framework.  :mod:`lc_hpo.budget_prior` turns estimates into budget decisions for Optuna and Ray Tune.
"""

from .api import EstimateWarning, estimate_training_time
from .result import TrainingTimeEstimate

__all__ = ["EstimateWarning", "TrainingTimeEstimate", "estimate_training_time"]
