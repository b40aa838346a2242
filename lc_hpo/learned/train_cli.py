"""``lc-hpo train``: meta-train a learned predictor on curve sets (and the synthetic prior)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli_args import positive_int, positive_limit, read_curve_files
from .lc_gode import LCGODENoGraphPredictor, LCGODEPredictor
from .predictors import MixtureLSTMPredictor, RecursiveLSTMPredictor
from .prior import synthetic_curves

MODELS = {"lstm_mixture": MixtureLSTMPredictor, "lstm": RecursiveLSTMPredictor,
          "lc_gode": LCGODEPredictor, "lc_gode_nograph": LCGODENoGraphPredictor}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="meta-train a learned predictor and write a checkpoint")
    p.add_argument("--curves", nargs="*", default=[], metavar="FILE", help="curve-set files")
    p.add_argument("--diverged-above", type=positive_limit, metavar="X",
                   help="treat values whose magnitude exceeds X as diverged (null)")
    p.add_argument("--prior", action="store_true", help="add curves from the synthetic prior")
    p.add_argument("--prior-tasks", type=positive_int, default=150, help="synthetic tasks (150)")
    p.add_argument("--prior-curves", type=positive_int, default=80,
                   help="curves per synthetic task (80)")
    p.add_argument("--model", default="lstm_mixture", choices=sorted(MODELS),
                   help="the kind of predictor to train")
    p.add_argument("--hidden", type=positive_int, default=64,
                   help="LSTM width; for lc_gode the ODE vector field's width (64)")
    p.add_argument("--graph-layer", default="gcn", choices=["gcn", "gat"],
                   help="lc_gode's graph layers (gcn)")
    p.add_argument("--minutes", type=positive_limit, default=25.0, help="training time limit (25)")
    p.add_argument("--max-steps", type=positive_int, default=None,
                   help="optimiser steps at most (50000; lc_gode 1500)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of training and of the validation split")
    p.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    if not args.curves and not args.prior:
        raise ValueError("train: nothing to train on; give --curves FILE... and/or --prior")
    torch.manual_seed(args.seed)
    curves = read_curve_files(args.curves, args.diverged_above) if args.curves else []
    n_real = len(curves)
    if args.prior:
        curves += synthetic_curves(args.prior_tasks, args.prior_curves, seed=args.seed)
    extra = {"graph_layer": args.graph_layer} if args.model.startswith("lc_gode") else {}
    max_steps = args.max_steps if args.max_steps is not None else \
        (1500 if args.model.startswith("lc_gode") else 50_000)
    model = MODELS[args.model](hidden=args.hidden, max_minutes=args.minutes,
                               max_steps=max_steps, seed=args.seed, progress=not args.quiet,
                               **extra)
    model.fit(curves)
    model.metadata_["trained_on"]["files"] = [Path(f).name for f in args.curves]
    model.metadata_["trained_on"]["prior"] = (
        {"tasks": args.prior_tasks, "curves_per_task": args.prior_curves, "seed": args.seed}
        if args.prior else None)
    model.metadata_["trained_on"]["real_curves"] = n_real
    model.save(args.out)
    report = model.metadata_["training"]
    print(f"{args.model}: {report['steps']} steps in {report['seconds']} s "
          f"(stopped by {report['stopped_by']}), best validation loss "
          f"{report['best_val_loss']:.4f}; calibration {model.metadata_['calibration']}")
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB)")
    return 0
