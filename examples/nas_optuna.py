"""A NAS sweep with Optuna: NAS-Bench-201-style cell networks trained for real, each trial's
architecture handed to the pruner, LCPruner with an architecture-aware predictor beside LCPruner's
default and Optuna's MedianPruner.

Every trial samples a cell (six edges, each one of ``none``, ``skip_connect``, ``nor_conv_1x1``,
``nor_conv_3x3``, ``avg_pool_3x3``), how many cells each of two stages stacks and their channels,
builds the network in PyTorch and trains it on scikit-learn's 8x8 digits (nothing is downloaded),
reporting validation accuracy every epoch.  ``set_architecture(trial, graph)`` stores the cell's graph
in the study's storage, where LCPruner reads it (as does every worker of an RDB study).

The pruners see the same configurations in the same order (one RandomSampler seed).  Printed: epochs
trained, best accuracy, wall time; a PNG plots best accuracy against epochs spent.  A few minutes on
2 CPU cores:

    python examples/nas_optuna.py [--trials 24] [--epochs 12] [--predictor lc_gode]
        [--train FILE] [--plot docs/nas_optuna.png]

``--predictor`` takes a registered name or a checkpoint path.  An architecture-aware predictor
without weights (``lc_gode`` before a checkpoint ships) is fitted on ``--train FILE`` first, e.g. a
sweep of your own space recorded with ``lc-hpo data record --space nas201``; without either, that
arm is skipped and the script says why.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import optuna
import torch

from lc_hpo import LCPruner, make_predictor, read_curves
from lc_hpo.bench.tasks.datasets import load_dataset
from lc_hpo.bench.tasks.nas import NASTrainer, nas_arch, suggest_nas_config
from lc_hpo.integrations.optuna import set_architecture


def label(predictor: str) -> str:
    """A predictor's name for the table: a checkpoint by its file name."""
    return os.path.splitext(os.path.basename(predictor))[0] if os.path.isfile(predictor) \
        else predictor


def architecture_predictor(name: str, train: str | None, minutes: float):
    """The predictor for the architecture-aware arm, fitted on ``train`` if it has no weights;
    None (with the reason printed) when it cannot be had."""
    try:
        predictor = make_predictor(name)
    except (ValueError, OSError) as exc:
        print(f"skipping LCPruner({name}): {exc}")
        return None
    if predictor.needs_fit and not getattr(predictor, "is_fitted", True):
        if not train:
            print(f"skipping LCPruner({name}): it has no weights yet; pass --train FILE (a curve "
                  "set with arch graphs, e.g. from 'lc-hpo data record --space nas201')")
            return None
        print(f"fitting {name} on {train} (at most {minutes} minutes) ...", flush=True)
        predictor = make_predictor(name, max_minutes=minutes).fit(read_curves(train))
    return predictor


def run(name: str, pruner: optuna.pruners.BasePruner, trials: int, epochs: int, seed: int) -> dict:
    """One study of ``trials`` trials; returns its totals and its best-accuracy trace."""
    data = load_dataset("digits")
    spent = 0
    trace: list[tuple[int, float]] = [(0, math.nan)]  # (epochs spent, best completed accuracy)

    def objective(trial: optuna.Trial) -> float:
        nonlocal spent
        config = suggest_nas_config(trial)
        set_architecture(trial, nas_arch(config))  # the cell's graph, stored with the trial
        trainer = NASTrainer(config, data, epochs, seed=seed * 1000 + trial.number)
        accuracy = math.nan
        for epoch in range(1, epochs + 1):
            accuracy = trainer.epoch().val_accuracy
            spent += 1
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        best = trace[-1][1]
        trace.append((spent, accuracy if math.isnan(best) else max(best, accuracy)))
        return accuracy

    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - start
    states = [t.state for t in study.trials]
    trace.append((spent, trace[-1][1]))
    return {"method": name, "trials": len(states),
            "pruned": sum(s == optuna.trial.TrialState.PRUNED for s in states),
            "epochs": spent, "best": study.best_value, "seconds": seconds, "trace": trace}


def plot(rows: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for r in rows:
        xs, ys = zip(*r["trace"])
        ax.step(xs, ys, where="post", label=f"{r['method']} ({r['epochs']} epochs)")
    ax.set_xlabel("epochs trained (all trials)")
    ax.set_ylabel("best validation accuracy (completed trials)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24, help="trials per pruner (default 24)")
    ap.add_argument("--epochs", type=int, default=12, help="epochs of a full run (default 12)")
    ap.add_argument("--predictor", default="lc_gode",
                    help="architecture-aware predictor: a registered name or checkpoint path")
    ap.add_argument("--train", metavar="FILE", help="curves to fit --predictor on if it has no "
                    "weights (a curve set with arch graphs)")
    ap.add_argument("--train-minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", metavar="PNG", help="write the best-accuracy-vs-epochs plot here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    arms: list[tuple[str, optuna.pruners.BasePruner]] = []
    predictor = architecture_predictor(args.predictor, args.train, args.train_minutes)
    if predictor is not None:
        arms.append((f"LCPruner({label(args.predictor)})", LCPruner(predictor)))
    arms += [("LCPruner() default", LCPruner()), ("MedianPruner", optuna.pruners.MedianPruner())]
    rows = []
    for name, pruner in arms:
        print(f"running {name} ...", flush=True)
        rows.append(run(name, pruner, args.trials, args.epochs, args.seed))
    print(f"\n{args.trials} NAS-Bench-201-style cell networks of up to {args.epochs} epochs on "
          "digits, one at a time:")
    print("| pruner | trials | pruned | epochs trained | best val. accuracy | wall time (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['trials']} | {r['pruned']} | {r['epochs']} | "
              f"{r['best']:.4f} | {r['seconds']:.1f} |")
    if args.plot:
        plot(rows, args.plot, f"Optuna NAS sweep: {args.trials} cells x {args.epochs} epochs, "
                              "digits")


if __name__ == "__main__":
    main()
