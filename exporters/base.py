"""Shared pieces of the exporters: the error type, the atomic output helper, BN folding and the
fixed kernels used to express pooling exactly as convolutions.

All helpers return numpy arrays in float32 except time constants (float64), because NIR stores
numpy arrays and the executor casts them once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autosnn.core import lowering
from autosnn.core.errors import AutosnnError


class ExportError(AutosnnError):
    """A network (or one of its layers) cannot be expressed in the requested target format."""


def layer_error(name: str, target: str, why: str) -> ExportError:
    """One-line error naming the layer, the target and the reason."""
    return ExportError(f"layer {name!r} cannot be exported to {target}: {why}")


def fold_bn(
    weight: torch.Tensor, bn: nn.BatchNorm2d | None, bias: torch.Tensor | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`autosnn.core.lowering.fold_bn` as float32 numpy arrays."""
    w, b = lowering.fold_bn(weight, bn, bias)
    return w.numpy(), b.numpy()


@contextmanager
def atomic_output(path: str | Path, *, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a uniquely named temp path in ``path``'s folder; on success it is renamed onto
    ``path`` (``os.replace``), on any failure removed, so an earlier file at ``path`` survives a
    full disk or a crash mid-write. ``path`` equal to one of ``inputs`` is refused first (an export
    must never overwrite the checkpoint it reads)."""
    path = Path(path)
    target = path.resolve()
    for src in inputs:
        if Path(src).resolve() == target:
            raise ExportError(f"{path}: the output would overwrite the input {src}; "
                              "choose another output path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # durable before it becomes visible
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def diagonal_kernel(channels: int, k: int, value: float) -> np.ndarray:
    """(C, C, k, k) kernel applying ``value`` per channel (a per-channel pool as a dense conv)."""
    w = np.zeros((channels, channels, k, k), dtype=np.float32)
    for c in range(channels):
        w[c, c] = value
    return w


def dense_from_grouped(weight: np.ndarray, groups: int) -> np.ndarray:
    """Expand a grouped conv kernel (Cout, Cin/groups, k, k) to an equivalent dense one with zeros."""
    cout, cin_g, kh, kw = weight.shape
    cin = cin_g * groups
    out_g = cout // groups
    dense = np.zeros((cout, cin, kh, kw), dtype=weight.dtype)
    for g in range(groups):
        dense[g * out_g : (g + 1) * out_g, g * cin_g : (g + 1) * cin_g] = weight[
            g * out_g : (g + 1) * out_g
        ]
    return dense
