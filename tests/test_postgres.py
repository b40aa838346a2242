"""Several worker processes on one Optuna study in PostgreSQL, the RDB storage users run on a cluster.

``.ci/run`` starts a local server and sets ``LC_HPO_TEST_POSTGRES_URL``
(``postgresql+psycopg2://USER:PASSWORD@localhost:PORT/DB``); without it, or without a server, this
test skips and says why.
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from lc_hpo.integrations.optuna import FORECAST_ATTR

URL = os.environ.get("LC_HPO_TEST_POSTGRES_URL")
WORKERS, TRIALS = 3, 8


@pytest.fixture(scope="module")
def storage():
    if not URL:
        pytest.skip("LC_HPO_TEST_POSTGRES_URL is not set (.ci/run starts a local PostgreSQL and "
                    "sets it)")
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed (the dev extra has it)")
    try:
        return optuna.storages.RDBStorage(URL, engine_kwargs={"connect_args":
                                                              {"connect_timeout": 5}})
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        pytest.skip(f"PostgreSQL at LC_HPO_TEST_POSTGRES_URL is unreachable "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0]})")


def test_worker_processes_share_one_postgresql_study(storage):
    name = f"lc-hpo-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(storage=storage, direction="maximize", study_name=name)
    worker = Path(__file__).with_name("postgres_worker.py")
    procs = [subprocess.Popen([sys.executable, str(worker), URL, name, str(TRIALS), str(seed)],
                              stderr=subprocess.PIPE, text=True) for seed in range(WORKERS)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    trials = study.trials
    assert len(trials) == WORKERS * TRIALS  # nothing lost
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    assert all(FORECAST_ATTR in t.user_attrs for t in trials if t.state == TrialState.PRUNED)
    optuna.delete_study(study_name=name, storage=storage)
