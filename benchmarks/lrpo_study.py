"""Compute saved by an Optuna study that ranks configurations by LRPO short runs.

Per study seed, two real Optuna TPE studies over the same space as ``lrpo_hpo.py`` and with the same
sampler seed: one whose trials train the 16-epoch LRPO schedule (code mode), whose best configuration
is then retrained in full; one whose trials train in full (constant rate, ``--full-epochs``).  Both
rank by validation accuracy; both winners are scored by their full run's test accuracy.

    python benchmarks/lrpo_study.py [--data digits] [--trials 20] [--seeds 3] [--full-epochs 50]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import lrpo_common as common
import numpy as np
import optuna
import torch
from tqdm import tqdm

from lc_hpo.lrpo import lrpo_schedule


def suggest(trial: optuna.Trial) -> dict:
    return {"lr": trial.suggest_float("lr", 0.005, 0.3, log=True),
            "width": trial.suggest_categorical("width", [64, 128, 256]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256])}


def full_run(data: common.Data, cfg: dict, seed: int, epochs: int) -> common.Run:
    run = common.Run(data, seed, **cfg)
    for _ in range(epochs):
        run.train_epoch()
    return run


def study(data: common.Data, kind: str, seed: int, trials: int, full_epochs: int) -> dict:
    epochs = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal epochs
        cfg = suggest(trial)
        if kind == "lrpo":
            run = common.Run(data, trial.number, **cfg)
            ctl = lrpo_schedule(run.opt, run.train_epoch, mode="code",
                                finetune_lr=common.FINETUNE_LR)
            epochs += ctl.total_epochs
        else:
            run = full_run(data, cfg, trial.number, full_epochs)
            epochs += full_epochs
            trial.set_user_attr("test", run.accuracy("test"))
        return run.accuracy("val")

    start = time.perf_counter()
    st = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    st.optimize(objective, n_trials=trials)
    best = st.best_trial
    if kind == "lrpo":  # retrain the winner in full
        test = full_run(data, suggest(optuna.trial.FixedTrial(best.params)), best.number,
                        full_epochs).accuracy("test")
        epochs += full_epochs
    else:
        test = best.user_attrs["test"]
    return {"kind": kind, "seed": seed, "epochs": epochs, "seconds": time.perf_counter() - start,
            "best_params": best.params, "best_val": best.value, "test": test}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--full-epochs", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = common.load(args.data)
    rows = [study(data, kind, seed, args.trials, args.full_epochs)
            for seed, kind in tqdm([(s, k) for s in range(args.seeds) for k in ("lrpo", "full")])]
    with open(os.path.join(args.out, f"lrpo_study_{args.data}.json"), "w") as fh:
        json.dump({"args": vars(args), "rows": rows}, fh, indent=1)
    print(f"\n{args.data}: Optuna TPE, {args.trials} trials, {args.seeds} study seeds; test accuracy "
          f"of the winner after {args.full_epochs} full epochs")
    print("| study | epochs trained (mean) | wall time (s, mean) | winner's test acc. (mean ± std) "
          "| per seed |")
    print("|---|---:|---:|---:|---|")
    for kind in ("lrpo", "full"):
        rs = [r for r in rows if r["kind"] == kind]
        t = np.array([r["test"] for r in rs])
        print(f"| {kind} | {np.mean([r['epochs'] for r in rs]):.0f} | "
              f"{np.mean([r['seconds'] for r in rs]):.1f} | {100 * t.mean():.2f} ± "
              f"{100 * t.std(ddof=1):.2f} | {', '.join(f'{100 * v:.2f}' for v in t)} |")
    e = {k: np.mean([r["epochs"] for r in rows if r["kind"] == k]) for k in ("lrpo", "full")}
    print(f"epochs saved by ranking with LRPO short runs: {100 * (1 - e['lrpo'] / e['full']):.0f} %")


if __name__ == "__main__":
    main()
