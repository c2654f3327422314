"""Checkpoints as plain data: a state_dict plus JSON metadata, written atomically.

Loading always uses ``torch.load(weights_only=True)``: a file carrying pickled code is refused
before anything in it runs.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from autosnn.core.errors import CheckpointError
from autosnn.core.network import ArchConfig, SpikingNet

FORMAT = "autosnn-checkpoint/1"


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temp file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` with one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        raise CheckpointError(
            f"{path}: refused to load: the file holds more than tensors and plain data "
            f"(weights_only=True rejected it: {first[:160]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({exc})") from None


def save(model: SpikingNet, path: str | Path, *, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` (weights + architecture config + optional JSON-able ``extra``) to ``path``."""
    meta = {"format": FORMAT, "config": json.loads(model.config.to_json()), "extra": extra or {}}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save({"meta": json.dumps(meta), "state_dict": state}, path)


def read_meta(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load and validate a checkpoint's metadata and state_dict without building the model."""
    obj = safe_torch_load(path)
    if not isinstance(obj, dict) or "meta" not in obj or "state_dict" not in obj:
        raise CheckpointError(f"{path}: not an autosnn checkpoint (expected keys meta, state_dict)")
    try:
        meta = json.loads(obj["meta"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: field meta: not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: field meta.format: expected {FORMAT!r}, got "
                              f"{meta.get('format')!r}")
    return meta, obj["state_dict"]


def load(path: str | Path) -> SpikingNet:
    """Rebuild the network stored by :func:`save` and load its weights (eval mode)."""
    from autosnn.core.build import from_config

    meta, state = read_meta(path)
    try:
        config = ArchConfig.from_dict(meta["config"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: field meta.config: malformed ({exc})") from None
    model = from_config(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        msg = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: field state_dict: does not match the architecture "
                              f"({msg})") from None
    model.extra = meta.get("extra", {})  # type: ignore[attr-defined]
    return model.eval()
