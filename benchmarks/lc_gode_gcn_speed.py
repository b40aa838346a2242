"""Dense GCN (lc_hpo.learned.graph_encoder) against torch-geometric's GCNConv on small graphs.

Times two graph-convolution layers (forward, and forward + backward) over a batch of random DAGs of
4-20 nodes, the sizes of NAS cells and small traced networks, alternating the two implementations so
both see the same machine load.  Prints a markdown table of median milliseconds per batch.

    .venv/bin/python benchmarks/lc_gode_gcn_speed.py --batches 32,100 --repeats 50
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lc_hpo.arch import ArchGraph
from lc_hpo.learned.graph_encoder import DenseGCNLayer, GraphBatch, normalised_adjacency


def random_dags(n: int, rng: np.random.Generator) -> list[ArchGraph]:
    out = []
    for _ in range(n):
        k = int(rng.integers(4, 21))
        edges = [(i, j) for i in range(k) for j in range(i + 1, k) if rng.random() < 2.0 / k]
        out.append(ArchGraph(["conv2d"] * k, edges))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="32,100")
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from torch_geometric.nn import GCNConv

    rng = np.random.default_rng(0)
    d_in, d_out = 18, 32
    print("| graphs per batch | pass | dense GCN (ms) | torch-geometric GCNConv (ms) |")
    print("|---:|---|---:|---:|")
    for b in [int(x) for x in args.batches.split(",")]:
        graphs = random_dags(b, rng)
        dense1, dense2 = DenseGCNLayer(d_in, d_out), DenseGCNLayer(d_out, 16)
        pyg1, pyg2 = GCNConv(d_in, d_out), GCNConv(d_out, 16)

        def run_dense(backward: bool) -> None:
            g = GraphBatch.from_graphs(graphs)  # padding is part of the cost
            x = torch.randn(*g.ids.shape, d_in)
            a = normalised_adjacency(g.adj, g.mask)
            h = dense2(dense1(x, a, g.mask), a, g.mask)
            out = (h * g.mask[..., None]).sum((1, 2))
            if backward:
                out.sum().backward()

        def run_pyg(backward: bool) -> None:
            # the same graphs as one disjoint union, edges both ways (GCNConv adds self loops)
            offs = np.cumsum([0] + [g.n_nodes for g in graphs])
            src, dst = [], []
            for o, g in zip(offs, graphs):
                for s, d in g.edges:
                    src += [o + s, o + d]
                    dst += [o + d, o + s]
            ei = torch.tensor([src, dst], dtype=torch.long)
            x = torch.randn(int(offs[-1]), d_in)
            h = pyg2(pyg1(x, ei), ei)
            if backward:
                h.sum().backward()

        for backward in (False, True):
            times: dict[str, list[float]] = {"dense": [], "pyg": []}
            for _ in range(args.repeats):
                for name, fn in (("dense", run_dense), ("pyg", run_pyg)):
                    t = time.perf_counter()
                    fn(backward)
                    times[name].append(time.perf_counter() - t)
            print(f"| {b} | {'forward + backward' if backward else 'forward'} | "
                  f"{1e3 * np.median(times['dense']):.2f} | {1e3 * np.median(times['pyg']):.2f} |")


if __name__ == "__main__":
    main()
