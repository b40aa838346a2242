"""Offline check of the study-trust witnesses' own stop (``StudyTrust(confirm=...)``), before replays.

How often would the witnesses' stop kill an eventual winner?  For each task, draw ``--draws``
random sets of ``n`` finished trials (the incumbent is the best of them); every other configuration
is a running trial, read at every step from 2 to ``max_step - 1``.  A *winner* is a running trial
whose final value beats the incumbent.  Reported per guard: the share of winners the witnesses
would stop at some step (the false stops; the forecast's P(better) < ``hedge`` that the rule also
asks for is not read here, so this is the witnesses' worst case), and the mean share of the budget
the losers would run before the witnesses stop them (1.0: never stopped).

Run: ``python benchmarks/trust_false_stops.py --curves FILE [FILE ...] --specs c10,c10-s0.1``.
Not imported by the product.
"""

from __future__ import annotations

import argparse

import numpy as np

from lc_hpo.curve import Curve, is_better
from lc_hpo.curveset import group_by_task, mark_diverged, read_curves
from lc_hpo.trust import StudyTrust


def prefix(curve: Curve, step: int) -> Curve:
    keep = curve.steps <= step
    return Curve(steps=curve.steps[keep], values=curve.values[keep], mode=curve.mode,
                 max_step=curve.max_step)


def check(curves: list[Curve], trust: StudyTrust, n: int, draws: int,
          rng: np.random.Generator) -> tuple[int, int, float]:
    """(winners stopped, winners, mean share of the budget the losers run)."""
    stopped_w = winners = 0
    loser_share: list[float] = []
    T = max(int(c.max_step or 0) for c in curves)
    for _ in range(draws):
        idx = rng.permutation(len(curves))
        finished = [curves[i] for i in idx[:n]]
        finals = np.array([c.final_value for c in finished])
        finals = finals[np.isfinite(finals)]
        if finals.size == 0:
            continue
        mode = curves[0].mode
        inc = float(finals.min() if mode == "min" else finals.max())
        running = [curves[i] for i in idx[n:]]
        first_stop = np.full(len(running), T, dtype=float)
        for step in range(2, T):
            alive = np.flatnonzero(first_stop == T)
            if alive.size == 0:
                break
            _, decisive = trust.assess([prefix(running[k], step) for k in alive], finished, inc)
            first_stop[alive[decisive]] = step
        for k, c in enumerate(running):
            f = c.final_value
            if np.isfinite(f) and is_better(f, inc, mode) and abs(f - inc) > 1e-9 * abs(inc):
                winners += 1
                stopped_w += int(first_stop[k] < T)
            else:
                loser_share.append(first_stop[k] / T)
    return stopped_w, winners, float(np.mean(loser_share)) if loser_share else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curves", nargs="+", required=True)
    ap.add_argument("--specs", required=True, help="comma-separated StudyTrust specs")
    ap.add_argument("--finished", default="10,20,40", help="finished-trial counts to draw")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--configs", type=int, default=150, help="configurations per task (subsample)")
    ap.add_argument("--diverged-above", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    curves = mark_diverged(read_curves(args.curves), args.diverged_above)
    tasks = group_by_task(curves)
    print("| guard | finished | winners stopped | winners | losers' budget share run |")
    print("|---|---:|---:|---:|---:|")
    for spec in args.specs.split(","):
        trust = StudyTrust.from_spec(spec)
        for n in map(int, args.finished.split(",")):
            sw = w = 0
            shares = []
            for k, (name, cs) in enumerate(sorted(tasks.items())):
                rng = np.random.default_rng([args.seed, k, n])
                cs = [cs[i] for i in rng.permutation(len(cs))[:args.configs]]
                a, b, share = check(cs, trust, n, args.draws, rng)
                sw, w = sw + a, w + b
                shares.append(share)
            print(f"| {spec} | {n} | {sw} ({sw / max(w, 1):.1%}) | {w} | {np.nanmean(shares):.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
