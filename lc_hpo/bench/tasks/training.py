"""Build a small network from a configuration and train it epoch by epoch, yielding its curve.

Training is a generator so that the caller (an Optuna objective, a Ray Tune trainable, a recorder) can
report each epoch and stop whenever its pruner or scheduler says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import torch
from torch import nn

from .datasets import Dataset
from .schedules import check_schedule, lr_factor


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 1-based
    val_accuracy: float
    val_loss: float
    train_loss: float
    seconds: float  # wall time of this epoch (training and evaluation)


def build_model(config: Mapping[str, Any], image_size: int, n_classes: int) -> nn.Sequential:
    """An MLP (``depth`` hidden layers of ``width`` units) or a small CNN (``depth`` conv layers)."""
    depth, width = int(config["depth"]), int(config["width"])
    dropout = float(config.get("dropout", 0.0))
    layers: list[nn.Module] = []
    if config["arch"] == "cnn":
        # Convolutions cost far more per unit than dense layers: a quarter of the width in channels
        # (at most 64) keeps a CNN epoch within a few times an MLP's on a CPU core.
        channels, side, out = 1, image_size, min(max(width // 4, 4), 64)
        for _ in range(depth):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU()]
            channels = out
            if side >= 4:
                layers.append(nn.MaxPool2d(2))
                side //= 2
        layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * side * side, n_classes)]
    elif config["arch"] == "mlp":
        features = image_size * image_size
        layers.append(nn.Flatten())
        for _ in range(depth):
            layers += [nn.Linear(features, width), nn.ReLU(), nn.Dropout(dropout)]
            features = width
        layers.append(nn.Linear(features, n_classes))
    else:
        raise ValueError(f"unknown arch {config['arch']!r}; choose 'mlp' or 'cnn'")
    return nn.Sequential(*layers)


def architecture_graph(model: nn.Sequential) -> dict[str, Any]:
    """The model as the curve format's ``arch`` graph: a chain of operation labels."""
    nodes = ["input"]
    for m in model:
        if isinstance(m, nn.Linear):
            nodes.append(f"linear{m.out_features}")
        elif isinstance(m, nn.Conv2d):
            nodes.append(f"conv{m.kernel_size[0]}x{m.kernel_size[1]}-{m.out_channels}")
        elif isinstance(m, nn.Dropout):
            if m.p > 0:
                nodes.append("dropout")
        else:
            nodes.append(type(m).__name__.lower())
    nodes.append("output")
    return {"nodes": nodes, "edges": [[i, i + 1] for i in range(len(nodes) - 1)]}


def _optimizer(config: Mapping[str, Any], params: Any) -> torch.optim.Optimizer:
    lr, wd = float(config["lr"]), float(config.get("weight_decay", 0.0))
    if config["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    raise ValueError(f"unknown optimizer {config['optimizer']!r}; choose 'sgd' or 'adam'")


class Trainer:
    """One configuration's training, an epoch at a time, with its state saved and restored as
    plain tensors (so a scheduler can pause it and a checkpoint loads as weights only).

    ``config["schedule"]`` (optional, default ``constant``) names a learning-rate schedule from
    :data:`~lc_hpo.bench.tasks.schedules.SCHEDULES`; any other than ``constant`` needs the run's
    length, ``epochs``.  The rate of each epoch follows from ``epochs_done``, so a restored state
    resumes the schedule where it was.
    """

    def __init__(self, config: Mapping[str, Any], data: Dataset, seed: int = 0,
                 model: nn.Module | None = None, epochs: int | None = None) -> None:
        self.config, self.data = dict(config), data
        self.schedule = check_schedule(str(self.config.get("schedule", "constant")))
        if self.schedule != "constant" and (epochs is None or epochs < 1):
            raise ValueError(f"the {self.schedule!r} schedule needs the run's length: pass epochs=N")
        self.epochs = epochs
        torch.manual_seed(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.model = model or build_model(config, data.image_size, data.n_classes)
        self.optimizer = _optimizer(config, self.model.parameters())
        self.epochs_done = 0
        self.loss_fn = nn.CrossEntropyLoss()

    def epoch(self) -> EpochResult:
        """Train one more epoch and evaluate on the validation split."""
        start = time.perf_counter()
        if self.schedule != "constant":
            rate = float(self.config["lr"]) * lr_factor(self.schedule, self.epochs_done,
                                                        int(self.epochs or 1))
            for group in self.optimizer.param_groups:
                group["lr"] = rate
        data, bs = self.data, int(self.config["batch_size"])
        n = len(data.y_train)
        self.model.train()
        perm = torch.randperm(n, generator=self.generator)
        total, count = 0.0, 0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(data.x_train[idx]), data.y_train[idx])
            loss.backward()
            self.optimizer.step()
            total += loss.detach().item() * len(idx)
            count += len(idx)
        self.model.eval()
        with torch.no_grad():
            logits = self.model(data.x_val)
            val_loss = float(self.loss_fn(logits, data.y_val))
            val_acc = float((logits.argmax(1) == data.y_val).float().mean())
        self.epochs_done += 1
        return EpochResult(self.epochs_done, val_acc, val_loss, total / max(count, 1),
                           time.perf_counter() - start)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "epochs_done": self.epochs_done, "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epochs_done = int(state["epochs_done"])
        self.generator.set_state(state["generator"])


def train(config: Mapping[str, Any], data: Dataset, epochs: int, seed: int = 0,
          model: nn.Module | None = None) -> Iterator[EpochResult]:
    """Train ``config`` on ``data`` for up to ``epochs`` epochs, yielding after each one."""
    trainer = Trainer(config, data, seed, model, epochs=epochs)
    for _ in range(epochs):
        yield trainer.epoch()
