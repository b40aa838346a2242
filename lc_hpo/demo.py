"""``lc-hpo demo``: three real Optuna studies on the digits data, side by side.

The same search (TPE, same seed) runs once with ``LCPruner()``, once with Optuna's default
``MedianPruner`` and once without pruning; each trial really trains a small PyTorch network and reports
its validation accuracy every epoch.  The table at the end shows what pruning saved and what it cost,
and what a user should judge a pruner by: how many epochs its study had spent when its best came within
0.2 accuracy points of the unpruned study's best, and, at equal accuracy, when its best first reached
the lowest of the studies' bests (the level every study reached); ``plot_demo`` draws best accuracy
against epochs spent.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tqdm.auto import tqdm

from .bench.tasks import load_dataset, suggest_config, train


@dataclass
class StudyResult:
    name: str
    n_trials: int
    n_pruned: int
    epochs: int
    best_value: float
    seconds: float
    #: ``(epochs spent so far, best completed accuracy so far)`` after each trial, in trial order;
    #: the best is 0.0 until a trial completes (pruned trials never count, as in ``study.best_value``).
    trace: list[tuple[int, float]] = field(default_factory=list)


#: "Within 0.2 points": accuracy is a fraction, so 0.2 percentage points is 0.002 (about one validation
#: sample on digits).
WITHIN = 0.002


def epochs_to_reach(trace: list[tuple[int, float]], target: float) -> int | None:
    """The epochs a study had spent when its best-so-far first reached ``target``; None if never."""
    return next((spent for spent, best in trace if best >= target), None)


def lowest_best(results: list[StudyResult]) -> float | None:
    """The lowest of the studies' best accuracies: the level every study reached, so the epochs each
    spent to reach it compare the pruners at equal accuracy.  None with fewer than two studies."""
    return min(r.best_value for r in results) if len(results) >= 2 else None


def run_study(name: str, pruner: Any, n_trials: int, epochs: int, seed: int,
              dataset: str = "digits", on_curve: Callable[..., None] | None = None,
              progress: bool = True) -> StudyResult:
    """One Optuna study of ``n_trials`` real training runs with ``pruner``."""
    import optuna

    data = load_dataset(dataset)
    counter = {"epochs": 0}
    best = {"value": 0.0}
    trace: list[tuple[int, float]] = []
    bar = tqdm(total=n_trials, desc=f"{name:>10s}", disable=not progress, leave=True)

    def objective(trial: optuna.Trial) -> float:
        config = suggest_config(trial)
        history = []
        try:
            for result in train(config, data, epochs, seed=seed + trial.number):
                counter["epochs"] += 1
                history.append(result)
                trial.report(result.val_accuracy, result.epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            best["value"] = max(best["value"], history[-1].val_accuracy)
            return history[-1].val_accuracy
        finally:
            trace.append((counter["epochs"], best["value"]))
            if on_curve is not None:
                on_curve(trial, config, history, epochs)
            bar.set_postfix(epochs=counter["epochs"], refresh=False)
            bar.update(1)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=f"demo-{name}-seed{seed}", direction="maximize",
                                pruner=pruner, sampler=optuna.samplers.TPESampler(seed=seed))
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    seconds = time.perf_counter() - start
    bar.close()
    states = [t.state for t in study.trials]
    return StudyResult(
        name=name,
        n_trials=len(states),
        n_pruned=sum(s == optuna.trial.TrialState.PRUNED for s in states),
        epochs=counter["epochs"],
        best_value=study.best_value,
        seconds=seconds,
        trace=trace,
    )


class DemoRecorder:
    """Collects every demo trial's curve (partial for pruned trials) for ``--record``."""

    def __init__(self, dataset: str, epochs: int) -> None:
        self.task = f"{dataset}/mlp-cnn-{epochs}ep"
        self.data = load_dataset(dataset)
        self.curves: list = []

    def __call__(self, trial: Any, config: dict, history: list, epochs: int) -> None:
        from .bench.sources.record import curve_from_history
        from .bench.tasks import architecture_graph, build_model

        if history:
            arch = architecture_graph(build_model(config, self.data.image_size,
                                                  self.data.n_classes))
            self.curves.append(curve_from_history(
                history, config, self.task, f"{trial.study.study_name}-{trial.number}", epochs,
                arch))

    def write(self, path: str) -> int:
        from .curveset import write_curves

        return write_curves(self.curves, path)


def format_table(results: list[StudyResult]) -> str:
    """A Markdown table of the studies, relative to the unpruned one where there is one.

    With an unpruned study (named ``none``) a column gives the epochs each study had spent when its
    best first came within 0.2 points of the unpruned study's final best ("never" if it did not): what
    a user would have paid to get a model as good as training everything gives.  With two studies or
    more the last column compares them at equal accuracy: the epochs each had spent when its best first
    reached the lowest of the studies' bests (every study reaches it; the study with the lowest best
    reaches it at the trial that set it).
    """
    base = next((r for r in results if r.name == "none"), None)
    low = lowest_best(results)
    header = "| pruner | trials | pruned | epochs trained | best val. accuracy | wall time (s) |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if base is not None:
        header += " epochs to within 0.2 points of none's best |"
        rule += "---:|"
    if low is not None:
        header += f" epochs to {low:.4f}, the lowest best |"
        rule += "---:|"
    lines = [header, rule]
    for r in results:
        share = f" ({r.epochs / base.epochs:.0%})" if base and base.epochs else ""
        line = (f"| {r.name} | {r.n_trials} | {r.n_pruned} | {r.epochs}{share} | "
                f"{r.best_value:.4f} | {r.seconds:.1f} |")
        if base is not None:
            hit = epochs_to_reach(r.trace, base.best_value - WITHIN)
            line += " never |" if hit is None else (
                f" {hit}" + (f" ({hit / base.epochs:.0%})" if base.epochs else "") + " |")
        if low is not None:
            hit = epochs_to_reach(r.trace, low)
            line += " never |" if hit is None else f" {hit} |"  # never: a trace that lost its best
        lines.append(line)
    return "\n".join(lines)


#: The product drawn thick in red; the references in colours of their own, thinner and above it, so
#: that where the studies agree (same sampler, same seed) their lines stay visible on the red one.
_STYLES: dict[str, dict[str, Any]] = {"LCPruner": {"color": "#d62728", "lw": 3.2, "zorder": 2},
                                      "median": {"color": "#1f77b4", "lw": 1.6, "zorder": 4},
                                      "none": {"color": "black", "lw": 1.2, "ls": "--", "zorder": 3}}
_OTHER_COLOURS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def plot_demo(results: list[StudyResult], path: str | os.PathLike) -> Any:
    """Best accuracy so far against epochs spent, one line per study; saved as PNG to ``path``.

    Returns the matplotlib Figure.  A Figure of its own drawn to a file (as ``lc_hpo.bench.plots``):
    pyplot and its backend are neither needed nor switched.  Raises ImportError if matplotlib is
    missing.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("the demo's plot needs matplotlib: pip install 'lc-hpo[demo]'") from None
    fig = Figure(figsize=(8.0, 4.8))
    ax = fig.subplots()
    base = next((r for r in results if r.name == "none"), None)
    low = lowest_best(results)
    shown = [b for r in results for _, b in r.trace if b > 0]
    for k, r in enumerate(results):
        points = [(0, 0.0)] + [(e, b) for e, b in r.trace]
        style: dict[str, Any] = _STYLES.get(
            r.name, {"color": _OTHER_COLOURS[k % len(_OTHER_COLOURS)], "lw": 1.3, "zorder": 3})
        hit = epochs_to_reach(r.trace, base.best_value - WITHIN) if base is not None else None
        reached = "" if base is None else (
            ", never within 0.2 points" if hit is None else f", within 0.2 points at {hit}")
        ax.plot([e for e, _ in points], [b for _, b in points], drawstyle="steps-post",
                label=f"{r.name}: best {r.best_value:.4f} in {r.epochs} epochs{reached}", **style)
        # where the study ended (a square) and where it came within 0.2 points (a dot)
        ax.plot([points[-1][0]], [points[-1][1]], "s", color=style["color"], ms=6, zorder=6)
        if hit is not None:
            ax.plot([hit], [dict(r.trace)[hit]], "o", color=style["color"], ms=7, zorder=6)
        # where it first reached the lowest of the bests (a triangle): equal accuracy
        equal = epochs_to_reach(r.trace, low) if low is not None else None
        if equal is not None:
            ax.plot([equal], [dict(r.trace)[equal]], "^", color=style["color"], ms=7, zorder=6)
    if base is not None:
        ax.axhline(base.best_value - WITHIN, color="#7f7f7f", lw=0.8, ls=":",
                   label="0.2 points below none's best")
    if low is not None:
        ax.axhline(low, color="#bcbd22", lw=0.8, ls="-.", label=f"the lowest best ({low:.4f})")
    if shown:  # the top three points of accuracy, where the pruners differ; not from 0
        top = max(shown)
        ax.set_ylim(max(min(shown), top - 0.03) - 0.002, top + 0.002)
    ax.set_xlabel("epochs spent (cumulative, in trial order)")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title("lc-hpo demo: best accuracy against epochs spent\n(dot: within 0.2 points of "
                 "none's best; triangle: the lowest best reached; square: the study's end)",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig


def run_demo(n_trials: int = 80, epochs: int = 30, seed: int = 0, dataset: str = "digits",
             progress: bool = True, on_curve: Callable[..., None] | None = None
             ) -> list[StudyResult]:
    """The three studies of the demo, in the order LCPruner, MedianPruner, no pruning."""
    import optuna
    import torch

    from lc_hpo.integrations.optuna import LCPruner

    torch.set_num_threads(1)  # small networks train fastest on one thread
    studies = [
        ("LCPruner", LCPruner()),
        ("median", optuna.pruners.MedianPruner()),
        ("none", optuna.pruners.NopPruner()),
    ]
    return [
        run_study(name, pruner, n_trials, epochs, seed, dataset, on_curve=on_curve,
                  progress=progress)
        for name, pruner in studies
    ]
