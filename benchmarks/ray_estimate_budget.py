"""A budgeted Ray Tune sweep with and without training-time estimates (issue 25), side by side.

Every trial fine-tunes the same pretrained linear model with full-batch SGD at its own learning rate
(a real ``torch.optim.SGD`` run, the loss reported after every step) in a real local Ray Tune run
under ``LCScheduler(budget=...)``.  With estimates, each trial's config carries
``estimate_training_time(...).to_dict()`` (made before anything trains) and the trial trains to its
predicted steps-to-target; without, the same trials train to ``max_t``.  Printed: steps spent, trials
that reached the target loss, the best final loss, and the step at which the first trial reached
the target.

    python benchmarks/ray_estimate_budget.py --budget 60 --json benchmarks/results/ray_estimate_budget.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

MAX_T = 60


def problem(seed: int = 0) -> dict:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 8, generator=g)
    y = X @ torch.randn(8, 3, generator=g) + 0.3 * torch.randn(64, 3, generator=g)
    torch.manual_seed(seed)
    model = torch.nn.Linear(8, 3)
    with torch.no_grad():
        target = 0.5 * float(F.mse_loss(model(X), y))
    return {"X": X.tolist(), "y": y.tolist(), "weight": model.weight.tolist(),
            "bias": model.bias.tolist(), "target": target, "model": model, "Xt": X, "yt": y}


def finetune(config: dict, data: dict) -> None:
    import torch
    import torch.nn.functional as F
    from ray import tune

    from lc_hpo.budget_prior import step_budget

    torch.set_num_threads(1)
    X, y = torch.tensor(data["X"]), torch.tensor(data["y"])
    model = torch.nn.Linear(X.shape[1], y.shape[1])
    model.load_state_dict({"weight": torch.tensor(data["weight"]),
                           "bias": torch.tensor(data["bias"])})
    est = config.get("lc_estimate")
    steps = (step_budget(est, cap=MAX_T) or MAX_T) if est else MAX_T
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(X), y).backward()
        opt.step()
        with torch.no_grad():
            loss = float(F.mse_loss(model(X), y))
        tune.report({"loss": loss if math.isfinite(loss) else float("nan")})


def sweep(lrs: list[float], estimates: dict | None, data: dict, budget: float,
          startup: int) -> dict:
    from ray import tune

    from lc_hpo import LCScheduler

    reports: list[tuple[float, float]] = []  # (lr, loss) in the order results arrived
    ids: dict[float, str] = {}

    class Record(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001
            reports.append((trial.config["lr"], float(result["loss"])))

        def on_trial_complete(self, iteration, trials, trial, **info):  # noqa: ANN001
            ids[trial.config["lr"]] = trial.trial_id

    space: dict = {"lr": tune.grid_search(lrs)}
    if estimates is not None:
        space["lc_estimate"] = tune.sample_from(lambda config: estimates[config["lr"]])
    sched = LCScheduler(max_t=MAX_T, rank=False, budget=budget, n_startup_trials=startup)
    plain = {k: v for k, v in data.items() if k not in ("model", "Xt", "yt")}
    t0 = time.time()
    with tempfile.TemporaryDirectory() as storage, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tune.Tuner(tune.with_parameters(finetune, data=plain), param_space=space,
                   tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=sched,
                                               reuse_actors=True),
                   run_config=tune.RunConfig(storage_path=storage, name="sweep", verbose=0,
                                             callbacks=[Record()])).fit()
    steps: dict[float, int] = {}
    last: dict[float, float] = {}
    first_hit = None
    for i, (lr, loss) in enumerate(reports, 1):
        steps[lr] = steps.get(lr, 0) + 1
        last[lr] = loss
        if first_hit is None and loss <= data["target"]:
            first_hit = i
    reached = sorted(lr for lr, v in last.items() if v <= data["target"])
    finite = [v for v in last.values() if math.isfinite(v)]
    return {"steps_spent": len(reports), "trials_started": len(steps),
            "trials_reaching_target": len(reached), "best_final_loss": min(finite),
            "steps_to_first_target": first_hit, "wall_s": round(time.time() - t0, 1),
            "steps_per_trial": {str(k): v for k, v in sorted(steps.items())},
            "stopped_by": {str(lr): _stopped_by(sched.forecast_fields(ids[lr]))
                           for lr in sorted(ids)}}


def _stopped_by(fields: dict) -> str:
    """Why LCScheduler stopped a trial ("budget", "forecast", ...), or "-" if it ran its course."""
    return str(fields["lc_reason"]) if fields["lc_stop"] else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60.0, help="total steps (time_attr units)")
    ap.add_argument("--seed", type=int, default=0, help="data, model and grid order")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--startup", type=int, default=None,
                    help="LCScheduler's n_startup_trials (default: every trial, so that only the "
                         "budget stops trials; 1 lets forecasts stop them too)")
    args = ap.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    from lc_hpo.estimate import estimate_training_time

    data = problem(args.seed)
    lrs = [0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 5.0]
    lrs = [lrs[i] for i in np.random.default_rng(args.seed).permutation(len(lrs))]
    t0 = time.time()
    estimates = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lr in lrs:
            estimates[lr] = estimate_training_time(
                data["model"], data["Xt"], data["yt"], loss="mse", lr=lr,
                batch_size=len(data["Xt"]), target_loss=data["target"], max_steps=MAX_T).to_dict()
    estimate_s = time.time() - t0
    startup = args.startup or len(lrs)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             configure_logging=False)
    try:
        out = {"budget": args.budget, "max_t": MAX_T, "grid_order": lrs,
               "predicted_steps": {str(lr): estimates[lr]["steps"] for lr in lrs},
               "estimator_seconds": round(estimate_s, 2),
               "n_startup_trials": startup,
               "without_estimates": sweep(lrs, None, data, args.budget, startup),
               "with_estimates": sweep(lrs, estimates, data, args.budget, startup)}
    finally:
        ray.shutdown()
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
