"""LC-GODE's graph encoder: two graph-convolution layers and attention pooling to one embedding.

Architecture graphs here are small (an NB201 cell has 5-10 nodes, a traced MLP or CNN a few dozen), so
the layers work on dense, padded adjacency matrices: one batched matrix product per layer, no
scatter/gather.  ``benchmarks/lc_gode_gcn_speed.py`` measures this against torch-geometric's
``GCNConv`` on such graphs (docs/lc_gode.md); the dense form is the faster one there and needs no
optional dependency.

As in the authors' code: node features are the operation label (here a learned embedding of the id
:func:`lc_hpo.arch.node_label_ids` gives) and the node's in- and out-degree; the GCN propagates with
``D^-1/2 (A + 0.5 I) D^-1/2`` and has no non-linearity between its two layers; a gated attention
pooling reads the graph out.  Edges are used in both directions (a DAG's messages would otherwise only
flow downstream); direction enters through the degree features.  ``GAT`` is the selectable alternative
(one attention head per layer, masked to the graph's edges and self loops).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .. import arch as arch_mod

SELF_LOOP = 0.5


@dataclass(frozen=True)
class GraphBatch:
    """Padded graphs: label ``ids`` (B, n) with 0 = padding, ``adj`` (B, n, n), node ``mask`` (B, n)."""

    ids: torch.Tensor
    adj: torch.Tensor
    mask: torch.Tensor

    @classmethod
    def from_graphs(cls, graphs: Sequence[Mapping[str, Any]]) -> "GraphBatch":
        """Pad the graphs (``ArchGraph`` or ``{"nodes", "edges"}`` mappings) of one batch."""
        parsed = [arch_mod.from_dict(g) for g in graphs]
        n = max([1] + [g.n_nodes for g in parsed])
        ids = np.zeros((len(parsed), n), dtype=np.int64)
        adj = np.zeros((len(parsed), n, n), dtype=np.float32)
        for i, g in enumerate(parsed):
            ids[i, : g.n_nodes] = arch_mod.node_label_ids(g)
            adj[i, : g.n_nodes, : g.n_nodes] = arch_mod.adjacency(g)
        ids_t = torch.from_numpy(ids)
        return cls(ids_t, torch.from_numpy(adj), ids_t > 0)


def _degree_features(adj: torch.Tensor) -> torch.Tensor:
    """log(1 + in-degree), log(1 + out-degree) per node, (B, n, 2)."""
    return torch.stack([torch.log1p(adj.sum(1)), torch.log1p(adj.sum(2))], dim=-1)


def normalised_adjacency(adj: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``D^-1/2 (A + A^T + 0.5 I) D^-1/2`` on real nodes, zero on padding, (B, n, n)."""
    sym = ((adj + adj.transpose(1, 2)) > 0).to(adj.dtype)
    m = mask.to(adj.dtype)
    a = sym + SELF_LOOP * torch.diag_embed(m)
    deg = a.sum(-1).clamp_min(1e-12)
    d = deg.rsqrt() * m
    return d[:, :, None] * a * d[:, None, :]


class DenseGCNLayer(nn.Module):
    """``H' = Â H W``: one graph convolution on dense padded graphs."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out)

    def forward(self, h: torch.Tensor, a_hat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return a_hat @ self.lin(h)


class DenseGATLayer(nn.Module):
    """One-head graph attention restricted to each node's neighbours (either direction) and itself."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out)
        self.att_src = nn.Parameter(torch.randn(d_out) * 0.1)
        self.att_dst = nn.Parameter(torch.randn(d_out) * 0.1)

    def forward(self, h: torch.Tensor, a_hat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.lin(h)
        scores = nn.functional.leaky_relu((x @ self.att_dst)[:, :, None]
                                          + (x @ self.att_src)[:, None, :], 0.2)
        scores = scores.masked_fill(a_hat <= 0, float("-inf"))
        alpha = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # padded rows have no neighbour
        return alpha @ x


class GraphEncoder(nn.Module):
    """Two GCN (or GAT) layers and attention pooling: a graph batch → (B, ``out_dim``) embeddings."""

    def __init__(self, n_labels: int, out_dim: int = 16, hidden: int = 32, label_dim: int = 16,
                 layer: str = "gcn") -> None:
        super().__init__()
        if layer not in ("gcn", "gat"):
            raise ValueError(f"graph layer must be 'gcn' or 'gat', got {layer!r}")
        cls = DenseGCNLayer if layer == "gcn" else DenseGATLayer
        self.embed = nn.Embedding(n_labels, label_dim, padding_idx=0)
        self.layer1 = cls(label_dim + 2, hidden)
        self.layer2 = cls(hidden, out_dim)
        self.gate = nn.Linear(out_dim, 1)

    def forward(self, g: GraphBatch) -> torch.Tensor:
        a_hat = normalised_adjacency(g.adj, g.mask)
        h = torch.cat([self.embed(g.ids), _degree_features(g.adj)], dim=-1)
        h = self.layer2(self.layer1(h, a_hat, g.mask), a_hat, g.mask)  # no non-linearity between
        score = self.gate(torch.tanh(h)).squeeze(-1).masked_fill(~g.mask, float("-inf"))
        alpha = torch.softmax(score, dim=-1).nan_to_num(0.0)
        return (alpha[:, :, None] * h).sum(1)
