"""Static description of a network: parameters, spiking neurons and MACs per layer, built on the
one lowering walk (:mod:`autosnn.core.lowering`) that the exporters use.

Neurons follow the paper's convention: every spiking output counts (PLIF layers, max-pool
outputs on spikes, the FC output neurons); voting and identity skips add none. MACs are per
sample and per timestep (the stem convolution of a static input runs once, the rest T times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from autosnn.core.blocks import ConvBN, FactorizedReduce
from autosnn.core.lowering import Signal, lower_network
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import ReLUNeuron


@dataclass(frozen=True)
class LayerInfo:
    name: str
    kind: str
    shape: tuple[int, ...]
    neurons: int
    params: int
    macs: int


@dataclass(frozen=True)
class NetSummary:
    params: int
    neurons: int
    macs: int
    layers: tuple[LayerInfo, ...]

    def to_dict(self) -> dict:
        return {
            "params": self.params,
            "neurons": self.neurons,
            "macs": self.macs,
            "layers": [{**asdict(layer), "shape": list(layer.shape)} for layer in self.layers],
        }


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


class _TableLowerer:
    """:class:`~autosnn.core.lowering.Lowerer` that writes the layer table instead of a graph:
    the same walk as every exporter, so a block with a lowering is summarised too. Rows name the
    modules (``stem.conv.conv``, ``stem.conv.bn``, ``stem.lif``) in forward order."""

    def __init__(self, model: SpikingNet) -> None:
        self.names = {id(m): n for n, m in model.named_modules()}
        self.modules = dict(model.named_modules())
        self.active = {id(m) for _, m in model.active_spiking_layers()}
        self.rows: list[LayerInfo] = []

    def _row(self, module: nn.Module, kind: str, shape: tuple[int, ...], neurons: int = 0,
             macs: int = 0) -> None:
        params = sum(p.numel() for p in module.parameters(recurse=False))
        self.rows.append(LayerInfo(self.names[id(module)], kind, shape, neurons, params, macs))

    def _conv_row(self, conv: nn.Conv2d, shape: tuple[int, ...]) -> None:
        kh, kw = conv.kernel_size
        self._row(conv, "conv", shape, macs=_numel(shape) * (conv.in_channels // conv.groups)
                  * kh * kw)

    def input(self, name: str, shape: tuple[int, ...]) -> Signal:
        return Signal(name, shape)

    def output(self, name: str, src: Signal) -> None:
        return None

    def conv(self, name: str, src: Signal, weight: torch.Tensor, bias: torch.Tensor | None,
             stride: int, padding: int, groups: int = 1, source: nn.Module | None = None
             ) -> Signal:
        _, h, w = src.shape
        kh, kw = int(weight.shape[2]), int(weight.shape[3])
        out = (int(weight.shape[0]), (h + 2 * padding - kh) // stride + 1,
               (w + 2 * padding - kw) // stride + 1)
        if isinstance(source, ConvBN):
            self._conv_row(source.conv, out)
            self._row(source.bn, "bn", out)
        elif isinstance(source, FactorizedReduce):
            half = (source.conv_a.out_channels, *out[1:])
            self._conv_row(source.conv_a, half)
            self._conv_row(source.conv_b, half)
            self._row(source.bn, "bn", out)
        return Signal(name, out)

    def sum_pool(self, name: str, src: Signal, k: int) -> Signal:
        c, h, w = src.shape
        out = (c, h // k, w // k)
        pool = self.modules.get(name)
        if isinstance(pool, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
            self._row(pool, "avgpool", out)
        return Signal(name, out)

    def neuron(self, name: str, srcs: Sequence[Signal], module: nn.Module) -> Signal:
        shape = srcs[0].shape
        kind = "relu" if isinstance(module, ReLUNeuron) else "plif"
        self._row(module, kind, shape, _numel(shape) if id(module) in self.active else 0)
        return Signal(name, shape)

    def any_spike(self, name: str, src: Signal) -> Signal:
        module = self.modules[name]
        self._row(module, "maxpool", src.shape,
                  _numel(src.shape) if id(module) in self.active else 0)
        return Signal(name, src.shape)

    def flatten(self, name: str, src: Signal) -> Signal:
        return Signal(name, (_numel(src.shape),))

    def linear(self, name: str, src: Signal, weight: torch.Tensor, bias: torch.Tensor | None,
               source: nn.Module | None = None) -> Signal:
        out = (int(weight.shape[0]),)
        if isinstance(source, nn.Linear):
            self._row(source, "fc", out, macs=source.in_features * source.out_features)
        return Signal(name, out)


def summarize(model: SpikingNet) -> NetSummary:
    """Describe each layer of ``model``'s active path, from the one lowering walk (the walk
    every exporter uses; eval-mode BN statistics are folded along the way, nothing is run)."""
    table = _TableLowerer(model)
    with torch.no_grad():
        lower_network(table, model)
    records = table.rows
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if model.config.kind == "supernet":  # count the active path only
        params = sum(r.params for r in records)
    return NetSummary(
        params=params,
        neurons=sum(r.neurons for r in records),
        macs=sum(r.macs for r in records),
        layers=tuple(records),
    )
