"""Ray Tune on real training: small PyTorch networks on scikit-learn's digits, ASHA vs LCScheduler.

The same random configurations (same seed) run under Ray's ASHAScheduler and under LCScheduler,
each trial training for real, reporting validation accuracy every epoch and checkpointing its
weights (so LCScheduler can pause and resume it).  Prints a table of epochs trained, best accuracy
and wall time.  About half a minute on 2 CPU cores (33 s in the README's run):

    python examples/ray_tune_digits.py [--trials 24] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch


def train_digits(config: dict) -> None:
    """A Ray Tune function trainable: one configuration, epoch by epoch, checkpointing."""
    from ray import tune

    from lc_hpo.bench.tasks import Trainer, load_dataset

    torch.set_num_threads(1)
    trainer = Trainer(config, load_dataset("digits"), seed=config["seed"])
    ckpt = tune.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d:
            trainer.load_state_dict(torch.load(os.path.join(d, "state.pt"), weights_only=True))
    while trainer.epochs_done < config["epochs"]:
        result = trainer.epoch()
        with tempfile.TemporaryDirectory() as d:
            torch.save(trainer.state_dict(), os.path.join(d, "state.pt"))
            tune.report({"val_accuracy": result.val_accuracy, "val_loss": result.val_loss},
                        checkpoint=tune.Checkpoint.from_directory(d))


def space(epochs: int) -> dict:
    """The digits search space of lc_hpo.bench.tasks, as Ray Tune distributions."""
    from ray import tune

    from lc_hpo.bench.tasks import SEARCH_SPACE, Categorical, Float

    out: dict = {"epochs": epochs, "seed": tune.randint(0, 10_000)}
    for name, d in SEARCH_SPACE.items():
        if isinstance(d, Categorical):
            out[name] = tune.choice(list(d.choices))
        elif isinstance(d, Float):
            out[name] = tune.loguniform(d.low, d.high) if d.log else tune.uniform(d.low, d.high)
        else:
            out[name] = tune.lograndint(d.low, d.high + 1) if d.log else tune.randint(d.low,
                                                                                       d.high + 1)
    return out


def run(name: str, scheduler, trials: int, epochs: int, seed: int, storage: str) -> dict:
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    callbacks = [scheduler.callback()] if hasattr(scheduler, "callback") else []
    start = time.perf_counter()
    grid = tune.Tuner(
        train_digits,
        param_space=space(epochs),
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", scheduler=scheduler,
                                    # no max_concurrent_trials: 2 CPUs run 2 trials and the rest
                                    # wait as PENDING, so LCScheduler can pause and rank them
                                    num_samples=trials, reuse_actors=True,
                                    search_alg=BasicVariantGenerator(random_state=seed)),
        run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0, callbacks=callbacks),
    ).fit()
    seconds = time.perf_counter() - start
    iters = [int(r.metrics.get("training_iteration", 0)) for r in grid]
    best = grid.get_best_result(metric="val_accuracy", mode="max", scope="last")
    return {"scheduler": name, "trials": len(iters), "stopped": sum(i < epochs for i in iters),
            "epochs": sum(iters), "best": best.metrics["val_accuracy"], "seconds": seconds,
            "pauses": getattr(scheduler, "n_paused", "-")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
    import ray
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from lc_hpo import LCScheduler

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    rows = []
    with tempfile.TemporaryDirectory() as storage:
        for name, sched in [
            ("LCScheduler", LCScheduler(max_t=args.epochs)),
            ("ASHA", ASHAScheduler(max_t=args.epochs, grace_period=1, reduction_factor=3)),
            ("none", FIFOScheduler()),
        ]:
            print(f"running {name} ...", flush=True)
            rows.append(run(name, sched, args.trials, args.epochs, args.seed, storage))
    ray.shutdown()
    print(f"\n{args.trials} trials of up to {args.epochs} epochs on digits, 2 at a time:")
    print("| scheduler | trials | stopped early | pauses | epochs trained | best val. accuracy | "
          "wall time (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['scheduler']} | {r['trials']} | {r['stopped']} | {r['pauses']} | {r['epochs']} | "
              f"{r['best']:.4f} | {r['seconds']:.1f} |")


if __name__ == "__main__":
    main()
