"""Do LRPO short runs rank configurations as full training does?  A sweep of random configurations.

Each configuration (rate, width, dropout, batch size) trains once per schedule with the same seed:
full training (constant rate, the paper's baseline, ``--full-epochs``), read at epoch 16 too (plain
truncation), and the 16-epoch schedules ``lrpo_code``, ``lrpo_predictor`` and ``cosine``.  Prints
the Spearman rank correlation between each short schedule's validation accuracy
and full training's test accuracy (with a bootstrap 90 % interval over configurations), and the
full-training test accuracy of the configuration each short schedule would pick.

    python benchmarks/lrpo_hpo.py [--data digits] [--configs 40] [--full-epochs 50]
"""

from __future__ import annotations

import argparse
import json
import os

import lrpo_common as common
import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm import tqdm

# "step" (no jump) is not run separately: a predictor-mode run that chose alpha = 1 *is* the step
# schedule (same seed, same rates), and its row records the alpha it chose.
SHORT = ("lrpo_code", "lrpo_predictor", "cosine")


def sample_configs(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"lr": float(np.exp(rng.uniform(np.log(0.005), np.log(0.3)))),
             "width": int(rng.choice([64, 128, 256])),
             "dropout": float(rng.uniform(0.0, 0.5)),
             "batch_size": int(rng.choice([64, 128, 256]))} for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--configs", type=int, default=40)
    ap.add_argument("--full-epochs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    ap.add_argument("--schedules", nargs="+", default=list(SHORT), choices=SHORT)
    ap.add_argument("--report", action="store_true", help="print the tables of a finished sweep")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"lrpo_hpo_{args.data}.json")
    rows = []
    if os.path.exists(path):  # resume (or, with --report, only print the tables)
        with open(path) as fh:
            rows = json.load(fh)["rows"]
    if args.report:
        report(rows, args)
        return
    data = common.load(args.data)
    configs = sample_configs(args.configs, args.seed)
    for i, cfg in enumerate(tqdm(configs, desc=args.data)):
        if i < len(rows):
            continue
        row = {"config": cfg}
        full = common.run_schedule("constant", data, i, epochs=args.full_epochs, eval_every=(16,),
                                   **cfg)
        row["full"] = {"val": full["val"], "test": full["test"], "seconds": full["seconds"]}
        row["truncate16"] = {**full["points"][16]}
        for s in args.schedules:
            r = common.run_schedule(s, data, i, **cfg)
            row[s] = {k: r[k] for k in ("val", "test", "seconds") if k in r}
            if "alpha" in r:
                row[s]["alpha"] = r["alpha"]
        rows.append(row)
        with open(path, "w") as fh:  # after every configuration: a cut-off run keeps its rows
            json.dump({"args": vars(args), "rows": rows}, fh, indent=1)
    report(rows, args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    full = np.array([r["full"]["test"] for r in rows])
    rng = np.random.default_rng(0)
    print(f"\n{args.data}: {len(rows)} configurations; full training = {args.full_epochs} epochs "
          f"at a constant rate; its best test accuracy {100 * full.max():.2f}")
    top = full >= np.median(full)  # the half that matters to a search: can it order the good ones?
    print("| short schedule (16 epochs) | Spearman vs full (90 % bootstrap) | Spearman, better half "
          "| full-run test acc. of its pick | its pick's rank in full |")
    print("|---|---:|---:|---:|---:|")
    for s in ("truncate16", *[s for s in SHORT if s in rows[0]]):
        short = np.array([r[s]["val"] for r in rows])
        rho = spearmanr(short, full).statistic
        boots = []
        for _ in range(1000):
            idx = rng.integers(0, len(rows), len(rows))
            boots.append(spearmanr(short[idx], full[idx]).statistic)
        lo, hi = np.nanpercentile(boots, [5, 95])
        pick = int(np.argmax(short))
        rank = int((full > full[pick]).sum()) + 1
        rho_top = spearmanr(short[top], full[top]).statistic
        print(f"| {s} | {rho:.3f} [{lo:.3f}, {hi:.3f}] | {rho_top:.3f} | {100 * full[pick]:.2f} | "
              f"{rank} |")


if __name__ == "__main__":
    main()
