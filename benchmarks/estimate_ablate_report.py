"""Summarise ``estimate_ablate.py`` outputs: median |relative error| of predicted steps (SDE, ODE,
and the recorded original), signed error by target and by (N, target), |error| by momentum.

Usage: ``estimate_ablate_report.py A.jsonl [B.jsonl ...]``; a prediction past 600 steps counts as 600.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def rel(pred: float, real: float) -> float:
    return (min(pred, 600.0) - real) / real


def report(path: str) -> None:
    with open(path) as fh:
        rows = [json.loads(line) for line in fh]
    pairs = [(r, k) for r in rows for k in range(3) if np.isfinite(r["real"][k])]
    absolute = {c: round(float(np.median([abs(rel(r[c][k], r["real"][k])) for r, k in pairs])), 3)
                for c in ("sde", "ode", "old")}
    signed = {k: round(float(np.median([rel(r["sde"][k], r["real"][k]) for r, j in pairs if j == k])),
                       2) for k in range(3)}
    by_m = {m: round(float(np.median([abs(rel(r["sde"][k], r["real"][k]))
                                      for r, k in pairs if r["m"] == m])), 2) for m in (0.0, 0.9)}
    by_n = {(n, k): round(float(np.median([rel(r["sde"][k], r["real"][k])
                                           for r, j in pairs if j == k and r["n"] == n])), 2)
            for n in (250, 1000) for k in range(3)}
    print(f"{path}: {len(pairs)} pairs, median |e| {absolute}; signed by target {signed}; "
          f"|e| by momentum {by_m}\n   signed by (N, target): {by_n}")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        report(p)
