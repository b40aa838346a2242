"""Summarise ``estimate_ablate.py`` outputs: relative error of predicted steps (SDE, ODE and the
recorded original), signed error by (N, target), |error| by momentum, interval coverage, seconds.

Usage: ``estimate_ablate_report.py A.jsonl [B.jsonl ...]``; a prediction past 600 steps counts as 600.
"""

from __future__ import annotations

import json
import sys

import numpy as np

HORIZON = 600.0


def rel(pred: float, real: float) -> float:
    return (min(pred, HORIZON) - real) / real


def covered(interval: list[float], real: float) -> bool:
    lo, hi = (min(v, HORIZON) for v in interval)
    return lo <= real <= hi or (lo >= HORIZON and real >= HORIZON)


def report(path: str) -> None:
    with open(path) as fh:
        rows = [json.loads(line) for line in fh]
    pairs = [(r, k) for r in rows for k in range(3) if np.isfinite(r["real"][k])]
    e = np.array([rel(r["sde"][k], r["real"][k]) for r, k in pairs])
    absolute = {c: round(float(np.median([abs(rel(r[c][k], r["real"][k])) for r, k in pairs])), 3)
                for c in ("sde", "ode", "old")}
    signed = {(n, k): round(float(np.median([rel(r["sde"][k], r["real"][k])
                                             for r, j in pairs if j == k and r["n"] == n])), 2)
              for n in sorted({r["n"] for r in rows}) for k in range(3)
              if any(j == k and r["n"] == n for r, j in pairs)}
    by_m = {m: round(float(np.median([abs(rel(r["sde"][k], r["real"][k]))
                                      for r, k in pairs if r["m"] == m])), 2)
            for m in sorted({r["m"] for r in rows})}
    cover = (float(np.mean([covered(r["sde_interval"][k], r["real"][k]) for r, k in pairs]))
             if "sde_interval" in rows[0] else float("nan"))
    sec = np.median([r["sec"] for r in rows])
    fit = np.median([r.get("fit_sec", np.nan) for r in rows])
    print(f"{path}: {len(pairs)} pairs, median |e| {absolute}; 90th pct {np.percentile(abs(e), 90):.2f}; "
          f"within 20 % {np.mean(abs(e) <= 0.2):.0%}; interval covers {cover:.0%}; |e| by momentum "
          f"{by_m}; predict s {sec:.2f}, fit s {fit:.2f}\n   signed by (N, target): {signed}")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        report(p)
