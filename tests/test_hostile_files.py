"""Hostile or broken files get clear errors (exit 2 on the command line), never a silent wrong model,
an allocation that kills the machine, or a traceback.  Each test reproduces a report of issue 22."""

import gzip
import json
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from lc_hpo import LCPruner
from lc_hpo.cli import main
from lc_hpo.defaults import calibration_from_metadata
from lc_hpo.learned import CheckpointError, load_predictor
from lc_hpo.learned.checkpoint import content_hash, load_checkpoint, save_checkpoint

optuna.logging.set_verbosity(optuna.logging.WARNING)
BUNDLED_MODEL = Path(__file__).resolve().parents[1] / "lc_hpo" / "models" / "default.pt"


def bundled_payload():
    return torch.load(BUNDLED_MODEL, map_location="cpu", weights_only=True)


def test_the_bundled_checkpoint_carries_its_content_hash_and_loads():
    p = load_checkpoint(BUNDLED_MODEL)
    assert p["content_sha256"] == content_hash(p["kind"], p["config"], p["metadata"],
                                               p["state_dict"])
    assert load_predictor(BUNDLED_MODEL).model_ is not None


def test_a_corrupted_weight_is_refused_by_the_content_hash(tmp_path):
    p = bundled_payload()
    name = next(iter(p["state_dict"]))
    p["state_dict"][name].view(-1)[0] = 2.4e24  # one weight, as a bad zip checksum left it
    torch.save(p, tmp_path / "corrupt.pt")
    with pytest.raises(CheckpointError, match="does not match the hash"):
        load_predictor(tmp_path / "corrupt.pt")


@pytest.mark.parametrize("hidden", [200_000, 20_000, 65])
def test_a_config_that_does_not_fit_the_weights_is_refused_before_anything_is_built(tmp_path,
                                                                                  hidden):
    p = bundled_payload()
    save_checkpoint(tmp_path / "big.pt", p["kind"], p["state_dict"], {**p["config"],
                                                                      "hidden": hidden},
                    p["metadata"])
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="configuration is not valid"):
        load_predictor(tmp_path / "big.pt")
    assert time.perf_counter() - start < 5  # (20,000 took 6.4 GB and minutes before)


def test_a_hostile_standing_calibration_is_refused_on_load(tmp_path):
    p = bundled_payload()
    meta = {**p["metadata"], "standing": {**p["metadata"]["standing"], "intercept": -1e6}}
    save_checkpoint(tmp_path / "hostile.pt", p["kind"], p["state_dict"], p["config"], meta)
    with pytest.raises(ValueError, match=r"must lie in \[-20, 20\]"):
        LCPruner(str(tmp_path / "hostile.pt"))
    assert calibration_from_metadata(p["metadata"]) is not None  # the bundled one is in bounds


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def row(i, steps, values, task="t"):
    return {"task": task, "config_id": str(i), "config": {"i": i}, "metric": "acc",
            "mode": "max", "steps": steps, "values": values}


def bench(path, capsys):
    code = main(["bench", "hpo", "--curves", path, "--methods", "none", "--orderings", "1",
                 "--workers", "1", "--quiet"])
    return code, capsys.readouterr().err


def test_bench_hpo_refuses_steps_near_1e9_instead_of_allocating(tmp_path, capsys):
    path = write(tmp_path / "big.jsonl", [row(i, [1, 10**9 - 10, 10**9], [0.1, 0.5 + i / 10,
                                                                         0.6 + i / 10])
                                          for i in range(4)])
    code, err = bench(path, capsys)
    assert code == 2 and "max_step 1000000000 is beyond" in err


def test_bench_hpo_refuses_a_task_too_small_to_measure(tmp_path, capsys):
    path = write(tmp_path / "one.jsonl", [row(0, list(range(1, 21)),
                                              [0.1 + 0.02 * j for j in range(20)])])
    code, err = bench(path, capsys)
    assert code == 2 and "has 1 curve(s)" in err and "speedup" not in err.split("(")[0]


def test_deeply_nested_json_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "nested.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    code, err = bench(str(path), capsys)
    assert code == 2 and "nested too deeply" in err and "Traceback" not in err


@pytest.mark.parametrize("damage", ["truncated", "crc"])
def test_a_gzip_corrupted_mid_file_is_a_clear_error(tmp_path, capsys, damage):
    text = "".join(json.dumps(row(i, list(range(1, 21)), [0.1 + 0.02 * j + 0.01 * i
                                                          for j in range(20)])) + "\n"
                   for i in range(50)).encode()
    data = bytearray(gzip.compress(text))
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:  # the stored checksum no longer matches what decompresses
        data[-8] ^= 0xFF
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(bytes(data))
    code, err = bench(str(path), capsys)
    assert code == 2 and "corrupt or truncated" in err and "Traceback" not in err


def test_values_near_1e300_keep_training_without_numpy_warnings():
    def objective(trial):
        for s in range(1, 13):
            v = 1e300 * (0.1 + 0.05 * s + 0.1 * trial.number)
            trial.report(v, s)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return v

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = optuna.create_study(direction="maximize", pruner=LCPruner())
        study.optimize(objective, n_trials=4)
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], \
        [str(w.message) for w in caught]
    assert np.isfinite([t.value for t in study.trials]).all()
