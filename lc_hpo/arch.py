"""Architecture graphs: the network a learning curve was trained with, as labelled nodes and edges.

Architecture-aware predictors (``lc_gode``) read the graph of the trained network next to its curve.
One type, :class:`ArchGraph`, stands for every source of a graph: the curve-set format's ``arch`` object
(:func:`from_dict`), a NAS-Bench-201 cell string (:func:`from_nb201`) and a PyTorch module traced with
``torch.fx`` (:func:`from_module`).  Graphs are validated where they are made (a DAG of at most
:data:`MAX_NODES` nodes with string labels), so a malformed one fails with a message that says what is
wrong instead of deep inside a model.

:func:`node_label_ids` turns labels into integer ids from a fixed vocabulary; a label outside it is
hashed into a few extra buckets, so a network with operations no checkpoint has seen still encodes.

The module is framework-free: ``torch`` is imported only by :func:`from_module`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MAX_EDGES",
    "MAX_LABEL_CHARS",
    "MAX_NODES",
    "N_HASH_BUCKETS",
    "N_LABEL_IDS",
    "PAD_ID",
    "VOCABULARY",
    "ArchError",
    "ArchGraph",
    "adjacency",
    "edge_index",
    "from_dict",
    "from_module",
    "from_nb201",
    "label_id",
    "node_label_ids",
]

MAX_NODES = 1024
"""The largest graph accepted.  A traced network bigger than this is summarised badly by a small graph
encoder anyway; trace a block of it (e.g. one cell) instead."""
MAX_EDGES = 8 * MAX_NODES
MAX_LABEL_CHARS = 200


class ArchError(ValueError):
    """An architecture graph is malformed, or a network could not be turned into one."""


class ArchGraph(Mapping):  # type: ignore[type-arg]
    """An immutable directed acyclic graph of operations.

    ``nodes`` holds one operation label per node (``"conv2d"``, ``"nor_conv_3x3"``, ``"input"``, ...);
    ``edges`` holds ``(src, dst)`` pairs of 0-based node indices.  The graph must be a DAG without self
    loops or repeated edges; isolated nodes are allowed (an NB201 feature map whose every input edge is
    ``none``).

    It also reads as the format's ``{"nodes": ..., "edges": ...}`` mapping (``graph["nodes"]``), so code
    written for the dict keeps working.  Equality is by content (also against such a dict), and graphs
    are hashable.
    """

    __slots__ = ("_edges", "_hash", "_nodes")

    _nodes: tuple[str, ...]
    _edges: tuple[tuple[int, int], ...]
    _hash: int

    def __init__(self, nodes: Sequence[str], edges: Sequence[Sequence[int]]) -> None:
        node_t = _check_nodes(nodes)
        edge_t = _check_edges(edges, len(node_t))
        _check_acyclic(node_t, edge_t)
        object.__setattr__(self, "_nodes", node_t)
        object.__setattr__(self, "_edges", edge_t)
        object.__setattr__(self, "_hash", hash((node_t, edge_t)))

    # --- the graph --------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        return self._nodes

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return self._edges

    @property
    def n_nodes(self) -> int:
        return len(self._nodes)

    @property
    def n_edges(self) -> int:
        return len(self._edges)

    def to_dict(self) -> dict[str, Any]:
        """The curve-set format's ``arch`` object (JSON-ready lists)."""
        return {"nodes": list(self._nodes), "edges": [[s, d] for s, d in self._edges]}

    # --- read-only mapping with keys "nodes" and "edges" ------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key == "nodes":
            return self._nodes
        if key == "edges":
            return self._edges
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("nodes", "edges"))

    def __len__(self) -> int:
        return 2

    # --- value semantics --------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, ArchGraph):
            return self._hash == other._hash and self._nodes == other._nodes \
                and self._edges == other._edges
        if isinstance(other, Mapping):
            try:
                return self == from_dict(other)
            except ArchError:
                return False
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return self._hash

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ArchGraph is immutable; build a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ArchGraph is immutable; build a new one")

    def __reduce__(self) -> tuple[Any, ...]:  # pickling (Ray ships configs between processes)
        return (ArchGraph, (self._nodes, self._edges))

    def __repr__(self) -> str:
        shown = ", ".join(self._nodes[:6]) + (", ..." if len(self._nodes) > 6 else "")
        return f"ArchGraph({len(self._nodes)} nodes [{shown}], {len(self._edges)} edges)"


# --- validation -------------------------------------------------------------------------------
def _check_nodes(nodes: Any) -> tuple[str, ...]:
    if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Sequence):
        raise ArchError(f"arch nodes must be a list of operation labels, got "
                        f"{type(nodes).__name__}")
    if len(nodes) == 0:
        raise ArchError("arch graph is empty: nodes must hold at least one operation label")
    if len(nodes) > MAX_NODES:
        raise ArchError(f"arch graph has {len(nodes)} nodes, more than the limit of {MAX_NODES}; "
                        "describe a smaller part of the network (e.g. one repeated cell or block)")
    for i, label in enumerate(nodes):
        if not isinstance(label, str):
            raise ArchError(f"arch node {i} must be an operation label (a string), got "
                            f"{label!r} ({type(label).__name__})")
        if not label.strip():
            raise ArchError(f"arch node {i} has an empty label; name its operation")
        if len(label) > MAX_LABEL_CHARS:
            raise ArchError(f"arch node {i}'s label is {len(label)} characters long, more than "
                            f"{MAX_LABEL_CHARS}; use a short operation name")
    return tuple(nodes)


def _as_index(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    return None


def _check_edges(edges: Any, n: int) -> tuple[tuple[int, int], ...]:
    if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence):
        raise ArchError(f"arch edges must be a list of [src, dst] pairs, got {type(edges).__name__}")
    if len(edges) > MAX_EDGES:
        raise ArchError(f"arch graph has {len(edges)} edges, more than the limit of {MAX_EDGES}")
    out: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for k, e in enumerate(edges):
        if isinstance(e, (str, bytes)) or not isinstance(e, Sequence) or len(e) != 2:
            raise ArchError(f"arch edge {k} ({e!r}) must be a [src, dst] pair of node indices")
        s, d = _as_index(e[0]), _as_index(e[1])
        if s is None or d is None:
            raise ArchError(f"arch edge {k} ({list(e)!r}) must hold integer node indices")
        if not (0 <= s < n and 0 <= d < n):
            raise ArchError(f"arch edge {k} ({[s, d]}) dangles: node indices must be in 0..{n - 1} "
                            f"(the graph has {n} nodes)")
        if s == d:
            raise ArchError(f"arch edge {k} ({[s, d]}) is a self loop on node {s}; "
                            "the graph must be acyclic")
        if (s, d) in seen:
            raise ArchError(f"arch edge {k} ({[s, d]}) repeats an earlier edge; list each edge once")
        seen.add((s, d))
        out.append((s, d))
    return tuple(out)


def _check_acyclic(nodes: tuple[str, ...], edges: tuple[tuple[int, int], ...]) -> None:
    """Kahn's algorithm; on a cycle, name the nodes that are on it (or downstream of it)."""
    n = len(nodes)
    indeg = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for s, d in edges:
        indeg[d] += 1
        succ[s].append(d)
    ready = [i for i in range(n) if indeg[i] == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for j in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    if done < n:
        stuck = [i for i in range(n) if indeg[i] > 0]
        cycle = _find_cycle(stuck, succ, set(stuck))
        shown = " -> ".join(f"{i} ({nodes[i]})" for i in cycle)
        raise ArchError(f"arch graph has a cycle: {shown}; an architecture graph must be a DAG "
                        "(edges point from an operation's input to the operation)")


def _find_cycle(stuck: list[int], succ: list[list[int]], allowed: set[int]) -> list[int]:
    """One cycle among the nodes Kahn's algorithm could not order (each has a predecessor there)."""
    pred: dict[int, int] = {}
    for s in allowed:
        for d in succ[s]:
            if d in allowed:
                pred.setdefault(d, s)
    # Walking predecessors from any stuck node must revisit a node: that loop is a cycle.
    path: list[int] = []
    pos: dict[int, int] = {}
    i = stuck[0]
    while i not in pos:
        pos[i] = len(path)
        path.append(i)
        i = pred[i]
    cycle = path[pos[i]:][::-1]
    return cycle + [cycle[0]]


# --- sources ----------------------------------------------------------------------------------
def from_dict(d: Mapping[str, Any] | ArchGraph) -> ArchGraph:
    """The graph of the curve-set format's ``{"nodes": [...], "edges": [[src, dst], ...]}`` object."""
    if isinstance(d, ArchGraph):
        return d
    if not isinstance(d, Mapping):
        raise ArchError(f'arch must be an object with "nodes" and "edges", got {type(d).__name__}')
    missing = [k for k in ("nodes", "edges") if k not in d]
    if missing:
        raise ArchError(f'arch must be an object with "nodes" and "edges"; missing '
                        f'{", ".join(repr(k) for k in missing)}')
    return ArchGraph(d["nodes"], d["edges"])


_NB201_EDGE = re.compile(r"^([A-Za-z0-9_]+)~([0-9]+)$")


def from_nb201(cell: str) -> ArchGraph:
    """The ops-as-nodes DAG of a NAS-Bench-201 cell string ``|op~j|+|op~j|op~j|+|op~j|op~j|op~j|``.

    Group ``k`` (1-based) of the string lists the edges into feature map ``k``: ``op~j`` applies ``op``
    to feature map ``j < k``.  Feature maps become nodes ``input``, ``sum``, ..., ``output`` (indices
    ``0..K``); every edge whose op is not ``none`` becomes a node labelled with its op, appended in string
    order, with edges ``j -> op -> k``.  This is the convention of the ``arch`` field of the NB201 curves
    in the project's data, so ``from_nb201(curve.config["arch_str"]) == curve.arch`` there.
    """
    if not isinstance(cell, str):
        raise ArchError(f"a NAS-Bench-201 cell must be a string, got {type(cell).__name__}")
    text = cell.strip()
    example = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    if not (text.startswith("|") and text.endswith("|")) or len(text) < 3:
        raise ArchError(f"{cell!r} is not a NAS-Bench-201 cell string; expected e.g. {example!r}")
    groups = text.split("+")
    n_maps = len(groups) + 1
    nodes = ["input"] + ["sum"] * (n_maps - 2) + ["output"]
    edges: list[tuple[int, int]] = []
    for k, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 3:
            raise ArchError(f"group {k} ({group!r}) of cell {cell!r} must look like '|op~j|op~j|'")
        seen: set[int] = set()
        for token in group[1:-1].split("|"):
            m = _NB201_EDGE.match(token)
            if m is None:
                raise ArchError(f"edge {token!r} in group {k} of cell {cell!r} must be 'op~j' "
                                "(an operation name and the index of its input feature map)")
            op, j = m.group(1), int(m.group(2))
            if j >= k:
                raise ArchError(f"edge {token!r} in group {k} of cell {cell!r} reads feature map "
                                f"{j}, but feature map {k} can only read maps 0..{k - 1}")
            if j in seen:
                raise ArchError(f"feature map {k} of cell {cell!r} reads map {j} twice")
            seen.add(j)
            if op == "none":
                continue
            nodes.append(op)
            edges += [(j, len(nodes) - 1), (len(nodes) - 1, k)]
    return ArchGraph(nodes, edges)


def from_module(module: Any, example_input: Any = None) -> ArchGraph:
    """The graph of a PyTorch module, traced symbolically with ``torch.fx``.

    Every fx node becomes a graph node: placeholders are ``"input"``, the result is ``"output"``,
    submodule calls are labelled with the lower-cased class name (``"conv2d"``, ``"batchnorm2d"``,
    ``"relu"``, ``"linear"``), function and method calls with their name (``"add"``, ``"cat"``,
    ``"flatten"``; in-place ``add_``/``iadd`` as ``"add"``), parameters read directly as
    ``"parameter"``.  Edges follow the data flow.

    ``example_input`` (a tensor or a tuple of tensors), when given, is run once through the traced
    graph in eval mode without gradients, to check the trace is a network that runs on it; the module's
    training mode and weights are left as they were.

    A module fx cannot trace (data-dependent control flow, unsupported Python) raises
    :class:`ArchError` naming fx's reason.
    """
    try:
        import torch
        from torch import fx, nn
    except ImportError:  # pragma: no cover - torch is a dependency of the learned predictors
        raise ArchError("from_module needs PyTorch: pip install torch") from None
    if not isinstance(module, nn.Module):
        raise ArchError(f"from_module needs a torch.nn.Module, got {type(module).__name__}")
    name = type(module).__name__
    try:
        traced = fx.symbolic_trace(module)
    except Exception as exc:  # noqa: BLE001 - fx raises TraceError, TypeError, RuntimeError, NotImplementedError...
        raise ArchError(
            f"cannot trace {name} with torch.fx ({type(exc).__name__}: {exc}); fx needs a forward "
            "without control flow that depends on tensor values. Trace a traceable part of the "
            "network, or build the graph yourself with from_dict") from None
    fx_nodes = list(traced.graph.nodes)
    if len(fx_nodes) > MAX_NODES:
        raise ArchError(f"{name} traces to {len(fx_nodes)} operations, more than the limit of "
                        f"{MAX_NODES}; trace a smaller part of it (e.g. one repeated block)")
    index = {node: i for i, node in enumerate(fx_nodes)}
    labels = [_fx_label(node, traced) for node in fx_nodes]
    edges: list[tuple[int, int]] = []
    for node in fx_nodes:
        for src in dict.fromkeys(node.all_input_nodes):  # one edge per input, in argument order
            edges.append((index[src], index[node]))
    if example_input is not None:
        args = example_input if isinstance(example_input, tuple) else (example_input,)
        was_training = traced.training
        try:
            traced.eval()
            with torch.no_grad():
                traced(*args)
        except Exception as exc:  # noqa: BLE001 - whatever the network raises, named
            raise ArchError(f"{name} was traced, but the traced graph fails on example_input "
                            f"({type(exc).__name__}: {exc})") from None
        finally:
            traced.train(was_training)
    return ArchGraph(labels, edges)


_INPLACE_ALIASES = {"iadd": "add", "isub": "sub", "imul": "mul", "itruediv": "truediv"}


def _fx_label(node: Any, traced: Any) -> str:
    if node.op == "placeholder":
        return "input"
    if node.op == "output":
        return "output"
    if node.op == "get_attr":
        return "parameter"
    if node.op == "call_module":
        return type(traced.get_submodule(node.target)).__name__.lower()
    if node.op == "call_function":
        raw = getattr(node.target, "__name__", None) or str(node.target)
    else:  # call_method
        raw = str(node.target)
    label = raw.strip("_").lower()  # in-place methods (add_) read as their operation
    return _INPLACE_ALIASES.get(label, label) or "op"


# --- encoding ---------------------------------------------------------------------------------
VOCABULARY: tuple[str, ...] = (
    # graph ends and NAS-Bench-201 feature maps and operations
    "input", "output", "sum",
    "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none",
    # torch.nn modules (lower-cased class names) and common functions / methods
    "linear", "conv1d", "conv2d", "conv3d", "convtranspose2d",
    "relu", "relu6", "leakyrelu", "prelu", "elu", "gelu", "silu", "mish", "tanh", "sigmoid",
    "softmax", "logsoftmax",
    "batchnorm1d", "batchnorm2d", "layernorm", "groupnorm", "instancenorm2d",
    "dropout", "dropout2d",
    "maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d", "adaptiveavgpool1d", "adaptiveavgpool2d",
    "adaptivemaxpool2d",
    "flatten", "view", "reshape", "permute", "transpose", "contiguous",
    "add", "sub", "mul", "truediv", "matmul", "cat", "stack", "mean", "getitem", "getattr", "size",
    "identity", "embedding", "lstm", "gru", "rnn", "multiheadattention", "parameter",
    # labels of the project's own recorded sweeps (sizes stripped, see node_label_ids)
    "conv3x3", "conv1x1", "conv5x5",
)
"""The fixed label vocabulary.  Append only: a trained checkpoint's embedding rows follow these ids."""

PAD_ID = 0
"""Id 0 is never given to a label, so batches of graphs can be padded with it."""
N_HASH_BUCKETS = 16
_VOCAB_IDS = {label: i + 1 for i, label in enumerate(VOCABULARY)}
N_LABEL_IDS = 1 + len(VOCABULARY) + N_HASH_BUCKETS
"""The size of a label-embedding table: padding, the vocabulary, then the hash buckets."""

_SIZE_SUFFIX = re.compile(r"[-_]?[0-9]+$")


def label_id(label: str) -> int:
    """The id of one operation label (see :func:`node_label_ids`)."""
    key = label.strip().lower()
    if key in _VOCAB_IDS:
        return _VOCAB_IDS[key]
    base = _SIZE_SUFFIX.sub("", key)  # "linear64" -> "linear", "conv3x3-16" -> "conv3x3"
    if base in _VOCAB_IDS:
        return _VOCAB_IDS[base]
    return 1 + len(VOCABULARY) + zlib.crc32(key.encode("utf-8")) % N_HASH_BUCKETS


def node_label_ids(graph: ArchGraph | Mapping[str, Any]) -> np.ndarray:
    """One integer id per node, in ``1..N_LABEL_IDS - 1``.

    Labels are matched case-insensitively against :data:`VOCABULARY`, then with a trailing size removed
    (``"linear64"`` reads as ``"linear"``); any other label is hashed (CRC-32 of the lower-cased label,
    stable across runs and machines) into one of :data:`N_HASH_BUCKETS` buckets after the vocabulary.
    """
    g = from_dict(graph)
    return np.fromiter((label_id(label) for label in g.nodes), dtype=np.int64, count=g.n_nodes)


def edge_index(graph: ArchGraph | Mapping[str, Any]) -> np.ndarray:
    """The edges as a ``2 x E`` int64 array (rows: sources, destinations), torch-geometric's layout."""
    g = from_dict(graph)
    return np.asarray(g.edges, dtype=np.int64).reshape(-1, 2).T.copy()


def adjacency(graph: ArchGraph | Mapping[str, Any]) -> np.ndarray:
    """The dense ``n x n`` adjacency matrix (``A[src, dst] = 1``) as float32."""
    g = from_dict(graph)
    a = np.zeros((g.n_nodes, g.n_nodes), dtype=np.float32)
    if g.n_edges:
        idx = np.asarray(g.edges, dtype=np.int64)
        a[idx[:, 0], idx[:, 1]] = 1.0
    return a
