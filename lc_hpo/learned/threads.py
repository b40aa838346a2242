"""Run a forecast on one intra-op thread, and give the user's torch thread count back afterwards.

A forecast is a few small matrix products: torch's default pool (one thread per core) buys it
nothing, and under load its threads fight the trials for the cores, so a ``should_prune()`` that
takes milliseconds alone can take far longer (docs/latency.md).

``torch.set_num_threads`` acts on the calling thread under torch's OpenMP backend (the usual
build) and on the whole process under its native one.  So each forecasting thread lowers the
count only if it is not 1 already and puts back the value it found, and only if the count is
still 1 when it leaves: overlapping forecasts in several threads never leave the count at 1, and a
count the user sets during a forecast is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_threaded() -> Iterator[None]:
    """Within the block torch runs intra-op work on one thread; the count found comes back after."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1 and torch.get_num_threads() == 1:
            torch.set_num_threads(before)
