"""Trace one replayed LCPruner study trial by trial: where each trial stopped and on what evidence.

For one task of a curve file and one random ordering (the replay protocol's), runs a real Optuna
study with ``LCPruner(trust=SPEC)`` over a budget of ``--budget`` full runs and prints, per trial,
its value at ``--at`` of the budget, its final value, where it stopped, and the last decision's
P(better) and p_reach: what the guard saw when it let a stop through.

Run: ``python benchmarks/trust_study_trace.py --curves FILE [--task NAME] [--trust SPEC]``.
Not imported by the product.
"""

from __future__ import annotations

import argparse

import optuna
import torch
from optuna.trial import TrialState

from lc_hpo import LCPruner
from lc_hpo.bench.protocol import ReplayTask
from lc_hpo.curveset import group_by_task, mark_diverged, read_curves
from lc_hpo.integrations.optuna import FORECAST_ATTR
from lc_hpo.trust import StudyTrust


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curves", nargs="+", required=True)
    ap.add_argument("--task", default=None, help="task name (default: the file's only task)")
    ap.add_argument("--trust", default="on", help="'off' or a StudyTrust spec")
    ap.add_argument("--ordering", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--at", type=float, default=0.1, help="fraction of the budget to show")
    ap.add_argument("--diverged-above", type=float, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tasks = group_by_task(mark_diverged(read_curves(args.curves), args.diverged_above))
    name = args.task or next(iter(tasks))
    task = ReplayTask(name, tasks[name])
    trust = False if args.trust == "off" else StudyTrust.from_spec(args.trust)
    study = optuna.create_study(direction="minimize" if task.mode == "min" else "maximize",
                                pruner=LCPruner(trust=trust))
    spent, budget = 0, task.budget(args.budget)
    at = max(1, int(round(args.at * task.max_step)))
    print(f"{name}: trust={args.trust}, ordering {args.ordering}, budget {budget} steps")
    print("| trial | value at step %d | final | outcome | P(better) | p_reach |" % at)
    print("|---:|---:|---:|---|---:|---:|")
    for i in task.ordering(args.seed, args.ordering):
        if spent >= budget:
            break
        curve, trial, stopped = task.curves[i], study.ask(), None
        for step, value in zip(curve.steps, curve.values):
            trial.report(float(value), int(step))
            spent += 1
            if trial.should_prune():
                stopped = int(step)
                break
        if stopped is None:
            study.tell(trial, float(curve.values[-1]))
        else:
            study.tell(trial, state=TrialState.PRUNED)
        last = study.trials[-1].user_attrs.get(FORECAST_ATTR, {})
        fmt = lambda v: "" if v is None else f"{v:.3g}"  # noqa: E731
        print(f"| {trial.number} | {curve.values[min(at, len(curve.values)) - 1]:.3f} | "
              f"{curve.final_value:.3f} | {'completed' if stopped is None else f'stopped at {stopped}'}"
              f" | {fmt(last.get('p_better'))} | {fmt(last.get('p_reach'))} |")
    print(f"best found {study.best_value:.4f}; the task's best {task.best_final:.4f}")


if __name__ == "__main__":
    main()
