"""Checkpoints as plain data: a state_dict plus JSON metadata, written atomically.

Loading always uses ``torch.load(weights_only=True)``: a file carrying pickled code is refused
before anything in it runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from pathlib import Path
from typing import Any

import torch

from autosnn.core.errors import AutosnnError, CheckpointError
from autosnn.core.network import ArchConfig, SpikingNet
from autosnn.core.neuron import DEFAULT_NEURON
from safeio import atomic_write

FORMAT = "autosnn-checkpoint/1"

# Sizes a network may ask for (CLI options, checkpoints, winner files): checked before anything is
# allocated, so a typo or a hand-edited file is one line, not minutes of swapping or an OOM
# traceback. Generous: the paper's largest network has C=128 and T=8; event data use T=20.
MAX_CHANNELS = 1024
MAX_TIMESTEPS = 256
MAX_CLASSES = 100_000
MAX_SIDE = 1024  # input height / width
MAX_INPUT_CHANNELS = 64
ARCH_KINDS = ("space", "supernet", "zoo")
# What a file starts with: a zip archive (torch.save since 1.6) or a pickle (legacy torch.save).
_MAGIC = (b"PK\x03\x04", b"\x80")


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`safeio.atomic_write`: a uniquely named temp file
    beside ``path``, fsynced, then renamed; never a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        torch.save(obj, f)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` with one-line errors naming the file.

    Three different failures get three different messages: a file that is not a PyTorch file
    at all ("not a checkpoint"), one weights_only refused (pickled objects beyond tensors and
    plain data: possibly hostile), and a damaged PyTorch file."""
    path = Path(path)
    if not path.is_file():  # a FIFO or device would block or stream forever: never opened
        what = "not a regular file" if path.exists() else "no such checkpoint file"
        raise CheckpointError(f"{path}: {what}")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not head.startswith(_MAGIC):
        raise CheckpointError(f"{path}: not a checkpoint (not a file written by torch.save: "
                              f"starts with {head!r})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = _first_line(exc)
        if "weights only" in str(exc).lower() or "weights_only" in str(exc).lower():
            raise CheckpointError(
                f"{path}: refused to load: the file holds more than tensors and plain data "
                f"(weights_only=True rejected it: {msg})"
            ) from None
        raise CheckpointError(f"{path}: not a checkpoint (damaged pickle: {msg})") from None
    except Exception as exc:  # noqa: BLE001  a damaged archive fails in many ways inside torch
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint "
                              f"({type(exc).__name__}: {_first_line(exc)})") from None


def int_field(where: str | Path, field: str, value: Any, lo: int, hi: int) -> int:
    """An integer in ``[lo, hi]`` read from a file (not a bool, a float or a string), or one
    :class:`CheckpointError` line naming the file and the field."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointError(f"{where}: field {field}: expected an integer in [{lo}, {hi}], "
                              f"got {value!r}"[:300])
    if not lo <= value <= hi:
        raise CheckpointError(f"{where}: field {field}: expected an integer in [{lo}, {hi}], "
                              f"got {value}")
    return value


def _names_field(where: str | Path, field: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if (not isinstance(value, list | tuple) or not value
            or not all(isinstance(v, str) and v for v in value)):
        raise CheckpointError(f"{where}: field {field}: expected a list of block names, got "
                              f"{value!r}"[:300])
    return tuple(value)


def check_arch_config(where: str | Path, d: Any, field: str = "meta.config") -> ArchConfig:
    """Validate an architecture config read from a file (types and sizes) before anything is
    built: one :class:`CheckpointError` line naming ``where`` and the field otherwise."""
    if not isinstance(d, dict):
        raise CheckpointError(f"{where}: field {field}: expected an object, got "
                              f"{type(d).__name__}")
    unknown = sorted(set(d) - set(ArchConfig.__dataclass_fields__))
    if unknown:
        raise CheckpointError(f"{where}: field {field}: unknown keys {unknown}"[:300])
    for key in ("kind", "name"):
        if not isinstance(d.get(key), str):
            raise CheckpointError(f"{where}: field {field}.{key}: expected a string, got "
                                  f"{d.get(key)!r}"[:300])
    if d["kind"] not in ARCH_KINDS:
        raise CheckpointError(f"{where}: field {field}.kind: expected one of "
                              f"{', '.join(ARCH_KINDS)}, got {d['kind']!r}"[:300])
    shape = d.get("input_shape", (3, 32, 32))
    if not isinstance(shape, list | tuple) or len(shape) != 3:
        raise CheckpointError(f"{where}: field {field}.input_shape: expected [C, H, W], got "
                              f"{shape!r}"[:300])
    c = int_field(where, f"{field}.input_shape[0]", shape[0], 1, MAX_INPUT_CHANNELS)
    h, w = (int_field(where, f"{field}.input_shape[{i}]", shape[i], 1, MAX_SIDE) for i in (1, 2))
    neuron = d.get("neuron", DEFAULT_NEURON)
    if not isinstance(neuron, str):
        raise CheckpointError(f"{where}: field {field}.neuron: expected a string, got "
                              f"{neuron!r}"[:300])
    return ArchConfig(
        kind=d["kind"], name=d["name"],
        channels=int_field(where, f"{field}.channels", d.get("channels", ArchConfig.channels), 1, MAX_CHANNELS),
        num_classes=int_field(where, f"{field}.num_classes", d.get("num_classes", 10), 1,
                               MAX_CLASSES),
        input_shape=(c, h, w),
        timesteps=int_field(where, f"{field}.timesteps", d.get("timesteps", ArchConfig.timesteps), 1,
                             MAX_TIMESTEPS),
        genotype=_names_field(where, f"{field}.genotype", d.get("genotype")),
        candidates=_names_field(where, f"{field}.candidates", d.get("candidates")),
        neuron=neuron,
    )


def finite(where: str | Path, field: str, value: Any) -> float:
    """A finite number from a file (JSON allows NaN and Infinity), or a one-line error."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CheckpointError(f"{where}: field {field}: expected a finite number, got "
                              f"{value!r}"[:300])
    return float(value)


def content_digest(meta: str, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a checkpoint's content (the metadata text and every tensor's name, dtype,
    shape and bytes, in name order): written with the file, so a flipped bit or an edit made
    outside our writer is reported as damage instead of loading silently wrong weights."""
    h = hashlib.sha256(meta.encode())
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """The one text a document's checksum is taken over: sorted keys, no whitespace (so how a
    file was indented, or in which order a reader's dict holds the keys, never matters)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def state_digest(obj: Any) -> str:
    """SHA-256 of a resume state's content by :func:`content_digest`'s one scheme: the metadata
    text is the canonical JSON of ``obj`` with every tensor replaced by a numbered reference,
    and the tensors are those references. A state without tensors (``search-state.json``) is
    thus the SHA-256 of its canonical JSON. Raises TypeError/ValueError on content JSON cannot
    hold (the writer never produces it; a reader treats it as damage)."""
    tensors: dict[str, torch.Tensor] = {}

    def strip(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            name = f"t{len(tensors):09d}"  # numbered in a fixed walk: sorted keys, list order
            tensors[name] = x
            return {"\0tensor": name}
        if isinstance(x, dict):
            return {k: strip(x[k]) for k in sorted(x)}
        if isinstance(x, list | tuple):
            return [strip(v) for v in x]
        return x

    return content_digest(canonical_json(strip(obj)), tensors)


def seal_state(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the ``sha256`` field :func:`check_state` verifies: what every resume state
    writer (training ``*-state.pt``, ``search-state.json``) stores."""
    return {**obj, "sha256": state_digest(obj)}


def check_state(path: str | Path, obj: Any, *, redo: str = "rerun without --resume") -> dict:
    """The content of a resume state read back from ``path``, its ``sha256`` verified (without
    that field). Nothing is resumed from a state that was changed after our writer wrote it: a
    flipped byte or a hand edit is one :class:`CheckpointError` line saying so.

    A state without the field (written by an autosnn from before state checksums, or by hand)
    is refused too, not trusted: its content cannot be told apart from an edited one, and the
    field checks behind the digest are a second line of defence, not a proof. The message says
    how to proceed (``redo``: start the run over; a run that ended has its outputs already)."""
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a resume state (expected a mapping, got "
                              f"{type(obj).__name__}); {redo}")
    sha = obj.get("sha256")
    if sha is None:
        raise CheckpointError(f"{path}: field sha256: missing (written by an autosnn from before "
                              "state checksums, or not by autosnn): it cannot be checked for "
                              f"damage, so it is not resumed; {redo}")
    rest = {k: v for k, v in obj.items() if k != "sha256"}
    try:
        digest = state_digest(rest)
    except Exception:  # noqa: BLE001  content our writer never writes (a 10**5000, a sparse tensor)
        digest = None
    if digest != sha:
        raise CheckpointError(f"{path}: damaged: changed outside autosnn's writer (its content "
                              f"does not match the SHA-256 written with it); {redo}")
    return rest


def save(model: SpikingNet, path: str | Path, *, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` (weights + architecture config + optional JSON-able ``extra``) to ``path``,
    with the digest of its content."""
    meta = json.dumps({"format": FORMAT, "config": json.loads(model.config.to_json()),
                       "extra": extra or {}})
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save({"meta": meta, "state_dict": state,
                       "sha256": content_digest(meta, state)}, path)


def read_meta(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load and validate a checkpoint's metadata and state_dict without building the model."""
    obj = safe_torch_load(path)
    if not isinstance(obj, dict) or "meta" not in obj or "state_dict" not in obj:
        raise CheckpointError(f"{path}: not an autosnn checkpoint (expected keys meta, state_dict)")
    if not isinstance(obj["meta"], str):
        raise CheckpointError(f"{path}: field meta: expected a JSON string, got "
                              f"{type(obj['meta']).__name__}")
    try:
        meta = json.loads(obj["meta"])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: field meta: not valid JSON ({_first_line(exc)})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: field meta: expected a JSON object, got "
                              f"{type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: field meta.format: expected {FORMAT!r}, got "
                              f"{meta.get('format')!r}"[:300])
    meta["config"] = json.loads(check_arch_config(path, meta.get("config")).to_json())
    if not isinstance(meta.get("extra", {}), dict):
        raise CheckpointError(f"{path}: field meta.extra: expected an object, got "
                              f"{type(meta['extra']).__name__}")
    state = obj["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: field state_dict: expected a mapping of names to tensors, "
                              f"got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: field state_dict[{key!r}]: expected a tensor, got "
                                  f"{type(value).__name__}"[:300])
    if not isinstance(obj.get("sha256"), str):
        raise CheckpointError(f"{path}: field sha256: missing; the file was not written by "
                              "autosnn's writer (or predates checksums): re-save it with autosnn")
    if content_digest(obj["meta"], state) != obj["sha256"]:
        raise CheckpointError(f"{path}: damaged: its content does not match the SHA-256 written "
                              "with it (a changed byte or an edit outside autosnn)")
    for key, value in state.items():  # NaN/inf weights compute nothing usable: refused by name
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: field state_dict[{key!r}]: holds NaN or infinite "
                                  "values (a diverged training or an edited file)"[:300])
    return meta, state


def load(path: str | Path) -> SpikingNet:
    """Rebuild the network stored by :func:`save` and load its weights (eval mode)."""
    from autosnn.core.build import from_config

    meta, state = read_meta(path)
    config = ArchConfig.from_dict(meta["config"])  # validated by read_meta
    try:
        model = from_config(config)
    except AutosnnError as exc:  # an unknown space / block / shape: say which file asked for it
        raise CheckpointError(f"{path}: field meta.config: {exc}") from None
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise CheckpointError(f"{path}: field meta.config: cannot build this architecture "
                              f"({type(exc).__name__}: {_first_line(exc)})") from None
    want = model.state_dict()
    for name, t in state.items():
        if name in want and t.dtype != want[name].dtype:
            raise CheckpointError(f"{path}: field state_dict[{name!r}]: expected {want[name].dtype}"
                                  f", got {t.dtype}")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        msg = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: field state_dict: does not match the architecture "
                              f"({msg})") from None
    model.extra = meta.get("extra", {})
    return model.eval()
