"""Plots of benchmark results (matplotlib, written to a file; no screen needed)."""

from __future__ import annotations

import math
import os
from typing import Any


def plot_anytime_regret(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Mean anytime regret against steps spent (in full runs), one panel per task."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'lc-hpo[bench]'") from None
    curves = results["anytime_regret"]
    tasks = list(curves)
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.8 * rows), squeeze=False)
    max_step = results["setup"]["max_step"]
    for ax, task in zip(axes.flat, tasks):
        T = max_step[task]
        # Scale the axis to what happens after the first completed runs: before them the regret is
        # the task's largest, which for exploding losses dwarfs every difference between methods.
        later = [r for regret in curves[task].values() for r in regret[2 * T:]]
        positive = [r for r in later if r > 0]
        floor = min(positive) / 2 if positive else 1e-6
        top = max(later) * 1.5 if later and max(later) > 0 else 1.0
        colours = plt.get_cmap("tab20")
        for k, (method, regret) in enumerate(curves[task].items()):
            x = [(i + 1) / T for i in range(len(regret))]
            style = "--" if method in ("none", "oracle") else "-"
            ax.plot(x, [min(max(r, floor), top) for r in regret], style, label=method, lw=1.4,
                    color=colours(k % 20))
        ax.set_yscale("log")
        ax.set_ylim(floor, top)
        name = task.split("/")[-1]
        ax.set_title(name if len(name) <= 40 else "…" + name[-39:], fontsize=9)
        ax.set_xlabel("steps spent (full runs)")
        ax.set_ylabel("mean regret")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    # One legend beside the panels, saved with it: below them it covered the axis label and lost
    # the methods that did not fit one row.
    fig.tight_layout()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               frameon=False)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
