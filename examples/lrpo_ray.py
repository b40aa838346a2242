"""Ray Tune trials on the LRPO short schedule: each trial trains 16 epochs instead of the full budget.

Every trial trains a small PyTorch MLP on scikit-learn's 8x8 digits (bundled, nothing is downloaded)
through :func:`lc_hpo.lrpo.lrpo_schedule` and reports validation accuracy, the learning rate and the
LRPO phase every epoch with ``tune.report``.  Ray runs them locally, two at a time
(``ray.init(num_cpus=2)``); the table lists each trial's jump factor and accuracy.  Each trial is a
few seconds of CPU; most of the wall time is Ray starting up (measured times in docs/lrpo.md):

    python examples/lrpo_ray.py [--trials 8] [--mode code]
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def train_lrpo(config: dict) -> None:
    """A Ray Tune function trainable: one configuration on the LRPO schedule."""
    from ray import tune
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from lc_hpo.lrpo import lrpo_schedule

    torch.set_num_threads(1)
    torch.manual_seed(config["seed"])
    x, y = load_digits(return_X_y=True)
    x_tr, x_val, y_tr, y_val = train_test_split(x / 16.0, y, test_size=0.25, random_state=0,
                                                stratify=y)
    x_tr, x_val = (torch.tensor(a, dtype=torch.float32) for a in (x_tr, x_val))
    y_tr, y_val = torch.tensor(y_tr), torch.tensor(y_val)
    w = config["width"]
    net = torch.nn.Sequential(torch.nn.Linear(64, w), torch.nn.BatchNorm1d(w), torch.nn.ReLU(),
                              torch.nn.Dropout(config["dropout"]), torch.nn.Linear(w, 10))
    opt = torch.optim.SGD(net.parameters(), lr=config["lr"], momentum=0.9, weight_decay=1e-4)

    def train_epoch() -> float:
        net.train()
        total = 0.0
        for idx in torch.randperm(len(y_tr)).split(config["batch_size"]):
            if len(idx) < 2:
                continue
            loss = torch.nn.functional.cross_entropy(net(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / len(y_tr)

    @torch.no_grad()
    def evaluate() -> float:
        net.eval()
        return float((net(x_val).argmax(1) == y_val).float().mean())

    def report(entry: dict) -> None:  # epoch, loss, lr, phase, alpha (None before the jump)
        tune.report({"val_accuracy": entry["metric"], "train_loss": entry["loss"], "lr": entry["lr"],
                     "phase": entry["phase"],
                     "alpha": -1.0 if entry["alpha"] is None else entry["alpha"]})

    lrpo_schedule(opt, train_epoch, evaluate=evaluate, report=report, mode=config["mode"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--mode", default="code", choices=["code", "predictor"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
    import tempfile

    import ray
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    space = {"lr": tune.loguniform(0.005, 0.3), "width": tune.choice([32, 64, 128]),
             "dropout": tune.uniform(0.0, 0.5), "batch_size": tune.choice([32, 64, 128]),
             "seed": tune.randint(0, 10_000), "mode": args.mode}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as storage:
        grid = tune.Tuner(
            train_lrpo, param_space=space,
            tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", num_samples=args.trials,
                                        search_alg=BasicVariantGenerator(random_state=args.seed)),
            run_config=tune.RunConfig(storage_path=storage, name="lrpo", verbose=0),
        ).fit()
        seconds = time.perf_counter() - start
        rows = []
        for r in grid:
            if r.error:
                raise RuntimeError(f"a trial failed: {r.error}")
            rows.append((r.config, r.metrics))
    ray.shutdown()
    print(f"{len(rows)} trials on the LRPO {args.mode} schedule, 2 at a time, {seconds:.1f} s:")
    print("| lr | width | dropout | batch | epochs | alpha | val. accuracy |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for cfg, m in sorted(rows, key=lambda r: -r[1]["val_accuracy"]):
        print(f"| {cfg['lr']:.4f} | {cfg['width']} | {cfg['dropout']:.2f} | {cfg['batch_size']} | "
              f"{m['training_iteration']} | {m['alpha']:.2f} | {m['val_accuracy']:.4f} |")


if __name__ == "__main__":
    main()
