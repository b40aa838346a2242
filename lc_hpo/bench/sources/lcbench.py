"""LCBench-like curve sets from the YAHPO Gym surrogate of LCBench (an ONNX model).

LCBench (Zimmer et al. 2021) trained funnel-shaped MLPs with SGD and cosine annealing for 52 epochs on
34 OpenML tasks.  The YAHPO surrogate maps (task, epoch, 7 hyperparameters) to the measured metrics, so
one call per configuration gives a whole, smooth curve.  The surrogate is third-party data: its folder
is given by the caller or by the environment variable ``LC_HPO_LCBENCH_SURROGATE``, never assumed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ...curve import Curve

ENV_VAR = "LC_HPO_LCBENCH_SURROGATE"
EPOCHS = 52
#: Output columns of the surrogate, and each metric's direction.
OUTPUTS = ("time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy",
           "test_cross_entropy", "test_balanced_accuracy")
METRIC_MODES = {"val_accuracy": "max", "val_cross_entropy": "min", "val_balanced_accuracy": "max",
                "test_cross_entropy": "min", "test_balanced_accuracy": "max"}
#: Continuous inputs after ``epoch``, in the model's order: (name, low, high, log, integer).
HYPERPARAMETERS = (
    ("batch_size", 16, 512, True, True),
    ("learning_rate", 1e-4, 0.1, True, False),
    ("momentum", 0.1, 0.99, False, False),
    ("weight_decay", 1e-5, 0.1, False, False),
    ("num_layers", 1, 5, False, True),
    ("max_units", 64, 1024, True, True),
    ("max_dropout", 0.0, 1.0, False, False),
)


def surrogate_dir(path: str | os.PathLike | None = None) -> Path:
    """The surrogate's folder: ``path`` if given, else ``$LC_HPO_LCBENCH_SURROGATE``."""
    chosen = path if path is not None else os.environ.get(ENV_VAR)
    if not chosen:
        raise FileNotFoundError(
            f"no LCBench surrogate given: pass --surrogate DIR or set {ENV_VAR} to the folder that "
            "holds model.onnx, encoding.json and config_space.json"
        )
    folder = Path(chosen)
    missing = [f for f in ("model.onnx", "encoding.json", "config_space.json")
               if not (folder / f).exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: not an LCBench surrogate folder (missing {missing})")
    return folder


def available_tasks(folder: Path) -> list[str]:
    """The 34 OpenML task ids the surrogate was trained on."""
    space = json.loads((folder / "config_space.json").read_text())
    for hp in space["hyperparameters"]:
        if hp["name"] == "OpenML_task_id":
            return [str(c) for c in hp["choices"]]
    raise ValueError(f"{folder}/config_space.json has no OpenML_task_id choices")


def sample_configs(n: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``n`` configurations drawn uniformly (log-uniformly where the space says log)."""
    configs = []
    for _ in range(n):
        cfg: dict[str, float] = {}
        for name, lo, hi, log, integer in HYPERPARAMETERS:
            if log:
                v = float(np.exp(rng.uniform(np.log(lo), np.log(hi + (1 if integer else 0)))))
            else:
                v = float(rng.uniform(lo, hi + (1 if integer else 0)))
            cfg[name] = float(min(int(v), hi)) if integer else v
        configs.append(cfg)
    return configs


def funnel_arch(num_layers: int, max_units: int) -> dict:
    """The funnel MLP as an ``arch`` graph (units shrink linearly layer by layer; approximate)."""
    nodes = ["input"]
    for i in range(num_layers):
        units = max(int(round(max_units * (num_layers - i) / num_layers)), 1)
        nodes += [f"linear{units}", "relu", "dropout"]
    nodes.append("output")
    return {"nodes": nodes, "edges": [[i, i + 1] for i in range(len(nodes) - 1)]}


def lcbench_curves(
    tasks: Sequence[str] | None = None,
    n_configs: int = 1000,
    seed: int = 0,
    metric: str = "val_accuracy",
    surrogate: str | os.PathLike | None = None,
) -> Iterator[Curve]:
    """Curves of ``n_configs`` random configurations per task, from the surrogate."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("LCBench curves need onnxruntime: pip install 'lc-hpo[bench]'") from None
    if metric not in METRIC_MODES:
        raise ValueError(f"unknown metric {metric!r}; choose from {sorted(METRIC_MODES)}")
    folder = surrogate_dir(surrogate)
    encoding = json.loads((folder / "encoding.json").read_text())["OpenML_task_id"]
    known = available_tasks(folder)
    tasks = list(tasks) if tasks else known
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise ValueError(f"unknown LCBench task(s) {unknown}; the surrogate knows {known}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    col = OUTPUTS.index(metric)
    epochs = np.arange(1, EPOCHS + 1, dtype=np.float32)
    for t_index, task in enumerate(tasks):
        rng = np.random.default_rng([seed, t_index])
        configs = sample_configs(n_configs, rng)
        for start in range(0, n_configs, 256):
            chunk = configs[start:start + 256]
            x_cont = np.array(
                [[e] + [c[h[0]] for h in HYPERPARAMETERS] for c in chunk for e in epochs],
                dtype=np.float32,
            )
            x_cat = np.full((len(x_cont), 1), encoding[task], dtype=np.int32)
            out = session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0]
            out = out.reshape(len(chunk), EPOCHS, len(OUTPUTS)).astype(float)
            for j, cfg in enumerate(chunk):
                elapsed = np.maximum.accumulate(out[j, :, 0])
                yield Curve(
                    steps=np.arange(1, EPOCHS + 1),
                    values=out[j, :, col],
                    mode=METRIC_MODES[metric],  # type: ignore[arg-type]
                    max_step=EPOCHS,
                    task=f"lcbench/{task}",
                    config_id=str(start + j),
                    config={k: (int(v) if h[4] else v) for (k, v), h in
                            zip(cfg.items(), HYPERPARAMETERS)},
                    metric=metric,
                    step_cost=np.diff(elapsed, prepend=0.0),
                    arch=funnel_arch(int(cfg["num_layers"]), int(cfg["max_units"])),
                )
