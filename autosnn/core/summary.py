"""Static description of a network: parameters, spiking neurons and MACs per layer.

Neurons follow the paper's convention: every spiking output counts (PLIF layers, max-pool
outputs on spikes, the FC output neurons); voting and identity skips add none. MACs are per
sample and per timestep (the stem convolution of a static input runs once, the rest T times).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from autosnn.core.layers import SpikeMaxPool
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import ReLUNeuron, SpikingLayer


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


def _kind(m: nn.Module) -> str | None:
    if isinstance(m, nn.Conv2d):
        return "conv"
    if isinstance(m, nn.BatchNorm2d):
        return "bn"
    if isinstance(m, nn.Linear):
        return "fc"
    if isinstance(m, SpikingLayer):
        return "maxpool" if isinstance(m, SpikeMaxPool) else "plif"
    if isinstance(m, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return "avgpool"
    return None


def summarize(model: SpikingNet) -> NetSummary:
    """Run one sample through ``model`` (T=1, eval mode, no grad) and describe each layer."""
    records: list[LayerInfo] = []
    hooks = []
    active = {id(m) for _, m in model.active_spiking_layers()}

    def hook_for(name: str, kind: str):
        def hook(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
            shape = tuple(out.shape[1:])
            per_sample = int(out[0].numel())
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            macs = 0
            if isinstance(mod, nn.Conv2d):
                kh, kw = mod.kernel_size
                macs = per_sample * (mod.in_channels // mod.groups) * kh * kw
            elif isinstance(mod, nn.Linear):
                macs = mod.in_features * mod.out_features
            neurons = per_sample if id(mod) in active else 0
            records.append(LayerInfo(name, kind, shape, neurons, params, macs))

        return hook

    for name, m in model.active_modules():
        kind = _kind(m)
        if kind is None:
            continue
        if isinstance(m, ReLUNeuron):
            kind = "relu"
        hooks.append(m.register_forward_hook(hook_for(name, kind)))
    try:
        was = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *model.config.input_shape))
        model.train(was)
    finally:
        for h in hooks:
            h.remove()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if model.config.kind == "supernet":  # count the active path only
        params = sum(r.params for r in records)
    return NetSummary(
        params=params,
        neurons=sum(r.neurons for r in records),
        macs=sum(r.macs for r in records),
        layers=tuple(records),
    )
