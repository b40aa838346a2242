"""The measuring scripts in benchmarks/ and the user examples in examples/ run end to end and print
what their docstrings promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lc_hpo import write_curves
from lc_hpo.learned.prior import synthetic_curves

EXAMPLES = Path(__file__).resolve().parents[1] / "benchmarks"
USER_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def curve_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("curves") / "prior.jsonl.gz"
    write_curves(synthetic_curves(n_tasks=2, curves_per_task=60, seed=3), path)
    return path


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_forecast_ceiling_reports_ratios_to_the_last_value(curve_file):
    out = _run("forecast_ceiling.py", "--curves", str(curve_file))
    rows = [line for line in out.splitlines() if line.startswith("| all |")]
    assert len(rows) == 1
    ratios = [float(x) for x in rows[0].strip("| \n").split("|")[4::2]]
    assert len(ratios) == 2 and all(0.0 < r < 5.0 for r in ratios)


def test_tail_calibration_reports_shares_per_task(curve_file):
    out = _run("tail_calibration.py", "--curves", str(curve_file), "--per-task", "40")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "task" not in line]
    assert len(rows) == 2
    for row in rows:
        shares = [float(x) for x in row.strip("| \n").split("|")[2:]]
        assert len(shares) == 8 and all(0.0 <= s <= 1.0 for s in shares)
        assert shares[:4] == sorted(shares[:4]) and shares[4:] == sorted(shares[4:])


def test_decision_features_scores_every_feature_set(curve_file):
    out = _run("decision_features.py", "--curves", str(curve_file), "--per-task", "200")
    rows = [line for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| features")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "standing alone", "default", "default + standing", "default + parametric",
        "default + both"]
    for row in rows:
        overall = float(row.split("|")[2])
        assert 0.5 < overall <= 1.0  # every feature set ranks winners above losers


def test_decide_throughput_reports_each_study_size():
    out = _run("decide_throughput.py", "--curves", "300")
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ") and
            not line.startswith("| finished")]
    assert [int(r[1]) for r in rows] == [0, 20, 200, 1000]
    assert all(float(r[2].replace(",", "")) > 0 for r in rows)


def test_error_breakdown_finds_the_late_blow_ups(tmp_path):
    from lc_hpo import Curve

    rng = np.random.default_rng(0)
    curves = []
    for i in range(40):  # losses that sit at chance; two of them blow up after the first 20 %
        values = 0.69 + 0.001 * rng.standard_normal(20)
        if i < 2:
            values[10:] = 5.0
        if i == 2:  # diverged inside the observed prefix, then ended high: not a *late* blow-up
            values[2:] = np.nan
            values[-1] = 5.0
        curves.append(Curve(steps=range(1, 21), values=values, mode="min", max_step=20,
                            task="loss", config_id=str(i)))
    for i in range(20):  # losses that fall steadily
        curves.append(Curve(steps=range(1, 21), values=np.linspace(0.69, 0.2 + 0.01 * i, 20),
                            mode="min", max_step=20, task="loss", config_id=f"f{i}"))
    for i in range(30):  # accuracies that rise; two collapse after the first 20 %
        values = np.linspace(0.5, 0.9 - 0.005 * i, 20)
        if i < 2:
            values[12:] = 0.1
        curves.append(Curve(steps=range(1, 21), values=values, mode="max", max_step=20,
                            task="accuracy", config_id=f"a{i}"))
    path = tmp_path / "blow.jsonl"
    write_curves(curves, path)
    out = _run("error_breakdown.py", "--curves", str(path), "--predictor", "last_value")
    rows = {cells[0]: cells for cells in (
        [c.strip() for c in line.strip("| \n").split("|")]
        for line in out.splitlines() if line.startswith("| ") and "task" not in line)}
    assert rows["loss"][1] == "60" and rows["loss"][4] == "1.000"  # the last value against itself
    assert rows["loss"][5].startswith("1 (") and rows["loss"][6] == "2"  # diverged; late blow-ups
    assert rows["loss"][9] == "39 (2)"  # flat clean prefixes, two of which blew up
    assert rows["accuracy"][5].startswith("0 (") and rows["accuracy"][6] == "2"
    assert rows["all"][1] == "90" and rows["all"][6] == "4"  # pooled over both tasks
    share = float(rows["loss"][7].split("%")[0]) / 100  # the two blow-ups' share of the error
    assert share == pytest.approx(2 * 4.31 / (2 * 4.31 + 4.31 + 20 * 0.3), abs=0.05)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_best_run_risk_counts_a_late_bloomer_stopped_where_it_would_have_won(tmp_path, mode):
    from lc_hpo import Curve

    flip = (lambda v: v) if mode == "max" else (lambda v: 1.0 - v)  # accuracies, or error rates
    steps = np.arange(1, 21)
    curves = [Curve(steps=steps, values=flip(0.6 + (0.25 + 0.002 * i) * (1 - np.exp(-steps / 3))),
                    mode=mode, max_step=20, task="acc", config_id=str(i)) for i in range(30)]
    # The best run: far behind for most of its budget, then ahead of every other run at the end.
    curves.append(Curve(steps=steps, values=flip(np.linspace(0.3, 0.95, 20)), mode=mode,
                        max_step=20, task="acc", config_id="late"))
    # Another task whose best run reports a diverged value at step 2 and recovers.
    div = np.linspace(0.3, 0.95, 20)
    div[1] = np.nan
    curves += [Curve(steps=steps, values=flip(div), mode=mode, max_step=20, task="div",
                     config_id="div")] + [
        Curve(steps=steps, values=flip(np.linspace(0.3, 0.8, 20)), mode=mode, max_step=20,
              task="div", config_id=f"d{i}") for i in range(12)]
    path = tmp_path / "late.jsonl"
    write_curves(curves, path)
    out = _run("best_run_risk.py", "--curves", str(path), "--predictors", "last_value",
               "--top", "2", "--finished", "10", "--draws", "6")
    rows = [[c.strip() for c in line.strip("| \n").split("|")]
            for line in out.splitlines() if line.startswith(("| acc", "| div"))]
    late, second, diverged, _ = rows
    assert late[1] == f"1: {flip(0.95):.4g}" and late[4] == "6/6"  # always a winner, stopped
    assert late[5] == "2"  # at its second step, while far behind
    # The runner-up wins only in the 5 draws that lack the late bloomer; its steep early climb
    # gives the last value's random-walk spread room enough, so it is never stopped.
    assert second[1].startswith("2: ") and second[4] == "0/5" and second[5] == "-"
    assert diverged[4] == "6/6" and diverged[5] == "2" and diverged[6] == "diverged"
    done = subprocess.run([sys.executable, str(EXAMPLES / "best_run_risk.py"), "--curves",
                           str(path), "--finished", "20"], capture_output=True, text=True)
    assert done.returncode != 0 and "only 12 other complete runs" in done.stderr


def test_optuna_quickstart_runs_a_stored_study_and_reads_its_decisions(tmp_path):
    db = tmp_path / "q.db"
    done = subprocess.run([sys.executable, str(USER_EXAMPLES / "optuna_quickstart.py"), "--trials", "6",
                           "--epochs", "4", "--storage", f"sqlite:///{db}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("6 trials, ") and "of 24 epochs trained" in first
    assert db.exists()  # the study is in the RDB storage the user named
