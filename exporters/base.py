"""Shared pieces of the exporters: the error type and the fixed kernels used to express pooling
exactly as convolutions.

All helpers return numpy arrays in float32 except time constants (float64), because NIR stores
numpy arrays and the executor casts them once.
"""

from __future__ import annotations

import numpy as np

from autosnn.core.errors import AutosnnError


class ExportError(AutosnnError):
    """A network (or one of its layers) cannot be expressed in the requested target format."""


def layer_error(name: str, target: str, why: str) -> ExportError:
    """One-line error naming the layer, the target and the reason."""
    return ExportError(f"layer {name!r} cannot be exported to {target}: {why}")


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
