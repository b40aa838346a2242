"""A synthetic prior of learning curves, for meta-training beside real curve sets.

Real curve sets cover few shapes; the prior adds the situations a pruner meets in the wild: saturating
curves of several parametric families (as in Domhan et al. and LC-PFN's prior), noise of every size,
runs stuck at chance, plateaus that end in a learning-rate-decay drop, late gains of cosine schedules,
overfitting that turns a loss back up, divergence (``null`` or exploding values), irregular step grids
and budgets from 8 to 200 steps, in accuracy (0–1, 0–100) and loss units.

Curves come in synthetic *tasks* (shared budget, step grid, units and chance level), so that a
validation split by task works for the prior as for real data.
"""

from __future__ import annotations

import numpy as np

from ..curve import Curve, Mode


def _shape(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A random saturating progress function of x in [0, 1], rising from 0 towards 1."""
    family = rng.integers(4)
    r = float(np.exp(rng.uniform(np.log(0.5), np.log(40.0))))
    if family == 0:  # pow
        a = rng.uniform(0.3, 2.0)
        g = 1.0 - (1.0 + r * x) ** (-a)
        g_end = 1.0 - (1.0 + r) ** (-a)
    elif family == 1:  # exponential / Weibull
        d = rng.uniform(0.5, 2.0)
        g = 1.0 - np.exp(-(r * x) ** d)
        g_end = 1.0 - np.exp(-(r**d))
    elif family == 2:  # MMF / Hill
        d = rng.uniform(0.7, 3.0)
        g = (r * x) ** d / (1.0 + (r * x) ** d)
        g_end = r**d / (1.0 + r**d)
    else:  # ilog
        g = 1.0 - 1.0 / np.log(np.e + r * 10 * x)
        g_end = 1.0 - 1.0 / np.log(np.e + r * 10)
    # Not every run gets close to its asymptote within the budget.
    return g / max(g_end, 1e-9) * rng.uniform(0.6, 1.0) if rng.random() < 0.5 else g


def _quality(rng: np.random.Generator, x: np.ndarray, q0: float, q_top: float) -> np.ndarray:
    """A curve in 'quality' units (higher is better), before noise and units."""
    if rng.random() < 0.12:  # stuck at chance for good
        return np.full_like(x, q0)
    q_inf = q0 + (q_top - q0) * rng.beta(2.0, 1.5)
    kind = rng.random()
    if kind < 0.12:  # stuck at chance first, then learns (small learning rates, bad inits)
        onset = rng.uniform(0.05, 0.7)
        xx = np.clip((x - onset) / (1 - onset), 0, None)
        q = q0 + (q_inf - q0) * _shape(rng, xx)
    elif kind < 0.24:  # a sigmoid in log-step: a slow start that accelerates, then saturates
        mid, width = rng.uniform(0.05, 0.8), rng.uniform(0.1, 0.6)
        s = 1.0 / (1.0 + np.exp(-(np.log(x) - np.log(mid)) / width))
        q = q0 + (q_inf - q0) * s
    else:
        q = q0 + (q_inf - q0) * _shape(rng, x)
    u = rng.random()
    if u < 0.25:  # step decay: a plateau, then a drop in loss (rise in quality)
        for frac in sorted(rng.choice([0.33, 0.5, 0.66, 0.75], size=rng.integers(1, 3),
                                      replace=False)):
            gain = (q_top - q) * rng.uniform(0.1, 0.5)
            tau = rng.uniform(0.005, 0.05)
            q = q + np.where(x > frac, gain * (1 - np.exp(-(x - frac) / tau)), 0.0)
    elif u < 0.45:  # cosine annealing: a late extra gain
        q = q + (q_top - q) * rng.uniform(0.05, 0.4) * (1 - np.cos(np.pi * x)) / 2
    if rng.random() < 0.2:  # overfitting: quality turns down after a point
        turn = rng.uniform(0.2, 0.8)
        q = q - np.where(x > turn, rng.uniform(0.02, 0.3) * (q_inf - q0) * (x - turn) / (1 - turn),
                         0.0)
    return np.clip(q, 0.0, 1.0)


def synthetic_curves(n_tasks: int = 100, curves_per_task: int = 200, seed: int = 0) -> list[Curve]:
    """``n_tasks × curves_per_task`` curves from the prior, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    curves: list[Curve] = []
    for t in range(n_tasks):
        max_step = int(np.exp(rng.uniform(np.log(8), np.log(200))))
        grid_kind = rng.random()
        if grid_kind < 0.6:
            steps = np.arange(1, max_step + 1)
        elif grid_kind < 0.8:
            k = int(rng.choice([2, 3, 5]))
            steps = np.unique(np.append(np.arange(k, max_step + 1, k), max_step))
        else:
            n = max(3, int(max_step * rng.uniform(0.2, 0.7)))
            steps = np.unique(np.append(rng.choice(np.arange(1, max_step), size=min(n, max_step - 1),
                                                   replace=False), max_step))
        x = steps / max_step
        units = rng.choice(["acc01", "acc100", "loss"], p=[0.35, 0.2, 0.45])
        q0 = rng.uniform(0.0, 0.6)
        q_top = rng.uniform(max(q0 + 0.05, 0.5), 1.0)
        loss0, loss_floor = rng.uniform(0.3, 5.0), rng.uniform(0.0, 0.5)
        noise_task = float(np.exp(rng.uniform(np.log(2e-4), np.log(0.03))))
        for i in range(curves_per_task):
            q = _quality(rng, x, q0, q_top)
            sigma = noise_task * np.exp(rng.normal(0, 0.5))
            # A network stuck on one class measures exactly the same value epoch after epoch.
            exact = np.isclose(q, q0) & (rng.random() < 0.5)
            q = q + np.where(exact, 0.0, rng.normal(0, sigma, q.shape) * (0.3 + (1 - q)))
            if rng.random() < 0.03:  # a spike of a bad measurement
                q[rng.integers(q.size)] -= rng.uniform(0.05, 0.3)
            if units == "loss":
                y = loss0 * (loss_floor + (1 - loss_floor) * (1 - q))
                mode: Mode = "min"
            else:
                y = np.clip(q, 0, 1) * (100.0 if units == "acc100" else 1.0)
                mode = "max"
            if rng.random() < 0.04:  # divergence from some step on
                at = rng.integers(1, len(y))
                if mode == "min" and rng.random() < 0.5:
                    y[at:] = y[at - 1] * np.exp(np.cumsum(rng.uniform(0.5, 3.0, len(y) - at)))
                else:
                    y = y.astype(float)
                    y[at:] = np.nan
            curves.append(Curve(steps=steps, values=y, mode=mode, max_step=max_step,
                                task=f"prior/{seed}/{t}", config_id=str(i), metric=str(units)))
    return curves
