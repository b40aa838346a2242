"""A compact fixed-step Runge-Kutta solver for batched latent ODEs, in the style of torchdiffeq.

LC-GODE integrates its latent state with the classical fourth-order Runge-Kutta method, as its paper
says.  The trajectories are short (a learning curve's remaining budget), the state tiny (16-d) and every
curve of a batch needs the same number of steps, so a fixed-step explicit solver written as one
Butcher tableau and one stepping loop is all that is needed: it is differentiable by plain autograd,
costs exactly ``4 * n_steps`` evaluations of the vector field, and adds no dependency (torchdiffeq is
not installed; see docs/lc_gode.md for the measured choice).

Each curve of a batch may integrate over its own interval: the solver works on a normalised time
``tau`` in [0, 1] with ``t = t0 + tau * (t1 - t0)`` per row, so that one loop advances the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method: ``c`` nodes, ``a`` lower-triangular weights, ``b`` weights."""

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int


#: The classical RK4 ("the" Runge-Kutta method).
RK4 = ButcherTableau(a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
                     b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), c=(0.0, 0.5, 0.5, 1.0), order=4)
#: Explicit Euler, kept for the order test and for cheap experiments.
EULER = ButcherTableau(a=((),), b=(1.0,), c=(0.0,), order=1)

VectorField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def odeint_fixed(func: VectorField, z0: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor,
                 n_steps: int, tableau: ButcherTableau = RK4) -> torch.Tensor:
    """Integrate ``dz/dt = func(t, z)`` from ``t0`` to ``t1`` per row in ``n_steps`` equal steps.

    ``z0`` is (B, ..., D); ``t0`` and ``t1`` are (B,).  Returns the states at the ``n_steps + 1``
    grid points, shape (n_steps + 1, B, ..., D), the first being ``z0``.  Row ``i``'s grid is
    ``t0[i] + k / n_steps * (t1[i] - t0[i])``, k = 0..n_steps (see :func:`time_grid`).
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    if t0.shape != t1.shape or t0.shape[:1] != z0.shape[:1]:
        raise ValueError("t0 and t1 need one entry per row of z0")
    shape = (-1,) + (1,) * (z0.dim() - 1)
    span = (t1 - t0).reshape(shape)  # dz/dtau = span * f(t, z)
    h = 1.0 / n_steps
    z = z0
    out = [z0]
    for k in range(n_steps):
        tau = k * h
        stages: list[torch.Tensor] = []
        for ci, ai in zip(tableau.c, tableau.a):
            zi = z
            for aij, kj in zip(ai, stages):
                if aij:
                    zi = zi + (h * aij) * kj
            t = t0 + (tau + ci * h) * (t1 - t0)
            stages.append(span * func(t, zi))
        for bi, ki in zip(tableau.b, stages):
            z = z + (h * bi) * ki
        out.append(z)
    return torch.stack(out)


def time_grid(t0: torch.Tensor, t1: torch.Tensor, n_steps: int) -> torch.Tensor:
    """The (B, n_steps + 1) times at which :func:`odeint_fixed` returns states."""
    tau = torch.linspace(0.0, 1.0, n_steps + 1, dtype=t0.dtype, device=t0.device)
    return t0[:, None] + tau[None, :] * (t1 - t0)[:, None]


def interpolate(grid_t: torch.Tensor, grid_y: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear values of ``grid_y`` (B, ..., G) on ``grid_t`` (B, G) at ``query`` (B, H).

    Queries outside a row's grid take its end values.  ``grid_y`` may carry extra middle dimensions
    (e.g. samples), which are broadcast.
    """
    G = grid_t.shape[1]
    lo_t, hi_t = grid_t[:, :1], grid_t[:, -1:]
    span = (hi_t - lo_t).clamp_min(1e-12)
    pos = ((query.clamp(min=lo_t, max=hi_t) - lo_t) / span * (G - 1)).clamp(0, G - 1)
    left = pos.floor().long().clamp(max=G - 2) if G > 1 else pos.floor().long()
    frac = pos - left.to(pos.dtype)
    if G == 1:
        return grid_y[..., :1].expand(*grid_y.shape[:-1], query.shape[1])
    extra = grid_y.dim() - 2
    idx = left.reshape(left.shape[0], *([1] * extra), left.shape[1]).expand(
        *grid_y.shape[:-1], left.shape[1])
    frac = frac.reshape(frac.shape[0], *([1] * extra), frac.shape[1])
    y0 = torch.gather(grid_y, -1, idx)
    y1 = torch.gather(grid_y, -1, idx + 1)
    return y0 + frac * (y1 - y0)
