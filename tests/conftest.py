"""Shared fixtures: synthetic curves, and the real curve sets in ``../shared`` when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lc_hpo import Curve

SHARED = Path(os.environ.get("LC_HPO_SHARED", Path(__file__).resolve().parents[2] / "shared"))
TASKSET = SHARED / "data" / "taskset"
LCBENCH = SHARED / "data" / "lcbench_surrogate"


def saturating(final: float, rate: float, start: float, steps: int, noise: float = 0.0,
               seed: int = 0) -> np.ndarray:
    """An exponential approach from ``start`` to ``final`` over ``steps`` steps."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, steps + 1)
    return final - (final - start) * np.exp(-rate * t) + rng.normal(0, noise, steps)


def make_curve(values, mode="max", max_step=None, steps=None, **kw) -> Curve:
    values = np.asarray(values, dtype=float)
    steps = np.arange(1, values.size + 1) if steps is None else steps
    return Curve(steps=steps, values=values, mode=mode, max_step=max_step, **kw)


@pytest.fixture
def taskset_files() -> list[Path]:
    files = sorted(TASKSET.glob("*.jsonl"))
    if not files:
        pytest.skip(f"the shared TaskSet curves are not at {TASKSET}")
    return files


@pytest.fixture
def lcbench_dir() -> Path:
    if not (LCBENCH / "model.onnx").exists():
        pytest.skip(f"the shared LCBench surrogate is not at {LCBENCH}")
    return LCBENCH
