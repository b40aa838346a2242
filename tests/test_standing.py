"""The standing calibration: where a trial stands among finished trials, read with P(better)."""

import math
import pickle
import warnings

import numpy as np
import optuna
import pytest

from lc_hpo import LCPruner, write_curves
from lc_hpo.bench.decide import run_decide_bench
from lc_hpo.bench.protocol import parse_lc_method
from lc_hpo.cli import main
from lc_hpo.decision import FORECAST, ForecastWarning, StoppingRule
from lc_hpo.defaults import bundled_calibration, resolve_calibration
from lc_hpo.integrations.optuna import FORECAST_ATTR
from lc_hpo.learned import load_predictor, synthetic_curves
from lc_hpo.predictors import make_predictor
from lc_hpo.standing import FEATURES, StandingCalibration, features, standing

from .conftest import make_curve, saturating
from .optuna_objectives import accuracy_objective

optuna.logging.set_verbosity(optuna.logging.WARNING)


def finished_runs(mode="max"):
    sign = 1.0 if mode == "max" else -1.0
    return [make_curve(sign * saturating(f, 0.2, 0.1, 40), mode=mode, max_step=40)
            for f in (0.6, 0.7, 0.8, 0.9)]


@pytest.mark.parametrize("mode", ["max", "min"])
def test_standing_says_behind_or_ahead_in_either_direction(mode):
    sign = 1.0 if mode == "max" else -1.0
    finished = finished_runs(mode)
    behind = make_curve(sign * saturating(0.5, 0.2, 0.05, 10), mode=mode, max_step=40)
    ahead = make_curve(sign * saturating(0.99, 0.3, 0.3, 10), mode=mode, max_step=40)
    share_b, gap_b = standing(behind, finished)
    share_a, gap_a = standing(ahead, finished)
    assert share_b == 1.0 and gap_b > 0  # every finished run was better at step 10
    assert share_a == 0.0 and gap_a < 0


def test_standing_ignores_diverged_runs_and_is_neutral_without_comparisons():
    curve = make_curve(saturating(0.5, 0.2, 0.05, 10), max_step=40)
    diverged = make_curve([np.nan] * 40, max_step=40)
    assert standing(curve, [diverged]) == (0.5, 0.0)
    assert standing(curve, []) == (0.5, 0.0)
    share, gap = standing(curve, [diverged, *finished_runs()])
    assert share == 1.0 and gap > 0
    with pytest.raises(ValueError, match="finite value"):
        standing(make_curve([np.nan, np.nan], max_step=40), finished_runs())


def test_calibration_validates_and_round_trips():
    cal = StandingCalibration((1.0, -1.0, 1.0, -0.5, 0.2), -0.3, {"note": "x"})
    assert StandingCalibration.from_dict(cal.to_dict()) == cal
    with pytest.raises(ValueError, match="5 finite coefficients"):
        StandingCalibration((1.0, 2.0), 0.0)
    with pytest.raises(ValueError, match="5 finite coefficients"):
        StandingCalibration((1.0, math.nan, 0, 0, 0), 0.0)
    with pytest.raises(ValueError, match="not a standing calibration"):
        StandingCalibration.from_dict({"coef": [1, 2, 3, 4, 5], "intercept": 0})


def test_fit_learns_that_runs_behind_the_field_lose():
    rng = np.random.default_rng(0)
    finished = finished_runs()
    curves, won = [], []
    for _ in range(300):
        final = rng.uniform(0.5, 1.0)
        curves.append(make_curve(saturating(final, 0.2, 0.1, 8, noise=0.01,
                                            seed=int(rng.integers(1e6))), max_step=40))
        won.append(final > 0.9)
    p = np.full(len(curves), 0.3)  # a forecast that tells nothing apart
    cal = StandingCalibration.fit(p, curves, [finished] * len(curves), won)
    adjusted = cal.adjust(p, curves, finished)
    won = np.array(won)
    assert adjusted[won].mean() > 2 * adjusted[~won].mean()
    p_only = StandingCalibration.fit(p, curves, [finished] * len(curves), won, p_only=True)
    assert p_only.coef[1:] == (0.0, 0.0, 0.0, 0.0)  # the ablation: P recalibrated, standing unread
    assert np.ptp(p_only.adjust(p, curves, finished)) == 0.0
    with pytest.raises(ValueError, match="both winners and losers"):
        StandingCalibration.fit(p, curves, [finished] * len(curves), [True] * len(curves))


def test_the_default_reads_standing_and_can_be_told_not_to():
    default, calibration = make_predictor("default"), bundled_calibration()
    assert calibration is not None and resolve_calibration(default) == calibration
    assert set(calibration.fitted_on["files"]) == {"lcbench_train.jsonl.gz",
                                                   "taskset_train.jsonl.gz"}
    finished = finished_runs()
    behind = make_curve(saturating(0.8, 0.15, 0.05, 6), max_step=40)  # slow starter, far behind
    rule = StoppingRule(default, calibration=calibration)
    with_standing = rule.decide(behind, 0.9, 4, context=finished)
    alone = StoppingRule(default).decide(behind, 0.9, 4, context=finished)
    no_context = rule.decide(behind, 0.9, 4)
    assert with_standing.reason == FORECAST and with_standing.p_forecast == alone.p_better
    assert alone.p_forecast is None and no_context.p_better == alone.p_better
    assert with_standing.p_better < alone.p_better  # behind every finished run early on
    assert StoppingRule(make_predictor("parametric")).calibration is None
    with pytest.raises(TypeError, match="calibration must be"):
        StoppingRule(default, calibration=calibration.to_dict())


def test_calibrate_command_stores_the_calibration_in_the_checkpoint(tmp_path, capsys):
    curves = tmp_path / "train.jsonl"
    write_curves(synthetic_curves(n_tasks=6, curves_per_task=30, seed=1), curves)
    out = tmp_path / "calibrated.pt"
    default = make_predictor("default")
    default.save(tmp_path / "plain.pt")
    assert main(["calibrate", "--checkpoint", str(tmp_path / "plain.pt"), "--curves",
                 str(curves), "--situations", "40", "--max-finished", "5", "--out", str(out),
                 "--quiet"]) == 0
    assert "standing calibration on" in capsys.readouterr().out
    loaded = load_predictor(out)
    calibration = resolve_calibration(loaded)
    assert calibration.fitted_on["files"] == ["train.jsonl"]
    assert calibration.fitted_on["max_finished"] == 5
    assert calibration != bundled_calibration()
    # a checkpoint whose calibration is damaged is refused, not silently used
    loaded.metadata_["standing"] = {"features": list(FEATURES), "coef": [1.0], "intercept": 0.0}
    loaded.save(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not valid .*re-make it with 'lc-hpo calibrate"):
        LCPruner(str(tmp_path / "bad.pt"))
    assert LCPruner(str(tmp_path / "bad.pt"), standing=False).rule.calibration is None


def test_bench_syntax_turns_standing_off():
    assert parse_lc_method("lc:default:standing=off").options() == {"threshold": 0.05,
                                                                    "standing": False}
    assert parse_lc_method("lc:default@0.1:startup=2:standing=on").options() == {
        "threshold": 0.1, "n_startup_trials": 2}
    with pytest.raises(ValueError, match="standing=on\\|off"):
        parse_lc_method("lc:default:standing=maybe")


def test_bench_decide_compares_with_and_without_standing():
    curves = [c for c in synthetic_curves(n_tasks=4, curves_per_task=40, seed=2)]
    res = run_decide_bench(curves, ["default", "default:standing=off", "default:standing=on"],
                           situations_per_task=100, progress=False)
    on, off = res["predictors"]["default"], res["predictors"]["default:standing=off"]
    assert res["predictors"]["default:standing=on"]["auc"] == on["auc"]
    assert on["n_forecast"] == off["n_forecast"] > 0
    assert on["auc"] != off["auc"]


def test_optuna_pruner_records_both_probabilities():
    def study(**kw):
        s = optuna.create_study(direction="maximize", pruner=LCPruner(**kw),
                                sampler=optuna.samplers.RandomSampler(seed=0))
        s.optimize(accuracy_objective, n_trials=15)
        return [t.user_attrs[FORECAST_ATTR] for t in s.trials if FORECAST_ATTR in t.user_attrs]

    on, off = study(), study(standing=False)
    assert on and all("p_forecast" in r for r in on if "p_better" in r)
    assert off and not any("p_forecast" in r for r in off)
    assert "standing=False" in repr(LCPruner(standing=False))


def test_a_batch_of_trials_reads_the_same_standing_as_one_at_a_time():
    rng = np.random.default_rng(4)
    finished = [make_curve(saturating(f, 0.2, 0.1, 40), max_step=40)
                for f in rng.uniform(0.5, 0.9, 30)]
    finished.append(make_curve([0.2, np.nan, 0.4], steps=[2, 7, 40], max_step=40))  # sparse, diverged
    runs = [make_curve(saturating(f, 0.3, 0.1, int(n)), max_step=40)
            for f, n in zip(rng.uniform(0.4, 0.95, 40), rng.integers(2, 39, 40))]
    p = rng.uniform(0.01, 0.9, len(runs))
    together = features(p, runs, finished)  # a batch: the finished curves on one grid
    alone = np.vstack([features([pi], [r], finished) for pi, r in zip(p, runs)])
    assert np.array_equal(together, alone)


@pytest.mark.parametrize("coef, intercept", [
    ("12345", 0.0),                      # text is not five numbers
    ([1.0, 2.0, 3.0, 4.0, 10 ** 400], 0.0),  # beyond a float
    ([1.0, 2.0, 3.0, 4.0, 5.0], "0.5"),
    ([True, 0.0, 0.0, 0.0, 0.0], 0.0),
])
def test_malformed_calibrations_are_refused(coef, intercept, tmp_path):
    with pytest.raises(ValueError, match="5 finite coefficients"):
        StandingCalibration(coef, intercept)
    make_predictor("default").save(tmp_path / "default.pt")
    copy = load_predictor(tmp_path / "default.pt")
    copy.metadata_["standing"] = {"features": list(FEATURES), "coef": coef, "intercept": intercept}
    copy.save(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="standing calibration that is not valid"):
        resolve_calibration(load_predictor(tmp_path / "bad.pt"))


def test_what_it_was_fitted_on_is_stored_as_plain_data(tmp_path):
    cal = StandingCalibration(np.array([1.0, -1.0, 1.0, -0.5, 0.2]), np.float32(-0.3),
                              {"situations_per_task": np.int64(40), "tasks": np.array(["a"])})
    assert cal.fitted_on == {"situations_per_task": 40, "tasks": ["a"]}
    make_predictor("default").save(tmp_path / "d.pt")
    model = load_predictor(tmp_path / "d.pt")
    model.metadata_["standing"] = cal.to_dict()
    model.save(tmp_path / "c.pt")
    assert resolve_calibration(load_predictor(tmp_path / "c.pt")) == cal  # loads as weights only


def test_a_standing_that_cannot_be_read_leaves_the_forecast_to_decide():
    rule = StoppingRule(make_predictor("default"), calibration=bundled_calibration())
    behind = make_curve(saturating(0.8, 0.15, 0.05, 6), max_step=40)
    with pytest.warns(ForecastWarning, match="deciding on the forecast alone"):
        d = rule.decide(behind, 0.9, 4, context=[None])  # not a curve
    assert d.reason == FORECAST and d.p_forecast is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        rule.decide(behind, 0.9, 4, context=[None])


def test_a_rule_pickled_before_standing_existed_still_decides():
    rule = StoppingRule(make_predictor("last_value"))
    del rule.calibration  # as a rule pickled by an earlier version, e.g. in a Ray experiment
    del rule.trust  # (which read no study-trust evidence either)
    restored = pickle.loads(pickle.dumps(rule))
    assert restored.calibration is None and not restored.needs_context
