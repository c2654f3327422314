"""autosnn ``SpikingNet`` -> NIR 1.0 graph (BatchNorm folded, PLIF as LIF under forward Euler).

Discretisation (stored in ``graph.metadata``): forward Euler with step ``dt`` (default 1e-4 s,
the snnTorch / spikingjelly default). A PLIF layer with ``k = sigmoid(w)`` becomes

    nir.LIF(tau = dt / k, r = 1, v_leak = 0, v_threshold = 1, v_reset = 0)

and Euler ``v += dt/tau * (v_leak - v + r*I)`` is then ``v + (I - v) * k``: our update exactly.
NIR fires on ``v > v_threshold`` (strict), our PLIF on ``>=``; they differ only when a membrane
value lands exactly on 1.0.

Layer mapping (node names are the autosnn module names, so per-neuron activity keys match):

- stem conv+BN -> ``Conv2d`` (``stem.conv``); the input node presents the image (or the event
  frame) at every step, so the stem neuron receives the same real-valued current as in PyTorch.
  The N-MNIST centre crop is a fixed 3x3 "pick the centre pixel" conv (``stem.crop``).
- ConvBN -> ``Conv2d`` with BN folded; residual adds -> several edges into one LIF; identity skips
  -> plain edges; shortcut conv1x1+BN -> a ``Conv2d`` feeding the same LIF.
- FactorizedReduce -> two ``Conv2d`` nodes writing disjoint output channels (zero-padded weights),
  the shifted branch as a 2x2 stride-2 kernel with its weight at (1, 1).
- max-pool on spikes -> ``SumPool2d`` + ``Threshold(0.5)`` ("at least one spike in the window");
  avg-pool / GAP + PLIF (spike-count pooling, see ``autosnn.core.layers.AvgPoolNeuron``) ->
  ``SumPool2d`` (over the whole map for GAP) into the LIF.
- head -> ``Flatten`` (start_dim 0: shapes carry no batch dimension), ``Linear`` + ``LIF``;
  voting -> a fixed ``Linear`` (0.1 per group of 10) feeding ``Output``; averaging the output over
  the T steps gives the network's firing rates.

``compat`` restricts the graph to what a consumer implements (same function, other primitives):

- ``norse``: max-pool as ``SumPool2d`` + ``IF(r=1/dt, v_threshold=0.5)`` (norse has no Threshold);
  the factorised reduce as one 2x2 stride-2 conv (both branches in one kernel), since ``norse.torch.from_nir`` runs
  nodes in depth-first order and mis-orders two parallel branches into one node.
- ``spikingjelly``: max-pool as a fixed diagonal ``Conv2d`` (sum) + ``IF``; grouped convolutions
  expanded to dense ones (spikingjelly has no SumPool2d, no Threshold, no grouped conv).
- ``portable``: only ``Conv2d``, ``Linear``, ``Flatten``, ``LIF`` and ``IF`` (every pooling a fixed
  diagonal conv, grouped convs dense, the factorised reduce one conv): one file both norse and
  spikingjelly load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nir
import numpy as np
import torch
from torch import Tensor, nn

from autosnn.core.blocks import SCB, SIB, SRB, ConvBN, FactorizedReduce, Skip
from autosnn.core.layers import AvgPoolNeuron, Cell, ConvNeuron, GAPNeuron, SpikeMaxPool
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import PLIF, V_TH
from exporters.base import ExportError, dense_from_grouped, diagonal_kernel, fold_bn, layer_error

DEFAULT_DT = 1e-4
# The float32 number just below 1: with it, NIR's strict ``v > th`` equals autosnn's ``H >= 1`` for
# every float32 membrane value (nothing lies between the two).
GEQ_THRESHOLD = float(np.nextafter(np.float32(1.0), np.float32(0.0)))
COMPAT = ("nir", "norse", "spikingjelly", "portable")
TARGET = "NIR"


@dataclass
class _Signal:
    """A value flowing through the graph: the node producing it and its shape (no batch)."""

    node: str
    shape: tuple[int, ...]


@dataclass
class _Builder:
    compat: str
    dt: float
    v_threshold: float = V_TH
    nodes: dict[str, nir.NIRNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, node: nir.NIRNode, srcs: Iterable[_Signal]) -> None:
        if name in self.nodes:
            raise ExportError(f"duplicate NIR node name {name!r}")
        self.nodes[name] = node
        self.edges.extend((s.node, name) for s in srcs)

    # -- synapses -------------------------------------------------------------------------
    def conv(
        self,
        name: str,
        src: _Signal,
        weight: np.ndarray,
        bias: np.ndarray,
        stride: int,
        padding: int,
        groups: int = 1,
    ) -> _Signal:
        if groups > 1 and self.compat in ("spikingjelly", "portable"):
            weight, groups = dense_from_grouped(weight, groups), 1
        c, h, w = src.shape
        node = nir.Conv2d(
            input_shape=(h, w),
            weight=weight.astype(np.float32),
            stride=(stride, stride),
            padding=(padding, padding),
            dilation=(1, 1),
            groups=groups,
            bias=bias.astype(np.float32),
        )
        out = tuple(int(v) for v in node.output_type["output"])
        self.add(name, node, [src])
        return _Signal(name, out)

    def convbn(self, name: str, src: _Signal, m: ConvBN) -> _Signal:
        conv = m.conv
        w, b = fold_bn(conv.weight, m.bn, conv.bias)
        return self.conv(name, src, w, b, conv.stride[0], conv.padding[0], conv.groups)

    def pool(self, name: str, src: _Signal, k: int) -> _Signal:
        """Per-channel k x k stride-k sum pooling (every pooling autosnn does is on spikes and
        sums them: max-pool before its "any spike" node, avg-pool/GAP as spike counts)."""
        c, h, w = src.shape
        out = (c, h // k, w // k)
        if self.compat in ("portable", "spikingjelly"):  # spikingjelly has no SumPool2d
            zeros = np.zeros(c, dtype=np.float32)
            return self.conv(name, src, diagonal_kernel(c, k, 1.0), zeros, k, 0)
        node = nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                             padding=np.array([0, 0]))
        node.input_type = {"input": np.array(src.shape)}
        node.output_type = {"output": np.array(out)}
        self.add(name, node, [src])
        return _Signal(name, out)

    # -- neurons --------------------------------------------------------------------------
    def lif(self, name: str, srcs: list[_Signal], lif: nn.Module) -> _Signal:
        if not isinstance(lif, PLIF):
            raise layer_error(
                name, TARGET, f"{type(lif).__name__} is not a spiking neuron (only PLIF maps to LIF)"
            )
        shapes = {s.shape for s in srcs}
        if len(shapes) != 1:
            raise layer_error(name, TARGET, f"inputs of different shapes {sorted(shapes)}")
        shape = srcs[0].shape
        k = float(torch.sigmoid(lif.w.detach().float()))  # the fp32 k the PyTorch neuron uses
        node = nir.LIF(
            tau=np.full(shape, self.dt / k, dtype=np.float64),
            r=np.ones(shape, dtype=np.float64),
            v_leak=np.zeros(shape, dtype=np.float64),
            v_threshold=np.full(shape, self.v_threshold, dtype=np.float64),
            v_reset=np.zeros(shape, dtype=np.float64),
        )
        self.add(name, node, srcs)
        return _Signal(name, shape)

    def any_spike(self, name: str, src: _Signal) -> _Signal:
        """1 where the (non-negative integer) window sum is >= 1: exact under > and >=."""
        shape = src.shape
        if self.compat == "nir":
            node: nir.NIRNode = nir.Threshold(threshold=np.full(shape, 0.5, dtype=np.float64))
        else:  # v += dt * r * I = I, fires on 0.5, reset to 0: the same function, one step
            node = nir.IF(
                r=np.full(shape, 1.0 / self.dt, dtype=np.float64),
                v_threshold=np.full(shape, 0.5, dtype=np.float64),
                v_reset=np.zeros(shape, dtype=np.float64),
            )
        self.add(name, node, [src])
        return _Signal(name, shape)


# -- layer walkers ----------------------------------------------------------------------------


def _block(b: _Builder, name: str, m: nn.Module, x: _Signal) -> _Signal:
    if isinstance(m, SCB):
        h = b.lif(f"{name}.lif1", [b.convbn(f"{name}.conv1", x, m.conv1)], m.lif1)
        return b.lif(f"{name}.lif2", [b.convbn(f"{name}.conv2", h, m.conv2)], m.lif2)
    if isinstance(m, SRB):
        h = b.lif(f"{name}.lif1", [b.convbn(f"{name}.conv1", x, m.conv1)], m.lif1)
        main = b.convbn(f"{name}.conv2", h, m.conv2)
        if isinstance(m.shortcut, nn.Identity):
            short = x
        elif isinstance(m.shortcut, ConvBN):
            short = b.convbn(f"{name}.shortcut", x, m.shortcut)
        else:
            raise layer_error(f"{name}.shortcut", TARGET, f"unknown shortcut {type(m.shortcut)}")
        return b.lif(f"{name}.lif2", [main, short], m.lif2)
    if isinstance(m, Skip):
        if m.reduce is None or m.lif is None:
            return x  # identity: an edge, no node, no spikes
        if isinstance(m.reduce, ConvBN):
            cur = [b.convbn(f"{name}.reduce", x, m.reduce)]
        elif isinstance(m.reduce, FactorizedReduce):
            cur = _factorized_reduce(b, f"{name}.reduce", m.reduce, x)
        else:
            raise layer_error(f"{name}.reduce", TARGET, f"unknown reduce {type(m.reduce)}")
        return b.lif(f"{name}.lif", cur, m.lif)
    if isinstance(m, SIB):
        h = b.lif(f"{name}.lif1", [b.convbn(f"{name}.expand", x, m.expand)], m.lif1)
        h = b.lif(f"{name}.lif2", [b.convbn(f"{name}.depthwise", h, m.depthwise)], m.lif2)
        return b.lif(f"{name}.lif3", [b.convbn(f"{name}.project", h, m.project)], m.lif3)
    raise layer_error(name, TARGET, f"block type {type(m).__name__} has no NIR mapping")


def _factorized_reduce(
    b: _Builder, name: str, m: FactorizedReduce, x: _Signal
) -> list[_Signal]:
    """cat(conv_a(x), conv_b(shift(x))) -> BN as two convs into disjoint channels of one sum."""
    cin = x.shape[0]
    half = m.conv_a.out_channels
    cout = 2 * half
    zero_w = torch.zeros(cout, cin, 1, 1)
    wa = zero_w.clone()
    wa[:half] = m.conv_a.weight.detach()
    wb1 = zero_w.clone()
    wb1[half:] = m.conv_b.weight.detach()
    fa, bias = fold_bn(wa, m.bn)  # bias on branch a covers every channel
    fb, _ = fold_bn(wb1, m.bn)
    # shifted 1x1 stride-2 conv == 2x2 stride-2 conv with the weight at kernel position (1, 1)
    wb = np.zeros((cout, cin, 2, 2), dtype=np.float32)
    wb[:, :, 1, 1] = fb[:, :, 0, 0]
    if b.compat in ("norse", "portable"):  # one node: norse.from_nir's depth-first order
        # mis-runs two parallel branches into one node
        wb[:, :, 0, 0] = fa[:, :, 0, 0]
        return [b.conv(name, x, wb, bias, 2, 0)]
    a = b.conv(f"{name}.conv_a", x, fa, bias, 2, 0)
    c = b.conv(f"{name}.conv_b", x, wb, np.zeros(cout, dtype=np.float32), 2, 0)
    return [a, c]


def _kernel(pool: nn.MaxPool2d | nn.AvgPool2d) -> int:
    k = pool.kernel_size
    return k if isinstance(k, int) else k[0]


def _body_layer(b: _Builder, name: str, m: nn.Module, x: _Signal) -> _Signal:
    if isinstance(m, Cell):
        return _block(b, f"{name}.ops.{m.active}", m.ops[m.active], x)
    if isinstance(m, SpikeMaxPool):
        return b.any_spike(name, b.pool(f"{name}.sum", x, _kernel(m.pool)))
    if isinstance(m, AvgPoolNeuron):
        return b.lif(f"{name}.lif", [b.pool(f"{name}.pool", x, _kernel(m.pool))], m.lif)
    if isinstance(m, GAPNeuron):
        c, h, w = x.shape
        if h != w:
            raise layer_error(name, TARGET, f"global pooling of a non-square map {h}x{w}")
        return b.lif(f"{name}.lif", [b.pool(f"{name}.pool", x, h)], m.lif)
    if isinstance(m, ConvNeuron):
        return b.lif(f"{name}.lif", [b.convbn(f"{name}.conv", x, m.conv)], m.lif)
    if isinstance(m, nn.Sequential):
        for i, sub in enumerate(m):
            x = _body_layer(b, f"{name}.{i}", sub, x)
        return x
    raise layer_error(name, TARGET, f"layer type {type(m).__name__} has no NIR mapping")


def _stem(b: _Builder, net: SpikingNet, x: _Signal) -> _Signal:
    stem = net.stem
    if stem.crop:
        c = x.shape[0]
        crop = 2 * stem.crop + 1  # picks the centre pixel: out[i, j] = x[i + crop, j + crop]
        w = np.zeros((c, c, crop, crop), dtype=np.float32)
        for ch in range(c):
            w[ch, ch, stem.crop, stem.crop] = 1.0
        x = b.conv("stem.crop", x, w, np.zeros(c, dtype=np.float32), 1, 0)
    h = b.lif("stem.lif", [b.convbn("stem.conv", x, stem.conv)], stem.lif)
    for i, sub in enumerate(stem.extra):
        h = _body_layer(b, f"stem.extra.{i}", sub, h)
    return h


def _head(b: _Builder, net: SpikingNet, x: _Signal) -> _Signal:
    flat = (int(np.prod(x.shape)),)
    node = nir.Flatten(input_type={"input": np.array(x.shape)}, start_dim=0, end_dim=-1)
    b.add("head.flatten", node, [x])
    h = _Signal("head.flatten", flat)
    for i, (fc, lif) in enumerate(zip(net.head.fcs, net.head.lifs)):
        if fc.bias is not None:
            fc_node: nir.NIRNode = nir.Affine(
                weight=fc.weight.detach().float().numpy(), bias=fc.bias.detach().float().numpy()
            )
        else:
            fc_node = nir.Linear(weight=fc.weight.detach().float().numpy())
        b.add(f"head.fcs.{i}", fc_node, [h])
        h = b.lif(f"head.lifs.{i}", [_Signal(f"head.fcs.{i}", (fc.out_features,))], lif)
    classes = net.head.num_classes
    vote = np.zeros((classes, 10 * classes), dtype=np.float32)
    for c in range(classes):
        vote[c, 10 * c : 10 * (c + 1)] = 0.1
    b.add("head.vote", nir.Linear(weight=vote), [h])
    return _Signal("head.vote", (classes,))


def to_nir(
    net: SpikingNet, *, compat: str = "nir", dt: float = DEFAULT_DT, geq_threshold: bool = False
) -> nir.NIRGraph:
    """The NIR graph of ``net`` (its active path, eval-mode BN statistics folded).

    ``geq_threshold``: write ``v_threshold`` as the float32 number just below 1, so that strict
    consumers (NIR, norse, our executor) fire exactly when autosnn does, including a membrane
    value of exactly 1.0 (e.g. an avg-pool of an all-spiking window with ``k`` rounding to 1).
    Not for spikingjelly, which already fires at equality.
    """
    if compat not in COMPAT:
        raise ExportError(f"unknown NIR compat mode {compat!r}; choose from {', '.join(COMPAT)}")
    if not dt > 0:
        raise ExportError(f"dt must be > 0, got {dt}")
    if geq_threshold and compat == "spikingjelly":
        raise ExportError("geq_threshold is for strict consumers; spikingjelly fires at equality")
    cfg = net.config
    b = _Builder(compat, float(dt), GEQ_THRESHOLD if geq_threshold else V_TH)
    in_shape = tuple(int(v) for v in cfg.input_shape)
    b.add("input", nir.Input(input_type={"input": np.array(in_shape)}), [])
    x = _stem(b, net, _Signal("input", in_shape))
    for i, layer in enumerate(net.body):
        x = _body_layer(b, f"body.{i}", layer, x)
    out = _head(b, net, x)
    b.add("output", nir.Output(output_type={"output": np.array(out.shape)}), [out])
    meta = {
        "producer": "autosnn",
        "dt": float(dt),
        "discretisation": "forward-euler",
        "threshold": "v > v_threshold (NIR); autosnn fires on >="
        + ("; v_threshold = float32 below 1, so > equals >= 1" if geq_threshold else ""),
        "reset": "hard reset to v_reset = 0",
        "input_presentation": "static image repeated every step" if len(in_shape) == 3 else "",
        "compat": compat,
        "kind": cfg.kind,
        "name": cfg.name,
        "space": cfg.name if cfg.kind != "zoo" else "",
        "zoo": cfg.name if cfg.kind == "zoo" else "",
        "genotype": ",".join(net.genotype),
        "channels": int(cfg.channels),
        "classes": int(cfg.num_classes),
        "T": int(cfg.timesteps),
        "input_shape": list(in_shape),
        "output": "per-step votes (mean over T = class firing rates)",
    }
    try:
        graph = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=meta, type_check=True)
    except Exception:  # NIR's shape inference is incomplete for pooling; our shapes are set
        graph = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=meta, type_check=False)
    return graph


def export_nir(
    net: SpikingNet,
    path: str | Path,
    *,
    compat: str = "nir",
    dt: float = DEFAULT_DT,
    geq_threshold: bool = False,
) -> Path:
    """Write the NIR graph of ``net`` to ``path`` (HDF5); returns the path."""
    graph = to_nir(net, compat=compat, dt=dt, geq_threshold=geq_threshold)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(str(path), graph)
    return path


def read_nir(path: str | Path) -> nir.NIRGraph:
    """Read a ``.nir`` file; metadata strings decoded to ``str``."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such NIR file")
    graph = nir.read(str(path))
    graph.metadata = {k: _plain(v) for k, v in (graph.metadata or {}).items()}
    return graph


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def activity_to_nir_names(net: SpikingNet, activity: dict[str, Tensor]) -> dict[str, np.ndarray]:
    """``net.activity()`` (per-neuron spike counts per timestep per sample, ``(T, *shape)``) as
    float64 numpy arrays keyed by NIR node name: the LIF, Threshold and IF nodes carry the
    spiking module's name, and ``input`` is the graph's input node."""
    names = {name for name, _ in net.active_spiking_layers()} | {"input"}
    out = {}
    for key, value in activity.items():
        if key not in names:
            raise ExportError(f"activity key {key!r} is not a spiking layer on the active path")
        out[key] = value.detach().cpu().double().numpy()
    return out
