"""Shared pieces of the exporters: the error type, BN folding and the fixed kernels used to express
pooling exactly as convolutions.

All helpers return numpy arrays in float32 except time constants (float64), because NIR stores
numpy arrays and the executor casts them once.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autosnn.core.errors import AutosnnError


class ExportError(AutosnnError):
    """A network (or one of its layers) cannot be expressed in the requested target format."""


def layer_error(name: str, target: str, why: str) -> ExportError:
    """One-line error naming the layer, the target and the reason."""
    return ExportError(f"layer {name!r} cannot be exported to {target}: {why}")


def fold_bn(
    weight: torch.Tensor, bn: nn.BatchNorm2d | None, bias: torch.Tensor | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fold an eval-mode BatchNorm into the preceding conv/linear ``weight`` (Cout, ...).

    ``bn(conv(x)) = conv(x) * a + (beta - mean * a)`` with ``a = gamma / sqrt(var + eps)``, so the
    folded weight is ``weight * a`` and the folded bias ``beta - mean * a (+ bias * a)``.
    Computed in float64, stored in float32.
    """
    w = weight.detach().double()
    b = bias.detach().double() if bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
    if bn is not None:
        if bn.running_mean is None or bn.running_var is None:
            raise ExportError("BatchNorm without running statistics cannot be folded")
        a = bn.running_var.detach().double().add(bn.eps).rsqrt()
        if bn.weight is not None:
            a = a * bn.weight.detach().double()
        shift = -bn.running_mean.detach().double() * a
        if bn.bias is not None:
            shift = shift + bn.bias.detach().double()
        w = w * a.reshape(-1, *([1] * (w.dim() - 1)))
        b = b * a + shift
    return w.float().numpy(), b.float().numpy()


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
