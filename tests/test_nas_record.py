"""Recording a NAS sweep: real cell networks trained on digits, every curve with its cell's graph."""

from __future__ import annotations

import numpy as np
import torch

from lc_hpo import read_curves
from lc_hpo.arch import ArchGraph, from_nb201
from lc_hpo.bench.sources.nas_record import nas_task, record_nas_sweep
from lc_hpo.bench.tasks.datasets import load_dataset
from lc_hpo.bench.tasks.nas import (CELL_OPS, NASTrainer, build_nas_model, nas_arch,
                                    sample_nas_config)
from lc_hpo.cli import main

torch.set_num_threads(1)
SMALL = {"cell": "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|"
                 "skip_connect~2|", "depth": 1, "width": 4}


def test_sampled_space_builds_and_describes_itself():
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = sample_nas_config(rng)
        graph = nas_arch(config)
        ops = [tok.split("~")[0] for tok in config["cell"].replace("+", "").split("|") if tok]
        assert len(ops) == 6 and set(ops) <= set(CELL_OPS)
        assert graph.nodes[4:] == tuple(op for op in ops if op != "none")
    out = build_nas_model(SMALL, 10)(torch.zeros(3, 1, 8, 8))
    assert out.shape == (3, 10)


def test_paused_training_resumes_exactly():
    data = load_dataset("digits")
    straight = NASTrainer(SMALL, data, epochs=3, seed=1)
    a = [straight.epoch().val_accuracy for _ in range(2)]
    first = NASTrainer(SMALL, data, epochs=3, seed=1)
    b = [first.epoch().val_accuracy]
    resumed = NASTrainer(SMALL, data, epochs=3, seed=99)  # another seed: the state must win
    resumed.load_state_dict(first.state_dict())
    b.append(resumed.epoch().val_accuracy)
    assert b == a and resumed.epochs_done == 2


def test_recorded_sweep_has_a_graph_on_every_curve(tmp_path):
    curves = list(record_nas_sweep("digits", n_configs=2, epochs=2, seed=3, progress=False))
    assert [c.config_id for c in curves] == ["3-0", "3-1"]
    for c in curves:
        assert c.task == nas_task("digits", 2) == "digits/nb201-cells-2ep"
        assert isinstance(c.arch, ArchGraph) and c.arch == from_nb201(c.config["cell"])
        assert c.is_complete and c.metric == "val_accuracy" and c.mode == "max"
        assert np.all((c.values >= 0) & (c.values <= 1)) and set(c.extra) == {"val_loss",
                                                                             "train_loss"}


def test_cli_records_a_nas_sweep_with_arch(tmp_path, capsys):
    out = tmp_path / "nas.jsonl.gz"
    assert main(["data", "record", "--space", "nas201", "--configs", "1", "--epochs", "1",
                 "--seed", "5", "--out", str(out), "--quiet"]) == 0
    assert "wrote 1 curves" in capsys.readouterr().out
    (curve,) = read_curves(out)
    assert curve.arch == from_nb201(curve.config["cell"]) and curve.max_step == 1
