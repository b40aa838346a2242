"""A real predictor that records the architecture graphs it is handed, and an Optuna worker.

The wiring tests check what reaches the predictor through LCPruner / LCScheduler and the decision
rule; run as a script this is one worker process of a shared-storage Optuna study:
``python arch_helpers.py URL STUDY N_TRIALS SEED OUT_JSON``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optuna_objectives import curve_for

from lc_hpo.predictors.last_value import LastValuePredictor

CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|skip_connect~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
]
CYCLIC = {"nodes": ["a", "b"], "edges": [[0, 1], [1, 0]]}
STEPS = 12


class RecordingPredictor(LastValuePredictor):
    """The last-value predictor, recording each forecast curve's (config, arch) and, as it reads
    the study's finished trials (``uses_context``), theirs too."""

    name = "recording"
    uses_context = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[dict, dict | None]] = []
        self.context_seen: list[tuple[dict, dict | None]] = []

    def predict(self, curves, steps=None, context=None):
        self.seen += [(dict(c.config), None if c.arch is None else c.arch.to_dict())
                      for c in curves]
        self.context_seen += [(dict(c.config), None if c.arch is None else c.arch.to_dict())
                              for c in context or ()]
        return super().predict(curves, steps)


def nas_objective(trial, set_arch=True):
    """Reports a synthetic curve whose final value rises with ``q``, with the trial's cell."""
    import optuna

    from lc_hpo.integrations.optuna import set_architecture

    cell = trial.suggest_categorical("cell", CELLS)
    q = trial.suggest_float("q", 0.0, 1.0)
    if set_arch:
        set_architecture(trial, cell)
    values = curve_for(q, trial.number, STEPS)
    for step, value in enumerate(values, start=1):
        trial.report(float(value), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return float(values[-1])


if __name__ == "__main__":
    import optuna

    from lc_hpo import LCPruner

    url, name, n_trials, seed, out = sys.argv[1:6]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    predictor = RecordingPredictor()
    study = optuna.load_study(study_name=name, storage=storage,
                              pruner=LCPruner(predictor, n_startup_trials=1),
                              sampler=optuna.samplers.RandomSampler(seed=int(seed)))
    own: list[float] = []

    def objective(trial):
        own.append(trial.suggest_float("q", 0.0, 1.0))
        return nas_objective(trial)

    study.optimize(objective, n_trials=int(n_trials))
    Path(out).write_text(json.dumps({"own_q": own, "seen": predictor.seen,
                                     "context_seen": predictor.context_seen}))
