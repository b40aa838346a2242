"""LC-GODE on architectures never seen in training: NAS-Bench-201 split by architecture, several splits.

For each split seed, 30 % of the architectures are held out; ``lc_gode``, its graph-free ablation
``lc_gode_nograph`` and the faithful ``lstm`` are fitted on the other 70 % (each selects its checkpoint
on its own validation split of those), and every predictor forecasts the held-out curves from 10
observed epochs (5 %, the paper's window) and from 10, 20 and 40 % of the budget.  Scoring is
``lc-hpo bench predict``'s (:func:`lc_hpo.bench.predict.run_predict_bench`, the code behind
``lc-hpo bench predict --train``); the LSTM's training time is capped here, which the command line's
registry names cannot do.  Writes one JSON per split and a markdown table of mean ± std over splits.

    .venv/bin/python benchmarks/lc_gode_splits.py --curves ../shared/data/nb201/nb201_cifar10_140.jsonl \\
        --splits 3 --out docs/lc_gode

(``--from-json`` rebuilds the table and ``splits.png`` from the JSON files already in ``--out``.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from lc_hpo.bench.predict import run_predict_bench
from lc_hpo.curveset import read_curves, write_curves
from lc_hpo.learned import LCGODENoGraphPredictor, LCGODEPredictor, RecursiveLSTMPredictor
from lc_hpo.learned.lc_gode import graph_key

CUTOFFS = (0.05, 0.1, 0.2, 0.4)


def split_by_arch(curves: list, test_fraction: float, seed: int) -> tuple[list, list]:
    """Train and test curves; every architecture (or config without one) lies on one side."""
    keys = [graph_key(c.arch) or (c.task, c.config_id) for c in curves]
    uniq = list(dict.fromkeys(keys))
    order = np.random.default_rng(1000 + seed).permutation(len(uniq))
    test_keys = {uniq[i] for i in order[: int(round(test_fraction * len(uniq)))]}
    test = [c for c, k in zip(curves, keys) if k in test_keys]
    train = [c for c, k in zip(curves, keys) if k not in test_keys]
    return train, test


def predictors(seed: int, steps: int, lstm_minutes: float) -> list:
    return [LCGODEPredictor(max_steps=steps, seed=seed),
            LCGODENoGraphPredictor(max_steps=steps, seed=seed),
            "default",
            RecursiveLSTMPredictor(max_minutes=lstm_minutes, seed=seed),
            "parametric"]


def table(results: list[dict]) -> str:
    """Mean ± std over splits of final and remaining MAPE / RMSE and the final's 90 % coverage."""
    names = list(results[0]["predictors"])
    lines = ["| predictor | observed | final MAPE | final RMSE | rest MAPE | rest RMSE | 90% coverage |",
             "|---|---:|---:|---:|---:|---:|---:|"]

    def cell(name: str, cutoff: str, part: str, key: str, fmt: str) -> str:
        vals = np.array([r["predictors"][name][cutoff][part][key] for r in results], float)
        return f"{np.mean(vals):{fmt}} ± {np.std(vals):{fmt}}"

    for cutoff in results[0]["predictors"][names[0]]:
        epochs = results[0].get("max_step")
        label = f"{float(cutoff):.0%}" + (f" ({round(float(cutoff) * epochs)} ep.)" if epochs else "")
        for name in names:
            lines.append(f"| {name} | {label} | {cell(name, cutoff, 'final', 'mape', '.3f')} | "
                         f"{cell(name, cutoff, 'final', 'rmse', '.2f')} | "
                         f"{cell(name, cutoff, 'remaining', 'mape', '.3f')} | "
                         f"{cell(name, cutoff, 'remaining', 'rmse', '.2f')} | "
                         f"{cell(name, cutoff, 'final', 'coverage90', '.2f')} |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    """Final-value RMSE and MAPE against the share observed, mean ± std over splits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results[0]["predictors"])
    cutoffs = list(results[0]["predictors"][names[0]])
    x = [100 * float(c) for c in cutoffs]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in ((axes[0], "rmse", "final-value RMSE (metric units)"),
                           (axes[1], "mape", "final-value MAPE")):
        for name in names:
            v = np.array([[r["predictors"][name][c]["final"][key] for c in cutoffs]
                          for r in results], float)
            ax.errorbar(x, v.mean(0), yerr=v.std(0), marker="o", capsize=3, label=name)
        ax.set_xlabel(f"% of the {results[0].get('max_step', '')} epochs observed")
        ax.set_ylabel(label)
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{', '.join(results[0]['tasks'])}: unseen architectures ({len(results)} splits)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves")
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--test-fraction", type=float, default=0.3)
    ap.add_argument("--steps", type=int, default=1000, help="lc_gode optimiser steps at most")
    ap.add_argument("--lstm-minutes", type=float, default=1.5)
    ap.add_argument("--out", required=True, help="folder for the JSON results and the table")
    ap.add_argument("--write-splits", metavar="DIR", help="also write each split's curve files")
    ap.add_argument("--from-json", action="store_true",
                    help="only rebuild the table and plot from the JSON files in --out")
    args = ap.parse_args()
    if args.from_json:
        files = sorted(Path(args.out).glob("splits_[0-9]*.json"))
        results = [json.loads(f.read_text()) for f in files]
        if args.curves:  # results written before the JSON carried the budget
            budget = max(c.max_step or 0 for c in read_curves(args.curves))
            for r in results:
                r.setdefault("max_step", budget)
        (Path(args.out) / "splits_table.md").write_text(table(results) + "\n")
        plot(results, Path(args.out) / "splits.png")
        print(table(results))
        return
    torch.set_num_threads(1)
    curves = read_curves(args.curves)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in range(args.splits):
        train, test = split_by_arch(curves, args.test_fraction, seed)
        if args.write_splits:
            d = Path(args.write_splits)
            d.mkdir(parents=True, exist_ok=True)
            write_curves(train, d / f"train_{seed}.jsonl")
            write_curves(test, d / f"test_{seed}.jsonl")
        specs = predictors(seed, args.steps, args.lstm_minutes)
        r = run_predict_bench(test, specs, cutoffs=CUTOFFS, train=train, progress=True)
        r["split"] = {"seed": seed, "train": len(train), "test": len(test)}
        r["max_step"] = max(c.max_step or 0 for c in test)
        for spec in specs:
            if not isinstance(spec, str) and hasattr(spec, "metadata_"):
                r.setdefault("training", {})[spec.name] = {
                    k: spec.metadata_.get(k) for k in ("training", "calibration")}
        (out / f"splits_{seed}.json").write_text(json.dumps(r, indent=1, default=float))
        results.append(r)
        print(f"split {seed}: {len(train)} train / {len(test)} test architectures", flush=True)
    text = table(results)
    (out / "splits_table.md").write_text(text + "\n")
    plot(results, out / "splits.png")
    print(text)


if __name__ == "__main__":
    main()
