"""A NAS-Bench-201-style cell search space built as real PyTorch networks, for offline NAS sweeps.

A configuration names a cell (a NAS-Bench-201 cell string over the ops ``nor_conv_3x3``,
``nor_conv_1x1``, ``avg_pool_3x3``, ``skip_connect`` and ``none``), how many cells each of the two stages
stacks (``depth``), the channels of the first stage (``width``), and the optimiser settings.  The network
follows NAS-Bench-201's macro skeleton scaled down for 8x8 / 28x28 grey images: a 3x3 stem, ``depth``
cells, a stride-2 residual reduction block that doubles the channels, ``depth`` cells, then global
average pooling and a linear classifier.  The architecture graph handed to forecasts is the cell's
(:func:`lc_hpo.arch.from_nb201`), the same representation as the NAS-Bench-201 curves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ...arch import ArchGraph, from_nb201
from .datasets import Dataset
from .training import EpochResult

CELL_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The NAS-Bench-201 operation set."""
N_CELL_EDGES = 6  # edges of a 4-node cell: 1 + 2 + 3


def cell_string(ops: list[str] | tuple[str, ...]) -> str:
    """The NAS-Bench-201 cell string of six edge ops, in the order (1<-0), (2<-0), (2<-1), (3<-0), ..."""
    if len(ops) != N_CELL_EDGES or any(op not in CELL_OPS for op in ops):
        raise ValueError(f"a cell needs {N_CELL_EDGES} ops from {CELL_OPS}, got {list(ops)}")
    groups, k = [], 0
    for node in range(1, 4):
        edges = []
        for j in range(node):
            edges.append(f"{ops[k]}~{j}")
            k += 1
        groups.append("|" + "|".join(edges) + "|")
    return "+".join(groups)


def _parse(cell: str) -> list[list[tuple[str, int]]]:
    """The cell's edges into each feature map 1..3 as (op, input map), validated by from_nb201."""
    from_nb201(cell)  # a clear error for a malformed string
    return [[(tok.split("~")[0], int(tok.split("~")[1])) for tok in group.strip("|").split("|")]
            for group in cell.strip().split("+")]


class ReLUConvBN(nn.Module):
    """NAS-Bench-201's convolution op: ReLU, a k x k convolution, batch norm."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, kernel, padding=kernel // 2,
                                                     bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def make_op(name: str, channels: int) -> nn.Module | None:
    """The module of one cell op (``None`` for ``none``: the edge is absent)."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, 3)
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown cell op {name!r}; choose from {CELL_OPS}")


class NB201Cell(nn.Module):
    """A NAS-Bench-201 cell: feature map ``k`` is the sum of ``op(map j)`` over its edges ``op~j``."""

    def __init__(self, cell: str, channels: int) -> None:
        super().__init__()
        self.cell = cell
        self.edges: list[list[tuple[str, int]]] = []
        self.ops = nn.ModuleDict()
        for k, group in enumerate(_parse(cell), start=1):
            kept = []
            for op_name, j in group:
                module = make_op(op_name, channels)
                if module is not None:
                    key = f"{j}_{k}"
                    self.ops[key] = module
                    kept.append((key, j))
            self.edges.append(kept)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [x]
        for kept in self.edges:
            if not kept:  # every input edge is `none`: this feature map is zero
                maps.append(torch.zeros_like(x))
                continue
            total = self.ops[kept[0][0]](maps[kept[0][1]])
            for key, j in kept[1:]:
                total = total + self.ops[key](maps[j])
            maps.append(total)
        return maps[-1]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's reduction block: a stride-2 residual block that doubles the channels."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.a = ReLUConvBN(c_in, 3)
        self.a.op[1] = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
        self.a.op[2] = nn.BatchNorm2d(c_out)
        self.b = ReLUConvBN(c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2),
                                      nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x)) + self.shortcut(x)


class CellNetwork(nn.Module):
    """Stem, ``depth`` cells, reduction, ``depth`` cells, global pooling, linear classifier."""

    def __init__(self, cell: str, depth: int, width: int, n_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width))
        self.stage1 = nn.Sequential(*[NB201Cell(cell, width) for _ in range(depth)])
        self.reduce = ResidualReduction(width, 2 * width)
        self.stage2 = nn.Sequential(*[NB201Cell(cell, 2 * width) for _ in range(depth)])
        self.head = nn.Sequential(nn.BatchNorm2d(2 * width), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(2 * width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stage2(self.reduce(self.stage1(self.stem(x)))))


# --- the search space -------------------------------------------------------------------------
DEPTHS = (1, 2)
WIDTHS = (8, 16)


def sample_nas_config(rng: np.random.Generator) -> dict[str, Any]:
    """A random configuration: a cell (six ops drawn uniformly), depth, width and learning rate."""
    ops = [CELL_OPS[i] for i in rng.integers(0, len(CELL_OPS), size=N_CELL_EDGES)]
    return {
        "cell": cell_string(ops),
        "depth": int(rng.choice(DEPTHS)),
        "width": int(rng.choice(WIDTHS)),
        "lr": float(math.exp(rng.uniform(math.log(3e-3), math.log(0.3)))),
    }


def suggest_nas_config(trial: Any) -> dict[str, Any]:
    """The same space as :func:`sample_nas_config`, suggested by an Optuna trial."""
    ops = [trial.suggest_categorical(f"edge{i}", list(CELL_OPS)) for i in range(N_CELL_EDGES)]
    return {
        "cell": cell_string(ops),
        "depth": trial.suggest_categorical("depth", list(DEPTHS)),
        "width": trial.suggest_categorical("width", list(WIDTHS)),
        "lr": trial.suggest_float("lr", 3e-3, 0.3, log=True),
    }


def nas_arch(config: Mapping[str, Any]) -> ArchGraph:
    """The architecture graph of a configuration: its cell's ops-as-nodes DAG."""
    return from_nb201(str(config["cell"]))


def build_nas_model(config: Mapping[str, Any], n_classes: int) -> CellNetwork:
    return CellNetwork(str(config["cell"]), int(config["depth"]), int(config["width"]), n_classes)


def train_nas(config: Mapping[str, Any], data: Dataset, epochs: int, seed: int = 0,
              batch_size: int = 64) -> Iterator[EpochResult]:
    """Train a cell network with SGD (momentum 0.9, cosine schedule), one result per epoch."""
    torch.manual_seed(seed)
    model = build_nas_model(config, data.n_classes)
    opt = torch.optim.SGD(model.parameters(), lr=float(config["lr"]), momentum=0.9,
                          weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    n = data.x_train.shape[0]
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for idx in torch.randperm(n, generator=gen).split(batch_size):
            opt.zero_grad()
            loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        sched.step()
        model.eval()
        with torch.no_grad():
            logits = model(data.x_val)
            val_loss = float(loss_fn(logits, data.y_val))
            acc = float((logits.argmax(1) == data.y_val).float().mean())
        train_loss = total / max(count, 1)
        if not math.isfinite(train_loss):
            acc = val_loss = math.nan
        yield EpochResult(epoch, acc, val_loss, train_loss, time.perf_counter() - start)
