"""Should LCScheduler rank (pause at milestones, resume the most promising) by default?  Wall time.

Real Ray Tune runs of real training (small PyTorch networks on scikit-learn's digits, the trainable
of ``examples/ray_tune_digits.py``) under Ray's usual settings: ``max_concurrent_trials`` set, the
same random configurations (same seed) for ``LCScheduler(rank=True)`` and ``LCScheduler(rank=False)``.
For each run it prints the wall time, the epochs trained, how many trials were paused and stopped,
the best final validation accuracy, and the wall time until that best run finished.

    python benchmarks/ray_rank_wall.py [--trials 10] [--epochs 12] [--concurrency 2] [--seeds 0 1]

Results and the decision: docs/ray_rank.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch


def train_digits(config: dict) -> None:
    """The trainable of examples/ray_tune_digits.py (defined here: Ray's workers cannot import
    the examples folder, but receive this script's functions by value)."""
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
            out[name] = (tune.lograndint(d.low, d.high + 1) if d.log
                         else tune.randint(d.low, d.high + 1))
    return out


def run(rank: bool, trials: int, epochs: int, concurrency: int, seed: int, storage: str) -> dict:
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from lc_hpo import LCScheduler

    sched = LCScheduler(max_t=epochs, rank=rank)
    start = time.time()
    grid = tune.Tuner(
        train_digits, param_space=space(epochs),
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", scheduler=sched,
                                    num_samples=trials, max_concurrent_trials=concurrency,
                                    reuse_actors=True,
                                    search_alg=BasicVariantGenerator(random_state=seed)),
        run_config=tune.RunConfig(storage_path=storage, name=f"rank{int(rank)}_{seed}", verbose=0,
                                  callbacks=[sched.callback()]),
    ).fit()
    seconds = time.time() - start
    iters = [int(r.metrics.get("training_iteration", 0)) for r in grid]
    best = grid.get_best_result(metric="val_accuracy", mode="max", scope="last")
    # when the best run finished: its last result's wall-clock timestamp, from the run's start
    best_done = float(best.metrics.get("timestamp", start + seconds)) - start
    return {"rank": rank, "seed": seed, "seconds": seconds, "epochs": sum(iters),
            "stopped": sum(i < epochs for i in iters), "pauses": sched.n_paused,
            "best": float(best.metrics["val_accuracy"]), "best_done": best_done,
            "errors": grid.num_errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    rows = []
    with tempfile.TemporaryDirectory() as storage:
        for seed in args.seeds:
            for rank in (True, False):  # alternate, so both see the machine's load alike
                print(f"seed {seed}, rank={rank} ...", flush=True)
                rows.append(run(rank, args.trials, args.epochs, args.concurrency, seed, storage))
    ray.shutdown()
    print(f"\n{args.trials} trials of up to {args.epochs} epochs on digits, "
          f"max_concurrent_trials={args.concurrency}:")
    print("| seed | rank | wall time (s) | best run done at (s) | epochs trained | pauses | "
          "stopped early | best val. accuracy | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seed']} | {r['rank']} | {r['seconds']:.1f} | {r['best_done']:.1f} | "
              f"{r['epochs']} | {r['pauses']} | {r['stopped']} | {r['best']:.4f} | {r['errors']} |")


if __name__ == "__main__":
    main()
