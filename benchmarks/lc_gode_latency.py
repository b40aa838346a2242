"""Forecast latency of LC-GODE with architecture graphs: a batched forecast, and should_prune.

1. One ``predict`` of 100 running trials with NAS-Bench-201 cell graphs at once (what a scheduler
   ranking its running trials does), repeated; the graph embeddings are cached after the first call.
2. ``trial.should_prune()`` with ``LCPruner(predictor=lc_gode)`` and each trial's graph stored with
   ``set_architecture``, next to ``MedianPruner`` and the bundled default ``LCPruner()``,
   alternating so all see the same machine load (the approach of ``lc_hpo/bench/latency.py``).
   The added latency is the difference of medians.

    .venv/bin/python benchmarks/lc_gode_latency.py --checkpoint lc_hpo/models/lc_gode.pt
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lc_hpo.arch import from_nb201
from lc_hpo.bench.latency import synthetic_curves
from lc_hpo.curve import Curve
from lc_hpo.learned import load_predictor

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def cells(n: int, rng: np.random.Generator) -> list[str]:
    return ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*rng.choice(OPS, 6)) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--running", type=int, default=100)
    ap.add_argument("--finished", type=int, default=100)
    ap.add_argument("--steps", type=int, default=20, help="steps each running trial reports")
    ap.add_argument("--max-step", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    import optuna

    from lc_hpo.integrations.optuna import LCPruner, set_architecture

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(0)
    predictor = load_predictor(args.checkpoint)
    cell = cells(args.running, rng)
    vals = synthetic_curves(args.running, args.steps, 1)
    batch = [Curve(steps=np.arange(1, args.steps + 1), values=v, mode="max", max_step=args.max_step,
                   arch=from_nb201(c)) for v, c in zip(vals, cell)]
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        predictor.predict(batch)
        times.append(time.perf_counter() - t)
    p50 = 1e3 * float(np.median(times))
    print(f"batched forecast of {args.running} trials with graphs: p50 {p50:.2f} ms per call "
          f"({p50 / args.running:.3f} ms per trial), p99 {1e3 * np.percentile(times, 99):.2f} ms")

    finished = synthetic_curves(args.finished, args.max_step, 2)
    pruners = {"LCPruner(lc_gode)": LCPruner(predictor=predictor),
               "LCPruner() (bundled default)": LCPruner(),
               "MedianPruner": optuna.pruners.MedianPruner()}
    studies = {}
    for name, pruner in pruners.items():
        study = optuna.create_study(direction="maximize", pruner=pruner)
        study.add_trials([optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE, value=float(c[-1]),
            intermediate_values={s + 1: float(v) for s, v in enumerate(c)}) for c in finished])
        studies[name] = study
    lat: dict[str, list[float]] = {name: [] for name in pruners}
    for c, curve in zip(cell, vals):
        trials = {name: study.ask() for name, study in studies.items()}
        for trial in trials.values():
            set_architecture(trial, c)
        for step, value in enumerate(curve, start=1):
            for name, trial in trials.items():
                trial.report(float(value), step)
                t = time.perf_counter()
                trial.should_prune()
                lat[name].append(time.perf_counter() - t)
        for name, trial in trials.items():
            studies[name].tell(trial, float(curve[-1]))
    print("| pruner | should_prune p50 (ms) | p99 (ms) | calls |")
    print("|---|---:|---:|---:|")
    for name, t in lat.items():
        print(f"| {name} | {1e3 * np.median(t):.3f} | {1e3 * np.percentile(t, 99):.3f} | {len(t)} |")
    for name in list(pruners)[:2]:
        added = 1e3 * (np.median(lat[name]) - np.median(lat["MedianPruner"]))
        print(f"{name}: added p50 {added:.3f} ms")


if __name__ == "__main__":
    main()
