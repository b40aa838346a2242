"""Recording a NAS sweep: random NAS-Bench-201-style cell networks trained for real, each curve with
its architecture graph, so that ``lc_gode`` can be trained on a user's own search space.

Every configuration trains to the end (a sweep records complete curves); the curve's ``arch`` is the
cell's ops-as-nodes DAG (:func:`lc_hpo.arch.from_nb201`), as on the NAS-Bench-201 curves.  Training runs
in ``workers`` processes, each on one thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ...curve import Curve
from ...curveset import write_curves
from ..tasks.datasets import load_dataset
from ..tasks.nas import nas_arch, sample_nas_config, train_nas
from .record import curve_from_history


def nas_task(dataset: str, epochs: int) -> str:
    """The task name of a NAS sweep's curves."""
    return f"{dataset}/nb201-cells-{epochs}ep"


def _train_one(job: tuple[str, dict[str, Any], int, int, str]) -> Curve:
    dataset, config, epochs, seed, config_id = job
    import torch

    torch.set_num_threads(1)
    history = list(train_nas(config, load_dataset(dataset), epochs, seed=seed))
    return curve_from_history(history, config, nas_task(dataset, epochs), config_id, epochs,
                              nas_arch(config))


def record_nas_sweep(dataset: str = "digits", n_configs: int = 100, epochs: int = 20, seed: int = 0,
                     workers: int = 1, progress: bool = True) -> Iterator[Curve]:
    """Train ``n_configs`` random cell networks for ``epochs`` epochs; yield their curves in order."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    rng = np.random.default_rng(seed)
    jobs = [(dataset, sample_nas_config(rng), epochs, seed * 100_003 + i, f"{seed}-{i}")
            for i in range(n_configs)]
    bar = tqdm(total=n_configs, desc=f"recording NAS cells on {dataset}", disable=not progress)
    try:
        if workers == 1:
            for job in jobs:
                yield _train_one(job)
                bar.update()
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for curve in pool.map(_train_one, jobs):
                yield curve
                bar.update()
    finally:
        bar.close()


def record_nas_to_file(out: str | os.PathLike, **kwargs: Any) -> int:
    """Record a NAS sweep into a curve-set file; returns how many curves were written."""
    return write_curves(record_nas_sweep(**kwargs), out)
