"""The ``lc-hpo`` command line: one subcommand per job, each in the module that does the work."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .cli_args import (non_negative_int, positive_float, positive_int, positive_limit,
                       read_curve_files)


def _demo(args: argparse.Namespace) -> int:
    from .demo import DemoRecorder, format_table, plot_demo, run_demo

    recorder = DemoRecorder(args.dataset, args.epochs) if args.record else None
    results = run_demo(n_trials=args.trials, epochs=args.epochs, seed=args.seed,
                       dataset=args.dataset, progress=not args.quiet, on_curve=recorder)
    if recorder is not None:
        n = recorder.write(args.record)
        print(f"recorded {n} curves to {args.record}")
    print()
    print(f"{args.trials} trials of up to {args.epochs} epochs on {args.dataset}, TPE seed {args.seed}:")
    print(format_table(results))
    if not args.no_plot:
        try:
            plot_demo(results, args.plot)
        except ImportError as e:
            print(f"no plot written: {e}")
        else:
            print(f"plot of best accuracy against epochs spent written to {os.path.abspath(args.plot)}")
    return 0


def _bench_latency(args: argparse.Namespace) -> int:
    from .bench.latency import format_results, measure

    results = []
    for n in args.finished:
        results += measure(n, n_running=args.running, steps=args.steps, seed=args.seed,
                           progress=not args.quiet)
    print(format_results(results))
    return 0


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _bench_hpo(args: argparse.Namespace) -> int:
    from .bench.hpo import format_summary, run_hpo_bench, write_json

    results = run_hpo_bench(read_curve_files(args.curves, args.diverged_above),
                            methods=_csv(args.methods) if args.methods else None,
                            orderings=args.orderings, budget_factor=args.budget, seed=args.seed,
                            workers=args.workers, framework=args.framework,
                            progress=not args.quiet)
    print(format_summary(results))
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        from .bench.plots import plot_anytime_regret

        plot_anytime_regret(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _bench_predict(args: argparse.Namespace) -> int:
    from .bench.hpo import write_json
    from .bench.predict import format_predict, run_predict_bench

    results = run_predict_bench(
        read_curve_files(args.curves, args.diverged_above), _csv(args.predictors),
        cutoffs=[float(c) for c in _csv(args.cutoffs)],
        train=read_curve_files(args.train, args.diverged_above) if args.train else None,
        progress=not args.quiet, point=args.point, folds=args.folds,
        seed=args.seed)
    print(format_predict(results))
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}")
    return 0


def _bench_decide(args: argparse.Namespace) -> int:
    from .bench.decide import format_decide, run_decide_bench
    from .bench.hpo import write_json

    results = run_decide_bench(
        read_curve_files(args.curves, args.diverged_above), _csv(args.predictors),
        situations_per_task=args.situations, cutoffs=[float(c) for c in _csv(args.cutoffs)],
        thresholds=[float(t) for t in _csv(args.thresholds)], max_finished=args.max_finished,
        seed=args.seed, progress=not args.quiet)
    print(format_decide(results))
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    import optuna

    from .explain import explain_trial

    if args.storage.startswith("sqlite:///") and not os.path.exists(args.storage[10:]):
        raise ValueError(f"{args.storage}: no such SQLite file")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=args.study, storage=args.storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(args.storage)]
        raise ValueError(f"no study {args.study!r} in {args.storage}; it holds: "
                         f"{', '.join(names) or 'no studies'}") from None
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if args.trial not in trials:
        raise ValueError(f"study {args.study!r} has no trial {args.trial} "
                         f"({len(trials)} trials, numbered from 0)")
    print(explain_trial(trials[args.trial]))
    return 0


def _data_lcbench(args: argparse.Namespace) -> int:
    from .curveset import write_curves
    from .bench.sources.lcbench import lcbench_curves

    curves = lcbench_curves(tasks=_csv(args.tasks) if args.tasks else None, n_configs=args.configs,
                            seed=args.seed, metric=args.metric, surrogate=args.surrogate)
    n = write_curves(curves, args.out)
    print(f"wrote {n} curves to {args.out}")
    return 0


def _schedule_list(text: str) -> list[str]:
    """``--schedules``: comma-separated schedule names, or ``all``."""
    from .bench.tasks.schedules import SCHEDULES, check_schedule

    if text.strip() == "all":
        return list(SCHEDULES)
    try:
        names = [check_schedule(s.strip()) for s in text.split(",") if s.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"give distinct schedule names from {list(SCHEDULES)} "
                                         f"(comma-separated) or 'all'; got {text!r}")
    return names


def _data_record(args: argparse.Namespace) -> int:
    if args.space == "nas201":
        if args.schedules is not None:
            raise SystemExit("--schedules is for --space mlp-cnn; nas201 cells train on their own "
                             "cosine schedule")
        from .bench.sources.nas_record import record_nas_to_file

        n = record_nas_to_file(args.out, dataset=args.dataset, n_configs=args.configs,
                               epochs=args.epochs, seed=args.seed, workers=args.workers,
                               progress=not args.quiet)
        print(f"wrote {n} curves to {args.out}")
        return 0
    from .bench.sources.record import record_to_file

    n = record_to_file(args.out, dataset=args.dataset, n_configs=args.configs, epochs=args.epochs,
                       seed=args.seed, progress=not args.quiet, schedules=args.schedules)
    print(f"wrote {n} curves to {args.out}")
    return 0


def _data_diverged(args: argparse.Namespace) -> int:
    from .curveset import mark_diverged, read_curves, write_curves

    curves = mark_diverged(read_curves(args.curves), args.above)
    seen: set[tuple[str, str]] = set()
    for c in curves:  # one output file: its ids must be unique within each task, as when read
        if (c.task, c.config_id) in seen:
            raise ValueError(f"config_id {c.config_id!r} of task {c.task!r} is in more than one "
                             "of these files; written to one file it would repeat")
        seen.add((c.task, c.config_id))
    n = write_curves(curves, args.out)
    print(f"wrote {n} curves to {args.out}")
    return 0


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "default" in text or not action.option_strings or default in (None, False) or \
                default is argparse.SUPPRESS:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        return f"{text} (default: {shown})".strip()


#: Subcommands whose parsers live in modules that import torch: built only when they are asked
#: for, so that `lc-hpo --help` and the other commands start without importing torch.
_HEAVY = {"train": "meta-train a learned predictor and write a checkpoint",
          "calibrate": "fit how a checkpoint's P(better) reads a trial's standing among finished "
                       "trials, and store it in the checkpoint"}


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` asks for (its first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _use_formatter(child)


def build_parser(heavy: bool = True) -> argparse.ArgumentParser:
    """The command line's parser; ``heavy=False`` lists ``train`` and ``calibrate`` without
    building their parsers (and importing torch)."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="lc-hpo",
        description="Learning-curve forecasts that kill, rank and budget HPO trials.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="real Optuna studies on digits: LCPruner vs median vs none")
    demo.add_argument("--trials", type=positive_int, default=80,
                      help="trials per study (default 80)")
    demo.add_argument("--epochs", type=positive_int, default=30,
                      help="epochs of a full run (default 30)")
    demo.add_argument("--seed", type=int, default=0, help="sampler and training seed (default 0)")
    demo.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"],
                      help="the dataset trained on")
    demo.add_argument("--record", metavar="FILE", help="also write every trial's curve to FILE")
    demo.add_argument("--plot", metavar="PATH", default="lc_hpo_demo.png",
                      help="write the plot of best accuracy against epochs spent to PATH "
                           "(PNG; default lc_hpo_demo.png in the current directory)")
    demo.add_argument("--no-plot", action="store_true", help="write no plot")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(
        dest="bench", metavar="BENCH", required=True)
    lat = bench.add_parser("latency", help="added should_prune() latency: LCPruner vs MedianPruner")
    lat.add_argument("--finished", type=non_negative_int, nargs="+", default=[100, 1000],
                     help="numbers of finished trials in the study (default 100 1000)")
    lat.add_argument("--running", type=positive_int, default=20, help="timed trials (default 20)")
    lat.add_argument("--steps", type=positive_int, default=50, help="steps per trial (default 50)")
    lat.add_argument("--seed", type=int, default=0, help="seed of the synthetic curves")
    lat.add_argument("--quiet", action="store_true", help="no progress bars")
    lat.set_defaults(func=_bench_latency)

    hpo = bench.add_parser("hpo", help="replay HPO on curve sets through real studies")
    hpo.add_argument("--curves", nargs="+", required=True, metavar="FILE", help="curve-set files")
    hpo.add_argument("--methods", help="comma-separated methods (default: all built-in and "
                     "lc:NAME for every predictor); lc:NAME@0.1 sets the threshold, "
                     "lc:NAME:startup=2 the completed trials needed before any stop, "
                     "lc:NAME:standing=off decides on the forecast alone, "
                     "lc:NAME:diverged=N|off stops a trial after N diverged values in a row "
                     "(default 1) or never, lc:NAME:points=N lets a forecast stop a trial only "
                     "from N finite values on (default 2)")
    hpo.add_argument("--orderings", type=positive_int, default=20,
                     help="random orders per task (20)")
    hpo.add_argument("--budget", type=positive_float, default=20.0, help="budget in full runs (20)")
    hpo.add_argument("--seed", type=int, default=0, help="seed of the random orders")
    hpo.add_argument("--workers", type=positive_int, default=None,
                     help="processes (default: all cores)")
    hpo.add_argument("--framework", default="optuna", choices=["optuna", "ray"],
                     help="replay through real Optuna studies or real Ray Tune runs")
    hpo.add_argument("--json", metavar="OUT", help="write the results as JSON")
    hpo.add_argument("--plot", metavar="OUT.png", help="plot anytime regret per task")
    hpo.add_argument("--diverged-above", type=positive_limit, metavar="X",
                     help="treat values whose magnitude exceeds X as diverged (null)")
    hpo.add_argument("--quiet", action="store_true", help="no progress bars")
    hpo.set_defaults(func=_bench_hpo)

    pred = bench.add_parser("predict", help="forecast quality of predictors at several cutoffs")
    pred.add_argument("--curves", nargs="+", required=True, metavar="FILE",
                      help="curve-set files to score on")
    pred.add_argument("--predictors", default="default,last_value,polynomial,parametric",
                      help="comma-separated predictor names or checkpoint paths "
                           "(default: default,last_value,polynomial,parametric)")
    pred.add_argument("--cutoffs", default="0.1,0.2,0.4,0.8",
                      help="fractions of max_step observed (default 0.1,0.2,0.4,0.8)")
    pred.add_argument("--train", nargs="+", metavar="FILE",
                      help="curves of other tasks to fit learning predictors on")
    pred.add_argument("--diverged-above", type=positive_limit, metavar="X",
                     help="treat values whose magnitude exceeds X as diverged (null)")
    pred.add_argument("--point", default="median", choices=["median", "mean"],
                      help="point forecast scored by MAE/RMSE (default: the median)")
    pred.add_argument("--folds", type=positive_int, default=2,
                      help="for predictors that learn from a study's finished trials ('study'): "
                           "each task's curves are split into this many folds, and a curve is "
                           "forecast with the other folds as the finished trials (default 2)")
    pred.add_argument("--seed", type=int, default=0, help="seed of that split (default 0)")
    pred.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    pred.add_argument("--quiet", action="store_true", help="no progress bars")
    pred.set_defaults(func=_bench_predict)

    dec = bench.add_parser("decide", help="how well P(beats the incumbent) separates runs to stop")
    dec.add_argument("--curves", nargs="+", required=True, metavar="FILE",
                     help="curve-set files to draw decision situations from")
    dec.add_argument("--predictors", default="default,parametric",
                     help="comma-separated predictors (default: default,parametric); "
                          "NAME:standing=off decides on the forecast alone")
    dec.add_argument("--situations", type=positive_int, default=1000,
                     help="decision situations per task (default 1000)")
    dec.add_argument("--cutoffs", default="0.04,0.08,0.15,0.25,0.4,0.6",
                     help="fractions of max_step observed (default 0.04,0.08,0.15,0.25,0.4,0.6)")
    dec.add_argument("--thresholds", default="0.02,0.05,0.1",
                     help="stop thresholds on P(better) to report (default 0.02,0.05,0.1)")
    dec.add_argument("--max-finished", type=positive_int, default=10,
                     help="the incumbent is the best of 1 to this many complete runs (default 10)")
    dec.add_argument("--diverged-above", type=positive_limit, metavar="X",
                     help="treat values whose magnitude exceeds X as diverged (null)")
    dec.add_argument("--seed", type=int, default=0, help="seed of the situations drawn")
    dec.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    dec.add_argument("--quiet", action="store_true", help="no progress bars")
    dec.set_defaults(func=_bench_decide)

    if heavy:
        from .learned.train_cli import add_parser as add_train

        add_train(sub)

        from .calibrate_cli import add_parser as add_calibrate

        add_calibrate(sub)
    else:
        for name, text in _HEAVY.items():
            sub.add_parser(name, help=text, add_help=False)

    exp = sub.add_parser("explain", help="print what LCPruner decided for one trial of an Optuna "
                         "study, step by step, and why it stopped")
    exp.add_argument("--storage", required=True, metavar="URL",
                     help="the study's storage, e.g. sqlite:///study.db")
    exp.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    exp.add_argument("--trial", required=True, type=non_negative_int, metavar="N",
                     help="the trial's number")
    exp.set_defaults(func=_explain)

    data = sub.add_parser("data", help="make curve sets").add_subparsers(
        dest="data", metavar="SOURCE", required=True)
    lcb = data.add_parser("lcbench", help="LCBench-like curves from the YAHPO surrogate")
    lcb.add_argument("--surrogate", metavar="DIR", help="the surrogate folder (default: "
                     "$LC_HPO_LCBENCH_SURROGATE)")
    lcb.add_argument("--tasks", help="comma-separated OpenML task ids (default: all 34)")
    lcb.add_argument("--configs", type=positive_int, default=1000,
                     help="configurations per task (1000)")
    lcb.add_argument("--metric", default="val_accuracy", help="the surrogate's metric to record")
    lcb.add_argument("--seed", type=int, default=0, help="seed of the configurations drawn")
    lcb.add_argument("--out", required=True, metavar="FILE", help="the curve-set file to write")
    lcb.set_defaults(func=_data_lcbench)

    rec = data.add_parser("record", help="train random configurations for real and record them")
    rec.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"],
                     help="the dataset trained on")
    rec.add_argument("--configs", type=positive_int, default=100, help="configurations to train")
    rec.add_argument("--epochs", type=positive_int, default=30, help="epochs of each run")
    rec.add_argument("--seed", type=int, default=0, help="seed of the configurations and training")
    rec.add_argument("--space", default="mlp-cnn", choices=["mlp-cnn", "nas201"],
                     help="mlp-cnn: MLPs and small CNNs with optimiser settings (default); nas201: "
                     "NAS-Bench-201-style cell networks (cell, depth, width), each curve with its "
                     "cell's graph as arch, for training lc_gode on a NAS space")
    rec.add_argument("--workers", type=positive_int, default=1,
                     help="training processes for --space nas201 (default 1)")
    rec.add_argument("--schedules", type=_schedule_list, metavar="LIST",
                     help="--space mlp-cnn: draw each configuration's learning-rate schedule among "
                     "these (comma-separated, or 'all'): constant; step (rate x0.1 at 1/2 and 3/4 "
                     "of the epochs); cosine (annealed to 0); warmup-cosine (linear warm-up over "
                     "the first tenth, then cosine). Kept in each curve's config as 'schedule'; "
                     "the task is named <dataset>/mlp-cnn-sched-<epochs>ep. Default: constant "
                     "rate, no schedule in the config")
    rec.add_argument("--out", required=True, metavar="FILE", help="the curve-set file to write")
    rec.add_argument("--quiet", action="store_true", help="no progress bars")
    rec.set_defaults(func=_data_record)

    div = data.add_parser("diverged", help="copy curve sets with values beyond a magnitude marked "
                          "diverged (null), e.g. to train on TaskSet losses as they are evaluated")
    div.add_argument("curves", nargs="+", metavar="FILE")
    div.add_argument("--above", type=positive_limit, required=True, metavar="X",
                     help="values whose magnitude exceeds X become null")
    div.add_argument("--out", required=True, metavar="FILE", help="the curve-set file to write")
    div.set_defaults(func=_data_diverged)
    _use_formatter(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(heavy=_command(argv) in _HEAVY).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``lc-hpo bench ... | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError) as exc:  # bad input (CurveSetError and CheckpointError included)
        print(f"lc-hpo: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
