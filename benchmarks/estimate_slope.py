"""Diagnostic for issue 25: how fast each subset-to-N rescaling says the loss starts to fall,
against the exact rate of the whole data set (one backward pass), and how indefinite it is.

Under full-batch gradient descent the loss starts to fall at η |∇L|² per step; the subset kernel
Θ̃ at rate η/N says η gᵀΘ̃g / (N M).  Negative eigenvalues of Θ̃ are clipped by the dynamics, so the
clipped rate is the one the simulation uses.  Seed 0, the near regime of ``finetune_setup.py``.

    .venv/bin/python benchmarks/estimate_slope.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finetune_setup import finetune_model, finetune_task, load_mnist_5k, pretrain  # noqa: E402

import lc_hpo.estimate.dynamics as dyn  # noqa: E402
from lc_hpo.estimate import TrainingTimeEstimator  # noqa: E402
from lc_hpo.estimate.ntk import gradient_norm2  # noqa: E402


def main(seed: int = 0) -> None:
    torch.set_num_threads(1)
    X, y = load_mnist_5k()
    state = pretrain(X, y)
    for n in (250, 1000):
        Xf, yf = finetune_task(X, y, n, seed)
        model = finetune_model(state, seed)
        exact = gradient_norm2(model, Xf, yf, "cross_entropy")
        est = TrainingTimeEstimator(seed=seed).fit(model, Xf, yf)
        theta, (M, C) = est.kernel_.theta, est.kernel_.f0.shape
        g = dyn.grad("cross_entropy", est.kernel_.f0, est.y_subset_)
        ratio = est.initial_loss_ / float(dyn.per_sample_loss("cross_entropy", est.kernel_.f0,
                                                                est.y_subset_).mean())
        slope = n * M * exact / ratio
        print(f"N={n}, M={M}: exact |grad L|^2 {exact:.4f}")
        for mode in ("linear", "bulk", "signal", "calibrated", "debias"):
            r = dyn.rescale_to_full(theta, C, n, mode, g0=g, slope=slope)
            w, V = np.linalg.eigh(r.theta)
            c = V.T @ g.reshape(-1)
            f = ratio / (n * M)
            print(f"  {mode:10s} gain {r.gain:5.2f}  negative eigenvalues {int((w < 0).sum())}/{w.size}"
                  f"  rate as is {f * float((w * c ** 2).sum()):.4f}  clipped "
                  f"{f * float((w.clip(0) * c ** 2).sum()):.4f}")


if __name__ == "__main__":
    main()
