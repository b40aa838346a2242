"""Reading and writing curve sets: JSON Lines, one curve per line, optionally gzip-compressed.

The format (version 1) is the project's interchange format: benchmarks and meta-training read it, sweeps
record it.  Errors name the file and the line, because curve sets are often large and hand-edited.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import zlib
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Sequence

import numpy as np

from .curve import Curve, CurveError, check_arch

PathLike = str | os.PathLike

_REQUIRED = ("task", "config_id", "config", "metric", "mode", "steps", "values")


class CurveSetError(ValueError):
    """A curve-set file could not be read; the message names the file and line."""


def _is_gzip(path: Path) -> bool:
    return path.suffix == ".gz"


def _open_text(path: Path, mode: str, gz: bool | None = None) -> IO[str]:
    if _is_gzip(path) if gz is None else gz:
        return io.TextIOWrapper(gzip.GzipFile(path, mode + "b"), encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not a JSON number; write null for a diverged measurement")


def curve_from_record(record: dict[str, Any]) -> Curve:
    """Build a :class:`Curve` from one decoded JSON object of the format."""
    if not isinstance(record, dict):
        raise CurveError(f"a line must hold a JSON object, got {type(record).__name__}")
    missing = [k for k in _REQUIRED if k not in record]
    if missing:
        raise CurveError(f"missing required field(s): {', '.join(missing)}")
    for key in ("task", "config_id", "metric"):
        if not isinstance(record[key], str):
            raise CurveError(f"{key} must be a string, got {record[key]!r}")
    if not isinstance(record["config"], dict):
        raise CurveError("config must be an object")
    for key in ("steps", "values"):
        if not isinstance(record[key], list):
            raise CurveError(f"{key} must be an array")
    if any(isinstance(s, bool) or not isinstance(s, int) for s in record["steps"]):
        raise CurveError("steps must be integers")
    if any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))
           for v in record["values"]):
        raise CurveError("values must be numbers or null")
    extra = record.get("extra") or {}
    if not isinstance(extra, dict):
        raise CurveError("extra must be an object of per-step series")
    return Curve(
        steps=np.asarray(record["steps"], dtype=np.int64),
        values=record["values"],
        mode=record["mode"],
        max_step=record.get("max_step"),
        task=record["task"],
        config_id=record["config_id"],
        config=record["config"],
        metric=record["metric"],
        step_cost=record.get("step_cost"),
        arch=record.get("arch"),
        extra=extra,
    )


def iter_curves(path: PathLike) -> Iterator[Curve]:
    """Yield the curves of one curve-set file, in file order."""
    path = Path(path)
    if not path.exists():
        raise CurveSetError(f"{path}: no such curve-set file")
    first_line: dict[tuple[str, str], int] = {}  # (task, config_id) -> line of its first curve
    try:
        with _open_text(path, "r") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, parse_constant=_reject_constant)
                    curve = curve_from_record(record)
                except (json.JSONDecodeError, CurveError, ValueError, TypeError,
                        OverflowError) as exc:  # any bad field, named with its file and line
                    raise CurveSetError(f"{path}:{lineno}: {exc}") from None
                except RecursionError:
                    raise CurveSetError(f"{path}:{lineno}: JSON nested too deeply to be a curve "
                                        "record") from None
                key = (curve.task, curve.config_id)
                if key in first_line:
                    raise CurveSetError(
                        f"{path}:{lineno}: config_id {curve.config_id!r} of task {curve.task!r} "
                        f"repeats line {first_line[key]}; a config_id must be unique within its "
                        "task (the curve-set format: README, \"Command line\")")
                first_line[key] = lineno
                yield curve
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:  # corrupt or truncated gzip
        raise CurveSetError(f"{path}: cannot read ({type(exc).__name__}: {exc}); the file is "
                            "corrupt or truncated") from None


def read_curves(paths: PathLike | Sequence[PathLike]) -> list[Curve]:
    """Read one or several curve-set files (``.jsonl`` or ``.jsonl.gz``) into a list of curves."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    curves: list[Curve] = []
    for p in paths:
        curves.extend(iter_curves(p))
    return curves


def curve_to_record(curve: Curve) -> dict[str, Any]:
    """The JSON object of one curve (non-finite values become ``null``)."""

    def nums(arr: np.ndarray) -> list[float | None]:
        return [float(v) if math.isfinite(v) else None for v in arr.tolist()]

    record: dict[str, Any] = {
        "task": curve.task,
        "config_id": curve.config_id,
        "config": dict(curve.config),
        "metric": curve.metric,
        "mode": curve.mode,
        "steps": [int(s) for s in curve.steps],
        "values": nums(curve.values),
    }
    if curve.max_step is not None:
        record["max_step"] = int(curve.max_step)
    if curve.step_cost is not None:
        record["step_cost"] = nums(curve.step_cost)
    if curve.arch is not None:
        record["arch"] = check_arch(curve.arch).to_dict()  # already an ArchGraph: returned as is
    if curve.extra:
        record["extra"] = {k: nums(v) for k, v in curve.extra.items()}
    return record


def write_curves(curves: Iterable[Curve], path: PathLike, append: bool = False) -> int:
    """Write curves to ``path`` (gzip if it ends in ``.gz``); returns how many were written.

    The file is written to a temporary name and renamed into place, so a crash never leaves half a
    file behind (unless ``append`` is set, which adds lines to an existing file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if append:
        with _open_text(path, "a") as fh:
            for curve in curves:
                fh.write(json.dumps(curve_to_record(curve), allow_nan=False) + "\n")
                n += 1
        return n
    tmp = path.with_name(path.name + ".tmp")
    try:
        with _open_text(tmp, "w", gz=_is_gzip(path)) as fh:
            for curve in curves:
                fh.write(json.dumps(curve_to_record(curve), allow_nan=False) + "\n")
                n += 1
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n


def mark_diverged(curves: Iterable[Curve], above: float | None) -> list[Curve]:
    """Curves with every value whose magnitude exceeds ``above`` marked diverged (NaN).

    Some curve sets record divergence as huge finite numbers (a cross-entropy of 1e18) rather than
    ``null``; one such value outweighs every other error in a mean.  ``above=None`` changes nothing.
    """
    curves = list(curves)
    if above is None:
        return curves
    if not above > 0:
        raise ValueError(f"the divergence threshold must be positive, got {above}")
    out = []
    for c in curves:
        bad = np.abs(c.values) > above
        out.append(c.replace(values=np.where(bad, np.nan, c.values)) if bad.any() else c)
    return out


def group_by_task(curves: Iterable[Curve]) -> dict[str, list[Curve]]:
    """Curves grouped by task, tasks in order of first appearance.

    A task's curves are compared with one another (incumbents, standings, replays), so a task whose
    curves disagree on the direction is an error here, for every benchmark alike."""
    groups: dict[str, list[Curve]] = {}
    for c in curves:
        groups.setdefault(c.task, []).append(c)
    for task, cs in groups.items():
        modes = {c.mode for c in cs}
        if len(modes) > 1:
            raise ValueError(f"task {task!r} mixes modes {sorted(modes)}; the curves of one task "
                             "are compared with each other, so they need one metric and mode")
    return groups
