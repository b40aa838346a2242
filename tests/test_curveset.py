import gzip
import json

import numpy as np
import pytest

from lc_hpo import Curve, CurveSetError, read_curves, write_curves


def _curves():
    return [
        Curve(steps=[1, 2, 3], values=[0.2, None, 0.5], mode="max", max_step=5, task="t",
              config_id="0", config={"lr": 0.1, "opt": "sgd"}, metric="val_accuracy",
              step_cost=[1.0, 1.1, 0.9],
              arch={"nodes": ["input", "linear", "output"], "edges": [[0, 1], [1, 2]]},
              extra={"train_loss": [2.0, 1.5, None]}),
        Curve(steps=[2, 4], values=[1.5, 1.2], mode="min", task="u", config_id="a", config={},
              metric="loss"),
    ]


@pytest.mark.parametrize("name", ["set.jsonl", "set.jsonl.gz"])
def test_round_trip_keeps_every_field(tmp_path, name):
    path = tmp_path / name
    assert write_curves(_curves(), path) == 2
    back = read_curves(path)
    a, b = _curves()[0], back[0]
    assert b.task == "t" and b.config == {"lr": 0.1, "opt": "sgd"} and b.max_step == 5
    np.testing.assert_array_equal(a.values, b.values)
    assert b.arch == a.arch and b.step_cost.tolist() == [1.0, 1.1, 0.9]
    assert np.isnan(b.extra["train_loss"][2])
    assert back[1].mode == "min" and back[1].max_step == 4
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as fh:
            assert json.loads(fh.readline())["values"][1] is None


def test_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"task": "t", "config_id": "0", "config": {}, "metric": "m", "mode": "max",
                       "steps": [1, 2], "values": [0.1, 0.2]})
    path.write_text(good + "\n" + good.replace("[1, 2]", "[2, 1]") + "\n")
    with pytest.raises(CurveSetError, match=r"bad.jsonl:2: .*strictly increasing"):
        read_curves(path)
    path.write_text(good.replace('"mode": "max", ', "") + "\n")
    with pytest.raises(CurveSetError, match=r"bad.jsonl:1: missing required field\(s\): mode"):
        read_curves(path)
    path.write_text(good.replace("[0.1, 0.2]", "[0.1, NaN]") + "\n")
    with pytest.raises(CurveSetError, match=r"bad.jsonl:1: .*write null"):
        read_curves(path)
    path.write_text("{not json\n")
    with pytest.raises(CurveSetError, match=r"bad.jsonl:1:"):
        read_curves(path)
    for field in ['"max_step": "20", ', '"max_step": [20], ']:  # wrong types, named too
        path.write_text(good.replace('"mode": "max", ', '"mode": "max", ' + field) + "\n")
        with pytest.raises(CurveSetError, match=r"bad.jsonl:1: max_step must be a positive"):
            read_curves(path)
    path.write_text(good.replace("[1, 2]", "[1, 100000000000000000000]") + "\n")
    with pytest.raises(CurveSetError, match=r"bad.jsonl:1:"):
        read_curves(path)
    other_task = good.replace('"task": "t"', '"task": "u"')
    path.write_text(good + "\n" + other_task + "\n" + good + "\n")  # the same id in another task: fine
    with pytest.raises(CurveSetError, match=r"bad.jsonl:3: config_id '0' of task 't' repeats line 1"):
        read_curves(path)
    path.write_text(good + "\n" + other_task + "\n")
    assert len(read_curves([path, path])) == 4  # a file named twice is read twice, on purpose


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(CurveSetError, match="no such curve-set file"):
        read_curves(tmp_path / "nope.jsonl")
    bad = tmp_path / "broken.jsonl.gz"
    bad.write_bytes(b"this is not gzip")
    with pytest.raises(CurveSetError, match="cannot read"):
        read_curves(bad)


def test_reads_the_real_taskset_curves(taskset_files):
    curves = read_curves(taskset_files[0])
    assert len(curves) == 1000
    assert all(c.mode == "min" and c.max_step == 51 for c in curves)
    assert {"train_loss", "test_loss"} <= set(curves[0].extra)
