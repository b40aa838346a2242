"""LC-GODE (Ding et al., AAAI 2025): architecture-aware curve forecasts from a latent graph ODE.

A learning curve is read as the trajectory of a latent dynamical system whose vector field depends on
the trained network's architecture:

* a **graph encoder** (:mod:`.graph_encoder`: 2 GCN or GAT layers, attention pooling) turns the
  curve's ``arch`` graph into a 16-d embedding ``g``;
* a **sequence encoder** (GRU) reads the observed (value, time) pairs and gives the mean and
  log-variance of the 16-d latent state ``z`` at the last observed time;
* a **latent ODE** ``dz/dt = MLP([z, g])`` (64 hidden units, GELU, autonomous) is integrated with
  RK4 (:mod:`.ode`) from there to the end of the budget, and a **linear decoder** reads the value;
* trained as a VAE: Gaussian log-likelihood of the later values (sigma 0.05), KL to N(0, I) with
  linear annealing, and a first-point penalty tying the trajectory's start to the last observation.

Where the authors' code is wrong, this follows the paper or does better (see docs/lc_gode.md): RK4 as
the paper says (their code ran adaptive dopri5), times proportional to the step (``step / max_step``;
their code drew random times), checkpoints selected on a validation split *by architecture* (their
code picked the best iteration on the test set), and a calibrated forecast: several sampled
trajectories become the components of a Gaussian mixture whose spread grows with the horizon, one
scale fitted on the validation architectures so that the 90 % interval of the final value covers 90 %.

``use_graph=False`` is the graph-free ablation (the paper's NODE baseline): the same model and loss
with the embedding zeroed.  A curve without a readable architecture is forecast the same way (one
warning says so); training drops the graph of a share of curves (``graph_dropout``) so that this path
is a trained model, not an untested corner.

Values are normalised per curve from what is observed, so one model reads accuracies in [0, 1] or in
percent and losses alike: a ``max`` metric observed within [0, 1] is taken as is, one within
[0, 100] (above 1) is divided by 100, and anything else (losses, rewards) is divided by the magnitude
of its first observed value, with ``min`` metrics negated so that up is better.
"""

from __future__ import annotations

import math
import time
import warnings
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.special import ndtr
from torch import nn
from tqdm.auto import tqdm

from .. import arch as arch_mod
from ..curve import Curve
from ..forecast import Forecast
from ..predictors.base import ObservedBatch
from .checkpoint import CheckpointError
from .graph_encoder import GraphBatch, GraphEncoder
from .ode import RK4, interpolate, odeint_fixed, time_grid
from .predictors import _LearnedPredictor
from .training import BestWeights

#: Observed points the sequence encoder reads at most (evenly thinned, the last one always kept).
MAX_SEQ = 32
#: Later points scored per curve in a training step.
N_TARGETS = 32
#: Standard deviation of the Gaussian log-likelihood, in normalised units (the authors' value).
OBS_STD = 0.05
#: Iterations over which the KL weight rises linearly from 0 to 1 (the authors' value).
KL_ANNEAL = 100
#: Fractions of the budget observed when validating (checkpoint selection and calibration).
VAL_CUTOFFS = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8)
_CACHE_SIZE = 4096


# --- normalisation -------------------------------------------------------------------------------
def normalisers(values: np.ndarray, mask: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Per curve, the divisor ``d`` with ``y = sign * value / d`` from its observed values (N,).

    ``max`` metrics observed within [0, 1] keep their scale (1), within [0, 100] are read as percent
    (100); anything else is divided by the magnitude of its first observed value.
    """
    v = np.where(mask, values, np.nan)
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanmin(v, axis=1), np.nanmax(v, axis=1)
    first = values[np.arange(len(values)), np.argmax(mask, axis=1)]
    rel = np.maximum(np.abs(first), 1e-12)
    is_max = sign > 0
    frac = is_max & (lo >= 0) & (hi <= 1)
    pct = is_max & (lo >= 0) & (hi <= 100) & ~frac
    return np.where(frac, 1.0, np.where(pct, 100.0, rel))


def thin_index(n: int, limit: int = MAX_SEQ) -> np.ndarray:
    """At most ``limit`` evenly spread indices of ``range(n)``, the first and last always."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, limit)).astype(int))


def graph_key(arch: Mapping[str, Any] | None) -> Any:
    """A hashable key of an architecture (None for no or an unreadable graph)."""
    if arch is None:
        return None
    try:
        return arch_mod.from_dict(arch)
    except (arch_mod.ArchError, TypeError, ValueError):
        return None


# --- the network ---------------------------------------------------------------------------------
class LCGODE(nn.Module):
    """Graph encoder + GRU posterior of z0 + latent ODE + linear decoder."""

    def __init__(self, latent: int = 16, hidden: int = 64, enc_hidden: int = 32,
                 graph_layer: str = "gcn", n_labels: int = arch_mod.N_LABEL_IDS) -> None:
        super().__init__()
        self.latent = latent
        self.graph = GraphEncoder(n_labels, out_dim=latent, hidden=enc_hidden, layer=graph_layer)
        self.gru = nn.GRU(3, enc_hidden, batch_first=True)
        self.post = nn.Linear(enc_hidden + latent, 2 * latent)
        # The vector field MLP([z, g]): its first layer split into a z part and a g part, the g part
        # (constant along a trajectory) computed once per trajectory rather than at every stage.
        self.field_z = nn.Linear(latent, hidden)
        self.field_g = nn.Linear(latent, hidden, bias=False)
        self.field_out = nn.Sequential(nn.GELU(), nn.Linear(hidden, latent))
        self.decoder = nn.Linear(latent, 1)

    def posterior(self, seq: torch.Tensor, lengths: torch.Tensor,
                  g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of z at the last observed time, each (B, latent)."""
        packed = nn.utils.rnn.pack_padded_sequence(seq, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, h = self.gru(packed)
        mu, logvar = self.post(torch.cat([h[-1], g], dim=-1)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 6.0)

    def trajectories(self, z0: torch.Tensor, g: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor,
                     n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoded values on each row's RK4 grid: times (B, G) and values (B, S, G).

        ``z0`` is (B, S, latent): S sampled start states per curve, all sharing the curve's ``g``.
        """
        gb = self.field_g(g)[:, None, :]  # (B, 1, hidden), shared by the S samples
        w1, b1 = self.field_z.weight, self.field_z.bias
        last: nn.Linear = self.field_out[1]  # type: ignore[assignment]
        w2, b2 = last.weight, last.bias
        gelu, linear = nn.functional.gelu, nn.functional.linear

        def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            # self.field_out(self.field_z(z) + gb), without module-call overhead (40 calls a forecast)
            return linear(gelu(linear(z, w1, b1) + gb), w2, b2)

        zs = odeint_fixed(field, z0, t0, t1, n_steps, RK4)  # (G, B, S, latent)
        y = self.decoder(zs).squeeze(-1).permute(1, 2, 0)  # (B, S, G)
        return time_grid(t0, t1, n_steps), y


# --- batches -------------------------------------------------------------------------------------
class _Prefixes:
    """Observed prefixes as encoder input: (y, t, dt) sequences, their lengths and last (t, y)."""

    def __init__(self, steps: np.ndarray, values: np.ndarray, n_obs: np.ndarray,
                 max_step: np.ndarray, divisor: np.ndarray, sign: np.ndarray) -> None:
        B = len(n_obs)
        lens = np.minimum(n_obs, MAX_SEQ)
        seq = np.zeros((B, max(1, int(lens.max(initial=1))), 3), dtype=np.float32)
        for i in range(B):
            idx = thin_index(int(n_obs[i]))
            t = steps[i, idx] / max_step[i]
            y = sign[i] * values[i, idx] / divisor[i]
            seq[i, : idx.size, 0] = y
            seq[i, : idx.size, 1] = t
            seq[i, : idx.size, 2] = np.diff(t, prepend=0.0)
        last = np.maximum(n_obs - 1, 0)
        rows = np.arange(B)
        self.seq = torch.from_numpy(seq)
        self.lengths = torch.from_numpy(lens.astype(np.int64))
        self.t_last = torch.from_numpy((steps[rows, last] / max_step).astype(np.float32))
        self.y_last = torch.from_numpy((sign * values[rows, last] / divisor).astype(np.float32))


# --- the predictor -------------------------------------------------------------------------------
class LCGODEPredictor(_LearnedPredictor):
    """LC-GODE as a predictor: fit on curves with ``arch`` graphs, forecast a calibrated mixture.

    Parameters beyond the shared ones of the learned predictors (``max_minutes``, ``max_steps``,
    ``batch_size``, ``lr``, ``val_fraction``, ``seed``, ``progress``): ``latent`` (z and graph
    embedding width, 16), ``hidden`` (ODE field width, 64), ``graph_layer`` (``"gcn"`` or ``"gat"``),
    ``use_graph`` (False: the graph-free ablation), ``graph_dropout`` (share of training curves seen
    without their graph), ``samples`` (trajectories per forecast = mixture components), ``ode_steps``
    (RK4 steps from the last observation to the end of the budget), ``first_point_weight`` and
    ``eval_every`` / ``patience`` (validation cadence and early stopping, in iterations).
    """

    name = "lc_gode"
    kind = "lc_gode"
    #: ``bench predict --train FILE`` fits it on FILE even when it came with shipped weights.
    refit_with_train = True

    @property
    def uses_arch(self) -> bool:
        """Whether forecasts read each curve's ``arch``, so adapters warn about trials without one."""
        return bool(self.use_graph)

    def __init__(self, latent: int = 16, hidden: int = 64, graph_layer: str = "gcn",
                 use_graph: bool = True, graph_dropout: float = 0.15, samples: int = 16,
                 ode_steps: int = 10, first_point_weight: float = 5000.0,
                 max_minutes: float = 5.0, max_steps: int = 1500, batch_size: int = 32,
                 lr: float = 1e-3, val_fraction: float = 0.2, eval_every: int = 100,
                 patience: int = 6, seed: int = 0, progress: bool = False) -> None:
        super().__init__(hidden=hidden, max_minutes=max_minutes, max_steps=max_steps,
                         batch_size=batch_size, lr=lr, val_fraction=val_fraction, seed=seed,
                         progress=progress)
        if graph_layer not in ("gcn", "gat"):
            raise ValueError(f"graph_layer must be 'gcn' or 'gat', got {graph_layer!r}")
        if latent < 1 or samples < 1 or ode_steps < 1 or eval_every < 1 or patience < 1:
            raise ValueError("latent, samples, ode_steps, eval_every and patience must be positive")
        if not 0.0 <= graph_dropout < 1.0:
            raise ValueError("graph_dropout must lie in [0, 1)")
        if first_point_weight < 0:
            raise ValueError("first_point_weight must not be negative")
        self.latent = latent
        self.graph_layer = graph_layer
        self.use_graph = bool(use_graph)
        self.graph_dropout = graph_dropout
        self.samples = samples
        self.ode_steps = ode_steps
        self.first_point_weight = first_point_weight
        self.eval_every = eval_every
        self.patience = patience
        self.std_scale_ = 1.0
        self.std_power_ = 0.5
        self._cache: dict[Any, torch.Tensor] = {}
        self._warned = False

    # --- model and checkpoint ------------------------------------------------------------------
    @classmethod
    def shipped(cls) -> "LCGODEPredictor":
        """The checkpoint shipped in ``lc_hpo/models/`` (trained on NAS-Bench-201 CIFAR-10 cells,
        see docs/lc_gode.md), or an unfitted model where none is shipped."""
        ref = resources.files("lc_hpo") / "models" / f"{cls.kind}.pt"
        if not ref.is_file():
            return cls()
        with resources.as_file(ref) as path:
            return cls.load(path)  # type: ignore[return-value]

    def _build(self) -> LCGODE:
        return LCGODE(latent=self.latent, hidden=self.hidden, graph_layer=self.graph_layer)

    def _config(self) -> dict[str, Any]:
        return {"latent": self.latent, "hidden": self.hidden, "graph_layer": self.graph_layer,
                "use_graph": self.use_graph, "samples": self.samples, "ode_steps": self.ode_steps}

    def _after_load(self) -> None:
        n_labels = self.metadata_.get("n_label_ids")
        if n_labels != arch_mod.N_LABEL_IDS:
            raise CheckpointError(f"trained with {n_labels} operation-label ids, this lc-hpo has "
                                  f"{arch_mod.N_LABEL_IDS}; retrain it with 'lc-hpo train --model "
                                  "lc_gode'")
        self.std_scale_ = float(self.metadata_["calibration"]["std_scale"])
        self.std_power_ = float(self.metadata_["calibration"]["std_power"])
        self._cache = {}

    # --- graphs --------------------------------------------------------------------------------
    def _embed(self, model: LCGODE, keys: Sequence[Any]) -> torch.Tensor:
        """Graph embeddings (B, latent); zero where there is no graph or the graph is off.

        Out of training, each graph's embedding is computed once and cached (it does not change
        between forecasts), so a scheduler ranking the same running trials again pays nothing."""
        if not self.use_graph or all(k is None for k in keys):
            return torch.zeros(len(keys), self.latent)
        uniq = [k for k in dict.fromkeys(keys) if k is not None]
        if model.training:
            table: dict[Any, torch.Tensor] = dict(zip(uniq, _encode_graphs(model, uniq)))
        else:
            todo = [k for k in uniq if k not in self._cache]
            if todo:
                if len(self._cache) + len(todo) > _CACHE_SIZE:
                    self._cache.clear()
                self._cache.update(zip(todo, _encode_graphs(model, todo).detach()))
            table = self._cache
        zero = torch.zeros(self.latent)
        return torch.stack([table[k] if k is not None else zero for k in keys])

    def _keys(self, curves: Sequence[Curve]) -> list[Any]:
        keys = [graph_key(c.arch) for c in curves]
        if self.use_graph and not self._warned and any(k is None for k in keys):
            self._warned = True
            warnings.warn("lc_gode: some curves have no readable architecture graph (arch); they "
                          "are forecast with the graph embedding zeroed (the graph-free model)",
                          UserWarning, stacklevel=4)
        return keys

    # --- forecasting ---------------------------------------------------------------------------
    def _predict(self, batch: ObservedBatch, targets: np.ndarray) -> Forecast:
        model: LCGODE = self._require_fitted()  # type: ignore[assignment]  # eval since fit/load
        divisor = normalisers(batch.values, batch.mask, batch.sign)
        pre = _Prefixes(batch.steps, batch.values, batch.n_obs, batch.max_step, divisor,
                        batch.sign)
        t_q = torch.from_numpy((targets / batch.max_step[:, None]).astype(np.float32))
        gen = torch.Generator().manual_seed(self.seed)
        with torch.inference_mode():
            g = self._embed(model, self._keys(batch.curves))
            y = self._sample(model, pre, g, t_q, self.samples, gen)  # (B, S, H)
        ahead = np.maximum(targets / batch.max_step[:, None] - pre.t_last.numpy()[:, None], 0.0)
        std_y = self.std_scale_ * _spread(ahead, self.std_power_)  # (B, H), normalised units
        unit = (batch.sign * divisor)[:, None, None]
        means = unit * y.numpy().astype(float)
        stds = np.abs(unit) * np.broadcast_to(std_y[:, None, :], means.shape)
        return Forecast(targets, np.ones_like(means), means, stds)

    def _sample(self, model: LCGODE, pre: _Prefixes, g: torch.Tensor, t_q: torch.Tensor,
                samples: int, gen: torch.Generator | None, mean_only: bool = False
                ) -> torch.Tensor:
        """Decoded values at query times ``t_q`` (B, H) for ``samples`` draws of z0: (B, S, H)."""
        mu, logvar = model.posterior(pre.seq, pre.lengths, g)
        if mean_only:
            z0 = mu[:, None, :]
        else:
            eps = torch.randn((mu.shape[0], samples, mu.shape[1]), generator=gen)
            z0 = mu[:, None, :] + eps * (0.5 * logvar).exp()[:, None, :]
        t1 = torch.maximum(t_q.max(dim=1).values, pre.t_last + 1e-3)
        grid_t, grid_y = model.trajectories(z0, g, pre.t_last, t1, self.ode_steps)
        return interpolate(grid_t, grid_y, t_q)

    # --- training ------------------------------------------------------------------------------
    def fit(self, curves: Sequence[Curve]) -> "LCGODEPredictor":
        data = _Corpus.from_curves(curves)
        tr, va = data.split_by_arch(self.val_fraction, self.seed)
        self._cache = {}
        n_graphs = sum(k is not None for k in data.keys)
        self.metadata_ = {
            "trained_on": {
                "curves": len(data.keys), "curves_with_arch": n_graphs,
                "tasks": sorted(set(data.tasks)),
                "config_ids": sorted({f"{t}\x1f{c}" for t, c in zip(data.tasks, data.config_ids)}),
                "validation_curves": int(len(va)),
                "validation_split": "by architecture",
            },
            "n_label_ids": arch_mod.N_LABEL_IDS,
        }
        torch.manual_seed(self.seed)
        model = self._build()
        self.model_ = model
        report = self._train(model, data, tr, va)
        self._cache = {}
        self.std_scale_, self.std_power_, coverage = self._calibrate(model, data, va)
        self.metadata_["training"] = report
        self.metadata_["calibration"] = {"std_scale": self.std_scale_,
                                         "std_power": self.std_power_,
                                         "validation_coverage90": coverage}
        self._warned = False
        return self

    def _loss(self, model: LCGODE, data: "_Corpus", rows: np.ndarray, rng: np.random.Generator,
              kl_weight: float) -> torch.Tensor:
        b = data.training_batch(rows, rng)
        keys = [data.keys[i] for i in rows]
        if self.graph_dropout > 0:
            keys = [None if rng.random() < self.graph_dropout else k for k in keys]
        g = self._embed(model, keys)
        mu, logvar = model.posterior(b.pre.seq, b.pre.lengths, g)
        z0 = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        t1 = torch.maximum(b.t_target.max(dim=1).values, b.pre.t_last + 1e-3)
        grid_t, grid_y = model.trajectories(z0[:, None, :], g, b.pre.t_last, t1, self.ode_steps)
        pred = interpolate(grid_t, grid_y, b.t_target)[:, 0, :]
        nll = (((pred - b.y_target) / OBS_STD) ** 2 / 2 * b.mask).sum(1)
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(1)
        first = self.first_point_weight * (grid_y[:, 0, 0] - b.pre.y_last) ** 2
        return (nll + kl_weight * kl + first).mean()

    def _train(self, model: LCGODE, data: "_Corpus", tr: np.ndarray,
               va: np.ndarray) -> dict[str, Any]:
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.999)
        best = BestWeights(min_delta=1e-5, patience=self.patience)
        history: list[list[float]] = []
        step, reason = 0, "max_steps"
        start = time.monotonic()
        bar = tqdm(total=self.max_steps, desc=f"training {self.name}", disable=not self.progress,
                   mininterval=1.0)
        for step in range(1, self.max_steps + 1):
            model.train()
            rows = rng.choice(tr, size=min(self.batch_size, len(tr)), replace=len(tr) < self.batch_size)
            loss = self._loss(model, data, rows, rng, min(1.0, step / KL_ANNEAL))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            bar.update(1)
            if step % self.eval_every == 0 or step == self.max_steps:
                score = self._validate(model, data, va)
                history.append([step, round(score, 5)])
                bar.set_postfix(loss=f"{loss.item():.2f}", val_mae=f"{score:.4f}", refresh=False)
                if best.update(score, model):
                    reason = "early_stopping"
                    break
            if time.monotonic() - start > 60 * self.max_minutes:
                reason = "time_limit"
                break
        bar.close()
        if best.state is None:
            best_val = self._validate(model, data, va)
            history.append([step, round(best_val, 5)])
        else:
            best_val = best.score
            model.load_state_dict(best.state)
        model.eval()
        return {"steps": step, "seconds": round(time.monotonic() - start, 1),
                "best_val_loss": best_val, "stopped_by": reason, "val_history": history,
                "selection": "mean absolute error of the normalised remaining curve on the "
                             "validation architectures, cutoffs " + ", ".join(map(str, VAL_CUTOFFS))}

    def _validation_forecasts(self, model: LCGODE, data: "_Corpus", rows: np.ndarray,
                              mean_only: bool) -> list[tuple[np.ndarray, ...]]:
        """Per validation cutoff: predicted (B, S, H) and true (B, H) normalised values, mask,
        and how far ahead each target lies (B, H)."""
        model.eval()
        self._cache = {}
        out: list[tuple[np.ndarray, ...]] = []
        gen = torch.Generator().manual_seed(self.seed + 1)
        with torch.no_grad():
            g = self._embed(model, [data.keys[i] for i in rows])
            for cutoff in VAL_CUTOFFS:
                b = data.cutoff_batch(rows, cutoff)
                y = self._sample(model, b.pre, g, b.t_target, self.samples, gen, mean_only)
                ahead = (b.t_target - b.pre.t_last[:, None]).clamp_min(0.0)
                out.append((y.numpy(), b.y_target.numpy(), b.mask.numpy() > 0, ahead.numpy()))
        self._cache = {}
        return out

    def _validate(self, model: LCGODE, data: "_Corpus", va: np.ndarray) -> float:
        errs = [np.abs(y[:, 0] - t)[m] for y, t, m, _ in
                self._validation_forecasts(model, data, va, mean_only=True)]
        return float(np.mean(np.concatenate(errs)))

    def _calibrate(self, model: LCGODE, data: "_Corpus", va: np.ndarray
                   ) -> tuple[float, float, float]:
        """The spread of the mixture components on the validation architectures.

        A component's standard deviation is ``scale * (ahead + 0.005) ** power``, ``ahead`` the
        share of the budget still to come.  For each candidate power, the scale is the smallest that
        makes the 90 % interval of the validation finals cover 90 % at *every* validation cutoff
        (found by bisection per cutoff); the power kept is the one with the narrowest intervals.
        Returns (scale, power, coverage over all validation forecasts)."""
        parts = self._validation_forecasts(model, data, va, mean_only=False)
        y = np.concatenate([p[0][:, :, -1] for p in parts])  # (n, S) predicted finals
        t = np.concatenate([p[1][:, -1] for p in parts])
        ok = np.concatenate([p[2][:, -1] for p in parts])
        ahead = np.concatenate([p[3][:, -1] for p in parts])
        which = np.concatenate([np.full(len(p[1]), k) for k, p in enumerate(parts)])
        y, t, ahead, which = y[ok], t[ok], ahead[ok], which[ok]
        if t.size == 0:
            return 1.0, 0.5, math.nan

        def covered(scale: float, power: float) -> np.ndarray:
            # Inside the central 90 % interval of the equal-weight mixture <=> its CDF at the
            # truth lies in [0.05, 0.95] (no quantiles to solve).
            sd = scale * _spread(ahead, power)
            cdf = ndtr((t[:, None] - y) / sd[:, None]).mean(axis=1)
            return (cdf >= 0.05) & (cdf <= 0.95)

        def scale_for(sel: np.ndarray, power: float) -> float:
            lo_s, hi_s = 1e-4, 100.0
            for _ in range(30):
                mid = math.sqrt(lo_s * hi_s)
                if covered(mid, power)[sel].mean() < 0.9:
                    lo_s = mid
                else:
                    hi_s = mid
            return hi_s

        best = (math.inf, 1.0, 0.5, math.nan)
        for power in (0.5, 1.0, 1.5, 2.0):
            scale = max(scale_for(which == k, power) for k in np.unique(which))
            width = float(np.mean(scale * _spread(ahead, power)))
            if width < best[0]:
                best = (width, scale, power, float(covered(scale, power).mean()))
        return best[1], best[2], best[3]


def _encode_graphs(model: LCGODE, graphs: Sequence[Any], budget: int = 1 << 22) -> torch.Tensor:
    """Embeddings of distinct graphs, in chunks of similar size so that padding stays small."""
    order = sorted(range(len(graphs)), key=lambda i: graphs[i].n_nodes)
    out: list[torch.Tensor | None] = [None] * len(graphs)
    chunk: list[int] = []
    for pos, i in enumerate(order):
        chunk.append(i)
        nxt = graphs[order[pos + 1]].n_nodes if pos + 1 < len(order) else None
        if nxt is None or (len(chunk) + 1) * nxt * nxt > budget:
            emb = model.graph(GraphBatch.from_graphs([graphs[j] for j in chunk]))
            for j, e in zip(chunk, emb):
                out[j] = e
            chunk = []
    return torch.stack(out)  # type: ignore[arg-type]


def _spread(ahead: np.ndarray, power: float) -> np.ndarray:
    """The shape of a component's standard deviation against the share of the budget ahead."""
    return (np.asarray(ahead, dtype=float) + 0.005) ** power


class LCGODENoGraphPredictor(LCGODEPredictor):
    """The graph-free ablation of LC-GODE (the paper's NODE baseline): ``use_graph=False``."""

    name = "lc_gode_nograph"
    kind = "lc_gode_nograph"

    def __init__(self, **params: Any) -> None:
        params.setdefault("use_graph", False)
        super().__init__(**params)

    @classmethod
    def _param_names(cls) -> list[str]:
        return LCGODEPredictor._param_names()


# --- training data -------------------------------------------------------------------------------
class _Targets:
    def __init__(self, pre: _Prefixes, t_target: np.ndarray, y_target: np.ndarray,
                 mask: np.ndarray) -> None:
        self.pre = pre
        self.t_target = torch.from_numpy(t_target.astype(np.float32))
        self.y_target = torch.from_numpy(np.where(mask, y_target, 0.0).astype(np.float32))
        self.mask = torch.from_numpy(mask.astype(np.float32))


class _Corpus:
    """Complete curves as padded arrays with their graph keys, built once per fit."""

    def __init__(self, curves: Sequence[Curve]) -> None:
        from .features import batch_arrays

        self.steps, self.values, self.max_step, self.sign = batch_arrays(curves)
        self.length = np.array([len(c) for c in curves])
        self.keys = [graph_key(c.arch) for c in curves]
        self.tasks = [c.task for c in curves]
        self.config_ids = [c.config_id for c in curves]

    @classmethod
    def from_curves(cls, curves: Sequence[Curve]) -> "_Corpus":
        usable = [c for c in curves if c.is_complete and np.isfinite(c.values).sum() >= 3]
        if len(usable) < 4:
            raise ValueError(f"lc_gode needs at least 4 complete curves with 3 or more finite "
                             f"values to fit (a training and a validation split), got {len(usable)}")
        return cls(usable)

    def split_by_arch(self, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation rows; every architecture lies on one side only."""
        groups = [k if k is not None else ("no-arch", t, c)
                  for k, t, c in zip(self.keys, self.tasks, self.config_ids)]
        uniq = list(dict.fromkeys(groups))
        order = np.random.default_rng(seed).permutation(len(uniq))
        n_val = min(len(uniq) - 1, max(1, int(round(val_fraction * len(uniq)))))
        if n_val < 1:
            raise ValueError("lc_gode needs curves of at least 2 architectures to fit (one is "
                             "held out to select the checkpoint and calibrate)")
        val = {uniq[i] for i in order[:n_val]}
        is_val = np.array([g in val for g in groups])
        return np.nonzero(~is_val)[0], np.nonzero(is_val)[0]

    def _prefix(self, rows: np.ndarray, n_cut: np.ndarray) -> tuple[_Prefixes, np.ndarray]:
        from .features import compact_prefix

        s, v, n_obs = compact_prefix(self.steps[rows], self.values[rows], n_cut)
        mask = np.arange(s.shape[1])[None, :] < n_obs[:, None]
        divisor = normalisers(v, mask, self.sign[rows])
        return _Prefixes(s, v, n_obs, self.max_step[rows], divisor, self.sign[rows]), divisor

    def _targets(self, rows: np.ndarray, pos: np.ndarray, pre: _Prefixes,
                 divisor: np.ndarray) -> _Targets:
        t = np.take_along_axis(self.steps[rows], pos, axis=1) / self.max_step[rows][:, None]
        v = np.take_along_axis(self.values[rows], pos, axis=1)
        mask = np.isfinite(v)
        y = self.sign[rows][:, None] * np.where(mask, v, 0.0) / divisor[:, None]
        return _Targets(pre, t, y, mask)

    def _cut_positions(self, rows: np.ndarray, frac: np.ndarray) -> np.ndarray:
        """How many measurements are seen at ``frac`` of each budget (as ``Curve.observed``):
        at least up to the first finite one, never the whole curve."""
        length = self.length[rows]
        steps = self.steps[rows]
        inside = np.arange(steps.shape[1])[None, :] < length[:, None]
        seen = ((steps <= (frac * self.max_step[rows])[:, None]) & inside).sum(axis=1)
        first = np.argmax(np.isfinite(self.values[rows]), axis=1)
        return np.clip(seen, first + 1, length - 1)

    def training_batch(self, rows: np.ndarray, rng: np.random.Generator) -> _Targets:
        """Random cutoffs (3-95 % of the budget) and :data:`N_TARGETS` later points, the last
        always among them."""
        n_cut = self._cut_positions(rows, rng.uniform(0.03, 0.95, len(rows)))
        pre, divisor = self._prefix(rows, n_cut)
        length = self.length[rows]
        span = np.maximum(length - n_cut, 1)
        pos = n_cut[:, None] + (rng.random((len(rows), N_TARGETS)) * span[:, None]).astype(int)
        pos = np.sort(np.minimum(pos, length[:, None] - 1), axis=1)
        pos[:, -1] = length - 1
        return self._targets(rows, pos, pre, divisor)

    def cutoff_batch(self, rows: np.ndarray, cutoff: float, n_targets: int = 24) -> _Targets:
        """A fixed cutoff and evenly spread later points (the last always among them)."""
        n_cut = self._cut_positions(rows, np.full(len(rows), cutoff))
        pre, divisor = self._prefix(rows, n_cut)
        length = self.length[rows]
        grid = np.linspace(0.0, 1.0, n_targets)[None, :]
        pos = np.round(n_cut[:, None] + grid * (length - 1 - n_cut)[:, None]).astype(int)
        return self._targets(rows, pos, pre, divisor)
