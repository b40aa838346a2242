"""Argument types and input reading shared by the ``lc-hpo`` subcommands.

A count of zero or less, or an empty curve file, used to get past argparse and fail deep inside the
work (a numpy IndexError, a process pool's "max_workers must be greater than 0", or an empty output
file written with exit status 0). These types make argparse refuse such values up front, naming the
option, with exit status 2 like every other input error of the command line.
"""

from __future__ import annotations

import argparse
import math
from typing import Sequence


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0."""
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def positive_limit(text: str) -> float:
    """A number above 0, or ``inf`` for no limit."""
    value = _float(text)
    if not value > 0:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"must be a positive number (or inf), got {text}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def read_curve_files(paths: Sequence[str], diverged_above: float | None = None) -> list:
    """The curves of ``paths`` (values beyond ``diverged_above`` marked diverged); an error if the
    files hold none, instead of a result computed on nothing."""
    from .curveset import mark_diverged, read_curves

    curves = mark_diverged(read_curves(list(paths)), diverged_above)
    if not curves:
        raise ValueError(f"{', '.join(map(str, paths))}: no curves in "
                         f"{'this file' if len(paths) == 1 else 'these files'}")
    return curves
