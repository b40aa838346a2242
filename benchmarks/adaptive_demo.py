"""The demo's studies, and where LCPruner's epochs go: best accuracy against epochs spent.

Runs ``lc_hpo.demo.run_study`` (TPE seed 0, real training on digits) for LCPruner(),
LCPruner(trust=False), MedianPruner and no pruning, prints the demo's table (``lc_hpo.demo.format_table``:
epochs, best accuracy, epochs to within 0.2 points of the unpruned best, epochs to the lowest of the
bests), and then, for each LCPruner study, which decision every epoch beyond a trial's first was
trained on:

* ``startup``: no trial had completed yet (``n_startup_trials=1``);
* ``min_points``: the trial had one value (``min_points=2``: one value says where a curve is, not
  where it goes);
* ``leader``: its latest value already matched the incumbent (no forecast is made);
* ``forecast``: the forecast's P(better) was at least the threshold (0.05);
* ``veto``: P(better) was below it, and the study-trust guard vetoed the stop.

The reasons of the recorded decisions are read from each trial's ``lc_history``; steps without a
record are the precheck's (start-up, one value, leader), inferred from the same facts.  Also per
study: completed trials that raised the incumbent and those that did not (in hindsight, epochs spent
on runs that ended no better).

Run: ``python benchmarks/adaptive_demo.py [--trials 80] [--json OUT] [--plot OUT.png]`` (about 5 min
on two idle cores); on a loaded machine the studies can run in processes of their own
(``--only median --json median.json`` ...) and be reported together (``--combine *.json``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from collections import Counter
from dataclasses import asdict
from typing import Any

import optuna
import torch

from lc_hpo.demo import StudyResult, format_table, plot_demo, run_study
from lc_hpo.integrations.optuna import LCPruner

REASONS = ("first epoch", "startup", "min_points", "leader", "forecast", "veto")


class TrialLog:
    """Each trial's curve, its incumbent at start and LCPruner's recorded decisions."""

    def __init__(self) -> None:
        self.trials: list[dict[str, Any]] = []
        self.best: float | None = None  # the best completed value so far: the incumbent

    def __call__(self, trial: Any, config: dict, history: list, epochs: int) -> None:
        values = [h.val_accuracy for h in history]
        completed = len(values) == epochs
        # From storage: LCPruner writes there directly, past the live trial's cached attributes.
        attrs = trial.study._storage.get_trial_user_attrs(trial._trial_id)
        self.trials.append({
            "number": trial.number, "config": config, "values": values, "completed": completed,
            "incumbent": self.best, "history": attrs.get("lc_history", []),
            "last": attrs.get("lc_forecast"),
        })
        if completed:
            self.best = values[-1] if self.best is None else max(self.best, values[-1])


def keep_reasons(t: dict[str, Any], threshold: float = 0.05) -> list[str]:
    """Why each epoch of trial ``t`` was trained: its first epoch, then the reason of the decision
    taken after the previous epoch (see the module's docstring)."""
    recorded = {h["step"]: h for h in t["history"]}
    reasons = ["first epoch"]
    for step in range(1, len(t["values"])):  # the decision after epoch `step` kept it for step+1
        h = recorded.get(step)
        if h is not None:
            p = h.get("p_better")
            reasons.append("veto" if p is not None and p < threshold else "forecast")
        elif t["incumbent"] is None:
            reasons.append("startup")
        elif step < 2:
            reasons.append("min_points")
        else:
            reasons.append("leader")  # the precheck's remaining keep: latest value >= incumbent
    return reasons


def replay_decisions(trials: list[dict[str, Any]], pruner: Any) -> list[dict[str, Any]]:
    """Re-decide a logged study: the same configurations report the same values, in the same order,
    to a fresh Optuna study with ``pruner``; returns the trials with every step's decision (read from
    the stored ``lc_forecast`` after each ``should_prune``) and whether the replay pruned it at the
    step the original did (a check that it is the same study: the rule reads only the reported
    values and the finished trials).

    The decisions are read one by one because the stored ``lc_history`` keeps only a trial's last
    decision in a live study: LCPruner appends to the history of the FrozenTrial Optuna hands it,
    whose user attributes are the trial's cached ones, never refreshed by LCPruner's own writes."""
    from lc_hpo.bench.tasks import suggest_config

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    out = []
    for t in trials:
        study.enqueue_trial(t["config"])
        trial = study.ask()
        suggest_config(trial)
        pruned_at = None
        history = []
        for step, value in enumerate(t["values"], start=1):
            trial.report(value, step)
            stop = trial.should_prune()
            latest = study._storage.get_trial_user_attrs(trial._trial_id).get("lc_forecast")
            if latest is not None and latest.get("step") == step:
                history.append(latest)
            if stop:
                pruned_at = step
                break
        if pruned_at is None:
            study.tell(trial, t["values"][-1])
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        attrs = study._storage.get_trial_user_attrs(trial._trial_id)
        same = (pruned_at is None) == t["completed"] and (
            pruned_at is None or pruned_at == len(t["values"]))
        out.append({**t, "history": history, "stored_history": attrs.get("lc_history", []),
                    "last": attrs.get("lc_forecast"), "replayed_same": same})
    return out


def account(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Epochs by the reason they were trained on, for trials that raised the incumbent, other
    completed trials and pruned trials; and P(better) of the completed non-improving ones."""
    out: dict[str, Any] = {}
    groups = {"raised the best": [], "completed, no better": [], "pruned": []}
    for t in trials:
        if not t["completed"]:
            groups["pruned"].append(t)
        elif t["incumbent"] is None or t["values"][-1] > t["incumbent"]:
            groups["raised the best"].append(t)
        else:
            groups["completed, no better"].append(t)
    for name, trials in groups.items():
        counts = Counter(r for t in trials for r in keep_reasons(t))
        out[name] = {"trials": len(trials), "epochs": sum(len(t["values"]) for t in trials),
                     **{r: counts.get(r, 0) for r in REASONS}}
    waste = []
    for t in groups["completed, no better"]:
        ps = [h["p_better"] for h in t["history"] if h.get("p_better") is not None]
        waste.append({"trial": t["number"], "final": t["values"][-1], "incumbent": t["incumbent"],
                      "min_p_better": min(ps) if ps else None,
                      "reasons": dict(Counter(keep_reasons(t)))})
    out["completed_no_better"] = waste
    return out


def print_account(name: str, acc: dict[str, Any]) -> None:
    print(f"\n{name}: epochs by the decision that kept each trial training")
    print("| trials | n | epochs | " + " | ".join(REASONS) + " |")
    print("|---|---:|---:|" + "---:|" * len(REASONS))
    for group in ("raised the best", "completed, no better", "pruned"):
        g = acc[group]
        print(f"| {group} | {g['trials']} | {g['epochs']} | "
              + " | ".join(str(g[r]) for r in REASONS) + " |")
    rows = acc["completed_no_better"]
    if rows:
        ps = sorted(r["min_p_better"] for r in rows if r["min_p_better"] is not None)
        gaps = sorted(r["incumbent"] - r["final"] for r in rows)
        print(f"completed, no better: {len(rows)} trials; lowest P(better) each saw: median "
              f"{ps[len(ps) // 2] if ps else math.nan:.3f}, range {ps[0] if ps else math.nan:.3f}–"
              f"{ps[-1] if ps else math.nan:.3f}; ended below the incumbent by a median "
              f"{gaps[len(gaps) // 2]:.4f} (validation samples of 1/449 = 0.0022)")


def pruner(name: str) -> Any:
    return {"LCPruner": lambda: LCPruner(), "LCPruner(trust=False)": lambda: LCPruner(trust=False),
            "median": optuna.pruners.MedianPruner, "none": optuna.pruners.NopPruner}[name]()


STUDIES = ("LCPruner", "LCPruner(trust=False)", "median", "none")


def report(results: list[StudyResult], logs: dict[str, list[dict[str, Any]]], trials: int,
           epochs: int, seed: int, plot: str | None) -> dict[str, Any]:
    """Print the demo's table and the accounting of the LCPruner studies; plot; return both."""
    print(f"\n{trials} trials of up to {epochs} epochs on digits, TPE seed {seed}:")
    print(format_table(results))
    accounts = {name: account(log) for name, log in logs.items() if name.startswith("LCPruner")}
    for name, acc in accounts.items():
        print_account(name, acc)
    if "median" in logs:
        counts = Counter(len(t["values"]) for t in logs["median"] if not t["completed"])
        print(f"\nmedian: pruned trials by epochs trained: {dict(sorted(counts.items()))}")
    if "none" in logs:
        finals = sorted((t["values"][-1] for t in logs["none"]), reverse=True)
        top = finals[0]
        print(f"none: trials ending within 1 / 2 / 3 validation samples (0.0022 each) of its best "
              f"{top:.4f}: {sum(top - f < 0.0023 for f in finals)} / "
              f"{sum(top - f < 0.0045 for f in finals)} / {sum(top - f < 0.0067 for f in finals)} "
              f"of {len(finals)}")
    if plot:
        plot_demo([r for r in results if r.name != "LCPruner(trust=False)"], plot)
    return accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=80)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help=f"comma-separated studies among {list(STUDIES)} (default: "
                        "all); run them in separate processes and --combine their --json files")
    parser.add_argument("--combine", nargs="+", metavar="JSON",
                        help="report from the --json files of earlier runs instead of training")
    parser.add_argument("--redecide", action="store_true",
                        help="with --combine: re-decide the LCPruner studies' logged values through "
                        "fresh Optuna studies to read their decisions (for logs without them)")
    parser.add_argument("--json", help="write the studies, their trials and the accounting as JSON "
                        "(gzipped if the name ends in .gz)")
    parser.add_argument("--plot", help="best accuracy against epochs spent (PNG)")
    args = parser.parse_args()
    results: list[StudyResult] = []
    logs: dict[str, list[dict[str, Any]]] = {}
    if args.combine:
        for path in args.combine:
            with (gzip.open if path.endswith(".gz") else open)(path, "rt") as fh:
                saved = json.load(fh)
            args.trials, args.epochs, args.seed = saved["trials"], saved["epochs"], saved["seed"]
            for study in saved["studies"]:
                study["trace"] = [tuple(x) for x in study["trace"]]
                results.append(StudyResult(**study))
            logs.update(saved["trials_log"])
        if args.redecide:
            for name in [n for n in logs if n in ("LCPruner", "LCPruner(trust=False)")]:
                logs[name] = replay_decisions(logs[name], pruner(name))
                same = sum(t["replayed_same"] for t in logs[name])
                print(f"{name}: re-decided {len(logs[name])} trials, {same} pruned or completed "
                      "exactly as in the study")
        results.sort(key=lambda r: STUDIES.index(r.name) if r.name in STUDIES else len(STUDIES))
    else:
        torch.set_num_threads(1)
        for name in args.only.split(",") if args.only else STUDIES:
            log = TrialLog()
            results.append(run_study(name, pruner(name), args.trials, args.epochs, args.seed,
                                     on_curve=log, progress=False))
            logs[name] = log.trials
            print(f"{name}: {results[-1].epochs} epochs, best {results[-1].best_value:.4f}, "
                  f"{results[-1].seconds:.0f} s", flush=True)
    accounts = report(results, logs, args.trials, args.epochs, args.seed, args.plot)
    if args.json:
        with (gzip.open if args.json.endswith(".gz") else open)(args.json, "wt") as fh:
            json.dump({"trials": args.trials, "epochs": args.epochs, "seed": args.seed,
                       "studies": [asdict(r) for r in results], "accounting": accounts,
                       "trials_log": logs}, fh, indent=1)


if __name__ == "__main__":
    main()
