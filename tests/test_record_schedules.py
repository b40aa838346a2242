"""Learning-rate schedules in the recorded mlp-cnn sweeps: the rate each epoch trains at, the
schedule kept in each curve's config, and the ``--schedules`` option of ``lc-hpo data record``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lc_hpo.bench.sources.record import record_sweep
from lc_hpo.bench.tasks import (SCHEDULES, SEARCH_SPACE, Trainer, load_dataset, lr_factor,
                                sample_config, scheduled_space)
from lc_hpo.cli import main
from lc_hpo.curveset import read_curves

CONFIG = {"arch": "mlp", "depth": 1, "width": 16, "dropout": 0.0, "optimizer": "sgd", "lr": 0.05,
          "batch_size": 128, "weight_decay": 1e-5}


def rates(schedule: str, epochs: int) -> list[float]:
    return [lr_factor(schedule, e, epochs) for e in range(epochs)]


def test_schedule_shapes():
    assert rates("constant", 20) == [1.0] * 20
    step = rates("step", 20)
    assert step[:10] == [1.0] * 10 and all(math.isclose(r, 0.1) for r in step[10:15])
    assert all(math.isclose(r, 0.01) for r in step[15:])
    cosine = rates("cosine", 20)
    assert cosine[0] == 1.0 and all(a > b for a, b in zip(cosine, cosine[1:])) and cosine[-1] < 0.01
    warm = rates("warmup-cosine", 20)  # two warm-up epochs, then cosine from the full rate
    assert warm[0] < warm[1] < warm[2] == 1.0 and all(a > b for a, b in zip(warm[2:], warm[3:]))
    assert rates("warmup-cosine", 1) == [0.5]  # a one-epoch run still warms up, and ends there
    assert lr_factor("cosine", 25, 20) == lr_factor("cosine", 19, 20)  # past the end: the last rate


def test_schedule_names_and_lengths_are_checked():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'linear'"):
        lr_factor("linear", 0, 10)
    with pytest.raises(ValueError, match="run's length"):
        lr_factor("cosine", 0, 0)
    with pytest.raises(ValueError, match="pass epochs"):
        Trainer({**CONFIG, "schedule": "cosine"}, load_dataset("digits"))
    with pytest.raises(ValueError, match="repeated"):
        scheduled_space(["step", "step"])
    with pytest.raises(ValueError, match="unknown"):
        scheduled_space(["cosine", "onecycle"])


def test_trainer_trains_each_epoch_at_the_scheduled_rate_and_resumes_it():
    torch.set_num_threads(1)
    data = load_dataset("digits")
    config = {**CONFIG, "schedule": "step"}
    trainer = Trainer(config, data, seed=0, epochs=4)
    seen = []
    for _ in range(4):
        trainer.epoch()
        seen.append(trainer.optimizer.param_groups[0]["lr"])
    assert np.allclose(seen, [0.05, 0.05, 0.005, 0.0005])
    # a restored trainer resumes the schedule from epochs_done, as a paused trial would
    first = Trainer(config, data, seed=0, epochs=4)
    first.epoch(), first.epoch()
    resumed = Trainer(config, data, seed=7, epochs=4)
    resumed.load_state_dict(first.state_dict())
    resumed.epoch()
    assert math.isclose(resumed.optimizer.param_groups[0]["lr"], 0.005)
    # no schedule in the config: the constant rate, as before schedules existed
    plain = Trainer(CONFIG, data, seed=0)
    plain.epoch()
    assert plain.optimizer.param_groups[0]["lr"] == 0.05


def test_schedule_is_drawn_last_so_other_settings_keep_their_seeded_values():
    space = scheduled_space(SCHEDULES)
    assert list(space)[:-1] == list(SEARCH_SPACE) and list(space)[-1] == "schedule"
    plain = [sample_config(np.random.default_rng(s)) for s in range(20)]
    scheduled = [sample_config(np.random.default_rng(s), space) for s in range(20)]
    assert [{k: v for k, v in c.items() if k != "schedule"} for c in scheduled] == plain
    assert {c["schedule"] for c in scheduled} == set(SCHEDULES)


def test_record_sweep_keeps_each_curves_schedule():
    curves = list(record_sweep("digits", n_configs=3, epochs=2, seed=4, progress=False,
                               schedules=["cosine", "step"]))
    assert [c.task for c in curves] == ["digits/mlp-cnn-sched-2ep"] * 3
    assert all(c.config["schedule"] in ("cosine", "step") and len(c.values) == 2 for c in curves)
    plain = next(record_sweep("digits", n_configs=1, epochs=2, seed=4, progress=False))
    assert plain.task == "digits/mlp-cnn-2ep" and "schedule" not in plain.config


def test_cli_record_schedules(tmp_path, capsys):
    out = tmp_path / "sched.jsonl.gz"
    assert main(["data", "record", "--dataset", "digits", "--configs", "2", "--epochs", "2",
                 "--seed", "1", "--schedules", "all", "--out", str(out), "--quiet"]) == 0
    curves = read_curves(out)
    assert len(curves) == 2 and all(c.config["schedule"] in SCHEDULES for c in curves)
    with pytest.raises(SystemExit):
        main(["data", "record", "--schedules", "cosine,triangle", "--out", str(out)])
    assert "unknown learning-rate schedule 'triangle'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--space mlp-cnn"):
        main(["data", "record", "--space", "nas201", "--schedules", "all", "--out", str(out)])
