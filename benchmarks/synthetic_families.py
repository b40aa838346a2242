"""Synthetic curve families built to break forecasters, for choosing the study-trust guard.

Each family is one task of ``--configs`` curves (accuracy in [0, 1], ``mode: max``) whose shape a
forecaster trained on saturating curves gets wrong, or (``early_rank``) whose runs rank from the first
steps so that a rank rule is hard to beat:

* ``late_rise``: a plateau, then a step learning-rate drop at 60-80 % of the budget lifts each run
  by an amount that is only loosely tied to its plateau level (curves cross late);
* ``cosine``: cosine-annealed runs whose gain in the last third of the budget is large and varies
  between runs (NAS-like, with epoch noise);
* ``noisy_plateau``: saturating runs read through heavy epoch-to-epoch noise;
* ``crossing``: fast starters that saturate low against slow starters that end high;
* ``early_rank``: clean saturating runs whose order is fixed from the first step.

Run: ``python benchmarks/synthetic_families.py --out synthetic.jsonl.gz`` (deterministic per seed).
Not imported by the product.
"""

from __future__ import annotations

import argparse

import numpy as np

from lc_hpo.curve import Curve
from lc_hpo.curveset import write_curves

FAMILIES = ("late_rise", "cosine", "noisy_plateau", "crossing", "early_rank")


def _family(name: str, n: int, max_step: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` curves of ``max_step`` values for one family."""
    t = np.arange(1, max_step + 1) / max_step  # fraction of the budget
    out = np.empty((n, max_step))
    for i in range(n):
        if name == "late_rise":
            plateau = rng.uniform(0.45, 0.8)
            rate = rng.uniform(8, 40)
            drop = rng.uniform(0.6, 0.8)
            lift = rng.uniform(0.0, 0.25) * (1.0 - plateau) / 0.55 + rng.uniform(0, 0.08)
            y = plateau * (1 - np.exp(-rate * t)) + lift * (1 - np.exp(-30 * np.clip(t - drop, 0, None)))
            y += rng.normal(0, 0.006, max_step)
        elif name == "cosine":
            level = rng.uniform(0.5, 0.8)
            late = rng.uniform(0.05, 0.2)
            rate = rng.uniform(4, 20)
            lr = 0.5 * (1 + np.cos(np.pi * t))  # cosine-annealed learning rate
            y = level * (1 - np.exp(-rate * t)) + late * (1 - lr) ** 2
            y += rng.normal(0, 0.03, max_step) * lr  # noise shrinks with the learning rate
        elif name == "noisy_plateau":
            level = rng.uniform(0.6, 0.9)
            rate = rng.uniform(3, 30)
            y = level * (1 - np.exp(-rate * t)) + rng.normal(0, 0.03, max_step)
        elif name == "crossing":
            fast = rng.uniform() < 0.5
            level = rng.uniform(0.6, 0.8) if fast else rng.uniform(0.7, 0.95)
            rate = rng.uniform(15, 40) if fast else rng.uniform(1, 3)
            y = level * (1 - np.exp(-rate * t)) + rng.normal(0, 0.008, max_step)
        elif name == "early_rank":
            level = rng.uniform(0.5, 0.95)
            y = level * (0.7 + 0.3 * (1 - np.exp(-5 * t))) + rng.normal(0, 0.003, max_step)
        else:
            raise ValueError(f"unknown family {name!r}; choose from {', '.join(FAMILIES)}")
        out[i] = np.clip(y, 0.0, 1.0)
    return out


def make_curves(families: list[str], configs: int, max_step: int, seed: int) -> list[Curve]:
    curves = []
    for k, name in enumerate(families):
        rng = np.random.default_rng([seed, k])
        values = _family(name, configs, max_step, rng)
        steps = np.arange(1, max_step + 1)
        for i, v in enumerate(values):
            curves.append(Curve(steps=steps, values=v, mode="max", max_step=max_step,
                                task=f"synthetic/{name}", config_id=str(i), config={"i": i},
                                metric="val_accuracy"))
    return curves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--configs", type=int, default=300)
    ap.add_argument("--max-step", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    n = write_curves(make_curves(args.families.split(","), args.configs, args.max_step, args.seed),
                     args.out)
    print(f"wrote {n} curves to {args.out}")


if __name__ == "__main__":
    main()
