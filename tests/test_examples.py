"""The measuring scripts in examples/ run end to end and print what their docstrings promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lc_hpo import write_curves
from lc_hpo.learned.prior import synthetic_curves

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


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
