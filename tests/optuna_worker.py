"""A separate worker process of a distributed study: python optuna_worker.py URL STUDY N_TRIALS."""

import sys
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
from optuna_objectives import accuracy_objective  # noqa: E402

from lc_hpo import LCPruner  # noqa: E402

if __name__ == "__main__":
    url, name, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    study = optuna.load_study(study_name=name, storage=storage, pruner=LCPruner(),
                              sampler=optuna.samplers.RandomSampler(seed=int(sys.argv[4])))
    study.optimize(accuracy_objective, n_trials=n_trials)
