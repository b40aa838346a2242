"""A worker process of a study on PostgreSQL: python postgres_worker.py URL STUDY N_TRIALS SEED."""

import sys
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
from optuna_objectives import accuracy_objective  # noqa: E402

from lc_hpo import LCPruner  # noqa: E402

if __name__ == "__main__":
    url, name, n_trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=url, pruner=LCPruner(),
                              sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(accuracy_objective, n_trials=n_trials)
