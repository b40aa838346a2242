"""``lc-hpo bench decide``: how well a predictor's P(beats the incumbent) separates runs to stop.

The replay (``bench hpo``) says how much compute a pruner saved; this says *why*, one decision at a
time.  A decision situation is one task, an incumbent (the best final value of ``k`` random complete
runs of that task, ``k`` from 1 to ``max_finished``), and another run of the task cut at a fraction of
its budget.  The run is a **winner** when its own final value beats the incumbent.  Each situation
goes through the library's :class:`~lc_hpo.decision.StoppingRule` (its pre-checks, then the forecast);
the rule never stops a run that leads or has too few points, so such situations count as kept.

Per predictor it reports

* ``auc``: the probability that a random winner gets a higher P(better) than a random loser, over the
  situations the rule forecast (overall and per cutoff): how well the forecast *ranks*;
* per threshold, ``losers_stopped`` (the compute a pruner saves), ``winners_stopped`` (the runs it
  wrongly kills) and ``winners_among_stopped`` (what the threshold promises to keep below itself if
  P(better) is calibrated), beside ``mean_p_stopped``, the P(better) the stopped runs were given:
  the share of winners a calibrated P promises among them;
* per cutoff and threshold (``stopped_by_cutoff``) the stopped runs' ``winners_among_stopped``
  beside their ``mean_p_stopped``: a P(better) can be calibrated over all situations and still too
  sure from two or three points;
* ``calibration``: the situations binned by P(better), with the share of winners in each bin.

A predictor that ranks better (higher AUC) can trade the two kinds of error better at any threshold;
one that is conservative in its tail (winners far rarer than P says) stops fewer losers at a given
threshold than it could.

JSON shape (``--json``)::

    {"predictors": {NAME: {"auc", "auc_by_cutoff": {CUTOFF: x},
                           "thresholds": {TH: {"losers_stopped", "winners_stopped",
                                               "winners_among_stopped", "mean_p_stopped",
                                               "n_stopped"}},
                           "stopped_by_cutoff": {CUTOFF: {TH: {"winners_among_stopped",
                                                               "mean_p_stopped", "n_stopped"}}},
                           "calibration": [{"low", "high", "n", "winner_rate"}],
                           "n_situations", "n_forecast", "n_winners"}},
     "tasks": [...], "cutoffs": [...], "thresholds": [...], "seed": s, "situations_per_task": n}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import rankdata
from tqdm.auto import tqdm

from ..curve import Curve, best_of, is_better
from ..curveset import group_by_task
from ..decision import StoppingRule
from ..defaults import resolve_calibration
from ..predictors import Predictor, make_predictor
from .predict import check_cutoffs, trained_tasks

DEFAULT_CUTOFFS = (0.04, 0.08, 0.15, 0.25, 0.4, 0.6)
DEFAULT_THRESHOLDS = (0.02, 0.05, 0.1)
CALIBRATION_EDGES = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 1.0)
#: Suffixes of a predictor name that turn the standing calibration off or (the default) on.
STANDING_SUFFIXES = {":standing=off": False, ":standing=on": True}
#: Incumbents drawn per task; every other situation of the task shares one of them, so that the
#: rule decides for many runs in one batched forecast per incumbent, as it does in a study.
INCUMBENTS_PER_TASK = 20


@dataclass(frozen=True)
class Situation:
    """One decision to make: ``curve`` cut at ``cutoff`` against ``incumbent``."""

    task: str
    cutoff: float
    partial: Curve
    incumbent: float
    n_finished: int
    winner: bool
    #: The complete runs the incumbent was drawn from (its "finished trials"), for measures that
    #: compare a run with the study's other trials at the same step.
    finished: tuple[Curve, ...] = ()


def draw_situations(curves: Sequence[Curve], situations_per_task: int = 1000,
                    cutoffs: Sequence[float] = DEFAULT_CUTOFFS, max_finished: int = 10,
                    seed: int = 0) -> list[list[Situation]]:
    """Seeded decision situations, grouped by shared incumbent (see the module docstring).

    Only complete runs with a finite final value take part, as runs and as incumbents."""
    if situations_per_task < INCUMBENTS_PER_TASK:
        raise ValueError(f"situations_per_task must be at least {INCUMBENTS_PER_TASK}, "
                         f"got {situations_per_task}")
    if not cutoffs:
        raise ValueError("cutoffs must name at least one fraction of max_step to cut runs at")
    check_cutoffs(cutoffs)
    if isinstance(max_finished, bool) or not isinstance(max_finished, int) or max_finished < 1:
        raise ValueError(f"max_finished must be a positive integer, got {max_finished!r}")
    rng = np.random.default_rng(seed)
    per_group = situations_per_task // INCUMBENTS_PER_TASK
    groups: list[list[Situation]] = []
    for task, cs in sorted(group_by_task(curves).items()):
        cs = [c for c in cs if c.is_complete and math.isfinite(c.final_value)]
        if len(cs) < 2:
            continue
        finals = np.array([c.final_value for c in cs])
        for _ in range(INCUMBENTS_PER_TASK):
            k = int(rng.integers(1, min(max_finished, len(cs) - 1) + 1))
            finished = rng.choice(len(cs), size=k, replace=False)
            incumbent = best_of(finals[finished], cs[0].mode)
            others = np.setdiff1d(np.arange(len(cs)), finished)
            group = []
            for j in rng.choice(others, size=per_group, replace=True):
                c, cutoff = cs[int(j)], float(rng.choice(cutoffs))
                partial = c.truncate(max(1, int(round(cutoff * (c.max_step or 0)))))
                group.append(Situation(task, cutoff, partial, incumbent, k,
                                       is_better(c.final_value, incumbent, c.mode),
                                       tuple(cs[int(i)] for i in finished)))
            groups.append(group)
    if not groups:
        raise ValueError("decision situations need a task with at least two complete runs "
                         "(ending at their max_step, with a finite final value); these curves "
                         "have none")
    return groups


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    labels = labels.astype(bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate_decisions(predictor: Predictor, groups: Sequence[Sequence[Situation]],
                       thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                       progress: bool = False, standing: bool = True) -> dict[str, Any]:
    """Put every situation to the stopping rule with ``predictor`` and score the outcomes.

    The rule sees each situation's finished runs as the study's finished trials, so a predictor's
    standing calibration takes part unless ``standing`` is False."""
    rule = StoppingRule(predictor, threshold=max(thresholds),
                        calibration=resolve_calibration(predictor) if standing else None)
    p_better, winner, cutoff = [], [], []
    for group in tqdm(groups, desc=f"decisions ({predictor.name})", disable=not progress,
                      leave=False):
        decisions = rule.decide_many([s.partial for s in group], group[0].incumbent,
                                     group[0].n_finished, context=group[0].finished)
        for s, d in zip(group, decisions):
            p_better.append(math.nan if d.p_better is None else d.p_better)
            winner.append(s.winner)
            cutoff.append(s.cutoff)
    p, y, cut = np.array(p_better), np.array(winner, bool), np.array(cutoff)
    made = np.isfinite(p)  # the rule forecast: not a leader, enough points
    at_cut = {str(c): cut == c for c in sorted(set(cut.tolist()))}
    out: dict[str, Any] = {
        "auc": auc(p[made], y[made]),
        "auc_by_cutoff": {c: auc(p[made & at], y[made & at]) for c, at in at_cut.items()},
        "thresholds": {},
        "stopped_by_cutoff": {},
        "calibration": [],
        "n_situations": int(len(p)),
        "n_forecast": int(made.sum()),
        "n_winners": int(y.sum()),
    }
    for th in thresholds:
        stopped = made & (p < th)
        out["thresholds"][str(th)] = {
            "losers_stopped": _share(stopped[~y]),
            "winners_stopped": _share(stopped[y]),
            "winners_among_stopped": _share(y[stopped]),
            "mean_p_stopped": _share(p[stopped]),
            "n_stopped": int(stopped.sum()),
        }
        for c, at in at_cut.items():
            here = stopped & at
            out["stopped_by_cutoff"].setdefault(c, {})[str(th)] = {
                "winners_among_stopped": _share(y[here]),
                "mean_p_stopped": _share(p[here]),
                "n_stopped": int(here.sum()),
            }
    for lo, hi in zip(CALIBRATION_EDGES[:-1], CALIBRATION_EDGES[1:]):
        inside = made & (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        out["calibration"].append({"low": lo, "high": hi, "n": int(inside.sum()),
                                   "winner_rate": _share(y[inside])})
    return out


def _share(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else math.nan


def run_decide_bench(
    curves: Sequence[Curve],
    predictors: Sequence[str | Predictor],
    situations_per_task: int = 1000,
    cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    max_finished: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """The same seeded situations for every predictor; see the module docstring.

    A predictor named ``NAME:standing=off`` decides on its forecast alone (see
    :mod:`lc_hpo.standing`); ``NAME:standing=on`` is ``NAME``."""
    if not thresholds or any(not 0.0 < t < 1.0 for t in thresholds):
        raise ValueError("thresholds are probabilities strictly between 0 and 1")
    groups = draw_situations(curves, situations_per_task, cutoffs, max_finished, seed)
    out: dict[str, Any] = {"predictors": {}, "tasks": sorted({g[0].task for g in groups}),
                           "cutoffs": sorted(set(cutoffs)), "thresholds": list(thresholds),
                           "seed": seed, "situations_per_task": situations_per_task,
                           "max_finished": max_finished}
    for spec in tqdm(predictors, desc="predictors", disable=not progress):
        standing, base = True, spec
        for suffix, on in STANDING_SUFFIXES.items():
            if isinstance(spec, str) and spec.endswith(suffix):
                standing, base = on, spec[:-len(suffix)]
        p = make_predictor(base) if isinstance(base, str) else base
        if p.needs_fit and not getattr(p, "is_fitted", False):
            raise ValueError(f"predictor {p.name!r} must be fitted before bench decide")
        seen = trained_tasks(p)
        name = spec if isinstance(spec, str) else p.name
        out["predictors"][name] = evaluate_decisions(p, groups, thresholds, progress, standing)
        # Allowed (settings are chosen on training tasks), but never to pass for a held-out figure.
        out["predictors"][name]["trained_on_evaluated_tasks"] = sorted(seen & set(out["tasks"]))
    return out


def format_decide(results: dict[str, Any]) -> str:
    """Three markdown tables: ranking and stop rates, calibration of P(better), and the stopped runs'
    winners against what their P(better) promised, per cutoff."""
    ths = [str(t) for t in results["thresholds"]]
    cuts = [str(c) for c in results["cutoffs"]]
    head = (["predictor", "AUC"] + [f"AUC@{float(c):.0%}" for c in cuts]
            + [f"@{t}: losers / winners stopped" for t in ths])
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, r in results["predictors"].items():
        row = [name, f"{r['auc']:.3f}"] + [f"{r['auc_by_cutoff'].get(c, math.nan):.3f}"
                                            for c in cuts]
        for t in ths:
            s = r["thresholds"][t]
            row.append(f"{s['losers_stopped']:.3f} / {s['winners_stopped']:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    bins = next(iter(results["predictors"].values()))["calibration"]
    head = ["P(better) in"] + [f"[{b['low']:g}, {b['high']:g})" for b in bins]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, r in results["predictors"].items():
        cells = [f"{b['winner_rate']:.3f} ({b['n']})" if b["n"] else "-"
                 for b in r["calibration"]]
        lines.append(f"| {name}: winners (n) | " + " | ".join(cells) + " |")
    lines.append("")
    head = ["stopped: winners / mean P (n)"] + [f"at {float(c):.0%}" for c in cuts]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, r in results["predictors"].items():
        for t in ths:
            cells = []
            for c in cuts:
                s = r["stopped_by_cutoff"].get(c, {}).get(t)
                cells.append(f"{s['winners_among_stopped']:.4f} / {s['mean_p_stopped']:.4f} "
                             f"({s['n_stopped']})" if s and s["n_stopped"] else "-")
            lines.append(f"| {name} @{t} | " + " | ".join(cells) + " |")
    for name, r in results["predictors"].items():
        if r.get("trained_on_evaluated_tasks"):
            lines.append(f"\nnote: {name} was trained on {len(r['trained_on_evaluated_tasks'])} of "
                         "these tasks; its rows are not held-out figures")
    return "\n".join(lines)
