"""``lc-hpo demo``: three real Optuna studies on the digits data, side by side.

The same search (TPE, same seed) runs once with ``LCPruner()``, once with Optuna's default
``MedianPruner`` and once without pruning; each trial really trains a small PyTorch network and reports
its validation accuracy every epoch.  The table at the end shows what pruning saved and what it cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
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


def run_study(name: str, pruner: Any, n_trials: int, epochs: int, seed: int,
              dataset: str = "digits", on_curve: Callable[..., None] | None = None,
              progress: bool = True) -> StudyResult:
    """One Optuna study of ``n_trials`` real training runs with ``pruner``."""
    import optuna

    data = load_dataset(dataset)
    counter = {"epochs": 0}
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
            return history[-1].val_accuracy
        finally:
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
    """A Markdown table of the studies, relative to the unpruned one where there is one."""
    base = next((r for r in results if r.name == "none"), None)
    lines = [
        "| pruner | trials | pruned | epochs trained | best val. accuracy | wall time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        share = f" ({r.epochs / base.epochs:.0%})" if base and base.epochs else ""
        lines.append(f"| {r.name} | {r.n_trials} | {r.n_pruned} | {r.epochs}{share} | "
                     f"{r.best_value:.4f} | {r.seconds:.1f} |")
    return "\n".join(lines)


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
