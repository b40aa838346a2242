"""LCScheduler's ranking in real local Ray Tune runs: who gets the slot, also across a restore.

One trial runs at a time (each asks for both CPUs), so the order of results is the scheduler's
doing.  Ray shows a paused trial PENDING once it is staged to resume, and every unfinished trial
PENDING after ``Tuner.restore``: the scheduler ranks the trials by its own record of what it paused.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ray import tune  # noqa: E402

from lc_hpo import LCScheduler  # noqa: E402

from .ray_helpers import STEPS, curve_trainable, quiet_ray  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    quiet_ray()
    yield
    import ray

    ray.shutdown()


class Order(tune.Callback):
    """Every result as (q, training_iteration), in the order the driver saw them."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.seen.append((trial.config["q"], int(result["training_iteration"])))


def test_a_running_weak_trial_yields_to_a_paused_strong_one(tmp_path):
    # 0.2 and 0.9 are explored to the first milestone and paused while 0.1 waits to start; 0.1,
    # the weakest, reaches its milestone with nobody left waiting to start: it must yield, and the
    # paused trial that promises most (0.9, not 0.2 which paused first) must get the slot.
    sched = LCScheduler("parametric", max_t=STEPS, milestone=5, n_startup_trials=1)
    order = Order()
    tune.Tuner(
        tune.with_resources(curve_trainable, {"cpu": 2}),
        param_space={"q": tune.grid_search([0.2, 0.9, 0.1])},
        tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0,
                                  callbacks=[sched.callback(), order])).fit()
    seen = order.seen
    firsts = [seen.index((q, 5)) for q in (0.2, 0.9, 0.1)]
    assert firsts == sorted(firsts), f"each explored to its milestone in turn: {seen}"
    after = seen[firsts[-1] + 1:]
    assert after and after[0] == (0.9, 6), f"0.1 yielded to 0.9: {seen}"
    assert (0.9, STEPS) in seen
    # the weak trials run again only after 0.9 has finished, and are stopped before their end
    done = seen.index((0.9, STEPS))
    assert all(q == 0.9 for q, t in seen[firsts[-1] + 1:done + 1]), seen
    assert max(t for q, t in seen if q != 0.9) < STEPS, seen
    assert sched.n_paused >= 3


def test_paused_trials_resume_best_first_after_tuner_restore(tmp_path):
    # Interrupted when all four trials have reached their first milestone, none finished. After
    # Tuner.restore, Ray marks all four PENDING (and would start them in its own order, the most
    # recent first): the strong one must resume first and finish before a weak one runs again.
    worker = Path(__file__).with_name("ray_rank_restore_worker.py")
    path = tmp_path / "rank_restore"
    for phase in ("run", "restore"):
        out = subprocess.run([sys.executable, str(worker), phase, str(path)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        report = json.loads(out.stdout.strip().splitlines()[-1])
        if phase == "run":
            assert report["max_step"] == 5 and len(report["started"]) == 4, report
    after = report["after"]  # results after the restore, in order
    assert after and after[0] == [0.9, 6], after
    assert [0.9, STEPS] in after
    done = after.index([0.9, STEPS])
    assert all(q == 0.9 for q, _ in after[:done]), after  # the weak ones wait until it finished
