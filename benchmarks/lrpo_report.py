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
    """One row per schedule, per data set: mean ± std over seeds of (schedule - step) and of
    (schedule - the full constant-rate run), test accuracy in points, same seed paired."""
    with open(os.path.join(RESULTS, "lrpo_single.json")) as fh:
        res = json.load(fh)
    names = [n for n, rows in res.items() if "constant@100" in rows]
    print("\npaired test-accuracy differences (same seed), points, mean ± std")
    print("| schedule | " + " | ".join(f"{n}: minus step | {n}: minus constant@100" for n in names)
          + " |")
    print("|---|" + "---:|---:|" * len(names))
    for k in res[names[0]]:
        if k in ("constant@100", "step"):
            continue
        cells = []
        for n in names:
            rows = res[n]
            t = np.array([r["test"] for r in rows[k]])
            for ref in ("step", "constant@100"):
                d = 100 * (t - np.array([r["test"] for r in rows[ref]]))
                cells.append(f"{d.mean():+.2f} ± {d.std(ddof=1):.2f}")
        print(f"| {k} | " + " | ".join(cells) + " |")


def scatter(data: str) -> None:
    path = os.path.join(RESULTS, f"lrpo_hpo_{data}.json")
    if not os.path.exists(path):
        return
    with open(path) as fh:
        rows = json.load(fh)["rows"]
    full = np.array([r["full"]["test"] for r in rows])
    names = [n for n in ("truncate16", "lrpo_code", "lrpo_predictor", "cosine") if n in rows[0]]
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
    for d in ("digits", "mnist1d"):
        scatter(d)
