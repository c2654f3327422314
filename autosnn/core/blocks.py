"""Candidate spiking blocks (the micro level of the search space), looked up by name.

All modules here work on time-folded tensors ``(T*N, C, H, W)``: convolutions and BN run once
over all timesteps, only the neurons step through time. Every convolution is bias-free and
followed by BatchNorm (``ConvBN``), as in the paper.

Names: ``skip``, ``SCB_k{3,5,7}``, ``SRB_k{3,5,7}``, ``SIB_k{3,5}_e{1,3,6}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from autosnn.core.neuron import DEFAULT_NEURON, SpikingLayer, make_neuron
from autosnn.core.registry import Registry

# A block factory: (cin, cout, stride, neuron kind) -> module. One registration per name, next
# to the block's class; a new candidate block is one ``BLOCKS.add`` (plus its NIR lowering).
BlockFactory = Callable[[int, int, int, str], nn.Module]
BLOCKS: Registry[BlockFactory] = Registry("block")


def safe_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
                groups: int = 1) -> Tensor:
    """``F.conv2d`` (dilation 1), with a strided 1x1 convolution computed as subsample-then-1x1.

    Why: oneDNN's AVX2/AVX-512 1x1 backward-weights kernel, for channels_last inputs with fewer
    input channels than its block (8 / 16) and a stride > 1, writes past its workspace
    (uxlfoundation/oneDNN#6035, open). Measured here (torch 2.13, 2-core EPYC, AVX2): a tiny
    C = 4 training hung in that kernel in ~1 run of 5 (both threads spinning at one
    instruction); the issue reports wrong weight gradients where it does not hang. Subsampling
    first gives the kernel unit stride, which it computes right; the sums are the same, and the
    module (so every export) still says stride 2.
    """
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    if weight.shape[-2:] == (1, 1) and (ph, pw) == (0, 0) and (sh, sw) != (1, 1):
        return F.conv2d(x[:, :, ::sh, ::sw], weight, bias, 1, 0, 1, groups)
    return F.conv2d(x, weight, bias, (sh, sw), (ph, pw), 1, groups)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def conv2d(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)`` through :func:`safe_conv2d` (our convolutions: dilation 1, zero padding)."""
    return safe_conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.groups)


class ConvBN(nn.Module):
    """Bias-free KxK convolution (padding K//2) followed by BatchNorm."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(conv2d(self.conv, x))


class SCB(nn.Module):
    """Spiking convolution block: conv-BN-PLIF-conv-BN-PLIF."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, neuron: str) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, cout, k, stride)
        self.lif1 = make_neuron(neuron)
        self.conv2 = ConvBN(cout, cout, k)
        self.lif2 = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        return self.lif2(self.conv2(self.lif1(self.conv1(x))))


for _k in (3, 5, 7):
    # A def, not a lambda: mypy cannot type a lambda with a bound default (``k=_k``).
    def _make_scb(cin: int, cout: int, s: int, n: str, k: int = _k) -> nn.Module:
        return SCB(cin, cout, k, s, n)

    BLOCKS.add(f"SCB_k{_k}", _make_scb)


class SRB(nn.Module):
    """Spiking residual block: conv-BN-PLIF-conv-BN, + shortcut, then PLIF (add before neuron)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, neuron: str) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, cout, k, stride)
        self.lif1 = make_neuron(neuron)
        self.conv2 = ConvBN(cout, cout, k)
        self.shortcut: nn.Module = (
            nn.Identity() if stride == 1 and cin == cout else ConvBN(cin, cout, 1, stride)
        )
        self.lif2 = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        return self.lif2(self.conv2(self.lif1(self.conv1(x))) + self.shortcut(x))


for _k in (3, 5, 7):
    def _make_srb(cin: int, cout: int, s: int, n: str, k: int = _k) -> nn.Module:
        return SRB(cin, cout, k, s, n)

    BLOCKS.add(f"SRB_k{_k}", _make_srb)


class FactorizedReduce(nn.Module):
    """Stride-2 skip: two 1x1 stride-2 convs (Cout/2 each, the second on the input shifted by one
    pixel), concatenated, then BN. The neuron follows in :class:`Skip`."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        if cout % 2:
            raise ValueError(f"stride-2 skip needs an even channel count, got {cout}")
        self.conv_a = nn.Conv2d(cin, cout // 2, 1, 2, bias=False)
        self.conv_b = nn.Conv2d(cin, cout // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([conv2d(self.conv_a, x), conv2d(self.conv_b, shifted)], dim=1))


class Skip(nn.Module):
    """``skip``: identity when shapes allow (no spikes), else a 1x1 / factorised reduce + PLIF."""

    def __init__(self, cin: int, cout: int, stride: int, neuron: str) -> None:
        super().__init__()
        self.reduce: nn.Module | None
        self.lif: SpikingLayer | None
        if stride == 1 and cin == cout:
            self.reduce, self.lif = None, None
        elif stride == 1:
            self.reduce, self.lif = ConvBN(cin, cout, 1), make_neuron(neuron)
        else:
            self.reduce, self.lif = FactorizedReduce(cin, cout), make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        if self.reduce is None or self.lif is None:
            return x
        return self.lif(self.reduce(x))


BLOCKS.add("skip", Skip)


class SIB(nn.Module):
    """Spiking inverted bottleneck: 1x1 expand-BN-PLIF, KxK depthwise-BN-PLIF, 1x1-BN-PLIF."""

    def __init__(self, cin: int, cout: int, k: int, e: int, stride: int, neuron: str) -> None:
        super().__init__()
        hidden = cin * e
        self.expand = ConvBN(cin, hidden, 1)
        self.lif1 = make_neuron(neuron)
        self.depthwise = ConvBN(hidden, hidden, k, stride, groups=hidden)
        self.lif2 = make_neuron(neuron)
        self.project = ConvBN(hidden, cout, 1)
        self.lif3 = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        x = self.lif1(self.expand(x))
        x = self.lif2(self.depthwise(x))
        return self.lif3(self.project(x))


for _k in (3, 5):
    for _e in (1, 3, 6):
        def _make_sib(cin: int, cout: int, s: int, n: str, k: int = _k, e: int = _e) -> nn.Module:
            return SIB(cin, cout, k, e, s, n)

        BLOCKS.add(f"SIB_k{_k}_e{_e}", _make_sib)


def list_blocks() -> list[str]:
    """Every registered block name."""
    return BLOCKS.names()


def make_block(name: str, cin: int, cout: int, stride: int = 1, neuron: str = DEFAULT_NEURON) -> nn.Module:
    """Build block ``name`` mapping ``cin`` to ``cout`` channels with the given stride."""
    return BLOCKS.get(name)(cin, cout, stride, neuron)
