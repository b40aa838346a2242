"""What LCPruner's recording of decisions costs on a SQLite storage (docs/latency.md).

Runs the same 8-trial study of the test objective three ways: recording nothing, recording the
``lc_forecast`` dict only (LCPruner's ``_store`` patched to what it wrote before the flat attributes
and history), and recording everything; each twice, printing the wall time of the whole study.

    python benchmarks/record_cost.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lc_hpo.integrations.optuna as lc_optuna  # noqa: E402
from lc_hpo import LCPruner  # noqa: E402
from tests.optuna_objectives import accuracy_objective  # noqa: E402


def _dict_only(self, study, trial, decision):
    study._storage.set_trial_user_attr(trial._trial_id, lc_optuna.FORECAST_ATTR,
                                       decision.to_dict())


def run(folder: str, tag: str, record: bool = True, dict_only: bool = False) -> None:
    original = lc_optuna.LCPruner._store
    if dict_only:
        lc_optuna.LCPruner._store = _dict_only
    try:
        study = optuna.create_study(storage=f"sqlite:///{folder}/{tag}.db", direction="maximize",
                                    pruner=LCPruner(record=record),
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        start = time.perf_counter()
        study.optimize(accuracy_objective, n_trials=8)
        seconds = time.perf_counter() - start
    finally:
        lc_optuna.LCPruner._store = original
    reports = sum(len(t.intermediate_values) for t in study.trials)
    print(f"| {tag} | {seconds:.1f} | {reports} |")


def main() -> None:
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| recorded | wall time (s) | reports |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for i in (1, 2):
            run(folder, f"nothing {i}", record=False)
            run(folder, f"dict only {i}", dict_only=True)
            run(folder, f"dict + flat + history {i}")


if __name__ == "__main__":
    main()
