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
from ray_helpers import curve_trainable, quiet_ray  # noqa: E402

from lc_hpo import LCScheduler  # noqa: E402


def main() -> None:
    phase, path, with_callback = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
    quiet_ray()
    from ray import tune

    class InterruptAfter(tune.Callback):
        def __init__(self, n: int) -> None:
            self.n, self.seen = n, 0

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.seen += 1
            if os.environ.get("LC_PHASE") == "run" and self.seen == self.n:
                os.kill(os.getpid(), signal.SIGINT)

    os.environ["LC_PHASE"] = phase
    # Save the experiment state (trial statuses and the callback's scheduler state) after every
    # step, not every few seconds: otherwise the snapshot that the restore starts from may predate
    # the second completed trial, Ray re-runs that trial's tail, and "startup" decisions after the
    # restore would be right, making the test depend on where the interruption lands.
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = "0"
    if phase == "run":
        # 0.9 and 0.2 run first and complete (0.2 because two trials must complete before any stop),
        # then 0.8 runs to the end while the poor ones are stopped at their second step: 66 results
        # in all, so the interruption at the 50th leaves 0.8 half-way.
        sched = LCScheduler("parametric", max_t=20, n_startup_trials=2, rank=False)
        callbacks = [InterruptAfter(50)] + ([sched.callback()] if with_callback else [])
        tuner = tune.Tuner(
            curve_trainable,
            param_space={"q": tune.grid_search([0.9, 0.2, 0.8, 0.1, 0.15, 0.05])},
            tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched,
                                        max_concurrent_trials=2, reuse_actors=True),
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
                         "reasons_after": list(after["lc_reason"]) if "lc_reason" in df else []})
        sched = tuner._local_tuner._tune_config.scheduler  # the restored scheduler object
        known = sum(st.status == "complete" for st in sched._trials.values())
        print(json.dumps({"phase": "restore", "trials": rows, "complete_known": known}))


if __name__ == "__main__":
    main()
