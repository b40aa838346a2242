"""Benchmark: the training-time estimator against real fine-tuning (lc_hpo.estimate).

Runs a grid of SGD settings (learning rate, batch size, momentum, data set size) on the fine-tuning
problem of ``finetune_setup.py``; for each it makes the estimate *before* training, then fine-tunes a
copy for real, and records the steps at which the loss on the whole fine-tuning set first reaches
each target (70 %, 50 % and 35 % of its starting value), with the baselines beside it:

* ``ode``: the same estimator's noise-free curve (full-batch ODE, ``steps_to(..., noise=False)``);
* ``lin_sgd``: the linearised network trained with the same real SGD batches (isolates the SDE's
  error from the linearisation's);
* ``exp_fit`` / ``pow_fit``: an exponential / power law fitted to the real run's first measured
  losses, as many as its training time bought within the estimator's wall time (at least 3);
* ``median``: the median real steps over the other settings (computed in ``estimate_report.py``).

One JSON line per run is appended to ``--out``; ``estimate_report.py`` makes the tables and plots.

    .venv/bin/python benchmarks/estimate_finetune.py --regime near --seeds 1 2
    .venv/bin/python benchmarks/estimate_finetune.py --regime far --seeds 1
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import torch
from scipy.optimize import curve_fit
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finetune_setup import (Run, finetune_model, finetune_task, linearised_sgd,  # noqa: E402
                            load_mnist_5k, pretrain, sgd_finetune)

from lc_hpo.estimate import EstimateWarning, estimate_training_time  # noqa: E402

TARGETS = (0.7, 0.5, 0.35)  # fractions of the starting loss
MAX_STEPS = 600  # real fine-tuning horizon
HORIZON = MAX_STEPS  # the estimator's horizon
GRIDS = {
    "near": dict(lr=[0.003, 0.01, 0.03, 0.1], batch=[16, 64], momentum=[0.0, 0.9], n=[250, 1000]),
    "far": dict(lr=[0.01, 0.03, 0.1], batch=[32], momentum=[0.0, 0.9], n=[500]),
}


def fit_hits(run: Run, budget_s: float, targets: list[float]) -> dict[str, list[float]]:
    """Exponential and power-law fits to the real losses measured within ``budget_s`` of training."""
    t = np.array([s for s, sec in zip(run.steps, run.train_seconds) if sec <= budget_s], float)
    if t.size < 3:
        t = np.array(run.steps[:3], float)
    v = np.array(run.losses[:t.size])
    L0 = v[0]
    out: dict[str, list[float]] = {}
    shapes = {"exp_fit": lambda s, b, c: c + (L0 - c) * np.exp(-b * s),
              "pow_fit": lambda s, b, c: c + (L0 - c) * (1.0 + s) ** (-b)}
    for name, fn in shapes.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                (b, c), _ = curve_fit(fn, t, v, p0=(0.01, 0.5 * L0), bounds=([0, 0], [10, L0]),
                                      maxfev=2000)
        except Exception:  # noqa: BLE001 - a fit that fails predicts nothing
            out[name] = [math.inf] * len(targets)
            continue
        hits = []
        for tg in targets:
            if c >= tg or b <= 0:
                hits.append(math.inf)
            elif name == "exp_fit":
                hits.append(math.ceil(math.log((L0 - c) / (tg - c)) / b))
            else:
                hits.append(math.ceil(((L0 - c) / (tg - c)) ** (1.0 / b) - 1.0))
        out[name] = hits
    out["fit_points"] = [int(t.size)] * len(targets)
    return out


def one(regime: str, state: dict | None, X: torch.Tensor, y: torch.Tensor, *, lr: float,
        batch: int, momentum: float, n: int, seed: int, lin: bool) -> dict:
    Xf, yf = finetune_task(X, y, n, seed)
    model = finetune_model(state, seed)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        L0 = float(torch.nn.functional.cross_entropy(model(Xf), yf))
    targets = [q * L0 for q in TARGETS]
    row: dict = dict(regime=regime, seed=seed, n=n, lr=lr, batch=batch, momentum=momentum,
                     initial_loss=L0, targets=targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        t0 = time.perf_counter()
        e = estimate_training_time(model, Xf, yf, lr=lr, batch_size=batch, momentum=momentum,
                                   target_loss=targets[-1], max_steps=HORIZON, seed=seed)
        row["sde_seconds"] = time.perf_counter() - t0
        row["sde_diverges"] = e.diverges
        for name, noise in (("sde", True), ("ode", False)):
            hits = [e.steps_to(tg, noise=noise) for tg in targets]
            row[name] = [h[0] for h in hits]
            row[f"{name}_interval"] = [list(h[1]) for h in hits]
        grid = np.arange(0, MAX_STEPS + 1, 10)
        row["sde_curve"] = [grid.tolist(), e.loss_curve(grid).tolist()]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "model changed"
    t0 = time.perf_counter()
    real = sgd_finetune(copy.deepcopy(model), Xf, yf, lr=lr, batch_size=batch, momentum=momentum,
                        max_steps=MAX_STEPS, seed=seed, stop_below=targets[-1])
    row["real_wall_seconds"] = time.perf_counter() - t0
    row["real"] = [real.hit(tg) for tg in targets]
    row["real_train_seconds"] = [real.seconds_at(h) for h in row["real"]]
    row["real_curve"] = [real.steps, real.losses]
    row["real_diverged"] = not math.isfinite(real.losses[-1])
    row.update(fit_hits(real, row["sde_seconds"], targets))
    if lin:
        t0 = time.perf_counter()
        lrun = linearised_sgd(copy.deepcopy(model), Xf, yf, lr=lr, batch_size=batch,
                              momentum=momentum, max_steps=MAX_STEPS, seed=seed,
                              stop_below=targets[-1])
        row["lin_sgd"] = [lrun.hit(tg) for tg in targets]
        row["lin_sgd_seconds"] = time.perf_counter() - t0
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regime", choices=sorted(GRIDS), default="near")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--lin-seeds", type=int, nargs="*", default=None,
                    help="seeds on which the linearised-SGD baseline also runs (default: all)")
    ap.add_argument("--out", default="benchmarks/results/estimate_finetune.jsonl")
    ap.add_argument("--limit", type=int, default=None, help="run only the first LIMIT settings")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    X, y = load_mnist_5k()
    state = pretrain(X, y) if args.regime == "near" else None
    g = GRIDS[args.regime]
    settings = list(itertools.product(g["lr"], g["batch"], g["momentum"], g["n"]))[:args.limit]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    jobs = [(s, seed) for seed in args.seeds for s in settings]
    # a fixed shuffle, so that a run cut short still covers the grid evenly
    jobs = [jobs[i] for i in np.random.default_rng(0).permutation(len(jobs))]
    for (lr, batch, momentum, n), seed in tqdm(jobs, desc=f"estimate vs fine-tune ({args.regime})"):
        lin = args.lin_seeds is None or seed in args.lin_seeds
        row = one(args.regime, state, X, y, lr=lr, batch=batch, momentum=momentum, n=n, seed=seed,
                  lin=lin)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row, default=float) + "\n")


if __name__ == "__main__":
    main()
