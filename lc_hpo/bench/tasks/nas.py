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
WIDTHS = (4, 8)
DEFAULT_LR = 0.05
BATCH_SIZE = 128


def sample_nas_config(rng: np.random.Generator) -> dict[str, Any]:
    """A random configuration: a cell (six ops drawn uniformly), cells per stage, channels."""
    ops = [CELL_OPS[i] for i in rng.integers(0, len(CELL_OPS), size=N_CELL_EDGES)]
    return {"cell": cell_string(ops), "depth": int(rng.choice(DEPTHS)),
            "width": int(rng.choice(WIDTHS))}


def suggest_nas_config(trial: Any) -> dict[str, Any]:
    """The same space as :func:`sample_nas_config`, suggested by an Optuna trial."""
    ops = [trial.suggest_categorical(f"edge{i}", list(CELL_OPS)) for i in range(N_CELL_EDGES)]
    return {"cell": cell_string(ops), "depth": trial.suggest_categorical("depth", list(DEPTHS)),
            "width": trial.suggest_categorical("width", list(WIDTHS))}


def nas_arch(config: Mapping[str, Any]) -> ArchGraph:
    """The architecture graph of a configuration: its cell's ops-as-nodes DAG."""
    return from_nb201(str(config["cell"]))


def build_nas_model(config: Mapping[str, Any], n_classes: int) -> CellNetwork:
    return CellNetwork(str(config["cell"]), int(config["depth"]), int(config["width"]), n_classes)


class NASTrainer:
    """One cell network's training, an epoch at a time: SGD with Nesterov momentum 0.9, weight decay
    5e-4 and a cosine schedule over ``epochs`` (NAS-Bench-201's recipe, shortened), learning rate
    ``config["lr"]`` (default 0.05).  Its state is plain tensors, so a scheduler can pause it and a
    checkpoint loads as weights only."""

    def __init__(self, config: Mapping[str, Any], data: Dataset, epochs: int, seed: int = 0,
                 batch_size: int = BATCH_SIZE) -> None:
        self.config, self.data, self.batch_size = dict(config), data, batch_size
        torch.manual_seed(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.model = build_nas_model(config, data.n_classes)
        self.optimizer = torch.optim.SGD(self.model.parameters(),
                                         lr=float(config.get("lr", DEFAULT_LR)), momentum=0.9,
                                         weight_decay=5e-4, nesterov=True)
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=epochs)
        self.loss_fn = nn.CrossEntropyLoss()
        self.epochs_done = 0

    def epoch(self) -> EpochResult:
        """Train one more epoch and evaluate on the validation split."""
        start = time.perf_counter()
        data = self.data
        self.model.train()
        total, count = 0.0, 0
        for idx in torch.randperm(len(data.y_train), generator=self.generator).split(
                self.batch_size):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(data.x_train[idx]), data.y_train[idx])
            loss.backward()
            self.optimizer.step()
            total += loss.detach().item() * len(idx)
            count += len(idx)
        self.schedule.step()
        self.model.eval()
        with torch.no_grad():
            logits = self.model(data.x_val)
            val_loss = float(self.loss_fn(logits, data.y_val))
            acc = float((logits.argmax(1) == data.y_val).float().mean())
        train_loss = total / max(count, 1)
        if not math.isfinite(train_loss):  # a diverged run: its measurements are not numbers
            acc = val_loss = math.nan
        self.epochs_done += 1
        return EpochResult(self.epochs_done, acc, val_loss, train_loss,
                           time.perf_counter() - start)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "epochs_done": self.epochs_done,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.epochs_done = int(state["epochs_done"])
        self.generator.set_state(state["generator"])


def train_nas(config: Mapping[str, Any], data: Dataset, epochs: int, seed: int = 0
              ) -> Iterator[EpochResult]:
    """Train a cell network for ``epochs`` epochs, yielding after each one."""
    trainer = NASTrainer(config, data, epochs, seed)
    for _ in range(epochs):
        yield trainer.epoch()
