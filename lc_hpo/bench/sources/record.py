"""Recording real training runs as curve sets, so that every real sweep becomes benchmark data."""

from __future__ import annotations

import os
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ...curve import Curve
from ...curveset import write_curves
from ..tasks import (EpochResult, architecture_graph, build_model, load_dataset, sample_config,
                     scheduled_space, train)


def curve_from_history(history: Sequence[EpochResult], config: Mapping[str, Any], task: str,
                       config_id: str, max_step: int, arch: Mapping[str, Any] | None = None
                       ) -> Curve:
    """A validation-accuracy curve (with losses and per-epoch seconds) from a training history."""
    return Curve(
        steps=np.array([r.epoch for r in history], dtype=int),
        values=np.array([r.val_accuracy for r in history], dtype=float),
        mode="max",
        max_step=max_step,
        task=task,
        config_id=config_id,
        config=dict(config),
        metric="val_accuracy",
        step_cost=np.array([r.seconds for r in history], dtype=float),
        arch=arch,
        extra={"val_loss": np.array([r.val_loss for r in history], dtype=float),
               "train_loss": np.array([r.train_loss for r in history], dtype=float)},
    )


def record_sweep(dataset: str = "digits", n_configs: int = 100, epochs: int = 30, seed: int = 0,
                 progress: bool = True, schedules: Sequence[str] | None = None) -> Iterator[Curve]:
    """Train ``n_configs`` random configurations to the end and yield their curves.

    With ``schedules`` (names from ``lc_hpo.bench.tasks.SCHEDULES``) each configuration also draws
    its learning-rate schedule among them, kept in its curve's config as ``schedule``, and the task
    is named ``<dataset>/mlp-cnn-sched-<epochs>ep``; without, the rate is constant as before (same
    configurations for the same seed).
    """
    import torch

    torch.set_num_threads(1)
    space = scheduled_space(schedules) if schedules is not None else None
    data = load_dataset(dataset)
    rng = np.random.default_rng(seed)
    task = f"{dataset}/mlp-cnn-{'sched-' if schedules is not None else ''}{epochs}ep"
    for i in tqdm(range(n_configs), desc=f"recording {dataset}", disable=not progress):
        config = sample_config(rng, space)
        arch = architecture_graph(build_model(config, data.image_size, data.n_classes))
        history = list(train(config, data, epochs, seed=seed * 100_003 + i))
        yield curve_from_history(history, config, task, f"{seed}-{i}", epochs, arch)


def record_to_file(out: str | os.PathLike, **kwargs: Any) -> int:
    """Record a sweep into a curve-set file; returns how many curves were written."""
    return write_curves(record_sweep(**kwargs), out)
