"""Precision and device helpers, deferring to :mod:`autosnn.runtime` once the lead adds it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from autosnn.errors import AutosnnError


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:1``...; a missing accelerator is a one-line user error."""
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise AutosnnError(f"--device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AutosnnError(f"--device {device}: CUDA is not available on this machine")
    return dev


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device | str) -> Iterator[None]:
    """Autocast for the forward pass: ``fp32`` (none), ``bf16``, or ``auto``.

    Uses ``autosnn.runtime.precision_context`` when it exists; until then ``auto`` means fp32.
    """
    try:
        from autosnn.runtime import precision_context as core_context  # type: ignore
    except ImportError:
        core_context = None
    if core_context is not None:
        with core_context(precision, torch.device(device)):
            yield
        return
    dev = torch.device(device)
    if precision == "bf16":
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            yield
    else:
        yield
