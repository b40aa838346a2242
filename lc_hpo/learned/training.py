"""Meta-training on corpora of complete curves: batches of (observed prefix → later values).

Every batch draws curves, a cutoff per curve (how much of it is observed, early cutoffs as likely as
late ones) and target steps after the cutoff, the final step always among them.  The validation split
is by *task*, never by step within a curve, so early stopping and calibration measure what the model
does on tasks it has not seen.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..curve import Curve
from .features import Encoded, batch_arrays, compact_prefix, encode, query_features

MAX_TRAIN_LEN = 256


@dataclass
class TrainSettings:
    """How long and how to train; the model's own shape is set on the predictor."""

    batch_size: int = 256
    lr: float = 2e-3
    max_minutes: float = 10.0
    max_steps: int = 50_000
    eval_every: int = 250
    patience: int = 12
    val_fraction: float = 0.1
    targets_per_curve: int = 4
    seed: int = 0
    progress: bool = True


@dataclass
class CurveArrays:
    """A corpus as padded arrays, built once."""

    steps: np.ndarray
    values: np.ndarray
    length: np.ndarray
    max_step: np.ndarray
    sign: np.ndarray
    tasks: list[str] = field(default_factory=list)

    @classmethod
    def from_curves(cls, curves: Sequence[Curve]) -> "CurveArrays":
        usable = [c for c in curves if c.is_complete and np.isfinite(c.values).sum() >= 2]
        if not usable:
            raise ValueError("training needs complete curves with at least two finite values")
        clipped = [c if len(c) <= MAX_TRAIN_LEN else _thin(c) for c in usable]
        steps, values, max_step, sign = batch_arrays(clipped)
        length = np.array([len(c) for c in clipped])
        return cls(steps, values, length, max_step, sign, [c.task for c in clipped])

    def subset(self, idx: np.ndarray) -> "CurveArrays":
        return CurveArrays(self.steps[idx], self.values[idx], self.length[idx],
                           self.max_step[idx], self.sign[idx], [self.tasks[i] for i in idx])


def _thin(c: Curve) -> Curve:
    """Keep at most MAX_TRAIN_LEN measurements, evenly spread, the last one always."""
    idx = np.unique(np.round(np.linspace(0, len(c) - 1, MAX_TRAIN_LEN)).astype(int))
    return c.replace(steps=c.steps[idx], values=c.values[idx], step_cost=None, extra={})


def split_by_task(tasks: Sequence[str], val_fraction: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation curves; whole tasks go to one side."""
    names = sorted(set(tasks))
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    n_val = max(1, int(round(val_fraction * len(names)))) if len(names) > 1 else 0
    val_tasks = set(names[:n_val])
    is_val = np.array([t in val_tasks for t in tasks])
    if n_val == 0:  # a single task: fall back to a split by curve, and say so in the metadata
        is_val = rng.random(len(tasks)) < val_fraction
    return np.nonzero(~is_val)[0], np.nonzero(is_val)[0]


@dataclass
class Batch:
    enc: Encoded
    prefix_steps: np.ndarray  # (B, L) the observed prefix, left-aligned (ObservedBatch layout)
    prefix_values: np.ndarray
    n_obs: np.ndarray
    query: np.ndarray  # (B, H, Q)
    target_steps: np.ndarray  # (B, H)
    target_z: np.ndarray  # (B, H), 0 where masked
    mask: np.ndarray  # (B, H)
    rows: np.ndarray  # curve indices
    cutoff: np.ndarray


def sample_batch(arr: CurveArrays, rng: np.random.Generator, size: int, n_targets: int) -> Batch:
    """Curves, cutoffs and targets for one step of training (or one validation batch)."""
    rows = rng.integers(len(arr.length), size=size)
    steps, values, length = arr.steps[rows], arr.values[rows], arr.length[rows]
    finite = np.isfinite(values)
    first = np.argmax(finite, axis=1)
    frac = rng.uniform(0.03, 0.95, size)
    cutoff = np.clip(np.round(frac * length).astype(int), first + 1, length - 1)
    s_c, v_c, n_obs = compact_prefix(steps, values, cutoff)
    enc = encode(s_c, v_c, n_obs, arr.max_step[rows], arr.sign[rows])
    # Targets: the final position and n_targets - 1 random positions after the cutoff.
    span = np.maximum(length - cutoff, 1)
    offs = (rng.random((size, n_targets)) * span[:, None]).astype(int)
    pos = np.minimum(cutoff[:, None] + offs, length[:, None] - 1)
    pos[:, 0] = length - 1
    t_steps = np.take_along_axis(steps, pos, axis=1)
    t_vals = np.take_along_axis(values, pos, axis=1)
    mask = np.isfinite(t_vals)
    tz = np.where(mask, enc.to_z(np.where(mask, t_vals, 0.0)), 0.0)
    return Batch(enc, s_c, v_c, n_obs, query_features(enc, t_steps), t_steps, tz, mask, rows,
                 cutoff)


def tensors(b: Batch) -> dict[str, torch.Tensor]:
    return {
        "seq": torch.from_numpy(b.enc.seq),
        "glob": torch.from_numpy(b.enc.glob),
        "query": torch.from_numpy(b.query),
        "target": torch.from_numpy(b.target_z.astype(np.float32)),
        "mask": torch.from_numpy(b.mask.astype(np.float32)),
    }


class BestWeights:
    """Early stopping on a validation score (lower is better) that keeps the best weights seen.

    A validation improves on the best when it is lower by more than ``min_delta``; ``update`` says
    when ``patience`` validations in a row have not.  ``score`` is the best score (inf before any),
    ``state`` a copy of the weights it was reached with (None before any).
    """

    def __init__(self, min_delta: float, patience: int) -> None:
        self.min_delta = min_delta
        self.patience = patience
        self.score = math.inf
        self.state: dict[str, torch.Tensor] | None = None
        self._since_best = 0

    def update(self, score: float, model: torch.nn.Module) -> bool:
        """Record one validation of ``model``; True when patience has run out."""
        if score < self.score - self.min_delta:
            self.score = score
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self._since_best = 0
            return False
        self._since_best += 1
        return self._since_best >= self.patience


def fit_loop(model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, Batch], torch.Tensor],
             train: CurveArrays, val: CurveArrays, settings: TrainSettings,
             desc: str) -> dict[str, Any]:
    """Adam with cosine decay (over the step or time limit), gradient clipping, early stopping on
    validation loss, best weights kept.

    Returns a training report (steps, seconds, best validation loss, why it stopped).
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    val_rng = np.random.default_rng(settings.seed + 1)
    val_batches = [sample_batch(val, val_rng, 512, settings.targets_per_curve) for _ in range(6)]
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    best = BestWeights(min_delta=1e-4, patience=settings.patience)
    start = time.monotonic()
    reason = "max_steps"
    bar = tqdm(total=settings.max_steps, desc=desc, disable=not settings.progress, mininterval=1.0)
    step = 0
    history = []
    for step in range(1, settings.max_steps + 1):
        model.train()
        loss = loss_fn(model, sample_batch(train, rng, settings.batch_size,
                                           settings.targets_per_curve))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        # Cosine decay over whichever ends first, the step limit or the time limit, so that a
        # time-limited run still ends with a small learning rate.
        progress = max(step / settings.max_steps,
                       (time.monotonic() - start) / (60 * settings.max_minutes))
        for group in opt.param_groups:
            group["lr"] = settings.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1))))
        opt.step()
        bar.update(1)
        if step % settings.eval_every == 0:
            model.eval()
            with torch.no_grad():
                vl = float(np.mean([float(loss_fn(model, b)) for b in val_batches]))
            history.append((step, vl))
            bar.set_postfix(train=f"{loss.item():.3f}", val=f"{vl:.3f}", refresh=False)
            if best.update(vl, model):
                reason = "early_stopping"
                break
        if time.monotonic() - start > 60 * settings.max_minutes:
            reason = "time_limit"
            break
    bar.close()
    if best.state is not None:
        model.load_state_dict(best.state)
    model.eval()
    best_val = best.score
    if not history:  # stopped before its first validation: score the model as it is
        with torch.no_grad():
            vl = float(np.mean([float(loss_fn(model, b)) for b in val_batches]))
        history.append((step, vl))
        best_val = vl if math.isfinite(vl) else best_val
        warnings.warn(f"training stopped after {step} steps ({reason}), before its first "
                      f"validation at step {settings.eval_every}: the model is barely trained; "
                      "give it more minutes or steps", UserWarning, stacklevel=2)
    elif best.state is None:  # validated, but never to a finite loss
        warnings.warn(f"training stopped after {step} steps ({reason}) without a finite "
                      f"validation loss (last {history[-1][1]}): the model diverged; lower the "
                      "learning rate or check the curves for extreme values", UserWarning,
                      stacklevel=2)
    return {"steps": step, "seconds": round(time.monotonic() - start, 1),
            "best_val_loss": best_val, "stopped_by": reason,
            "val_history": [[s, round(v, 5)] for s, v in history]}
