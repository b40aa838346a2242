import json

import numpy as np
import pytest

from lc_hpo import Curve, read_curves, write_curves
from lc_hpo.bench.hpo import run_hpo_bench
from lc_hpo.cli import main

from .conftest import saturating


def synthetic_set(n_tasks=2, n_configs=25, steps=10, seed=0):
    rng = np.random.default_rng(seed)
    curves = []
    for t in range(n_tasks):
        for i in range(n_configs):
            v = saturating(rng.uniform(0.3, 0.9), rng.uniform(0.1, 0.6), 0.1, steps, noise=0.005,
                           seed=t * 1000 + i)
            curves.append(Curve(steps=np.arange(1, steps + 1), values=v, mode="max",
                                task=f"syn{t}", config_id=str(i)))
    return curves


METHODS = ["none", "median", "percentile", "sha", "hyperband", "patient", "one-step", "oracle",
           "lc:parametric"]


def test_json_has_the_documented_shape_and_sane_numbers():
    r = run_hpo_bench(synthetic_set(), methods=METHODS, orderings=3, budget_factor=5,
                      workers=1, progress=False)
    assert set(r["tasks"]) == {"syn0", "syn1"}
    for per in r["tasks"].values():
        assert list(per) == METHODS
        for m in per.values():
            assert set(m) >= {"speedup", "oracle_fraction", "regret", "steps", "missed"}
            assert m["steps"] <= 50 and m["regret"] >= 0
        assert per["none"]["speedup"] >= 1.0 and per["none"]["missed"] == 0
        assert per["oracle"]["oracle_fraction"] == pytest.approx(1.0)
    for s in r["summary"].values():
        assert set(s) >= {"median_speedup", "median_oracle_fraction", "mean_regret", "missed"}
    assert len(r["anytime_regret"]["syn0"]["none"]) == 50
    json.dumps(r)  # serialisable


def test_results_do_not_depend_on_the_number_of_workers():
    curves = synthetic_set(n_tasks=1)
    kw = dict(methods=["none", "oracle", "median", "lc:parametric"], orderings=2, budget_factor=4,
              seed=7, progress=False)
    one = run_hpo_bench(curves, workers=1, **kw)
    two = run_hpo_bench(curves, workers=2, **kw)
    assert one["tasks"] == two["tasks"] and one["anytime_regret"] == two["anytime_regret"]
    other = run_hpo_bench(curves, workers=1, **{**kw, "seed": 8})
    assert other["anytime_regret"] != one["anytime_regret"]


def test_none_and_oracle_are_always_included_and_bad_methods_rejected():
    r = run_hpo_bench(synthetic_set(n_tasks=1), methods=["median"], orderings=1, budget_factor=3,
                      workers=1, progress=False)
    assert {"none", "oracle", "median"} == set(r["tasks"]["syn0"])
    with pytest.raises(ValueError, match="unknown method 'fancy'"):
        run_hpo_bench(synthetic_set(n_tasks=1), methods=["fancy"], progress=False)
    with pytest.raises(ValueError, match="unknown predictor"):
        run_hpo_bench(synthetic_set(n_tasks=1), methods=["lc:nope"], progress=False)


def test_lc_methods_take_a_threshold_and_a_startup_count():
    """``lc:NAME:startup=N`` is LCPruner(NAME, n_startup_trials=N): with more start-up trials than
    will ever complete, nothing is pruned and the replay is exactly the no-pruning one."""
    methods = ["none", "lc:parametric@0.1:startup=1", "lc:parametric@0.1:startup=1000"]
    r = run_hpo_bench(synthetic_set(n_tasks=1), methods=methods, orderings=2, budget_factor=4,
                      workers=1, progress=False)
    per = r["tasks"]["syn0"]
    assert per["lc:parametric@0.1:startup=1000"] == per["none"]
    assert per["lc:parametric@0.1:startup=1"] != per["none"]
    for bad in ["lc:parametric:startup=0", "lc:parametric:patience=3", "lc:parametric@high"]:
        with pytest.raises(ValueError, match=r"lc:NAME\[@THRESHOLD\]\[:startup=N\]"):
            run_hpo_bench(synthetic_set(n_tasks=1), methods=[bad], progress=False)


def test_cli_writes_json_and_plot(tmp_path, capsys):
    curves = tmp_path / "set.jsonl.gz"
    write_curves(synthetic_set(n_tasks=1, n_configs=12), curves)
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    assert main(["bench", "hpo", "--curves", str(curves), "--methods", "none,median,oracle",
                 "--orderings", "2", "--budget", "3", "--workers", "1", "--json", str(out),
                 "--plot", str(png), "--quiet"]) == 0
    assert "| median |" in capsys.readouterr().out
    assert json.loads(out.read_text())["summary"]["none"]["missed"] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replays_real_taskset_curves_with_diverged_runs(taskset_files):
    curves = read_curves(taskset_files[0])  # 84 of its 1,000 runs diverge (null values)
    subset = [c for c in curves if np.isnan(c.values).any()][:10] + curves[:40]
    r = run_hpo_bench(subset, methods=["none", "oracle", "median", "lc:parametric"], orderings=2,
                      budget_factor=5, workers=1, progress=False)
    per = next(iter(r["tasks"].values()))
    assert per["oracle"]["speedup"] >= per["none"]["speedup"] >= 1.0
