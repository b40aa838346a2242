"""Checkpoints of learned predictors: weights and metadata, loaded without executing any pickle.

A checkpoint is a ``torch.save`` of plain data (tensors, strings, numbers, lists, dicts) and is read
with ``torch.load(weights_only=True)``, which refuses anything that would run code.  It carries what it
was trained on, its normalisation, its calibration and versions, so a wrong or corrupt file fails
with a message that says what is wrong instead of a stack trace from deep inside PyTorch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FORMAT = "lc-hpo-predictor"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or not what the caller expected."""


def save_checkpoint(path: str | os.PathLike, kind: str, state_dict: dict[str, torch.Tensor],
                    config: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a temporary file renamed into place)."""
    from .. import __version__

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "lc_hpo_version": __version__,
        "config": config,
        "metadata": metadata,
        "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read a checkpoint as weights only; check its format and, if given, its kind."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give the checkpoint file inside it (.pt)")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or holding objects that would need a pickle
        # torch's own message suggests weights_only=False, the unsafe load this library never
        # does, so it is not passed on.
        raise CheckpointError(
            f"{path}: not a readable lc-hpo checkpoint ({type(exc).__name__}): it is corrupt or "
            "truncated, or holds Python objects that only an unsafe pickle load could read, and "
            "lc-hpo loads checkpoints as weights only; use a file written by 'lc-hpo train'"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an lc-hpo predictor checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {payload.get('format_version')} is not supported "
            f"by this lc-hpo (reads version {FORMAT_VERSION}); retrain it with 'lc-hpo train'"
        )
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(
            f"{path}: holds a {payload.get('kind')!r} model, not a {kind!r} one"
        )
    for key in ("config", "metadata", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path}: checkpoint lacks its {key}")
    return payload
