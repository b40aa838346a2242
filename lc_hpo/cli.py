"""The ``lc-hpo`` command line: one subcommand per job, each in the module that does the work."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _demo(args: argparse.Namespace) -> int:
    from .demo import format_table, run_demo

    results = run_demo(n_trials=args.trials, epochs=args.epochs, seed=args.seed,
                       dataset=args.dataset, progress=not args.quiet)
    print()
    print(f"{args.trials} trials of up to {args.epochs} epochs on {args.dataset}, TPE seed {args.seed}:")
    print(format_table(results))
    return 0


def _bench_latency(args: argparse.Namespace) -> int:
    from .bench.latency import format_results, measure

    results = []
    for n in args.finished:
        results += measure(n, n_running=args.running, steps=args.steps, seed=args.seed,
                           progress=not args.quiet)
    print(format_results(results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lc-hpo",
        description="Learning-curve forecasts that kill, rank and budget HPO trials.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="real Optuna studies on digits: LCPruner vs median vs none")
    demo.add_argument("--trials", type=int, default=80, help="trials per study (default 80)")
    demo.add_argument("--epochs", type=int, default=30, help="epochs of a full run (default 30)")
    demo.add_argument("--seed", type=int, default=0, help="sampler and training seed (default 0)")
    demo.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(
        dest="bench", metavar="BENCH", required=True)
    lat = bench.add_parser("latency", help="added should_prune() latency: LCPruner vs MedianPruner")
    lat.add_argument("--finished", type=int, nargs="+", default=[100, 1000],
                     help="numbers of finished trials in the study (default 100 1000)")
    lat.add_argument("--running", type=int, default=20, help="timed trials (default 20)")
    lat.add_argument("--steps", type=int, default=50, help="steps per trial (default 50)")
    lat.add_argument("--seed", type=int, default=0)
    lat.add_argument("--quiet", action="store_true", help="no progress bars")
    lat.set_defaults(func=_bench_latency)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
