"""The empirical neural tangent kernel of a network at its current weights, on a few samples.

Linearising a network around its pretrained weights w0, f(x; w) ≈ f(x; w0) + J(x)(w − w0), gradient
descent moves the outputs through the kernel Θ = J Jᵀ (Zancato et al. 2020).  Per-sample Jacobians come
from ``torch.func`` (``vmap`` over ``jacrev`` of a ``functional_call``), in chunks of samples so memory
stays bounded; when the network has more parameters than ``projection_dim``, each Jacobian row is
compressed with a CountSketch (every parameter hashed to one of ``projection_dim`` buckets with a random
sign), whose inner products are unbiased estimates of the exact ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call, jacrev, jvp, vmap

#: Samples per ``vmap`` chunk of Jacobians (memory is chunk × outputs × parameters floats).
CHUNK = 32


@dataclass(frozen=True)
class Kernel:
    """The empirical NTK on M samples, outputs flattened sample-major (index ``i * C + c``)."""

    theta: np.ndarray  # (M*C, M*C) float64, J Jᵀ
    f0: np.ndarray  # (M, C) outputs at w0
    jw0: np.ndarray | None  # (M, C) J w0, the outputs' pull under weight decay (None if not asked)
    n_params: int
    projected: bool


def trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's trainable parameters by name, detached (the model is never touched)."""
    return {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}


def outputs(model: torch.nn.Module, X: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """The model's outputs on X as an (N, C) tensor, without gradients."""
    with torch.no_grad():
        out = torch.cat([model(X[i:i + chunk]) for i in range(0, len(X), chunk)])
    return out.reshape(len(X), -1)


def empirical_ntk(model: torch.nn.Module, X: torch.Tensor, *, projection_dim: int = 16384,
                  weight_decay: bool = False, seed: int = 0) -> Kernel:
    """The empirical NTK of ``model`` on the samples ``X`` (a few hundred at most).

    Args:
        model: The network; its trainable parameters are the ones the kernel is taken over.
        X: The samples, shape (M, ...).
        projection_dim: Above this many parameters each Jacobian row is CountSketched to this size.
        weight_decay: Also compute J w0 (one forward-mode product), which weight decay needs.
        seed: Seeds the sketch.
    """
    params = trainable(model)
    buffers = {k: b.detach() for k, b in model.named_buffers()}
    n_params = sum(p.numel() for p in params.values())

    def f_single(p: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, (p, buffers), (x.unsqueeze(0),)).reshape(-1)

    gen = torch.Generator().manual_seed(seed)
    project = n_params > projection_dim
    sketch = {}
    if project:
        for k, p in params.items():
            idx = torch.randint(0, projection_dim, (p.numel(),), generator=gen)
            sign = torch.randint(0, 2, (p.numel(),), generator=gen, dtype=p.dtype) * 2 - 1
            sketch[k] = (idx, sign)
    jac_fn = vmap(jacrev(f_single), in_dims=(None, 0))
    rows = []
    for start in range(0, len(X), CHUNK):
        xb = X[start:start + CHUNK]
        jac = jac_fn(params, xb)  # name -> (b, C, *shape)
        b, c = next(iter(jac.values())).shape[:2]
        if project:
            out = torch.zeros(b * c, projection_dim, dtype=torch.float32)
            for k, j in jac.items():
                idx, sign = sketch[k]
                out.index_add_(1, idx, (j.reshape(b * c, -1) * sign).float())
        else:
            out = torch.cat([j.reshape(b * c, -1).float() for j in jac.values()], dim=1)
        rows.append(out)
    J = torch.cat(rows)
    theta = (J @ J.T).double().numpy()  # float32 rows keep memory at M·C·projection_dim·4 bytes
    with torch.no_grad():
        f0 = torch.func.vmap(f_single, in_dims=(None, 0))(params, X).double().numpy()
        jw0 = None
        if weight_decay:
            t = jvp(lambda p: functional_call(model, (p, buffers), (X,)), (params,), (params,))[1]
            jw0 = t.reshape(len(X), -1).double().numpy()
    return Kernel(theta=theta, f0=f0, jw0=jw0, n_params=n_params, projected=project)


def gradient_norm2(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str,
                   chunk: int = 1024) -> float:
    """|∇_w L|² of the mean loss on all of (X, y) at the current weights: one backward pass.

    The one exact number about the whole data set that the subset kernel cannot know: how fast the
    loss starts to fall under full-batch gradient descent (η |∇L|² per step).  ``model`` must be a
    copy (gradients are taken, not stored).  ``y``: class indices, or (N, C) targets for the MSE.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    n = len(X)
    for start in range(0, n, chunk):
        out = model(X[start:start + chunk]).reshape(min(chunk, n - start), -1)
        yb = y[start:start + chunk]
        if loss == "cross_entropy":
            value = torch.nn.functional.cross_entropy(out, yb, reduction="sum")
        else:
            value = torch.nn.functional.mse_loss(out, yb.to(out.dtype), reduction="sum") / out.shape[1]
        for acc, g in zip(total, torch.autograd.grad(value, params)):
            acc += g
    return float(sum((g.double() / n).pow(2).sum() for g in total))


def full_pull(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str,
              X_sub: torch.Tensor) -> np.ndarray:
    """N J_sub ∇L: how one full-batch step (per unit rate, times N) moves the subset's outputs,
    exactly, at the current weights (one backward pass over (X, y), one jvp on X_sub)."""
    params = trainable(model)
    buffers = {k: b.detach() for k, b in model.named_buffers()}
    names = list(params)
    live = {k: p.clone().requires_grad_(True) for k, p in params.items()}
    out = functional_call(model, (live, buffers), (X,)).reshape(len(X), -1)
    if loss == "cross_entropy":
        value = torch.nn.functional.cross_entropy(out, y)
    else:
        value = torch.nn.functional.mse_loss(out, y.to(out.dtype))
    grads = dict(zip(names, torch.autograd.grad(value, [live[k] for k in names])))
    with torch.no_grad():
        t = jvp(lambda p: functional_call(model, (p, buffers), (X_sub,)), (params,), (grads,))[1]
    return len(X) * t.reshape(len(X_sub), -1).double().numpy()


__all__ = ["Kernel", "empirical_ntk", "full_pull", "gradient_norm2", "outputs", "trainable"]
