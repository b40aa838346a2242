"""The replay protocol of Domhan et al. (2015) and LC-PFN: "vertical model selection", framework-free.

A task's configurations are visited in a random order; each runs step by step until it completes or a
method stops it; the study ends when ``budget_factor × max_step`` steps are spent (steps of stopped runs
count).  After every step spent we record the regret |best final value found − best final value of the
task|; before the first completed run it is the task's largest regret.  Averaging over orderings gives a
mean anytime-regret curve per method, from which speedups are read.

The framework runners (Optuna, Ray Tune) only drive a study over a :class:`ReplayTask` with a
:class:`RegretTracker`; everything measured is computed here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..curve import Curve, Mode, is_better
from ..decision import DEFAULT_THRESHOLD
from ..trust import StudyTrust


@dataclass(frozen=True)
class LCMethod:
    """What ``lc:NAME[@THRESHOLD][:startup=N][:standing=off][:diverged=N|off][:points=N]`` asks
    for: a predictor, its stop threshold, how many trials must complete before anything is stopped
    (``None``: the pruner's own default), whether P(better) reads the trial's standing (see
    :mod:`lc_hpo.standing`), after how many diverged values in a row a trial stops (``"off"``:
    never; ``None``: the pruner's default), and how many finite values a trial needs before a
    forecast may stop it (``min_points``; ``None``: the pruner's default), and the study-trust
    guard (``trust``: ``"off"``, or a :meth:`~lc_hpo.trust.StudyTrust.from_spec` spec; ``None``:
    the pruner's default)."""

    predictor: str
    threshold: float = DEFAULT_THRESHOLD
    n_startup_trials: int | None = None
    standing: bool = True
    diverged_patience: int | str | None = None
    min_points: int | None = None
    trust: str | None = None

    def options(self) -> dict:
        """Keyword arguments for ``LCPruner`` / ``LCScheduler``."""
        kw: dict = {"threshold": self.threshold}
        if self.n_startup_trials is not None:
            kw["n_startup_trials"] = self.n_startup_trials
        if not self.standing:
            kw["standing"] = False
        if self.diverged_patience is not None:
            kw["diverged_patience"] = None if self.diverged_patience == "off" \
                else self.diverged_patience
        if self.min_points is not None:
            kw["min_points"] = self.min_points
        if self.trust is not None:
            kw["trust"] = False if self.trust == "off" else StudyTrust.from_spec(self.trust)
        return kw


LC_METHOD_SYNTAX = ("lc:NAME[@THRESHOLD][:startup=N][:standing=off][:diverged=N|off][:points=N]"
                    "[:trust=off|SPEC]")


def parse_lc_method(method: str) -> LCMethod:
    """``lc:NAME``, ``lc:NAME@THRESHOLD``, optionally followed by ``:startup=N`` and
    ``:standing=off``, ``:diverged=N|off`` and ``:points=N`` → :class:`LCMethod`, for every replay
    runner."""
    spec, *options = method[len("lc:"):].split(":")
    name, _, thr = spec.partition("@")
    usage = f"{method!r}: write {LC_METHOD_SYNTAX}, e.g. lc:parametric@0.1 or lc:default:startup=2"
    if not name:
        raise ValueError(usage)
    try:
        threshold = float(thr) if thr else DEFAULT_THRESHOLD
    except ValueError:
        raise ValueError(f"{usage} (the threshold is a probability)") from None
    startup: int | None = None
    standing = True
    diverged: int | str | None = None
    points: int | None = None
    trust: str | None = None
    for option in options:
        key, _, value = option.partition("=")
        if key == "startup" and value.isdigit() and int(value) >= 1:
            startup = int(value)
        elif key == "standing" and value in ("on", "off"):
            standing = value == "on"
        elif key == "diverged" and (value == "off" or value.isdigit() and int(value) >= 1):
            diverged = value if value == "off" else int(value)
        elif key == "points" and value.isdigit() and int(value) >= 1:
            points = int(value)
        elif key == "trust" and value:
            if value != "off":
                try:
                    StudyTrust.from_spec(value)
                except ValueError as exc:
                    raise ValueError(f"{usage} ({exc})") from None
            trust = value
        else:
            raise ValueError(f"{usage} (options are startup=N, N ≥ 1 completed trials, "
                             "standing=on|off, diverged=N|off, N ≥ 1 diverged values in a row, "
                             "points=N, N ≥ 1 finite values before a forecast may stop a trial, "
                             "and trust=off|SPEC, the study-trust guard)")
    return LCMethod(name, threshold, startup, standing, diverged, points, trust)


def oracle_stops(final: float, incumbent: float | None, mode: Mode) -> bool:
    """The oracle's rule after a run's first step: stop it unless its known final value beats the
    best completed run (a diverged final never does; with no completed run yet, keep it)."""
    if math.isnan(final):
        return True
    return incumbent is not None and not is_better(final, incumbent, mode)


#: The fewest configurations a task needs for a replay to measure anything.
MIN_CONFIGS = 3
#: The largest max_step a replay accepts: it keeps per-step arrays of every run.
MAX_REPLAY_STEP = 1_000_000


@dataclass
class ReplayTask:
    """The curves of one task, with what the protocol needs to know about them."""

    name: str
    curves: list[Curve]
    mode: Mode = field(init=False)
    max_step: int = field(init=False)
    finals: np.ndarray = field(init=False)  # NaN where the final measurement diverged
    best_final: float = field(init=False)
    largest_regret: float = field(init=False)

    def __post_init__(self) -> None:
        if not self.curves:
            raise ValueError(f"task {self.name!r} has no curves")
        modes = {c.mode for c in self.curves}
        if len(modes) != 1:
            raise ValueError(f"task {self.name!r} mixes modes {sorted(modes)}; one task, one metric")
        self.mode = modes.pop()  # type: ignore[assignment]
        self.max_step = max(int(c.max_step or 0) for c in self.curves)
        if self.max_step > MAX_REPLAY_STEP:
            raise ValueError(
                f"task {self.name!r}: max_step {self.max_step} is beyond the {MAX_REPLAY_STEP:,} "
                "steps a replay holds in memory; give steps in coarser units (e.g. epochs, or "
                "every k-th step numbered 1, 2, ...)")
        incomplete = [c.config_id for c in self.curves if c.max_step != self.max_step
                      or not c.is_complete]
        if incomplete:
            raise ValueError(
                f"task {self.name!r}: replay needs complete curves with one max_step "
                f"({self.max_step}); {len(incomplete)} are not, e.g. config {incomplete[0]!r}"
            )
        self.finals = np.array([c.final_value for c in self.curves])
        finite = self.finals[np.isfinite(self.finals)]
        if finite.size == 0:
            raise ValueError(f"task {self.name!r}: no curve has a finite final value")
        self.best_final = float(finite.min() if self.mode == "min" else finite.max())
        self.largest_regret = float(np.max(np.abs(finite - self.best_final)))
        if len(self.curves) < MIN_CONFIGS:
            raise ValueError(
                f"task {self.name!r} has {len(self.curves)} curve(s); replaying a search needs at "
                f"least {MIN_CONFIGS} configurations to compare (a speedup over one run measures "
                "nothing)")

    def budget(self, budget_factor: float) -> int:
        """Steps a study may spend: ``budget_factor`` full runs."""
        return int(round(budget_factor * self.max_step))

    def ordering(self, seed: int, index: int) -> np.ndarray:
        """The ``index``-th random order of the configurations (deterministic for a seed)."""
        key = [seed, index] + [ord(ch) for ch in self.name]
        return np.random.default_rng(key).permutation(len(self.curves))


class RegretTracker:
    """Anytime regret of one replayed study, one entry per step spent."""

    def __init__(self, task: ReplayTask, budget: int) -> None:
        self.task = task
        self.budget = budget
        self.regret = np.full(budget, task.largest_regret)
        self.spent = 0
        self.best_found: float | None = None
        self.completed = 0

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.budget

    def spend(self, n_steps: int = 1, completed_final: float | None = None) -> bool:
        """Spend ``n_steps``; a run that completes with them passes its final value.

        Returns False (and spends only what is left) when the budget runs out first; the completion
        then does not count, since the run never reached its end.
        """
        if n_steps < 1:
            raise ValueError("a step costs at least one unit of budget")
        left = self.budget - self.spent
        take = min(n_steps, left)
        current = self._current()
        self.regret[self.spent:self.spent + take] = current
        self.spent += take
        if take < n_steps:
            return False
        if completed_final is not None:
            self.completed += 1
            if math.isfinite(completed_final) and (
                    self.best_found is None
                    or is_better(completed_final, self.best_found, self.task.mode)):
                self.best_found = completed_final
            self.regret[self.spent - 1] = self._current()
        return True

    def _current(self) -> float:
        if self.best_found is None:
            return self.task.largest_regret
        return abs(self.best_found - self.task.best_final)

    def finish(self) -> np.ndarray:
        """The full anytime-regret curve; budget left unspent (configurations ran out) keeps the
        last regret."""
        if self.spent < self.budget:
            self.regret[self.spent:] = self._current()
        return self.regret


@dataclass
class MethodOnTask:
    """A method's result on one task, over all orderings."""

    mean_regret: np.ndarray  # anytime regret averaged over orderings, length budget
    steps: float  # mean steps spent (less than the budget when configurations ran out)
    speedup: float = 0.0
    oracle_fraction: float = 0.0
    missed: int = 0

    @property
    def regret(self) -> float:
        return float(self.mean_regret[-1])

    def to_dict(self) -> dict[str, float]:
        return {"speedup": self.speedup, "oracle_fraction": self.oracle_fraction,
                "regret": self.regret, "steps": self.steps, "missed": self.missed}


def combine_orderings(regrets: Sequence[np.ndarray], steps: Sequence[float]) -> MethodOnTask:
    """Average the orderings of one method on one task."""
    return MethodOnTask(mean_regret=np.mean(np.stack(regrets), axis=0),
                        steps=float(np.mean(steps)))


def speedup(mean_regret: np.ndarray, target: float) -> float:
    """Budget ÷ the first step (1-based) at which ``mean_regret`` is at most ``target``; 0 if never."""
    hit = np.nonzero(mean_regret <= target + 1e-12 * max(abs(target), 1.0))[0]
    if hit.size == 0:
        return 0.0
    return len(mean_regret) / float(hit[0] + 1)


def score_task(results: dict[str, MethodOnTask], baseline: str = "none",
               oracle: str = "oracle") -> None:
    """Fill in speedups (against ``baseline``'s final mean regret) and oracle fractions."""
    if baseline not in results:
        raise ValueError(f"speedups are measured against {baseline!r}; include it in the methods")
    target = results[baseline].regret
    for r in results.values():
        r.speedup = speedup(r.mean_regret, target)
        r.missed = int(r.speedup == 0.0)
    if oracle in results and results[oracle].speedup > 0:
        for r in results.values():
            r.oracle_fraction = r.speedup / results[oracle].speedup


def summarise(tasks: dict[str, dict[str, MethodOnTask]]) -> dict[str, dict[str, float]]:
    """Per method: median over tasks of speedup and oracle fraction, mean of regret and missed."""
    methods: list[str] = []
    for per_task in tasks.values():
        methods += [m for m in per_task if m not in methods]
    summary = {}
    for m in methods:
        rs = [per_task[m] for per_task in tasks.values() if m in per_task]
        summary[m] = {
            "median_speedup": float(np.median([r.speedup for r in rs])),
            "median_oracle_fraction": float(np.median([r.oracle_fraction for r in rs])),
            "mean_regret": float(np.mean([r.regret for r in rs])),
            "missed": float(np.mean([r.missed for r in rs])),
        }
    return summary
