"""The replay protocol on hand-made curve sets whose regrets and speedups are worked out by hand."""

import numpy as np
import pytest

from lc_hpo import Curve
from lc_hpo.bench.protocol import (RegretTracker, ReplayTask, combine_orderings, parse_lc_method,
                                   score_task, speedup, summarise)
from lc_hpo.bench.replay_optuna import replay_ordering


def hand_task():
    # Three configurations of two steps; finals A = 0.2, C = 0.4, B = 0.9 (the best).
    # Best final 0.9, so the largest regret is |0.2 - 0.9| = 0.7.
    rows = {"A": [0.1, 0.2], "C": [0.3, 0.4], "B": [0.5, 0.9]}
    return ReplayTask("hand", [Curve(steps=[1, 2], values=v, mode="max", task="hand",
                                     config_id=k) for k, v in rows.items()])


def test_task_facts():
    t = hand_task()
    assert (t.mode, t.max_step, t.best_final, t.largest_regret) == ("max", 2, 0.9, pytest.approx(0.7))
    assert t.budget(3) == 6


def test_regret_curves_of_real_optuna_replays_worked_by_hand():
    t = hand_task()
    order = np.array([1, 0, 2])  # C, A, B
    # none: C1 .7 | C2 done (0.4) .5 | A1 .5 | A2 .5 | B1 .5 | B2 done (0.9) 0
    none, spent = replay_ordering(t, order, "none", 6, "h-none")
    np.testing.assert_allclose(none, [0.7, 0.5, 0.5, 0.5, 0.5, 0.0])
    assert spent == 6
    # oracle: C1 .7 | C2 .5 | A1 pruned (0.2 < 0.4) .5 | B1 .5 | B2 0 | configurations ran out: 0
    oracle, spent = replay_ordering(t, order, "oracle", 6, "h-oracle")
    np.testing.assert_allclose(oracle, [0.7, 0.5, 0.5, 0.5, 0.0, 0.0])
    assert spent == 5
    # The budget cuts B at its first step: B never completes, so the regret stays 0.5.
    cut, spent = replay_ordering(t, order, "none", 5, "h-cut")
    np.testing.assert_allclose(cut, [0.7, 0.5, 0.5, 0.5, 0.5])

    results = {"none": combine_orderings([none], [6]), "oracle": combine_orderings([oracle], [5])}
    score_task(results)
    # Target = none's regret at the full budget = 0. none gets there at step 6: 6/6 = 1;
    # the oracle at step 5: 6/5 = 1.2; none's oracle fraction 1 / 1.2.
    assert results["none"].speedup == pytest.approx(1.0)
    assert results["oracle"].speedup == pytest.approx(1.2)
    assert results["none"].oracle_fraction == pytest.approx(1 / 1.2)
    assert results["oracle"].steps == 5 and results["none"].regret == 0.0


def test_one_step_keeps_only_runs_with_a_top_k_first_value():
    vals = [0.5, 0.3, 0.6, 0.1, 0.7]  # 0.1 has three better first values: pruned after step 1
    t = ReplayTask("k", [Curve(steps=[1, 2], values=[v, v + 0.1], mode="max", task="k",
                               config_id=str(i)) for i, v in enumerate(vals)])
    regret, spent = replay_ordering(t, np.arange(5), "one-step", 20, "k-one")
    assert spent == 9  # 4 complete runs x 2 steps + 1 step of the pruned one


def test_speedup_and_summary_by_hand():
    assert speedup(np.array([0.5, 0.3, 0.1, 0.1]), 0.1) == pytest.approx(4 / 3)
    assert speedup(np.array([0.5, 0.3]), 0.1) == 0.0
    a = {"none": combine_orderings([np.array([0.4, 0.2, 0.2, 0.1])], [4]),
         "oracle": combine_orderings([np.array([0.1, 0.1, 0.1, 0.1])], [2]),
         "m": combine_orderings([np.array([0.4, 0.1, 0.1, 0.1]), np.array([0.4, 0.3, 0.1, 0.1])],
                                [4, 3])}
    score_task(a)  # target 0.1; m's mean regret [0.4, 0.2, 0.1, 0.1] reaches it at step 3
    assert a["m"].speedup == pytest.approx(4 / 3) and a["oracle"].speedup == 4.0
    assert a["m"].oracle_fraction == pytest.approx(1 / 3) and a["m"].steps == 3.5
    b = {"none": combine_orderings([np.array([0.2, 0.0])], [2]),
         "oracle": combine_orderings([np.array([0.0, 0.0])], [2]),
         "m": combine_orderings([np.array([0.3, 0.3])], [2])}
    score_task(b)  # m never reaches 0: missed
    assert b["m"].speedup == 0 and b["m"].missed == 1
    s = summarise({"a": a, "b": b})["m"]
    assert s["median_speedup"] == pytest.approx((4 / 3 + 0) / 2)
    assert s["mean_regret"] == pytest.approx((0.1 + 0.3) / 2) and s["missed"] == 0.5


def test_tracker_and_task_validation():
    t = hand_task()
    tr = RegretTracker(t, 3)
    assert tr.spend(2, completed_final=0.4) and tr.regret[1] == pytest.approx(0.5)
    assert not tr.spend(2, completed_final=0.9)  # the budget runs out first: no completion
    assert tr.best_found == 0.4 and tr.exhausted
    with pytest.raises(ValueError, match="mixes modes"):
        ReplayTask("x", [Curve(steps=[1], values=[1.0], mode="max"),
                         Curve(steps=[1], values=[1.0], mode="min")])
    with pytest.raises(ValueError, match="complete curves"):
        ReplayTask("x", [Curve(steps=[1], values=[1.0], mode="max", max_step=3)])


def test_lc_methods_set_how_many_diverged_values_stop_a_trial():
    assert parse_lc_method("lc:default:diverged=off").options() == {
        "threshold": 0.05, "diverged_patience": None}
    assert parse_lc_method("lc:parametric@0.1:diverged=2:startup=3").options() == {
        "threshold": 0.1, "n_startup_trials": 3, "diverged_patience": 2}
    assert "diverged_patience" not in parse_lc_method("lc:default").options()  # the pruner's own
    for bad in ("diverged=0", "diverged=on", "diverged="):
        with pytest.raises(ValueError, match="diverged=N\\|off"):
            parse_lc_method(f"lc:default:{bad}")


def test_lc_methods_set_how_many_finite_values_a_forecast_needs():
    assert parse_lc_method("lc:default:points=4").options() == {"threshold": 0.05, "min_points": 4}
    assert parse_lc_method("lc:parametric@0.1:points=3:startup=2").min_points == 3
    assert "min_points" not in parse_lc_method("lc:default").options()  # the pruner's own
    for bad in ("points=0", "points=x", "points="):
        with pytest.raises(ValueError, match="points=N"):
            parse_lc_method(f"lc:default:{bad}")
