"""Tables and a plot from ``estimate_finetune.py``'s results (relative error of predicted steps).

    .venv/bin/python benchmarks/estimate_report.py benchmarks/results/estimate_finetune.jsonl \
        --plot docs/estimate_finetune.png

Relative error |predicted − real| / real over (run, target) pairs whose real run reached the target
within its horizon; a prediction past the horizon (inf) counts as the horizon.  Spearman ranks the
settings by predicted steps against real steps (inf as the largest), per seed and target, and reports
the median over those groups.  Cost ratio: the real run's training seconds to reach the target over
the estimator's seconds (median over pairs).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict

import numpy as np
from scipy.stats import spearmanr

METHODS = ("sde", "ode", "lin_sgd", "exp_fit", "pow_fit", "median")


def rows_of(path: str) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def add_median_baseline(rows: list[dict]) -> None:
    """Per (regime, seed, target): the median real steps of the *other* settings."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["regime"], r["seed"])].append(r)
    for group in groups.values():
        for r in group:
            r["median"] = []
            for k in range(len(r["real"])):
                others = [o["real"][k] for o in group if o is not r]
                r["median"].append(float(np.median(others)) if others else math.inf)


def _covers(interval: list, real: float, horizon: float) -> bool:
    """Whether [lo, hi] (None or past the horizon: the horizon) holds the real step."""
    lo, hi = (min(v if v is not None else math.inf, horizon) for v in interval)
    return lo <= real <= hi


def table(rows: list[dict], horizon: float) -> list[tuple]:
    out = []
    for m in METHODS:
        errs, ranks = [], []
        for r in rows:
            if m not in r:
                continue
            for k, real in enumerate(r["real"]):
                if math.isfinite(real) and real > 0:
                    pred = min(r[m][k] if r[m][k] is not None else math.inf, horizon)
                    errs.append(abs(pred - real) / real)
        groups = defaultdict(list)
        for r in rows:
            if m in r:
                for k in range(len(r["real"])):
                    groups[(r["seed"], k)].append((r[m][k], r["real"][k]))
        for pairs in groups.values():
            p = np.array([min(a if a is not None else math.inf, 1e9) for a, _ in pairs])
            q = np.array([min(b, 1e9) for _, b in pairs])
            if len(pairs) >= 4 and np.ptp(p) > 0 and np.ptp(q) > 0:
                ranks.append(spearmanr(p, q).statistic)
        if errs:
            out.append((m, len(errs), float(np.median(errs)), float(np.percentile(errs, 90)),
                        float(np.mean(np.array(errs) <= 0.2)),
                        float(np.median(ranks)) if ranks else float("nan")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--plot", default=None)
    ap.add_argument("--horizon", type=float, default=600)
    args = ap.parse_args()
    rows = rows_of(args.results)
    add_median_baseline(rows)
    settings = {(r["lr"], r["batch"], r["momentum"], r["n"]) for r in rows}
    print(f"{len(rows)} runs, {len(settings)} settings, seeds {sorted({r['seed'] for r in rows})}, "
          f"regime(s) {sorted({r['regime'] for r in rows})}\n")
    print("| method | pairs | median rel. error | 90th pct | within 20 % | Spearman (median) |")
    print("|---|---|---|---|---|---|")
    for m, n, med, p90, within, rho in table(rows, args.horizon):
        print(f"| {m} | {n} | {med:.2f} | {p90:.2f} | {within:.0%} | {rho:.2f} |")
    inside = [_covers(r["sde_interval"][k], r["real"][k], args.horizon) for r in rows
              for k in range(len(r["real"])) if math.isfinite(r["real"][k])]
    print(f"\nthe SDE's 80 % step interval covers the real step in {np.mean(inside):.0%} of "
          f"{len(inside)} pairs (a bound past the horizon counts as the horizon)")
    if all("predict_seconds" in r for r in rows):
        print(f"predict seconds median {np.median([r['predict_seconds'] for r in rows]):.2f}, fit "
              f"seconds median {np.median([r['fit_seconds'] for r in rows]):.1f} (once per model "
              "and data set)")
    if all("fit_cpu_seconds" in r for r in rows):
        per_fit = defaultdict(int)
        for r in rows:
            per_fit[(r["seed"], r["n"])] += 1
        cost = {id(r): r["fit_cpu_seconds"] / per_fit[(r["seed"], r["n"])] + r["predict_cpu_seconds"]
                for r in rows}
        amortised = [r["real_train_seconds"][k] / cost[id(r)] for r in rows
                     for k in range(len(r["real"])) if math.isfinite(r["real"][k])
                     and r["real_train_seconds"][k] is not None]
        print(f"CPU seconds: fit median {np.median([r['fit_cpu_seconds'] for r in rows]):.1f}, "
              f"predict median {np.median([r['predict_cpu_seconds'] for r in rows]):.2f}; cost ratio "
              f"with the fit shared by the settings of one (seed, N): median {np.median(amortised):.3f}")
    ratios = [r["real_train_seconds"][k] / r["sde_seconds"] for r in rows
              for k in range(len(r["real"])) if math.isfinite(r["real"][k])
              and r["real_train_seconds"][k] is not None
              and math.isfinite(r["real_train_seconds"][k])]
    wall = [r["real_wall_seconds"] / r["sde_seconds"] for r in rows]
    print(f"\ncost ratio (training seconds to the target / estimator seconds): median "
          f"{np.median(ratios):.3f} over {len(ratios)} pairs; whole real run incl. its loss "
          f"evaluations / estimator: median {np.median(wall):.3f}; estimator seconds median "
          f"{np.median([r['sde_seconds'] for r in rows]):.1f}")
    print("\nby learning rate (SDE, median rel. error over reached pairs):")
    for lr in sorted({r["lr"] for r in rows}):
        sub = [r for r in rows if r["lr"] == lr]
        t = {m: (n, med) for m, n, med, *_ in table(sub, args.horizon)}
        div = sum(r["sde_diverges"] for r in sub)
        print(f"  lr={lr}: sde {t.get('sde', (0, float('nan')))[1]:.2f} "
              f"(n={t.get('sde', (0,))[0]}), lin_sgd {t.get('lin_sgd', (0, float('nan')))[1]:.2f}, "
              f"predicted diverging {div}/{len(sub)}, real diverged "
              f"{sum(r['real_diverged'] for r in sub)}/{len(sub)}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 4.2))
        for r in rows:
            for k, real in enumerate(r["real"]):
                if math.isfinite(real) and real > 0:
                    pred = min(r["sde"][k] if r["sde"][k] is not None else math.inf, args.horizon)
                    ax[0].scatter(real, pred, s=12, c=f"C{k}", alpha=0.7)
        lim = [1, args.horizon]
        ax[0].plot(lim, lim, "k--", lw=1)
        ax[0].fill_between(lim, [v * 0.8 for v in lim], [v * 1.2 for v in lim], color="0.85")
        ax[0].set(xscale="log", yscale="log", xlabel="real steps to target",
                  ylabel="predicted steps (SDE)", title="colour: target 70 / 50 / 35 % of start")
        for i, r in enumerate(rows[:4]):
            ax[1].plot(r["real_curve"][0], r["real_curve"][1], c=f"C{i}",
                       label=f"lr={r['lr']} B={r['batch']} m={r['momentum']} N={r['n']}")
            ax[1].plot(r["sde_curve"][0], r["sde_curve"][1], c=f"C{i}", ls="--")
        ax[1].set(xlabel="SGD step", ylabel="loss on the fine-tuning set",
                  title="real (solid) vs predicted mean (dashed)")
        ax[1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
