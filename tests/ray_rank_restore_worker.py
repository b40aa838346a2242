"""For test_ray_ranking: phase 'run' pauses four trials at their first milestone and is
interrupted (SIGINT) there; phase 'restore' restores it.  Prints one JSON line.

python ray_rank_restore_worker.py PHASE PATH
"""

import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ray_helpers import curve_trainable, quiet_ray  # noqa: E402

from lc_hpo import LCScheduler  # noqa: E402

QS = [0.2, 0.15, 0.9, 0.1]


def main() -> None:
    phase, path = sys.argv[1], Path(sys.argv[2])
    quiet_ray()
    from ray import tune

    class Record(tune.Callback):
        """Records results; in phase 'run', SIGINT once every trial has reached step 5."""

        def __init__(self) -> None:
            self.seen: list[tuple[float, int]] = []
            self.fired = False

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.seen.append((trial.config["q"], int(result["training_iteration"])))
            if phase == "run" and not self.fired and len({q for q, _ in self.seen}) == len(QS):
                self.fired = True
                os.kill(os.getpid(), signal.SIGINT)

    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = "0"  # save the experiment state at every step
    record = Record()
    if phase == "run":
        sched = LCScheduler("parametric", max_t=20, milestone=5, n_startup_trials=1)
        tuner = tune.Tuner(
            tune.with_resources(curve_trainable, {"cpu": 2}),
            param_space={"q": tune.grid_search(QS)},
            tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched),
            run_config=tune.RunConfig(storage_path=str(path.parent), name=path.name, verbose=0,
                                      callbacks=[sched.callback(), record]))
        tuner.fit()
        print(json.dumps({"started": sorted({q for q, _ in record.seen}),
                          "max_step": max(t for _, t in record.seen)}))
    else:
        tuner = tune.Tuner.restore(str(path), tune.with_resources(curve_trainable, {"cpu": 2}),
                                   resume_unfinished=True)
        tuner._local_tuner._run_config.callbacks.append(record)
        tuner.fit()
        print(json.dumps({"after": record.seen}))


if __name__ == "__main__":
    main()
