"""Ablation for issue 25: re-run only the estimator, with some changes, against recorded real steps.

The real fine-tuning steps are read from a results file of ``estimate_finetune.py`` (default:
``benchmarks/results/estimate_finetune_seed0.jsonl`` for seed 0, where settings are chosen, and
``benchmarks/results/estimate_finetune.jsonl`` for seeds 1 and 2, where they are reported).  The
kernel is fitted once per (N, seed) and every setting is a ``predict`` on it.

Usage: ``estimate_ablate.py VARIANT SEED OUT.jsonl [--results FILE]``; VARIANT is ``default`` (the
code as it is) or tokens joined by ``+``: one of ``dynamics.MODES`` (how the subset's
cross-sample coupling is scaled to N, ``dynamics.RESCALE``: ``calibrated``, ``signal``, ``debias``,
``bulk``, ``linear``), ``dirsK`` / ``dirsall`` (at most K eigen-directions
simulated), ``MK`` (kernel subset of K samples).  Summarise with ``estimate_ablate_report.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from finetune_setup import finetune_model, finetune_task, load_mnist_5k, pretrain  # noqa: E402

import lc_hpo.estimate.dynamics as dynamics  # noqa: E402
import lc_hpo.estimate.estimator as estimator  # noqa: E402
from lc_hpo.estimate import TrainingTimeEstimator  # noqa: E402


def apply_variant(variant: str) -> dict:
    """Set the module knobs a variant names; returns extra estimator parameters."""
    extra: dict = {}
    for token in variant.split("+"):
        if token in dynamics.MODES:
            dynamics.RESCALE = token
        elif token == "fulldrift":
            dynamics.FULL_DRIFT = True
        elif token.startswith("dirs"):
            estimator.MAX_DIRECTIONS = 10**9 if token == "dirsall" else int(token[4:])
        elif token.startswith("M") and token[1:].isdigit():
            extra["n_samples"] = int(token[1:])
        elif token != "default":
            raise ValueError(f"unknown variant token {token!r}")
    return extra


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant")
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("--results", default=None)
    ap.add_argument("--merged", default=None,
                    help="also write the recorded rows with the new estimates in place of the old "
                         "(sde, ode, their intervals, sde_curve; sde_seconds = fit + predict), in "
                         "estimate_finetune.py's format, for estimate_report.py")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    extra = apply_variant(args.variant)
    results = args.results or os.path.join(
        HERE, "results", "estimate_finetune_seed0.jsonl" if args.seed == 0 else "estimate_finetune.jsonl")
    with open(results) as fh:
        rows = [r for r in map(json.loads, fh) if r["seed"] == args.seed]
    X, y = load_mnist_5k()
    state = pretrain(X, y) if rows and rows[0].get("regime", "near") == "near" else None
    fitted: dict[int, TrainingTimeEstimator] = {}
    merged: list[dict] = []
    fit_cpu: dict[int, float] = {}  # CPU seconds (the shared machine's wall times vary with load)
    with open(args.out, "w") as fh:
        for r in sorted(rows, key=lambda r: (r["n"], r["lr"], r["batch"], r["momentum"])):
            if r["n"] not in fitted:
                Xf, yf = finetune_task(X, y, r["n"], args.seed)
                c0 = time.process_time()
                fitted[r["n"]] = TrainingTimeEstimator(seed=args.seed, **extra).fit(
                    finetune_model(state, args.seed), Xf, yf)
                fit_cpu[r["n"]] = time.process_time() - c0
            est = fitted[r["n"]]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0, c0 = time.perf_counter(), time.process_time()
                e = est.predict(lr=r["lr"], batch_size=r["batch"], momentum=r["momentum"],
                                target_loss=r["targets"][-1], max_steps=600)
                sec, cpu = time.perf_counter() - t0, time.process_time() - c0
            sde = [e.steps_to(t) for t in r["targets"]]
            ode = [e.steps_to(t, noise=False)[0] for t in r["targets"]]
            if args.merged:
                grid = list(range(0, 601, 10))
                merged.append(dict(r, sde=[h[0] for h in sde], sde_interval=[list(h[1]) for h in sde],
                                   ode=ode, ode_interval=[[v, v] for v in ode],
                                   sde_seconds=est.fit_seconds_ + sec, predict_seconds=sec,
                                   fit_seconds=est.fit_seconds_, sde_diverges=e.diverges,
                                   fit_cpu_seconds=fit_cpu[r["n"]], predict_cpu_seconds=cpu,
                                   sde_curve=[grid, e.loss_curve(grid).tolist()]))
            fh.write(json.dumps(dict(lr=r["lr"], batch=r["batch"], m=r["momentum"], n=r["n"],
                                     real=r["real"], old=r["sde"], sde=[h[0] for h in sde],
                                     sde_interval=[list(h[1]) for h in sde], ode=ode,
                                     sec=sec, fit_sec=est.fit_seconds_, edge=est.bulk_edge_,
                                     cpu=cpu, fit_cpu=fit_cpu[r["n"]],
                                     gain=est.gain_),
                                default=float) + "\n")
    if args.merged:
        with open(args.merged, "w") as fh:
            fh.writelines(json.dumps(r, default=float) + "\n" for r in merged)


if __name__ == "__main__":
    main()
