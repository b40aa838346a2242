"""LCScheduler's flat result fields: lc_stop beside the rest, and the dataframe agreeing with metrics."""

import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ray import tune  # noqa: E402

from lc_hpo import LCScheduler  # noqa: E402

from .ray_helpers import STEPS, quiet_ray, rising_trainable  # noqa: E402

FIELDS = ("lc_stop", "lc_reason", "lc_p_better", "lc_predicted_final", "lc_lower", "lc_upper")


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    quiet_ray()
    yield
    import ray

    ray.shutdown()


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def test_a_trial_stopped_while_paused_reads_the_same_in_the_dataframe_and_its_metrics(tmp_path):
    sched = LCScheduler(max_t=STEPS, milestone=5)
    space = {"rate": tune.grid_search([0.3, 0.01, 0.95, 0.5, 0.02, 0.005])}
    tuner = tune.Tuner(
        rising_trainable, param_space=space,
        tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched,
                                    reuse_actors=False),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0,
                                  callbacks=[sched.callback()]))
    grid = tuner.fit()
    assert grid.num_errors == 0
    stopped = [r for r in grid if r.metrics["training_iteration"] < STEPS]
    assert stopped and all(r.metrics["lc_stop"] is True for r in stopped)
    assert any(r.metrics["lc_stop"] is False for r in grid)
    df = grid.get_dataframe().set_index("trial_id")
    assert set(FIELDS) <= set(df.columns)
    for r in grid:
        row = df.loc[r.metrics["trial_id"]]
        assert {k: row[k] for k in FIELDS if not _same(row[k], r.metrics[k])} == {}, \
            r.metrics["lc_reason"]
