"""Ablation for issue 25: re-run only the estimator, with one change, on one seed's settings.

The real fine-tuning steps are reused from ``benchmarks/results/estimate_finetune.jsonl``; the
default code (variant ``dirs64``) reproduces that file's predictions exactly.

Usage: ``estimate_ablate.py VARIANT SEED OUT.jsonl`` with VARIANT ``dirsK`` (at most K eigen-directions
simulated), ``MK`` (kernel subset of K samples), or any other name (the code as it is, e.g. with
``benchmarks/patches/estimate_heavyball.patch`` applied). Summarise with ``estimate_ablate_report.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from finetune_setup import finetune_model, finetune_task, load_mnist_5k, pretrain  # noqa: E402

import lc_hpo.estimate.estimator as estimator  # noqa: E402
from lc_hpo.estimate import estimate_training_time  # noqa: E402


def main(variant: str, seed: int, out: str) -> None:
    torch.set_num_threads(1)
    extra: dict = {}
    if variant.startswith("dirs"):
        estimator.MAX_DIRECTIONS = int(variant[4:])
    elif variant.startswith("M") and variant[1:].isdigit():
        extra["n_samples"] = int(variant[1:])
    with open(os.path.join(HERE, "results", "estimate_finetune.jsonl")) as fh:
        rows = [r for r in map(json.loads, fh) if r["seed"] == seed]
    X, y = load_mnist_5k()
    state = pretrain(X, y)
    with open(out, "w") as fh:
        for r in rows:
            Xf, yf = finetune_task(X, y, r["n"], seed)
            model = finetune_model(state, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                e = estimate_training_time(model, Xf, yf, lr=r["lr"], batch_size=r["batch"],
                                           momentum=r["momentum"], target_loss=r["targets"][-1],
                                           max_steps=600, seed=seed, **extra)
                sec = time.perf_counter() - t0
            sde = [e.steps_to(t)[0] for t in r["targets"]]
            ode = [e.steps_to(t, noise=False)[0] for t in r["targets"]]
            fh.write(json.dumps(dict(lr=r["lr"], batch=r["batch"], m=r["momentum"], n=r["n"],
                                     real=r["real"], old=r["sde"], sde=sde, ode=ode, sec=sec),
                                default=float) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
