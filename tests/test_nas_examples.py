"""examples/nas_optuna.py runs end to end on real training and prints its comparison and plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "nas_optuna.py"


def test_nas_optuna_example_compares_the_pruners(tmp_path):
    png = tmp_path / "nas.png"
    # last_value needs no weights, so the architecture-aware arm's code path runs too
    done = subprocess.run([sys.executable, str(SCRIPT), "--trials", "2", "--epochs", "2",
                           "--predictor", "last_value", "--plot", str(png)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.splitlines() if line.startswith("| ")
            and not line.startswith("| pruner")]
    assert [r[1].strip() for r in rows] == ["LCPruner(last_value)", "LCPruner() default",
                                           "MedianPruner"]
    for r in rows:
        trials, pruned, epochs, best = int(r[2]), int(r[3]), int(r[4]), float(r[5])
        assert trials == 2 and 0 <= pruned <= 2 and trials <= epochs <= 4 and 0.0 < best <= 1.0
    assert png.stat().st_size > 1000


def test_nas_optuna_example_skips_a_predictor_without_weights(tmp_path):
    from lc_hpo import make_predictor

    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from nas_optuna import architecture_predictor
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert architecture_predictor("no_such_predictor", None, 1.0) is None
    fitted = architecture_predictor("last_value", None, 1.0)
    assert type(fitted) is type(make_predictor("last_value"))
