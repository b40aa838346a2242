"""An Optuna study whose trials train on the LRPO short schedule, then the winner retrained in full.

Each trial trains a small PyTorch MLP on scikit-learn's 8x8 digits (bundled, nothing is downloaded)
with :func:`lc_hpo.lrpo.lrpo_schedule`: 10 warm epochs at the trial's rate, one jump epoch, 5 fine-tune
epochs, 16 in all, reporting validation accuracy each epoch.  The study ranks configurations by that
short run; the best configuration is then trained for the full budget at a constant rate (the paper's
baseline) and scored on a test split the study never saw.  With the defaults, 30 s on 2 shared CPU
cores (docs/lrpo.md):

    python examples/lrpo_optuna.py [--trials 20] [--full-epochs 60] [--mode code]

Copy ``short_run`` into your own objective: what LRPO needs is your epoch loop's training loss.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import optuna
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from lc_hpo.lrpo import LRPO, lrpo_schedule


def split_digits(seed: int = 0) -> dict[str, torch.Tensor]:
    """Train / validation / test splits of digits, scaled to [0, 1]."""
    x, y = load_digits(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(x / 16.0, y, test_size=0.25,
                                                      random_state=seed, stratify=y)
    x_tr, x_val, y_tr, y_val = train_test_split(x_rest, y_rest, test_size=0.25,
                                                random_state=seed, stratify=y_rest)
    f = torch.float32
    return {"x_train": torch.tensor(x_tr, dtype=f), "y_train": torch.tensor(y_tr),
            "x_val": torch.tensor(x_val, dtype=f), "y_val": torch.tensor(y_val),
            "x_test": torch.tensor(x_test, dtype=f), "y_test": torch.tensor(y_test)}


class Model:
    """An MLP with batch norm and dropout (the LRPO code's layout, scaled down), SGD with momentum."""

    def __init__(self, config: dict, data: dict[str, torch.Tensor], seed: int) -> None:
        torch.manual_seed(seed)
        w = config["width"]
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, w), torch.nn.BatchNorm1d(w), torch.nn.ReLU(),
            torch.nn.Dropout(config["dropout"]),
            torch.nn.Linear(w, w // 2), torch.nn.BatchNorm1d(w // 2), torch.nn.ReLU(),
            torch.nn.Dropout(config["dropout"]), torch.nn.Linear(w // 2, 10))
        self.opt = torch.optim.SGD(self.net.parameters(), lr=config["lr"], momentum=0.9,
                                   weight_decay=1e-4)
        self.data, self.batch_size = data, config["batch_size"]

    def train_epoch(self) -> float:
        """One epoch over the training split; its mean training loss."""
        self.net.train()
        x, y = self.data["x_train"], self.data["y_train"]
        total = 0.0
        for idx in torch.randperm(len(y)).split(self.batch_size):
            if len(idx) < 2:  # batch norm needs two samples
                continue
            loss = torch.nn.functional.cross_entropy(self.net(x[idx]), y[idx])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += loss.item() * len(idx)
        return total / len(y)

    @torch.no_grad()
    def accuracy(self, split: str) -> float:
        self.net.eval()
        pred = self.net(self.data[f"x_{split}"]).argmax(1)
        return float((pred == self.data[f"y_{split}"]).float().mean())


def suggest(trial: optuna.Trial) -> dict:
    return {"lr": trial.suggest_float("lr", 0.005, 0.3, log=True),
            "width": trial.suggest_categorical("width", [32, 64, 128]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128])}


def short_run(trial: optuna.Trial, data: dict, mode: str) -> float:
    """The objective: one LRPO short schedule, reporting validation accuracy every epoch."""
    model = Model(suggest(trial), data, seed=trial.number)
    ctl = lrpo_schedule(model.opt, model.train_epoch, evaluate=lambda: model.accuracy("val"),
                        report=lambda e: trial.report(e["metric"], e["epoch"]), mode=mode)
    trial.set_user_attr("alpha", ctl.alpha)
    trial.set_user_attr("epochs", ctl.total_epochs)
    return ctl.history[-1]["metric"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--full-epochs", type=int, default=60)
    parser.add_argument("--mode", default="code", choices=["code", "predictor"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = split_digits(args.seed)
    start = time.perf_counter()
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=args.seed))
    study.optimize(lambda t: short_run(t, data, args.mode), n_trials=args.trials)
    search_s = time.perf_counter() - start
    best = study.best_trial
    short_epochs = sum(t.user_attrs["epochs"] for t in study.trials)

    start = time.perf_counter()
    model = Model(best.params, data, seed=best.number)
    for _ in range(args.full_epochs):  # the full run: constant rate, as the paper's baseline
        model.train_epoch()
    full_s = time.perf_counter() - start
    alphas = [t.user_attrs["alpha"] for t in study.trials]
    print(f"{args.trials} trials, LRPO {args.mode} mode, {LRPO(model.opt).total_epochs} epochs each "
          f"(alpha from {min(alphas):.2f} to {max(alphas):.2f}); {search_s:.1f} s")
    print(f"best configuration: {best.params}")
    print(f"  validation accuracy after its short run: {best.value:.4f}")
    print(f"  retrained for {args.full_epochs} epochs: test accuracy {model.accuracy('test'):.4f} "
          f"({full_s:.1f} s)")
    full_search = args.trials * args.full_epochs
    used = short_epochs + args.full_epochs
    print(f"epochs trained: {used} (short study + one full retrain) instead of {full_search} for "
          f"the same study at full length: {100 * (1 - used / full_search):.0f} % saved")
    assert np.isfinite(best.value)


if __name__ == "__main__":
    main()
