"""Finding a trial's architecture graph for the framework adapters, without ever failing a trial.

``LCPruner`` and ``LCScheduler`` put each trial's graph on the curve they hand to the decision rule, so
an architecture-aware predictor (``lc_gode``) forecasts with it.  A trial names its graph in one of two
ways: stored with the trial (Optuna: :func:`lc_hpo.integrations.optuna.set_architecture`; Ray Tune: the
config key ``lc_arch``), or computed from its hyperparameters by a callable given to the adapter
(``arch=lambda params: ...``).  A trial without a graph, a callable that raises, or a graph that does
not parse must not crash or stop the trial: the curve then goes without a graph (the predictor's
graph-free path forecasts it) and one warning per kind of problem says so.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .arch import ArchError, ArchGraph, from_dict, from_module, from_nb201

#: The name under which a trial carries its graph: Optuna user attribute and Ray Tune config key.
ARCH_KEY = "lc_arch"

ArchFn = Callable[[Mapping[str, Any]], Any]

_CACHE_LIMIT = 4096


def as_graph(value: Any) -> ArchGraph:
    """An :class:`ArchGraph` from anything that names one.

    Accepts an ``ArchGraph``, the format's ``{"nodes": ..., "edges": ...}`` object, a NAS-Bench-201
    cell string, or a ``torch.nn.Module`` (traced with :func:`lc_hpo.arch.from_module`); anything else,
    or a malformed graph, raises :class:`~lc_hpo.arch.ArchError` saying what is wrong.
    """
    if isinstance(value, ArchGraph):
        return value
    if isinstance(value, Mapping):
        return from_dict(value)
    if isinstance(value, str):
        return from_nb201(value)
    torch = sys.modules.get("torch")  # a module can only exist if torch was imported
    if torch is not None and isinstance(value, torch.nn.Module):
        return from_module(value)
    raise ArchError(f"an architecture must be an ArchGraph, a {{'nodes': ..., 'edges': ...}} "
                    f"object, a NAS-Bench-201 cell string or a torch.nn.Module, got "
                    f"{type(value).__name__}")


def reads_arch(predictor: Any) -> bool:
    """Whether a predictor uses architecture graphs (class attribute ``uses_arch``)."""
    return bool(getattr(predictor, "uses_arch", False))


class ArchSource:
    """Each trial's graph for one adapter: from the trial itself, else from ``arch(params)``.

    ``warn`` is the decision rule's ``warn_once`` (one warning per kind of problem).  Results of the
    callable are cached by the trial's hyperparameters (a callable may trace a whole network), so it
    must depend on them alone.
    """

    def __init__(self, arch: ArchFn | None, warn: Callable[..., None], adapter: str,
                 predictor: Any = None) -> None:
        if arch is not None and not callable(arch):
            raise TypeError(f"arch must be a callable taking a trial's hyperparameters and "
                            f"returning its graph (or None), got {type(arch).__name__}; to give "
                            f"one graph per trial, store it with the trial ({ARCH_KEY!r})")
        self.arch = arch
        self._warn = warn
        self._adapter = adapter
        self._expects = reads_arch(predictor)
        self._seen = False  # some trial had a graph: a trial without one is then worth a warning
        self._cache: dict[str, ArchGraph | None] = {}

    def graph(self, trial: str, stored: Any = None, params: Mapping[str, Any] | None = None,
              quiet: bool = False) -> ArchGraph | None:
        """The graph of ``trial`` (a label for messages), or None when it has none it can use.

        ``stored`` is what the trial carries (None if nothing); ``params`` its hyperparameters, for
        the callable.  ``quiet`` skips the missing-graph warning (e.g. for finished trials read as
        context)."""
        if stored is not None:
            return self._parse(stored, trial, "stored with it")
        if self.arch is not None:
            key = _params_key(params)
            if key is not None and key in self._cache:
                return self._cache[key]
            graph = self._call(trial, params or {})
            if key is not None:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = graph
            return graph
        if not quiet and (self._seen or self._expects):
            self._missing(trial)
        return None

    def _call(self, trial: str, params: Mapping[str, Any]) -> ArchGraph | None:
        try:
            value = self.arch(dict(params))  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - a user's callable must never fail the trial
            self._warn(f"{self._adapter}: arch(params) raised for trial {trial} "
                       f"({type(exc).__name__}: {exc}); such trials are forecast without a graph "
                       "and never stopped for it", key="arch:callable")
            return None
        if value is None:
            self._missing(trial)
            return None
        return self._parse(value, trial, "returned by arch(params)")

    def _parse(self, value: Any, trial: str, origin: str) -> ArchGraph | None:
        try:
            graph = as_graph(value)
        except ArchError as exc:
            self._warn(f"{self._adapter}: the architecture {origin} for trial {trial} cannot be "
                       f"read ({exc}); such trials are forecast without a graph and never stopped "
                       "for it", key="arch:unreadable")
            return None
        self._seen = True
        return graph

    def _missing(self, trial: str) -> None:
        self._warn(f"{self._adapter}: trial {trial} has no architecture (store one with the "
                   f"trial as {ARCH_KEY!r}, or pass arch=callable); trials without one are "
                   "forecast without a graph", key="arch:missing")

    def __repr__(self) -> str:
        return f"ArchSource(arch={self.arch!r})"


def _params_key(params: Mapping[str, Any] | None) -> str | None:
    if params is None:
        return None
    try:
        return json.dumps(params, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys that do not sort: no caching
        return None
