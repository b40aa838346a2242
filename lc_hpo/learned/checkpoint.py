"""Checkpoints of learned predictors: weights and metadata, loaded without executing any pickle.

A checkpoint is a ``torch.save`` of plain data (tensors, strings, numbers, lists, dicts) and is read
with ``torch.load(weights_only=True)``, which refuses anything that would run code.  It carries what it
was trained on, its normalisation, its calibration and versions, so a wrong or corrupt file fails
with a message that says what is wrong instead of a stack trace from deep inside PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

FORMAT = "lc-hpo-predictor"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or not what the caller expected."""


def content_hash(kind: str, config: dict[str, Any], metadata: dict[str, Any],
                 state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of what a checkpoint holds: kind, config, metadata and every tensor's name, dtype,
    shape and bytes.  Stored in the file, it makes corruption (a flipped byte in a weight, which a
    zip reader need not notice) an error at load time instead of a silently wrong model."""
    h = hashlib.sha256()
    head = json.dumps({"kind": kind, "config": config, "metadata": metadata}, sort_keys=True,
                      default=repr)
    h.update(head.encode())
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, kind: str, state_dict: dict[str, torch.Tensor],
                    config: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a temporary file renamed into place)."""
    from .. import __version__

    weights = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "lc_hpo_version": __version__,
        "config": config,
        "metadata": metadata,
        "state_dict": weights,
        "content_sha256": content_hash(kind, config, metadata, weights),
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
    if not all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values()):
        raise CheckpointError(f"{path}: its weights are not all tensors; it is corrupt")
    stored = payload.get("content_sha256")
    if stored is not None:  # files written before the hash existed have none
        actual = content_hash(str(payload.get("kind")), payload["config"], payload["metadata"],
                              payload["state_dict"])
        if stored != actual:
            raise CheckpointError(
                f"{path}: its content does not match the hash stored in it (corrupt or edited "
                "after it was written); use the file as 'lc-hpo train' wrote it, or retrain")
    return payload


#: The largest integer a model configuration may hold (layer widths, components, ...).
MAX_CONFIG_INT = 4096


def check_config_sizes(config: dict[str, Any]) -> None:
    """Refuse integer settings outside ``[0, MAX_CONFIG_INT]`` before a model is built from them."""
    for key, value in config.items():
        if isinstance(value, int) and not isinstance(value, bool) and \
                not 0 <= value <= MAX_CONFIG_INT:
            raise ValueError(f"{key}={value} is outside [0, {MAX_CONFIG_INT}]")


def check_shapes(expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> None:
    """Refuse weights whose names or shapes differ from the model the configuration describes."""
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise ValueError(f"the weights do not fit the configuration (missing {missing[:3]}, "
                         f"unexpected {extra[:3]})")
    for name, t in expected.items():
        if tuple(t.shape) != tuple(weights[name].shape):
            raise ValueError(f"the configuration gives {name} the shape {tuple(t.shape)}, the "
                             f"weights {tuple(weights[name].shape)}")
