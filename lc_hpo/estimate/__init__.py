"""Training time without training: the linearised-SDE estimator (Zancato et al. 2020).

``TrainingTimeEstimator(loss=...).fit(model, X, y)`` computes the empirical NTK of the network at its
pretrained weights once; ``.predict(lr=..., batch_size=..., target_loss=..., max_steps=...)`` then
predicts, before a fine-tuning run trains, its training-loss curve and the SGD steps it needs to reach
the target.  ``estimate_training_time(model, X, y, ...)`` does both for one setting.  Plain PyTorch;
no framework.  :mod:`lc_hpo.budget_prior` turns estimates into budget decisions for Optuna and Ray Tune.
"""

from .api import estimate_training_time
from .estimator import EstimateWarning, NotFittedError, TrainingTimeEstimator
from .result import TrainingTimeEstimate

__all__ = ["EstimateWarning", "NotFittedError", "TrainingTimeEstimate", "TrainingTimeEstimator",
           "estimate_training_time"]
