"""Plots of benchmark results (matplotlib, written to a file; no screen needed)."""

from __future__ import annotations

import math
import os
from typing import Any


def plot_anytime_regret(results: dict[str, Any], path: str | os.PathLike) -> Any:
    """Mean anytime regret against steps spent (in full runs), one panel per task; returns the
    matplotlib Figure it saved to ``path``."""
    try:  # a Figure of its own, drawn to a file: pyplot's backend is neither needed nor switched
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'lc-hpo[bench]'") from None
    curves = results["anytime_regret"]
    tasks = list(curves)
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig = Figure(figsize=(5.5 * cols, 3.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    max_step = results["setup"]["max_step"]
    for ax, task in zip(axes.flat, tasks):
        T = max_step[task]
        # Scale the axis to what happens after the first completed runs: before them the regret is
        # the task's largest, which for exploding losses dwarfs every difference between methods.
        later = [r for regret in curves[task].values() for r in regret[2 * T:]]
        positive = [r for r in later if r > 0]
        floor = min(positive) / 2 if positive else 1e-6
        top = max(later) * 1.5 if later and max(later) > 0 else 1.0
        for k, (method, regret) in enumerate(curves[task].items()):
            x = [(i + 1) / T for i in range(len(regret))]
            ax.plot(x, [min(max(r, floor), top) for r in regret], label=method,
                    **_style(method, k))
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
    return fig


#: Distinct colours (tab10 without its red, which marks the product): lines stay apart in print.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")
#: The product's method: drawn thick, in red, above the others.
PRODUCT = "lc:default"


def _style(method: str, k: int) -> dict[str, Any]:
    """Line style of a method: the product emphasised, references dashed, the rest distinct."""
    if method == PRODUCT:
        return {"color": "#d62728", "lw": 2.6, "zorder": 5}
    if method in ("none", "oracle"):
        return {"color": "black" if method == "none" else "#555555", "ls": "--", "lw": 1.2}
    # past nine methods the colours repeat with another line style, so no two lines look alike
    return {"color": _COLOURS[k % len(_COLOURS)], "lw": 1.3,
            "ls": ("-", "-.", ":")[(k // len(_COLOURS)) % 3]}
