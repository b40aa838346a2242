"""Trainables and a runner for the Ray Tune tests; importable so restored experiments find them."""

from __future__ import annotations

import json
import os
import tempfile
import time

from optuna_objectives import curve_for  # noqa: F401  (tests put this folder on sys.path)

STEPS = 20


def quiet_ray() -> None:
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
    import ray

    if not ray.is_initialized():
        # Ray's workers import the trainable by module name: give them this folder and the repo.
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.pathsep.join([here, os.path.dirname(here), os.environ.get("PYTHONPATH", "")])
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", configure_logging=False,
                 runtime_env={"env_vars": {"PYTHONPATH": path.rstrip(os.pathsep)}})


def curve_trainable(config: dict) -> None:
    """Reports the synthetic accuracy curve of ``config['q']``; checkpoints if asked to."""
    from ray import tune

    values = curve_for(config["q"], config.get("seed", 0), STEPS)
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d, open(os.path.join(d, "pos.json")) as fh:
            start = json.load(fh)["pos"]
    for pos in range(start, STEPS):
        metrics = {"acc": float(values[pos])}
        if config.get("nan_at") == pos:
            metrics["acc"] = float("nan")
        if config.get("fail_at") == pos:
            raise RuntimeError("this trial fails on purpose")
        if config.get("checkpoint", True):
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "pos.json"), "w") as fh:
                    json.dump({"pos": pos + 1}, fh)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
        else:
            tune.report(metrics)


def rising_trainable(config: dict) -> None:
    """Accuracy rising at a rate set by ``config['rate']``, checkpointed every step: slow risers
    look alive early, so they pause at milestones and are stopped later, while paused."""
    from ray import tune

    acc, start = 0.1, 0
    ckpt = tune.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d, open(os.path.join(d, "state.json")) as fh:
            acc, start = json.load(fh)
    for pos in range(start, STEPS):
        acc += (0.99 - acc) * config["rate"] * 0.3
        time.sleep(0.01)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as fh:
                json.dump([acc, pos + 1], fh)
            tune.report({"acc": acc}, checkpoint=tune.Checkpoint.from_directory(d))
