"""A NAS sweep with Ray Tune: NAS-Bench-201-style cell networks trained for real, each trial's
architecture handed to the scheduler in its config (``lc_arch``), LCScheduler with an
architecture-aware predictor beside LCScheduler's default and Ray's ASHA.

A trial's config draws a cell's six edges (each one of ``none``, ``skip_connect``, ``nor_conv_1x1``,
``nor_conv_3x3``, ``avg_pool_3x3``), how many cells each of two stages stacks and their channels;
``lc_arch`` is the cell string built from the edges, which the trainable builds its network from and
LCScheduler reads the graph from.  Networks train on scikit-learn's 8x8 digits (nothing is
downloaded), report validation accuracy every epoch and checkpoint, so LCScheduler can pause and
resume them.  The same configurations run under each scheduler (one search seed).  Printed: epochs
trained, best accuracy, wall time; a PNG plots best accuracy against epochs spent.  A few minutes on
2 CPU cores:

    python examples/nas_ray.py [--trials 20] [--epochs 12] [--predictor lc_gode] [--train FILE]
        [--plot docs/nas_ray.png]

``--predictor`` takes a registered name or a checkpoint path; one without weights is fitted on
``--train FILE`` (e.g. a sweep recorded with ``lc-hpo data record --space nas201``), else that arm is
skipped and the script says why.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import torch

from lc_hpo import make_predictor, read_curves

N_EDGES = 6


def train_cell(config: dict) -> None:
    """A Ray Tune function trainable: one cell network, epoch by epoch, checkpointing."""
    from ray import tune

    from lc_hpo.bench.tasks.datasets import load_dataset
    from lc_hpo.bench.tasks.nas import NASTrainer

    torch.set_num_threads(1)
    arch = {"cell": config["lc_arch"], "depth": config["depth"], "width": config["width"]}
    trainer = NASTrainer(arch, load_dataset("digits"), config["epochs"], seed=config["seed"])
    ckpt = tune.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d:
            trainer.load_state_dict(torch.load(os.path.join(d, "state.pt"), weights_only=True))
    while trainer.epochs_done < config["epochs"]:
        result = trainer.epoch()
        with tempfile.TemporaryDirectory() as d:
            torch.save(trainer.state_dict(), os.path.join(d, "state.pt"))
            tune.report({"val_accuracy": result.val_accuracy},
                        checkpoint=tune.Checkpoint.from_directory(d))


def cell_of(spec) -> str:  # noqa: ANN001 - Ray's resolved-spec object
    from lc_hpo.bench.tasks.nas import cell_string

    return cell_string([spec.config[f"edge{i}"] for i in range(N_EDGES)])


def space(epochs: int) -> dict:
    from ray import tune

    from lc_hpo.bench.tasks.nas import CELL_OPS, DEPTHS, WIDTHS

    out: dict = {f"edge{i}": tune.choice(list(CELL_OPS)) for i in range(N_EDGES)}
    out.update({"depth": tune.choice(list(DEPTHS)), "width": tune.choice(list(WIDTHS)),
                "epochs": epochs, "seed": tune.randint(0, 10_000),
                # the architecture, for the trainable and for LCScheduler (a NAS-Bench-201 string;
                # an ArchGraph or its {"nodes", "edges"} dict work as well)
                "lc_arch": tune.sample_from(cell_of)})
    return out


def label(predictor: str) -> str:
    """A predictor's name for the table: a checkpoint by its file name."""
    return os.path.splitext(os.path.basename(predictor))[0] if os.path.isfile(predictor) \
        else predictor


def architecture_predictor(name: str, train: str | None, minutes: float):
    """The predictor for the architecture-aware arm (fitted on ``train`` if it has no weights);
    None, with the reason printed, when it cannot be had."""
    try:
        predictor = make_predictor(name)
    except (ValueError, OSError) as exc:
        print(f"skipping LCScheduler({name}): {exc}")
        return None
    if predictor.needs_fit and not getattr(predictor, "is_fitted", True):
        if not train:
            print(f"skipping LCScheduler({name}): it has no weights yet; pass --train FILE (a curve "
                  "set with arch graphs, e.g. from 'lc-hpo data record --space nas201')")
            return None
        print(f"fitting {name} on {train} (at most {minutes} minutes) ...", flush=True)
        predictor = make_predictor(name, max_minutes=minutes).fit(read_curves(train))
    return predictor


def run(name: str, scheduler, trials: int, epochs: int, seed: int, storage: str) -> dict:
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    class Trace(tune.Callback):
        """Results in the order they arrive: epochs spent and the best completed trial's accuracy."""

        def __init__(self) -> None:
            self.spent, self.best, self.points = 0, math.nan, [(0, math.nan)]

        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001
            self.spent += 1
            if int(result["training_iteration"]) == epochs:  # a complete run
                acc = float(result["val_accuracy"])
                self.best = acc if math.isnan(self.best) else max(self.best, acc)
            self.points.append((self.spent, self.best))

    trace = Trace()
    callbacks = [trace] + ([scheduler.callback()] if hasattr(scheduler, "callback") else [])
    start = time.perf_counter()
    grid = tune.Tuner(
        train_cell, param_space=space(epochs),
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", scheduler=scheduler,
                                    num_samples=trials, reuse_actors=True,
                                    search_alg=BasicVariantGenerator(random_state=seed)),
        run_config=tune.RunConfig(storage_path=storage, name=name.replace(" ", "_"), verbose=0,
                                  callbacks=callbacks),
    ).fit()
    seconds = time.perf_counter() - start
    iters = [int(r.metrics.get("training_iteration", 0)) for r in grid]
    return {"method": name, "trials": len(iters), "stopped": sum(i < epochs for i in iters),
            "epochs": trace.spent, "best": trace.best, "seconds": seconds,
            "pauses": getattr(scheduler, "n_paused", "-"), "trace": trace.points,
            "errors": grid.num_errors}


def plot(rows: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for r in rows:
        xs, ys = zip(*r["trace"])
        ax.step(xs, ys, where="post", label=f"{r['method']} ({r['epochs']} epochs)")
    ax.set_xlabel("epochs trained (all trials)")
    ax.set_ylabel("best validation accuracy (complete runs)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20, help="trials per scheduler (default 20)")
    ap.add_argument("--epochs", type=int, default=12, help="epochs of a full run (default 12)")
    ap.add_argument("--predictor", default="lc_gode",
                    help="architecture-aware predictor: a registered name or checkpoint path")
    ap.add_argument("--train", metavar="FILE", help="curves to fit --predictor on if it has no "
                    "weights (a curve set with arch graphs)")
    ap.add_argument("--train-minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", metavar="PNG", help="write the best-accuracy-vs-epochs plot here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
    import ray
    from ray.tune.schedulers import ASHAScheduler

    from lc_hpo import LCScheduler

    arms = []
    predictor = architecture_predictor(args.predictor, args.train, args.train_minutes)
    if predictor is not None:
        arms.append((f"LCScheduler({label(args.predictor)})",
                     LCScheduler(predictor, max_t=args.epochs)))
    arms += [("LCScheduler() default", LCScheduler(max_t=args.epochs)),
             ("ASHA", ASHAScheduler(max_t=args.epochs, grace_period=1, reduction_factor=3))]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    rows = []
    with tempfile.TemporaryDirectory() as storage:
        for name, sched in arms:
            print(f"running {name} ...", flush=True)
            rows.append(run(name, sched, args.trials, args.epochs, args.seed, storage))
    ray.shutdown()
    print(f"\n{args.trials} NAS-Bench-201-style cell networks of up to {args.epochs} epochs on "
          "digits, 2 at a time:")
    print("| scheduler | trials | stopped early | pauses | epochs trained | best val. accuracy "
          "(complete runs) | wall time (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['trials']} | {r['stopped']} | {r['pauses']} | {r['epochs']} | "
              f"{r['best']:.4f} | {r['seconds']:.1f} |")
    if args.plot:
        plot(rows, args.plot, f"Ray Tune NAS sweep: {args.trials} cells x {args.epochs} epochs, "
                              "digits")


if __name__ == "__main__":
    main()
