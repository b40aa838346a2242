"""Architecture graphs: built from real PyTorch modules, NB201 cell strings and the curve-set format."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import lc_hpo.arch
from lc_hpo import Curve, CurveError, CurveSetError, read_curves, write_curves
from lc_hpo.arch import (
    MAX_NODES,
    N_LABEL_IDS,
    VOCABULARY,
    ArchError,
    ArchGraph,
    from_dict,
    from_module,
    from_nb201,
    node_label_ids,
)
from lc_hpo.bench.tasks.nas import NB201Cell, build_nas_model, cell_string

from .conftest import SHARED

torch.set_num_threads(1)
NB201 = SHARED / "data" / "nb201" / "nb201_cifar10_140.jsonl"
CELL = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


# --- real modules ----------------------------------------------------------------------------
def test_mlp_traces_to_a_chain_of_its_layers():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1),
                        nn.Linear(32, 10))
    g = from_module(mlp, torch.zeros(4, 1, 8, 8))
    assert g.nodes == ("input", "flatten", "linear", "relu", "dropout", "linear", "output")
    assert g.edges == tuple((i, i + 1) for i in range(6))
    assert mlp.training  # tracing and the check run leave the module's mode alone


def test_small_cnn_labels_modules_and_functions():
    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.fc = nn.Linear(8 * 4 * 4, 10)

        def forward(self, x):
            x = nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
            return self.fc(torch.flatten(x, 1))

    model = CNN()
    before = model.bn.running_mean.clone()
    g = from_module(model, torch.randn(4, 1, 8, 8))
    assert g.nodes == ("input", "conv2d", "batchnorm2d", "relu", "max_pool2d", "flatten", "linear",
                       "output")
    torch.testing.assert_close(model.bn.running_mean, before)  # no batch-norm statistics updated


def test_residual_block_has_the_skip_edge():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))

    g = from_module(Residual(), torch.randn(2, 4, 6, 6))
    add = g.nodes.index("add")
    into_add = {s for s, d in g.edges if d == add}
    assert {g.nodes[s] for s in into_add} == {"input", "conv2d"}  # the skip connection and the branch
    assert g.nodes == ("input", "conv2d", "relu", "conv2d", "add", "relu", "output")
    assert g.n_edges == 7  # the chain of six and the skip


def test_nb201_cell_module_matches_its_string():
    cell = NB201Cell(CELL, channels=4)
    g = from_module(cell, torch.randn(2, 4, 5, 5))
    cg = from_nb201(CELL)
    counts = {label: g.nodes.count(label) for label in set(g.nodes)}
    ops = cg.nodes[4:]  # the op nodes of the cell graph
    convs = ops.count("nor_conv_3x3") + ops.count("nor_conv_1x1")
    assert counts["conv2d"] == counts["batchnorm2d"] == convs == 3
    assert counts["avgpool2d"] == ops.count("avg_pool_3x3") == 1
    assert counts["identity"] == ops.count("skip_connect") == 1
    # sums: one add per feature map with k inputs needs k - 1 adds
    assert counts["add"] == (2 - 1) + (2 - 1) == 2
    assert cell(torch.randn(2, 4, 5, 5)).shape == (2, 4, 5, 5)


def test_whole_cell_network_traces_within_the_bound():
    model = build_nas_model({"cell": CELL, "depth": 2, "width": 4}, n_classes=10)
    g = from_module(model, torch.randn(2, 1, 8, 8))
    assert 20 < g.n_nodes <= MAX_NODES and g.nodes[0] == "input" and g.nodes[-1] == "output"


def test_untraceable_module_names_why():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ArchError, match="cannot trace Branchy with torch.fx.*control flow"):
        from_module(Branchy())
    with pytest.raises(ArchError, match="needs a torch.nn.Module"):
        from_module(lambda x: x)


def test_trace_that_fails_on_the_example_input_is_an_error():
    with pytest.raises(ArchError, match="fails on example_input"):
        from_module(nn.Linear(3, 2), torch.zeros(1, 5))


def test_oversized_module_is_refused():
    big = nn.Sequential(*[nn.ReLU() for _ in range(MAX_NODES)])
    with pytest.raises(ArchError, match=f"more than the limit of {MAX_NODES}"):
        from_module(big)


# --- NAS-Bench-201 strings -------------------------------------------------------------------
def test_nb201_string_to_ops_as_nodes_dag():
    g = from_nb201("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert g.nodes == ("input", "sum", "sum", "output", "nor_conv_3x3", "skip_connect",
                       "avg_pool_3x3", "nor_conv_1x1")
    assert g.edges == ((0, 4), (4, 1), (0, 5), (5, 2), (0, 6), (6, 3), (1, 7), (7, 3))


@pytest.mark.parametrize("bad, match", [
    ("nor_conv_3x3~0", "not a NAS-Bench-201 cell string"),
    ("|nor_conv_3x3~1|+|skip_connect~0|none~1|", "can only read maps 0..0"),
    ("|conv 3x3~0|", "must be 'op~j'"),
    ("|skip_connect~0|+|skip_connect~0|skip_connect~0|", "reads map 0 twice"),
])
def test_malformed_nb201_strings(bad, match):
    with pytest.raises(ArchError, match=match):
        from_nb201(bad)


def test_cell_string_round_trip():
    ops = ["nor_conv_3x3", "avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "none"]
    s = cell_string(ops)
    assert s == "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    assert from_nb201(s).nodes[4:] == tuple(op for op in ops if op != "none")


def test_nb201_strings_match_the_shared_curves_arch():
    if not NB201.exists():
        pytest.skip(f"the shared NAS-Bench-201 sample is not at {NB201}")
    curves = read_curves(NB201)
    assert len(curves) == 140
    for c in curves:
        assert from_nb201(c.config["arch_str"]) == c.arch


# --- malformed graphs ------------------------------------------------------------------------
@pytest.mark.parametrize("d, match", [
    ({"nodes": [], "edges": []}, "empty"),
    ({"nodes": ["a", "b", "c"], "edges": [[0, 1], [1, 2], [2, 1]]}, r"cycle: 2 \(c\) -> 1 \(b\)"),
    ({"nodes": ["a", "b"], "edges": [[0, 2]]}, "dangles"),
    ({"nodes": ["a", "b"], "edges": [[-1, 1]]}, "dangles"),
    ({"nodes": ["a"], "edges": [[0, 0]]}, "self loop"),
    ({"nodes": ["a", 3], "edges": []}, "node 1 must be an operation label"),
    ({"nodes": ["a", " "], "edges": []}, "empty label"),
    ({"nodes": "abc", "edges": []}, "list of operation labels"),
    ({"nodes": ["a", "b"], "edges": [[0, 1], [0, 1]]}, "repeats"),
    ({"nodes": ["a", "b"], "edges": [[0, True]]}, "integer node indices"),
    ({"nodes": ["a", "b"], "edges": [[0, 1, 2]]}, r"\[src, dst\] pair"),
    ({"nodes": ["a"]}, "missing 'edges'"),
    ({"nodes": ["x"] * (MAX_NODES + 1), "edges": []}, "more than the limit"),
])
def test_malformed_graphs_say_what_is_wrong(d, match):
    with pytest.raises(ArchError, match=match):
        from_dict(d)


def test_curve_rejects_malformed_arch_as_curve_error():
    with pytest.raises(CurveError, match="arch: arch graph has a cycle"):
        Curve(steps=[1], values=[0.5], mode="max", arch={"nodes": ["a", "b"],
                                                         "edges": [[0, 1], [1, 0]]})


def test_curve_set_line_with_cyclic_arch_names_the_line(tmp_path):
    rec = {"task": "t", "config_id": "0", "config": {}, "metric": "m", "mode": "max",
           "steps": [1], "values": [0.5], "arch": {"nodes": ["a", "b"], "edges": [[0, 1], [1, 0]]}}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(CurveSetError, match=r"bad.jsonl:1: arch: .*cycle"):
        read_curves(path)


# --- the graph type --------------------------------------------------------------------------
def test_graph_is_an_immutable_hashable_mapping():
    g = from_dict({"nodes": ["input", "linear", "output"], "edges": [[0, 1], [1, 2]]})
    assert g["nodes"] == ("input", "linear", "output") and list(g) == ["nodes", "edges"]
    assert dict(g)["edges"] == ((0, 1), (1, 2))
    assert g == {"nodes": ["input", "linear", "output"], "edges": [[0, 1], [1, 2]]}
    assert g != {"nodes": ["input", "linear", "output"], "edges": [[0, 1]]}
    assert g != {"nodes": ["x"], "edges": [[0, 0]]}  # a malformed dict is simply unequal
    assert len({g, from_dict(g.to_dict()), ArchGraph(list(g.nodes), list(g.edges))}) == 1
    assert pickle.loads(pickle.dumps(g)) == g
    with pytest.raises(AttributeError, match="immutable"):
        g.nodes = ("x",)  # type: ignore[misc]
    with pytest.raises(KeyError):
        g["labels"]
    assert json.loads(json.dumps(g.to_dict())) == {"nodes": ["input", "linear", "output"],
                                                   "edges": [[0, 1], [1, 2]]}
    assert from_dict({"nodes": ["a", "b"], "edges": [(np.int64(0), np.int32(1))]}).edges == ((0, 1),)


def test_label_ids_known_sized_and_unseen():
    g = from_dict({"nodes": ["input", "nor_conv_3x3", "Conv2d", "linear64", "conv3x3-16",
                             "my_custom_op", "my_custom_op", "another_op", "output"],
                   "edges": [[i, i + 1] for i in range(8)]})
    ids = node_label_ids(g)
    vocab = {label: i + 1 for i, label in enumerate(VOCABULARY)}
    assert ids.dtype == np.int64 and ids.shape == (9,)
    assert ids[0] == vocab["input"] and ids[1] == vocab["nor_conv_3x3"] and ids[8] == vocab["output"]
    assert ids[2] == vocab["conv2d"]  # case-insensitive
    assert ids[3] == vocab["linear"] and ids[4] == vocab["conv3x3"]  # sizes stripped
    assert ids[5] == ids[6] > len(VOCABULARY)  # unseen: hashed, the same label to the same bucket
    assert np.all((ids >= 1) & (ids < N_LABEL_IDS))
    assert ids[5] == lc_hpo.arch.label_id("MY_CUSTOM_OP")  # stable, case-insensitive hashing
    assert lc_hpo.arch.adjacency(g).sum() == 8 and lc_hpo.arch.edge_index(g).shape == (2, 8)


# --- curves and the curve-set format ---------------------------------------------------------
@pytest.mark.parametrize("name", ["arch.jsonl", "arch.jsonl.gz"])
def test_curve_set_round_trip_keeps_graphs(tmp_path, name):
    graphs = [from_nb201(CELL), from_module(nn.Sequential(nn.Linear(3, 4), nn.Tanh())),
              {"nodes": ["input", "weird"], "edges": [[0, 1]]}]
    curves = [Curve(steps=[1, 2], values=[0.1, 0.2], mode="max", task="t", config_id=str(i),
                    arch=g) for i, g in enumerate(graphs)]
    assert all(isinstance(c.arch, ArchGraph) for c in curves)
    write_curves(curves + [Curve(steps=[1], values=[0.3], mode="max", task="t", config_id="x")],
                 tmp_path / name)
    back = read_curves(tmp_path / name)
    for c, g in zip(back, graphs):
        assert isinstance(c.arch, ArchGraph) and c.arch == g
        assert c.arch["nodes"][0] == g["nodes"][0]  # the mapping view still reads
    assert back[3].arch is None
    assert back[0].replace(values=[0.5, 0.6]).arch == back[0].arch
