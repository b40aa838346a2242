"""How many partial curves per second `StoppingRule.decide_many` decides, by study size.

A scheduler that reviews many trials at once (Ray Tune's LCScheduler at a milestone, `bench decide`)
decides for them in one batch; with the bundled default the rule also reads each trial's standing
among the finished trials, which is the part that grows with the study.  This times one batch of
synthetic saturating accuracy curves (cut at 3-39 of 50 steps) against 0, 20, 200 and 1,000
finished curves.

    python benchmarks/decide_throughput.py [--curves 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lc_hpo import Curve, make_predictor
from lc_hpo.decision import StoppingRule
from lc_hpo.defaults import bundled_calibration


def _curve(rng: np.random.Generator, n: int, max_step: int = 50) -> Curve:
    final = rng.uniform(0.5, 0.95)
    t = np.arange(1, n + 1)
    values = final - (final - 0.1) * np.exp(-0.2 * t) + rng.normal(0, 0.01, n)
    return Curve(steps=t, values=values, mode="max", max_step=max_step)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--curves", type=int, default=5000, help="partial curves per batch (5000)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    partial = [_curve(rng, int(rng.integers(3, 40))) for _ in range(args.curves)]
    rule = StoppingRule(make_predictor("default"), calibration=bundled_calibration())
    rule.decide_many(partial[:100], 0.97, 1)  # warm-up
    print("| finished curves | curves/s |\n|---:|---:|")
    for n_finished in (0, 20, 200, 1000):
        finished = [_curve(rng, 50) for _ in range(n_finished)]
        start = time.perf_counter()
        rule.decide_many(partial, 0.97, max(n_finished, 1), context=finished or None)
        print(f"| {n_finished} | {len(partial) / (time.perf_counter() - start):,.0f} |")


if __name__ == "__main__":
    main()
