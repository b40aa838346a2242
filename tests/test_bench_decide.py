import json

import numpy as np
import pytest

from lc_hpo import Curve, write_curves
from lc_hpo.bench.decide import auc, draw_situations, format_decide, run_decide_bench
from lc_hpo.cli import main

from .test_bench_hpo import synthetic_set


def test_auc_counts_ordered_pairs():
    y = np.array([0, 0, 1, 1], bool)
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), y) == 0.0
    assert auc(np.full(4, 0.3), y) == 0.5
    assert np.isnan(auc(np.array([0.1, 0.2]), np.array([True, True])))


def test_situations_are_seeded_and_labelled_by_the_runs_own_final():
    curves = synthetic_set(n_tasks=2, n_configs=30, steps=20)
    finals = {(c.task, c.config_id): c.final_value for c in curves}
    a = draw_situations(curves, situations_per_task=100, seed=3)
    b = draw_situations(curves, situations_per_task=100, seed=3)
    flat = [s for g in a for s in g]
    assert len(flat) == 200 and len(a) == 40
    assert [(s.partial.config_id, s.cutoff) for s in flat] == \
        [(s.partial.config_id, s.cutoff) for g in b for s in g]
    for s in flat:
        assert s.winner == (finals[(s.task, s.partial.config_id)] > s.incumbent)
        assert s.partial.last_step == max(1, round(s.cutoff * 20))
        assert 1 <= s.n_finished <= 10


def test_a_real_forecaster_ranks_winners_above_losers_and_stops_more_as_the_threshold_rises():
    curves = synthetic_set(n_tasks=2, n_configs=40, steps=20)
    r = run_decide_bench(curves, ["parametric", "last_value"], situations_per_task=200,
                         cutoffs=[0.25, 0.5], thresholds=[0.02, 0.1, 0.3], progress=False)
    json.dumps(r)
    for name in ("parametric", "last_value"):
        p = r["predictors"][name]
        assert p["n_situations"] == 400 and 0 < p["n_forecast"] < 400  # leaders are not forecast
        assert p["auc"] > 0.8 and set(p["auc_by_cutoff"]) == {"0.25", "0.5"}
        rates = [p["thresholds"][t] for t in ("0.02", "0.1", "0.3")]
        losers = [x["losers_stopped"] for x in rates]
        assert losers == sorted(losers) and losers[-1] > 0.3
        for x in rates:
            assert x["winners_stopped"] < x["losers_stopped"]
        assert sum(b["n"] for b in p["calibration"]) == p["n_forecast"]
        # per cutoff, the stopped runs add up to the threshold's, and each cutoff's stopped runs
        # were promised less than the threshold
        for t in ("0.02", "0.1", "0.3"):
            per = [p["stopped_by_cutoff"][c][t] for c in ("0.25", "0.5")]
            total = p["thresholds"][t]
            assert sum(x["n_stopped"] for x in per) == total["n_stopped"] > 0
            winners = sum(x["winners_among_stopped"] * x["n_stopped"] for x in per if x["n_stopped"])
            assert winners == pytest.approx(total["winners_among_stopped"] * total["n_stopped"])
            promised = sum(x["mean_p_stopped"] * x["n_stopped"] for x in per if x["n_stopped"])
            assert promised == pytest.approx(total["mean_p_stopped"] * total["n_stopped"])
            assert all(x["mean_p_stopped"] < float(t) for x in per if x["n_stopped"])
            assert 0 <= total["mean_p_stopped"] < float(t)


def test_bad_settings_and_sets_without_complete_runs_get_clear_errors():
    curves = synthetic_set(n_tasks=1, n_configs=10, steps=10)
    with pytest.raises(ValueError, match="cutoffs"):
        run_decide_bench(curves, ["last_value"], cutoffs=[0.0, 0.5], progress=False)
    with pytest.raises(ValueError, match="thresholds"):
        run_decide_bench(curves, ["last_value"], thresholds=[1.0], progress=False)
    with pytest.raises(ValueError, match="situations_per_task"):
        run_decide_bench(curves, ["last_value"], situations_per_task=5, progress=False)
    partial = [Curve(steps=[1, 2], values=[0.1, 0.2], mode="max", max_step=10, task="t",
                     config_id=str(i)) for i in range(5)]
    with pytest.raises(ValueError, match="at least two complete runs"):
        run_decide_bench(partial, ["last_value"], progress=False)


def test_cli_prints_the_tables_and_writes_json(tmp_path, capsys):
    path = tmp_path / "set.jsonl"
    write_curves(synthetic_set(n_tasks=1, n_configs=30, steps=12), path)
    out = tmp_path / "decide.json"
    assert main(["bench", "decide", "--curves", str(path), "--predictors", "last_value",
                 "--situations", "100", "--json", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "| last_value |" in text and "| last_value: winners (n) |" in text
    assert "| last_value @0.05 |" in text
    # a cutoff where nothing was stopped prints "-", not a NaN
    results = json.loads(out.read_text())
    for cut in results["predictors"]["last_value"]["stopped_by_cutoff"].values():
        cut["0.05"] = {"winners_among_stopped": float("nan"), "mean_p_stopped": float("nan"),
                       "n_stopped": 0}
    row = next(line for line in format_decide(results).splitlines() if "last_value @0.05" in line)
    assert "nan" not in row and row.count(" - ") == len(results["cutoffs"])
    assert json.loads(out.read_text())["predictors"]["last_value"]["n_situations"] == 100
