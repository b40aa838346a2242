"""Tables (markdown) and a plot from ``estimate_cnn.py``'s recorded real runs and the estimator's
predictions: step error beside the baselines, ranking, and the cost ratio per setting and per sweep.

Error is over the (run, target) pairs the real run reached: |predicted - real| / real, a prediction
past the horizon counted as the horizon (MAX_STEPS).  Baselines:

* ``ode``: the same estimator's noise-free curve;
* ``exp_fit``: an exponential c + (L0 - c) exp(-b t) fitted to the real run's measured losses within
  the estimator's cost for that setting alone (fit + predict, wall seconds of real training), and
  ``exp_fit (sweep share)`` within its amortised cost per setting ((fit + all predicts) / settings);
* ``median``: the median real steps of the sweep's other settings at the same target.

Spearman: per sweep and target, settings ranked by predicted vs real steps (not reached: tied at
the end); the median over sweep x target.

    .venv/bin/python benchmarks/estimate_cnn_report.py --plot docs/estimate_cnn.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections import defaultdict

import numpy as np
from scipy.optimize import curve_fit
from scipy.stats import spearmanr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from estimate_cnn import MAX_STEPS, PREDS, RUNS, TARGETS  # noqa: E402

KEY = ("n", "seed", "lr", "batch", "momentum")


def read(path: str) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def key(row: dict) -> tuple:
    return tuple(row[k] for k in KEY)


def exp_fit_hits(run: dict, budget_s: float, targets: list[float]) -> list[float]:
    """Steps to each target from an exponential fitted to the losses measured within ``budget_s``
    seconds of the run's training (at least its first 3 measurements)."""
    k = max(3, sum(s <= budget_s for s in run["train_seconds"]))
    t = np.array(run["steps"][:k], float)
    v = np.array(run["losses"][:k], float)
    L0 = v[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (b, c), _ = curve_fit(lambda s, b, c: c + (L0 - c) * np.exp(-b * s), t, v,
                                  p0=(0.01, 0.5 * L0), bounds=([0, 0], [10, L0]), maxfev=2000)
    except Exception:  # noqa: BLE001 - a fit that fails predicts nothing
        return [math.inf] * len(targets)
    return [math.inf if c >= tg or b <= 0 else math.ceil(math.log((L0 - c) / (tg - c)) / b)
            for tg in targets]


def capped(x: float | None) -> float:
    return float(MAX_STEPS) if x is None or not math.isfinite(x) else min(float(x), MAX_STEPS)


def join(runs: list[dict], preds: list[dict], version: str | None) -> list[tuple[dict, dict]]:
    """Each run with its prediction (the last in the file for that setting, of ``version`` if
    given, else of the file's last version)."""
    version = version or preds[-1]["version"]
    latest = {key(p): p for p in preds if p["version"] == version}
    pairs = [(r, latest[key(r)]) for r in runs if key(r) in latest]
    if not pairs:
        raise SystemExit(f"no predictions of version {version} match the recorded runs")
    return pairs


def with_baselines(pairs: list[tuple[dict, dict]]) -> None:
    """Adds the curve-fit and median baselines to each prediction row (in place)."""
    sweeps: dict[tuple, list[tuple[dict, dict]]] = defaultdict(list)
    for r, p in pairs:
        sweeps[(r["n"], r["seed"])].append((r, p))
    for members in sweeps.values():
        share = (members[0][1]["fit_s"] + sum(p["predict_s"] for _, p in members)) / len(members)
        for r, p in members:
            p["exp_fit"] = exp_fit_hits(r, p["fit_s"] + p["predict_s"], r["targets"])
            p["exp_fit_share"] = exp_fit_hits(r, share, r["targets"])
            p["median"] = [float(np.median([capped(o["real"][j]) for o, _ in members if o is not r]))
                           for j in range(len(TARGETS))]


METHODS = [("sde", "estimator (SDE)"), ("ode", "noise-free ODE (same kernel)"),
           ("exp_fit", "exponential fit to first real steps, matched cost (setting alone)"),
           ("exp_fit_share", "exponential fit, matched cost (sweep share)"),
           ("median", "median of the sweep's other settings")]


def error_table(pairs: list[tuple[dict, dict]]) -> str:
    lines = ["| method | pairs | median rel. error | 90th pct | within 20 % | Spearman (median over "
             "sweep x target) |", "|---|---|---|---|---|---|"]
    for m, label in METHODS:
        errs = [abs(capped(p[m][j]) - r["real"][j]) / r["real"][j]
                for r, p in pairs if m in p for j in range(len(TARGETS))
                if math.isfinite(r["real"][j]) and r["real"][j] > 0]
        rhos = []
        groups: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
        for r, p in pairs:
            if m in p:
                for j in range(len(TARGETS)):
                    groups[(r["n"], r["seed"], j)].append(
                        (capped(p[m][j]) if math.isfinite(capped(p[m][j])) else 2 * MAX_STEPS,
                         r["real"][j] if math.isfinite(r["real"][j]) else 2 * MAX_STEPS))
        for g in groups.values():
            a, b = np.array(g).T
            if len(g) >= 4 and a.std() > 0 and b.std() > 0:
                rhos.append(spearmanr(a, b)[0])
        rho = f"{np.median(rhos):.2f}" if m != "median" and rhos else "(no ranking)"
        e = np.array(errs)
        lines.append(f"| {label} | {e.size} | {np.median(e):.2f} | {np.percentile(e, 90):.2f} | "
                     f"{np.mean(e <= 0.2):.0%} | {rho} |")
    return "\n".join(lines)


def breakdown(pairs: list[tuple[dict, dict]], field: str) -> str:
    """Signed median relative error of the SDE's steps by ``field`` and target (pairs)."""
    vals = sorted({r[field] for r, _ in pairs})
    head = " | ".join(f"target {q:.0%}" for q in TARGETS)
    lines = [f"| {field} | {head} |", "|---" * (len(TARGETS) + 1) + "|"]
    for v in vals:
        cells = []
        for j in range(len(TARGETS)):
            e = [(capped(p["sde"][j]) - r["real"][j]) / r["real"][j] for r, p in pairs
                 if r[field] == v and "sde" in p and math.isfinite(r["real"][j])]
            cells.append(f"{np.median(e):+.2f} ({len(e)})" if e else "- (0)")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost_tables(pairs: list[tuple[dict, dict]]) -> str:
    out = []
    for clock, real_k, total_k, fit_k, pred_k in (
            ("wall", "real_s", "train_total_s", "fit_s", "predict_s"),
            ("CPU", "real_cpu", "train_total_cpu", "fit_cpu", "predict_cpu")):
        rows = [f"**Per setting** ({clock} seconds): fine-tuning time to the target / (one fit + "
                "that setting's predict), over the runs that reached it",
                "", "| target | runs | median | 10th pct | 90th pct | share >= 30x |",
                "|---|---|---|---|---|---|"]
        for j, q in enumerate(TARGETS):
            ratio = np.array([r[real_k][j] / (p[fit_k] + p[pred_k]) for r, p in pairs
                              if math.isfinite(r["real"][j])])
            rows.append(f"| {q:.0%} | {ratio.size} | {np.median(ratio):.2f} | "
                        f"{np.percentile(ratio, 10):.2f} | {np.percentile(ratio, 90):.2f} | "
                        f"{np.mean(ratio >= 30):.0%} |")
        sweeps: dict[tuple, list[tuple[dict, dict]]] = defaultdict(list)
        for r, p in pairs:
            sweeps[(r["n"], r["seed"])].append((r, p))
        rows += ["", f"**Per sweep** ({clock} seconds): the sweep's whole fine-tuning time (every "
                 "setting until it reached the lowest target, stalled or hit the horizon) / (one "
                 "fit + every setting's predict)", "",
                 "| N | seed | settings | fine-tuning s | fit s | predicts s | ratio |",
                 "|---|---|---|---|---|---|---|"]
        ratios = []
        for (n, seed), members in sorted(sweeps.items()):
            ft = sum(r[total_k] for r, _ in members)
            fit = members[0][1][fit_k]
            pr = sum(p[pred_k] for _, p in members)
            ratios.append(ft / (fit + pr))
            rows.append(f"| {n} | {seed} | {len(members)} | {ft:.1f} | {fit:.1f} | {pr:.1f} | "
                        f"{ratios[-1]:.2f} |")
        rows.append(f"| all | | {len(pairs)} | | | | median {np.median(ratios):.2f} |")
        out.append("\n".join(rows))
    return "\n\n".join(out)


def outcome_table(pairs: list[tuple[dict, dict]]) -> str:
    lines = ["| real outcome | runs | predicted to diverge | predicted to reach the first target |",
             "|---|---|---|---|"]
    kinds = {"reached the lowest target": lambda r: math.isfinite(r["real"][-1]),
             "stalled (no new low for 500 steps)": lambda r: r.get("stalled", False)
             and not r["diverged"],
             "diverged": lambda r: r["diverged"],
             "horizon without the lowest target": lambda r: not math.isfinite(r["real"][-1])
             and not r.get("stalled", False) and not r["diverged"]}
    for name, test in kinds.items():
        sel = [(r, p) for r, p in pairs if test(r)]
        div = sum(bool(p.get("diverges")) for _, p in sel)
        first = sum("sde" in p and math.isfinite(p["sde"][0]) for _, p in sel)
        lines.append(f"| {name} | {len(sel)} | {div} | {first} |")
    return "\n".join(lines)


def plot(pairs: list[tuple[dict, dict]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8))
    colours = ["tab:blue", "tab:orange", "tab:green"]
    for j, q in enumerate(TARGETS):
        pts = [(r["real"][j], capped(p["sde"][j])) for r, p in pairs
               if "sde" in p and math.isfinite(r["real"][j])]
        if pts:
            a, b = np.array(pts).T
            ax[0].scatter(a, b, s=14, c=colours[j], label=f"target {q:.0%} of start", alpha=0.8)
    ax[0].plot([1, MAX_STEPS], [1, MAX_STEPS], "k--", lw=0.8)
    ax[0].fill_between([1, MAX_STEPS], [0.8, 0.8 * MAX_STEPS], [1.2, 1.2 * MAX_STEPS], color="k",
                       alpha=0.08, label="within 20 %")
    ax[0].set(xscale="log", yscale="log", xlabel="real SGD steps to target",
              ylabel="predicted steps (horizon = not reached)",
              title="CNN, digits 0-4 -> 5-9: predicted vs real")
    ax[0].legend(fontsize=8)
    sweep = sorted({(r["n"], r["seed"]) for r, _ in pairs})[0]
    members = [(r, p) for r, p in pairs if (r["n"], r["seed"]) == sweep and "curve" in p]
    for i, (r, p) in enumerate(members[::max(1, len(members) // 4)][:4]):
        c = f"C{i}"
        lab = f"lr {r['lr']}, B {r['batch']}, m {r['momentum']}"
        ax[1].plot(np.array(r["steps"]) + 1, r["losses"], c=c, label=f"real: {lab}"
                   + (" (predicted: diverges)" if p.get("diverges") else ""))
        ax[1].plot(np.array(p["curve"][0]) + 1, p["curve"][1], c=c, ls="--")
    ax[1].set(xscale="log", xlabel="SGD step + 1", ylabel="loss on the whole fine-tuning set",
              title=f"N={sweep[0]} seed {sweep[1]}: real (solid) and predicted (dashed)")
    ax[1].legend(fontsize=7)
    pts = [(r["real_s"][-1], r["real_s"][-1] / (p["fit_s"] + p["predict_s"])) for r, p in pairs
           if math.isfinite(r["real"][-1])]
    if pts:
        a, b = np.array(pts).T
        ax[2].scatter(a, b, s=14, label="per setting (to the lowest target)")
    ax[2].axhline(30, c="r", ls="--", lw=0.8, label="issue 25 target 30x")
    ax[2].axhline(1, c="k", lw=0.5)
    ax[2].set(xscale="log", yscale="log", xlabel="real fine-tuning wall s to the lowest target",
              ylabel="cost ratio (fine-tuning / estimator)", title="cost ratio, wall time")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=RUNS)
    ap.add_argument("--preds", default=PREDS)
    ap.add_argument("--version", default=None, help="estimator version (default: the last in the "
                    "predictions file)")
    ap.add_argument("--plot", default=None)
    args = ap.parse_args(argv)
    preds = read(args.preds)
    pairs = join(read(args.runs), preds, args.version)
    with_baselines(pairs)
    p0 = pairs[0][1]
    print(f"{len(pairs)} runs, {len({(r['n'], r['seed']) for r, _ in pairs})} sweeps; estimator "
          f"{p0['api']} at {p0['version']}, M = {p0.get('n_samples')}\n")
    print(error_table(pairs), "\n")
    calm = [(r, p) for r, p in pairs if "sde" in p and not p.get("diverges")]
    print(f"The same over the {len(calm)} runs the estimator did not predict to diverge:\n")
    print(error_table(calm), "\n")
    print("Signed median relative error of the SDE's steps (negative: predicted too soon):\n")
    for field in ("n", "momentum", "lr", "batch"):
        print(breakdown(pairs, field), "\n")
    print(outcome_table(pairs), "\n")
    print(cost_tables(pairs))
    load = [r["load"] for r, _ in pairs]
    print(f"\nload average during the real runs: median {np.median(load):.1f}, "
          f"range {min(load):.1f}-{max(load):.1f}")
    if args.plot:
        plot(pairs, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
