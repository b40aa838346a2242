"""Phase 'run': an experiment interrupted (SIGINT) midway; phase 'restore': Tuner.restore of it.

Prints one JSON line with what the test checks.  python ray_restore_worker.py PHASE PATH CALLBACK
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ray_helpers import STEPS, curve_trainable, quiet_ray  # noqa: E402

from lc_hpo import LCScheduler  # noqa: E402


def main() -> None:
    phase, path, with_callback = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
    quiet_ray()
    from ray import tune

    class InterruptMidway(tune.Callback):
        """SIGINT once two trials have finished and a third is past its fifth step.

        Fired on that state, not on a result count, so that it never lands before the second
        finish, when "startup" decisions after the restore would be right."""

        def __init__(self) -> None:
            self.fired = False

        def on_trial_result(self, iteration, trials, trial, result, **info):
            finished = sum((t.last_result or {}).get("training_iteration", 0) >= STEPS
                           for t in trials if t is not trial)
            if (os.environ.get("LC_PHASE") == "run" and not self.fired and finished >= 2
                    and 5 <= result.get("training_iteration", 0) < STEPS):
                self.fired = True
                os.kill(os.getpid(), signal.SIGINT)

    os.environ["LC_PHASE"] = phase
    # Save the experiment state (trial statuses and the callback's scheduler state) after every
    # step, not every few seconds: otherwise the snapshot that the restore starts from may predate
    # the second completed trial, Ray re-runs that trial's tail, and "startup" decisions after the
    # restore would be right, making the test depend on where the interruption lands.
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = "0"
    if phase == "run":
        # One trial at a time, so the order is fixed (two concurrent actors start in either order,
        # one sometimes many steps after the other): 0.9 and 0.2 complete (two trials must complete
        # before any stop), then 0.8 runs and the interruption leaves it part-way; the poor ones,
        # still pending, are stopped at their second step after the restore.
        sched = LCScheduler("parametric", max_t=STEPS, n_startup_trials=2, rank=False)
        callbacks = [InterruptMidway()] + ([sched.callback()] if with_callback else [])
        tuner = tune.Tuner(
            curve_trainable,
            param_space={"q": tune.grid_search([0.9, 0.2, 0.8, 0.1, 0.15, 0.05])},
            tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched,
                                        max_concurrent_trials=1, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=str(path.parent), name=path.name, verbose=0,
                                      callbacks=callbacks))
        tuner.fit()
        print(json.dumps({"phase": "run"}))
    else:
        started = int(time.time())
        tuner = tune.Tuner.restore(str(path), curve_trainable, resume_unfinished=True)
        grid = tuner.fit()
        rows = []
        for r in grid:
            df = r.metrics_dataframe
            after = df[df["timestamp"] >= started]
            rows.append({"q": r.config["q"], "last": int(df["training_iteration"].iloc[-1]),
                         "n_after": len(after),
                         "steps_after": [int(x) for x in after["training_iteration"]],
                         "reasons_after": list(after["lc_reason"]) if "lc_reason" in df else []})
        sched = tuner._local_tuner._tune_config.scheduler  # the restored scheduler object
        known = sum(st.status == "complete" for st in sched._trials.values())
        print(json.dumps({"phase": "restore", "trials": rows, "complete_known": known}))


if __name__ == "__main__":
    main()
