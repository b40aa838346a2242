"""The demo's studies with the study-trust guard on and off: best accuracy against epochs spent.

Runs ``lc_hpo.demo.run_study`` (TPE, real training on digits) for LCPruner(), LCPruner(trust=False),
MedianPruner and no pruning, and prints per study the epochs trained, the best accuracy, and the
epochs it needed to come within 0.2 points of the unpruned study's best.
Run: ``python benchmarks/adaptive_demo.py [TRIALS]``.
"""

from __future__ import annotations

import sys

import optuna
import torch

from lc_hpo.demo import run_study
from lc_hpo.integrations.optuna import LCPruner


def main(n_trials: int = 80, epochs: int = 30, seed: int = 0) -> None:
    torch.set_num_threads(1)
    pruners = {"none": optuna.pruners.NopPruner(), "LCPruner()": LCPruner(),
               "LCPruner(trust=False)": LCPruner(trust=False),
               "median": optuna.pruners.MedianPruner()}
    traces: dict[str, list[tuple[int, float]]] = {}
    results = {}
    for name, pruner in pruners.items():
        spent = {"epochs": 0, "best": 0.0}
        trace: list[tuple[int, float]] = []

        def on_curve(trial, config, history, _epochs, spent=spent, trace=trace):
            spent["epochs"] += len(history)
            if history and len(history) == epochs:  # completed runs count, as study.best_value
                spent["best"] = max(spent["best"], history[-1].val_accuracy)
            trace.append((spent["epochs"], spent["best"]))

        results[name] = run_study(name, pruner, n_trials, epochs, seed, on_curve=on_curve,
                                  progress=False)
        traces[name] = trace
    target = results["none"].best_value - 0.002
    print("| pruner | epochs trained | best val. accuracy | epochs to within 0.2 points of none's best |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        hit = next((e for e, b in traces[name] if b >= target), None)
        print(f"| {name} | {r.epochs} | {r.best_value:.4f} | {hit if hit is not None else 'never'} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 80)
