import math

import numpy as np
import pytest

from lc_hpo import Curve, Forecast
from lc_hpo.bench.predict import run_predict_bench
from lc_hpo.cli import main
from lc_hpo.predictors import Predictor

from .test_bench_hpo import synthetic_set


class MeanOfTraining(Predictor):
    """Needs fitting: predicts the mean final value of its training curves."""

    name = "mean_of_training"
    needs_fit = True

    def fit(self, curves):
        self.mean_ = float(np.nanmean([c.final_value for c in curves]))
        return self

    def _predict(self, batch, targets):
        m = np.full(targets.shape, self.mean_)
        return Forecast.gaussian(targets, m, np.ones_like(m))


def test_metrics_shape_and_ordering_of_predictors():
    curves = synthetic_set(n_tasks=2, n_configs=30, steps=20)
    r = run_predict_bench(curves, ["last_value", "parametric"], cutoffs=[0.2, 0.6],
                          progress=False)
    for name in ("last_value", "parametric"):
        for cutoff in ("0.2", "0.6"):
            res = r["predictors"][name][cutoff]
            assert set(res["final"]) == {"mae", "rmse", "mape", "nmae", "loglik", "coverage90",
                                         "spearman"}
            assert set(res["remaining"]) == {"mae", "rmse", "mape", "nmae"}
            assert res["n_curves"] == 60 and res["seconds_per_curve"] > 0
            assert res["final"]["rmse"] >= res["final"]["mae"]
    p, lv = r["predictors"]["parametric"], r["predictors"]["last_value"]
    assert p["0.2"]["final"]["mae"] < lv["0.2"]["final"]["mae"]
    assert p["0.6"]["final"]["mae"] < p["0.2"]["final"]["mae"]  # more observed, better
    assert p["0.6"]["final"]["spearman"] > 0.8


def test_learning_predictors_are_fitted_on_other_tasks_only():
    curves = synthetic_set(n_tasks=3, n_configs=10, steps=10)
    evaluated = [c for c in curves if c.task != "syn2"]
    train = [c for c in curves if c.task == "syn2"]
    r = run_predict_bench(evaluated, [MeanOfTraining()], cutoffs=[0.5], train=train,
                          progress=False)
    assert r["train_tasks"] == ["syn2"] and r["tasks"] == ["syn0", "syn1"]
    with pytest.raises(ValueError, match="shares 20 configuration"):
        run_predict_bench(evaluated, [MeanOfTraining()], train=curves, progress=False)
    # Held-out configurations of a trained-on task (NAS: unseen architectures) are scored, and said.
    held_out = [c for c in curves if c.task == "syn0" and int(c.config_id) % 2]
    seen = [c for c in curves if c not in held_out]
    r = run_predict_bench(held_out, [MeanOfTraining()], cutoffs=[0.5], train=seen, progress=False)
    assert r["predictors"][MeanOfTraining.name]["0.5"]["n_curves"] == len(held_out)
    assert "held-out configurations" in r["notes"][0] and "syn0" in r["notes"][0]
    with pytest.raises(ValueError, match="must be fitted"):
        run_predict_bench(evaluated, [MeanOfTraining()], progress=False)


def test_diverged_values_and_irregular_steps_are_handled():
    curves = [
        Curve(steps=[1, 2, 4, 8, 10], values=[0.1, None, 0.4, 0.6, 0.65], mode="max", task="t",
              config_id="a"),
        Curve(steps=[1, 2, 4, 8, 10], values=[0.2, 0.3, None, 0.5, None], mode="max", task="t",
              config_id="b"),
        Curve(steps=[3, 6, 9, 10], values=[0.3, 0.5, 0.55, 0.6], mode="max", task="t",
              config_id="c"),
    ]
    r = run_predict_bench(curves, ["parametric"], cutoffs=[0.5], progress=False)
    res = r["predictors"]["parametric"]["0.5"]
    assert res["n_curves"] == 2  # b's final diverged
    assert math.isfinite(res["final"]["mae"]) and math.isfinite(res["remaining"]["mae"])


def test_cli_on_real_taskset(taskset_files, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["bench", "predict", "--curves", str(taskset_files[0]), "--predictors",
                 "last_value,parametric", "--cutoffs", "0.2", "--json", str(out), "--quiet"]) == 0
    assert "| parametric | 20% |" in capsys.readouterr().out
    assert out.exists()
