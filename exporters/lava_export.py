"""autosnn ``SpikingNet`` -> lava-dl netx HDF5 (Loihi 2), written directly with h5py.

netx describes a *sequential chain* of ``input``, ``conv``, ``flatten`` and ``dense`` layers, each
conv/dense carrying a CUBA neuron in fixed point. The mapping:

- PLIF ``H = V (1 - k) + k X`` -> CUBA with ``iDecay = 4096`` (the current holds only this step's
  input), ``vDecay = round(k * 4096)``, the factor ``k`` folded into the weights and bias, threshold
  1.0. Per layer a power-of-two scale ``s`` (the largest that keeps every weight in the 8-bit range
  [-256, 254], even values) sets ``weight = round(k W s / 2) * 2``, ``bias = round(k b s)``,
  ``vThMant = s``; Lava adds ``weight << 6`` and ``bias << 6`` and compares against
  ``vThMant << 6``, so the scale cancels. BN is folded first.
- max-pool on spikes -> a fixed diagonal 2x2 stride-2 ``conv`` (weight 2) with a memoryless
  neuron (``vDecay = 4096``, ``vThMant = 1``): fires iff at least one input spiked.
- avg-pool / GAP + PLIF (spike-count pooling) -> a fixed diagonal ``conv`` (weight 1) with the
  PLIF's neuron.
- factorised reduce -> one 2x2 stride-2 ``conv`` holding both branches.
- the stem's real-valued current cannot enter netx (its input layer takes spikes): the stem
  (conv + BN + PLIF, the encoder) runs on the host and the Lava network starts at its spikes.
- the voting layer is a fixed sum over groups of 10 output neurons; binary spikes cannot carry a
  group's count per step, so votes are summed on the host from the output layer's spikes.
- conv kernels are stored in torch layout (Cout, Cin, kh, kw) *unflipped*: netx's loader flips
  them and Lava's convolution flips them back (measured: storing them flipped mirrors the maps).
- residual blocks (``SRB``) and inverted bottlenecks with their adds are not a chain: refused.

Lava fires on ``v > threshold`` (strict) and quantises; agreement is statistical, not exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from autosnn.core.blocks import SCB, SIB, SRB, ConvBN, FactorizedReduce, Skip
from autosnn.core.layers import AvgPoolNeuron, Cell, ConvNeuron, GAPNeuron, SpikeMaxPool
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import PLIF
from exporters.base import diagonal_kernel, fold_bn, layer_error

TARGET = "Lava netx"
W_MIN, W_MAX = -256, 254
DECAY_UNITY = 4096


@dataclass
class LavaLayer:
    """One netx layer before quantisation (float weights, PLIF k or None for 'any spike')."""

    name: str  # autosnn spiking module name whose spikes this layer emits
    kind: str  # conv | dense
    weight: np.ndarray  # conv (Cout, Cin, kh, kw) / dense (out, in)
    bias: np.ndarray | None
    k: float | None  # PLIF leak factor; None = memoryless "any spike" (max-pool)
    out_shape: tuple[int, ...]
    stride: int = 1
    padding: int = 0
    groups: int = 1


def _k(name: str, lif: nn.Module) -> float:
    if not isinstance(lif, PLIF):
        raise layer_error(name, TARGET, f"{type(lif).__name__} is not a spiking neuron")
    return float(torch.sigmoid(lif.w.detach().float()))


def _convbn(lif_name: str, m: ConvBN, lif: nn.Module, shape) -> LavaLayer:
    w, b = fold_bn(m.conv.weight, m.bn, m.conv.bias)
    s, p = m.conv.stride[0], m.conv.padding[0]
    c, h, ww = shape
    kh = w.shape[2]
    out = (w.shape[0], (h + 2 * p - kh) // s + 1, (ww + 2 * p - kh) // s + 1)
    return LavaLayer(lif_name, "conv", w, b, _k(lif_name, lif), out, s, p, m.conv.groups)


def _walk(name: str, m: nn.Module, shape: tuple[int, ...]) -> list[LavaLayer]:
    layers: list[LavaLayer] = []
    if isinstance(m, Cell):
        return _walk(f"{name}.ops.{m.active}", m.ops[m.active], shape)
    if isinstance(m, SCB):
        a = _convbn(f"{name}.lif1", m.conv1, m.lif1, shape)
        b = _convbn(f"{name}.lif2", m.conv2, m.lif2, a.out_shape)
        return [a, b]
    if isinstance(m, SRB):
        raise layer_error(name, TARGET, "residual add (conv + shortcut into one neuron): netx "
                          "describes a sequential chain of layers, no branches")
    if isinstance(m, SIB):
        a = _convbn(f"{name}.lif1", m.expand, m.lif1, shape)
        b = _convbn(f"{name}.lif2", m.depthwise, m.lif2, a.out_shape)
        c = _convbn(f"{name}.lif3", m.project, m.lif3, b.out_shape)
        return [a, b, c]
    if isinstance(m, Skip):
        if m.reduce is None or m.lif is None:
            return []
        if isinstance(m.reduce, ConvBN):
            return [_convbn(f"{name}.lif", m.reduce, m.lif, shape)]
        if isinstance(m.reduce, FactorizedReduce):
            r = m.reduce
            half = r.conv_a.out_channels
            cin = shape[0]
            w = torch.zeros(2 * half, cin, 2, 2)
            w[:half, :, 0, 0] = r.conv_a.weight.detach()[:, :, 0, 0]
            w[half:, :, 1, 1] = r.conv_b.weight.detach()[:, :, 0, 0]
            wf, bf = fold_bn(w, r.bn)
            out = (2 * half, shape[1] // 2, shape[2] // 2)
            return [LavaLayer(f"{name}.lif", "conv", wf, bf, _k(f"{name}.lif", m.lif), out, 2)]
    if isinstance(m, SpikeMaxPool):
        c, h, w = shape
        return [LavaLayer(name, "conv", diagonal_kernel(c, 2, 1.0), None, None,
                          (c, h // 2, w // 2), 2)]
    if isinstance(m, AvgPoolNeuron):
        c, h, w = shape
        return [LavaLayer(f"{name}.lif", "conv", diagonal_kernel(c, 2, 1.0), None,
                          _k(f"{name}.lif", m.lif), (c, h // 2, w // 2), 2)]
    if isinstance(m, GAPNeuron):
        c, h, w = shape
        return [LavaLayer(f"{name}.lif", "conv", diagonal_kernel(c, h, 1.0), None,
                          _k(f"{name}.lif", m.lif), (c, 1, 1), h)]
    if isinstance(m, ConvNeuron):
        return [_convbn(f"{name}.lif", m.conv, m.lif, shape)]
    if isinstance(m, nn.Sequential):
        for i, sub in enumerate(m):
            got = _walk(f"{name}.{i}", sub, shape)
            layers += got
            shape = got[-1].out_shape if got else shape
        return layers
    raise layer_error(name, TARGET, f"layer type {type(m).__name__} has no netx mapping")


def lava_layers(net: SpikingNet) -> tuple[tuple[int, int, int], list[LavaLayer]]:
    """(input spike shape CHW, the netx chain) for ``net``; the stem neuron's spikes are the
    input. Raises :class:`~exporters.base.ExportError` naming a layer that is not a chain link."""
    if net.stem.crop:
        raise layer_error("stem.crop", TARGET, "the centre crop runs in the host encoder only")
    h = int(net.config.input_shape[1])
    in_shape = (int(net.config.channels), h, h)  # the stem neuron's spikes
    layers = _walk("stem.extra", net.stem.extra, in_shape)
    shape: tuple[int, ...] = layers[-1].out_shape if layers else in_shape
    for i, m in enumerate(net.body):
        got = _walk(f"body.{i}", m, shape)
        layers += got
        shape = got[-1].out_shape if got else shape
    flat = int(np.prod(shape))
    for i, (fc, lif) in enumerate(zip(net.head.fcs, net.head.lifs)):
        w = fc.weight.detach().double().numpy()
        if w.shape[1] != flat:
            raise layer_error(f"head.fcs.{i}", TARGET, f"expects {w.shape[1]} inputs, got {flat}")
        b = fc.bias.detach().double().numpy() if fc.bias is not None else None
        layers.append(LavaLayer(f"head.lifs.{i}", "dense", w, b, _k(f"head.lifs.{i}", lif),
                                (w.shape[0],)))
        flat = w.shape[0]
    return in_shape, layers


def quantise(layer: LavaLayer) -> dict:
    """Fixed-point parameters of one layer (see module docstring)."""
    if layer.k is None:  # any spike: weight 2 per spike, threshold 1 (units of 64), no memory
        return {"weight": np.where(layer.weight != 0, 2, 0).astype(np.int32), "bias": None,
                "vDecay": DECAY_UNITY, "vThMant": 1}
    k = layer.k
    w = layer.weight * k
    b = layer.bias * k if layer.bias is not None else None
    peak = float(np.abs(w).max()) if w.size else 0.0
    scale = 2 ** 12 if peak == 0 else 2 ** min(12, math.floor(math.log2(W_MAX / peak)))
    wq = (np.round(w * scale / 2) * 2).clip(W_MIN, W_MAX).astype(np.int32)
    bq = None if b is None else np.round(b * scale).clip(-4096, 4095).astype(np.int32)
    return {"weight": wq, "bias": bq, "vDecay": int(round(k * DECAY_UNITY)),
            "vThMant": int(scale)}


def _neuron(g: h5py.Group, v_decay: int, v_th: int) -> None:
    n = g.create_group("neuron")
    n.create_dataset("type", data=np.bytes_("CUBA"))
    n.create_dataset("iDecay", data=DECAY_UNITY)
    n.create_dataset("vDecay", data=v_decay)
    n.create_dataset("vThMant", data=v_th)
    n.create_dataset("refDelay", data=1)
    n.create_dataset("gradedSpike", data=False)


def export_netx(net: SpikingNet, path: str | Path) -> Path:
    """Write the netx HDF5 of ``net`` (its stem runs on the host; see module docstring)."""
    in_shape, layers = lava_layers(net)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["producer"] = "autosnn"
        f.attrs["config"] = net.config.to_json()
        f.attrs["layer_names"] = ",".join(layer.name for layer in layers)
        f.attrs["input"] = "spikes of stem.lif (C, H, W), computed by the host encoder"
        top = f.create_group("layer")
        idx = 0

        def group() -> h5py.Group:
            nonlocal idx
            g = top.create_group(str(idx))
            idx += 1
            return g

        g = group()
        g.create_dataset("type", data=np.bytes_("input"))
        g.create_dataset("shape", data=np.array(in_shape))
        flattened = False
        for layer in layers:
            q = quantise(layer)
            if layer.kind == "dense" and not flattened:
                g = group()
                g.create_dataset("type", data=np.bytes_("flatten"))
                flattened = True
            g = group()
            g.attrs["name"] = layer.name
            if layer.kind == "conv":
                g.create_dataset("type", data=np.bytes_("conv"))
                g.create_dataset("shape", data=np.array(layer.out_shape))
                # torch layout (Cout, Cin, kh, kw), not flipped: netx flips the kernel on load and
                # Lava's conv flips it again (a true convolution); checked against PyTorch
                g.create_dataset("weight", data=q["weight"])
                g.create_dataset("stride", data=np.array([layer.stride, layer.stride]))
                g.create_dataset("padding", data=np.array([layer.padding, layer.padding]))
                g.create_dataset("dilation", data=np.array([1, 1]))
                g.create_dataset("groups", data=layer.groups)
            else:
                g.create_dataset("type", data=np.bytes_("dense"))
                g.create_dataset("shape", data=np.array(layer.out_shape))
                g.create_dataset("weight", data=q["weight"])
            if q["bias"] is not None:
                g.create_dataset("bias", data=q["bias"])
            _neuron(g, q["vDecay"], q["vThMant"])
    return path
