"""Tables and a plot from the saved LRPO results (no training): paired differences of the single
runs, and the HPO sweep's short-vs-full scatter (``docs/lrpo_hpo.png``).

    python benchmarks/lrpo_report.py
"""

from __future__ import annotations

import json
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def paired() -> None:
    with open(os.path.join(RESULTS, "lrpo_single.json")) as fh:
        res = json.load(fh)
    for name, rows in res.items():
        full = next(k for k in rows if k.startswith("constant@") and k != "constant@16")
        print(f"\n{name}: paired test-accuracy differences (same seed), points, mean ± std")
        print(f"| schedule | minus step (no jump) | minus {full} |")
        print("|---|---:|---:|")
        step = np.array([r["test"] for r in rows["step"]])
        ref = np.array([r["test"] for r in rows[full]])
        for k, v in rows.items():
            if k == full:
                continue
            t = np.array([r["test"] for r in v])
            d1, d2 = 100 * (t - step), 100 * (t - ref)
            print(f"| {k} | {d1.mean():+.2f} ± {d1.std(ddof=1):.2f} | "
                  f"{d2.mean():+.2f} ± {d2.std(ddof=1):.2f} |")


def scatter(data: str) -> None:
    path = os.path.join(RESULTS, f"lrpo_hpo_{data}.json")
    if not os.path.exists(path):
        return
    with open(path) as fh:
        rows = json.load(fh)["rows"]
    full = np.array([r["full"]["test"] for r in rows])
    names = ("truncate16", "lrpo_code", "lrpo_predictor", "cosine")
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6), sharey=True)
    for ax, s in zip(axes, names, strict=True):
        short = np.array([r[s]["val"] for r in rows])
        ax.scatter(short, full, s=14)
        ax.set_title(s)
        ax.set_xlabel("val. accuracy after 16 epochs")
    axes[0].set_ylabel("test accuracy after full training")
    fig.suptitle(f"{data}: {len(rows)} configurations, short run vs full training")
    fig.tight_layout()
    out = os.path.join(HERE, "..", "docs", f"lrpo_hpo_{data}.png")
    fig.savefig(out, dpi=90)
    print(f"wrote {os.path.normpath(out)}")


if __name__ == "__main__":
    if os.path.exists(os.path.join(RESULTS, "lrpo_single.json")):
        paired()
    for d in ("digits", "mnist5k"):
        scatter(d)
