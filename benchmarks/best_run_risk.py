"""How often would the stopping rule kill a task's best runs?  The risk a replay's regret hangs on.

A replay's regret (``lc-hpo bench hpo``) is decided by a handful of events: whether the few best runs
of a task survive.  Averages over decisions (``lc-hpo bench decide``) can improve while those events
get worse, so this example looks at them directly.  Per task, it takes the ``--top`` runs with the
best final values and, for each, ``--draws`` random sets of ``--finished`` *other* complete runs of
the task as the study's finished trials (the incumbent is their best final value).  It then feeds the
run to the library's ``StoppingRule`` step by step, as ``LCPruner`` would (threshold 0.05, the
standing read from those finished runs), and records whether and when it is stopped.  Only draws in
which the run's own final value beats the incumbent count: there, stopping it loses a better model
(in the others, stopping it is right).  Runs without a finite final value are left out, as
candidates and as finished runs.  The draws depend on ``--seed`` alone, so every predictor, task and
run sees the same sequence of random choices.

    python benchmarks/best_run_risk.py --curves digits_sweep.jsonl.gz --predictors default,other.pt

Prints one row per task, run, number of finished runs and predictor: the run's rank and final
value, in how many of the draws where it wins it was stopped, the median step of those stops, the
median P(better) the rule stopped it on and the forecast's own P there (before the standing is read;
``-`` where it never was stopped; ``diverged`` where every stop was for a diverged value, which
the rule makes without a forecast).
"""

from __future__ import annotations

import argparse
import math
from typing import Sequence

import numpy as np

from lc_hpo import make_predictor, read_curves
from lc_hpo.curve import Curve, best_of, is_better
from lc_hpo.curveset import group_by_task, mark_diverged
from lc_hpo.decision import StoppingRule
from lc_hpo.defaults import resolve_calibration


def incumbent_of(run: Curve, finished: Sequence[Curve]) -> float | None:
    """The best finite final value among ``finished``, in ``run``'s direction (None: there is
    none, which the rule reads as no incumbent)."""
    best = best_of([c.final_value for c in finished], run.mode)
    return None if math.isnan(best) else best


def wins(run: Curve, incumbent: float | None) -> bool:
    """Whether ``run`` ends strictly better than ``incumbent`` (any run beats no incumbent)."""
    return incumbent is None or is_better(run.final_value, incumbent, run.mode)


def stops(rule: StoppingRule, run: Curve, finished: Sequence[Curve], incumbent: float | None
          ) -> tuple[int, float, float] | None:
    """The first step at which ``rule`` stops ``run`` against ``finished`` (whose best final is
    ``incumbent``), the P it stopped on and the forecast's own P (they differ where the standing
    is read; both NaN for a stop on a diverged value, which has no forecast)."""
    prefixes = [run.truncate(int(s)) for s in run.steps[:-1]]  # every step before the last
    decisions = rule.decide_many(prefixes, incumbent, len(finished), context=list(finished))
    for prefix, d in zip(prefixes, decisions):
        if d.stop:
            p = math.nan if d.p_better is None else float(d.p_better)
            own = p if d.p_forecast is None else float(d.p_forecast)  # None: no standing read
            return int(prefix.steps[-1]), p, own
    return None


def risk(predictor_names: Sequence[str], curves: Sequence[Curve], top: int,
         finished: Sequence[int], draws: int, seed: int, min_points: int = 2) -> list[dict]:
    """One row per task, top run, number of finished runs and predictor (see the docstring)."""
    groups = {task: [c for c in group if c.is_complete and math.isfinite(c.final_value)]
              for task, group in group_by_task(curves).items()}
    groups = {task: group for task, group in groups.items() if group}
    for task, group in groups.items():  # before any work: a too-small task fails at once
        if max(finished) > len(group) - 1:
            raise SystemExit(f"--finished {max(finished)}: task {task!r} has only "
                             f"{len(group) - 1} other complete runs")
    rules = {}
    for n in predictor_names:
        p = make_predictor(n)
        rules[n] = StoppingRule(p, min_points=min_points, calibration=resolve_calibration(p))
    rows = []
    for task, group in groups.items():
        sign = 1.0 if group[0].mode == "max" else -1.0
        order = np.argsort(-sign * np.array([c.final_value for c in group]), kind="stable")
        for rank, idx in enumerate(order[:top], start=1):
            others = [c for j, c in enumerate(group) if j != idx]
            for n_fin in finished:
                rng = np.random.default_rng(seed)  # the same draws for every predictor
                sets = [[others[j] for j in rng.choice(len(others), n_fin, replace=False)]
                        for _ in range(draws)]
                won = [(s, inc) for s in sets
                       if wins(group[idx], inc := incumbent_of(group[idx], s))]
                for name, rule in rules.items():
                    hits = [h for h in (stops(rule, group[idx], s, inc) for s, inc in won) if h]
                    rows.append({
                        "task": task, "rank": rank, "final": group[idx].final_value,
                        "finished": n_fin, "predictor": name, "stopped": len(hits),
                        "draws": len(won),
                        "step": float(np.median([h[0] for h in hits])) if hits else math.nan,
                        "p": _median([h[1] for h in hits]),
                        "p_forecast": _median([h[2] for h in hits]),
                    })
    return rows


def _median(values: Sequence[float]) -> float:
    """Median of the finite values (stops on a diverged value have no P); NaN if none."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--curves", nargs="+", required=True)
    ap.add_argument("--diverged-above", type=float, default=None)
    ap.add_argument("--predictors", default="default", help="comma-separated (default)")
    ap.add_argument("--top", type=int, default=3, help="best runs per task (3)")
    ap.add_argument("--finished", default="20,60", help="finished runs per draw (20,60)")
    ap.add_argument("--draws", type=int, default=40, help="random sets of finished runs (40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-points", type=int, default=2,
                    help="finite values before a forecast may stop a run (the rule's min_points, 2)")
    args = ap.parse_args(argv)
    try:
        finished = [int(x) for x in args.finished.split(",")]
    except ValueError:
        raise SystemExit(f"--finished {args.finished!r}: give whole numbers, e.g. 20,60") from None
    if args.top < 1 or args.draws < 1 or args.min_points < 1 or min(finished) < 1:
        raise SystemExit("--top, --draws, --min-points and every --finished must be at least 1")
    curves = mark_diverged(read_curves(args.curves), args.diverged_above)
    rows = risk(args.predictors.split(","), curves, args.top, finished, args.draws, args.seed,
                args.min_points)
    print("| task | run (rank: final) | finished runs | predictor | stopped in (of the draws it "
          "wins) | median step | median P at the stop (forecast's own) |")
    print("|---|---|---:|---|---:|---:|---:|")
    for r in rows:
        step = "-" if math.isnan(r["step"]) else f"{r['step']:g}"
        if r["stopped"] and math.isnan(r["p"]):
            p = "diverged"
        else:
            p = "-" if math.isnan(r["p"]) else f"{r['p']:.3f} ({r['p_forecast']:.3f})"
        print(f"| {r['task']} | {r['rank']}: {r['final']:.4g} | {r['finished']} | "
              f"{r['predictor']} | {r['stopped']}/{r['draws']} | {step} | {p} |")


if __name__ == "__main__":
    main()
