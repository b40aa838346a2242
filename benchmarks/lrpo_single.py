"""Single runs at the same 16-epoch budget: LRPO (both modes) against other schedules, and the
paper's 100-epoch constant-rate run.  Five seeds per data set; mean ± std of test accuracy, wall time.

    python benchmarks/lrpo_single.py [--data mnist5k mnist1d] [--seeds 5] [--out benchmarks/results]

Rows: ``lrpo_code`` (public code's rule), ``lrpo_predictor`` (trajectory forecast, default confidence
0.8), ``lrpo_predictor@0.6`` (a confidence low enough that it jumps at alpha = 2 on the dev set: is a
big jump worth anything?), ``step`` (same phases, no jump), ``cosine``/``onecycle`` over 16 epochs,
``constant@16`` (the 100-epoch run read at epoch 16, i.e. plain truncation), ``constant@100``.
"""

from __future__ import annotations

import argparse
import json
import os

import lrpo_common as common
import numpy as np
import torch
from tqdm import tqdm

SHORT = ("lrpo_code", "lrpo_predictor", "lrpo_predictor@0.6", "step", "cosine", "onecycle")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["mnist5k", "mnist1d"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--full-epochs", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "lrpo_single.json")
    results: dict = {}
    if os.path.exists(path):  # resume: every finished run is kept
        with open(path) as fh:
            results = json.load(fh)
    for name in args.data:
        data = common.load(name)
        rows = results.setdefault(name, {})
        jobs = [(s, seed) for seed in range(args.seeds) for s in SHORT + ("constant",)]
        for sched, seed in tqdm(jobs, desc=name):
            key = f"constant@{args.full_epochs}" if sched == "constant" else sched
            if len(rows.get(key, [])) > seed:
                continue
            if sched == "constant":
                r = common.run_schedule("constant", data, seed, epochs=args.full_epochs,
                                        eval_every=(16,))
                rows.setdefault("constant@16", []).append(
                    {**r["points"][16], "epochs": 16, "seconds": r["seconds"] * 16 / r["epochs"]})
            else:
                base, _, conf = sched.partition("@")
                r = common.run_schedule(base, data, seed, confidence=float(conf) if conf else None)
            rows.setdefault(key, []).append({k: v for k, v in r.items() if k != "points"})
            with open(path, "w") as fh:
                json.dump(results, fh, indent=1)
    for name in args.data:
        table(name, results[name], args.seeds)


def table(name: str, rows: dict, seeds: int) -> None:
    print(f"\n{name}: test accuracy over {seeds} seeds (val. split apart)")
    print("| schedule | epochs | test acc. (mean ± std) | val. acc. | wall time (s) | alpha |")
    print("|---|---:|---:|---:|---:|---|")
    for k, v in rows.items():
        t = np.array([r["test"] for r in v])
        va = np.array([r["val"] for r in v])
        sec = np.array([r["seconds"] for r in v])
        al = ", ".join(f"{r['alpha']:.2f}" for r in v) if "alpha" in v[0] else "-"
        print(f"| {k} | {v[0]['epochs']} | {100 * t.mean():.2f} ± {100 * t.std(ddof=1):.2f} | "
              f"{100 * va.mean():.2f} | {sec.mean():.1f} | {al} |")


if __name__ == "__main__":
    main()
