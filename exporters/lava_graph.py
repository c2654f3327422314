"""A NIR graph as a Lava process graph (Loihi 2, fixed point): any searched network, residual included.

:func:`plan_from_nir` reads the NIR graph (the one lowering's output) into a :class:`LavaPlan`:
neurons (LIF, IF, Threshold nodes), each fed by one or more synapses (Conv2d, Linear/Affine,
SumPool2d as a fixed diagonal conv; a neuron-to-neuron edge, i.e. an identity shortcut, as an
identity 1x1 conv). Several synapses into one neuron sum at the neuron, as on the chip; that covers
SRB shortcuts and factorised reduces. :func:`run_plan` builds it from Lava processes
(``Conv``/``Dense`` feeding ``LIFReset``) and runs it with ``Loihi2SimCfg(select_tag="fixed_pt")``.

Fixed point (per neuron, shared by all its synapses so that their sum is right): a neuron
``v' = v (1 - decay) + gain (W x + b)``, spike ``v' > th``, reset to 0 (PLIF/LIF: decay = gain =
k = dt/tau; IF: decay 0, gain dt r; Threshold: memoryless, gain 1) becomes ``du = 4095`` (the
current holds this step's input only), ``dv = round(decay * 4096)``, integer weights
``round(gain W s / 2) * 2`` in [-256, 254], ``bias = gain b s 64`` (mantissa/exponent),
``vth = th s``, where ``s = vth / th`` with the largest integer ``vth`` (<= 4096) keeping every
weight of the neuron in 8 bits (exact threshold, nearly the whole 8-bit range). Lava shifts
synaptic input and the threshold by 6 bits, so ``s`` cancels. The arithmetic itself lives in
:mod:`autosnn.core.fixed_point`, which quantisation-aware training (``autosnn train --quantize
loihi2``) runs in its forward pass: a QAT network exports to exactly the integers it trained on.

Timing: every synapse process delays by one step. A neuron whose sources arrive at different
depths (a residual block: two synapse hops on the main path, one on the shortcut) would mix
timesteps, so the shallower source's spikes pass through relays (identity synapse + memoryless
neuron, exact on binary spikes) until the depths match. Samples are presented back to back, T
steps each; each neuron resets (``LIFReset``) exactly when a new sample's first input reaches it.

The host runs the encoder (the neurons fed by the input: the stem conv sees real-valued pixels,
which spikes cannot carry) and the voting read-out (a fixed sum over groups of output neurons).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import nir
import numpy as np

from autosnn.core.fixed_point import (  # noqa: F401  (W_MIN... re-exported for callers)
    DECAY_UNITY,
    MAX_SCALE,
    W_MAX,
    W_MIN,
    fixed_decay,
    quantise_population,
)
from exporters.base import ExportError, diagonal_kernel

NEURON_NODES = (nir.LIF, nir.IF, nir.Threshold)


@dataclass
class Synapse:
    """One synaptic projection into a neuron (float weights, torch layout)."""

    name: str
    src: str  # neuron whose spikes feed it (a relay's name when delayed)
    kind: str  # conv | dense
    weight: np.ndarray  # conv (Cout, Cin/groups, kh, kw) / dense (out, in) in torch order
    bias: np.ndarray | None
    in_shape: tuple[int, ...]  # CHW or (F,) of the source
    stride: int = 1
    padding: int = 0
    groups: int = 1


@dataclass
class Neuron:
    """A neuron population: ``v' = v (1 - decay) + gain (sum of synapses)``, spike ``v' > th``."""

    name: str
    shape: tuple[int, ...]  # CHW or (F,)
    decay: float
    gain: float
    threshold: float
    synapses: list[Synapse] = field(default_factory=list)
    depth: int = 0
    relay: bool = False
    fixed: dict | None = None  # integer parameters as read from a file (else quantised here)


@dataclass
class LavaPlan:
    """Host encoder neurons (depth 0), on-chip neurons in topological order, the read-out."""

    encoder: dict[str, tuple[int, ...]]  # name -> CHW
    neurons: dict[str, Neuron]
    readout_src: str
    readout_weight: np.ndarray  # (classes, features of readout_src)

    @property
    def is_chain(self) -> bool:
        """One synapse per neuron, each fed by the previous one: expressible as netx HDF5."""
        prev = next(iter(self.encoder)) if len(self.encoder) == 1 else None
        for n in self.neurons.values():
            if n.relay or len(n.synapses) != 1 or n.synapses[0].src != prev:
                return False
            prev = n.name
        return prev == self.readout_src


def _neuron_params(name: str, node: nir.NIRNode, dt: float) -> tuple[float, float, float]:
    if isinstance(node, nir.Threshold):
        return 1.0, 1.0, float(np.asarray(node.threshold).reshape(-1)[0])
    r = np.asarray(node.r, dtype=np.float64)
    th = np.asarray(node.v_threshold, dtype=np.float64)
    if np.any(np.asarray(node.v_reset) != 0):
        raise ExportError(f"layer {name!r} cannot run in Lava: v_reset != 0")
    if np.ptp(r) or np.ptp(th):
        raise ExportError(f"layer {name!r} cannot run in Lava: per-neuron r / v_threshold")
    if isinstance(node, nir.IF):
        return 0.0, float(dt * r.flat[0]), float(th.flat[0])
    tau = np.asarray(node.tau, dtype=np.float64)
    if np.any(np.asarray(node.v_leak) != 0) or np.ptp(tau) or np.any(r != 1):
        raise ExportError(f"layer {name!r} cannot run in Lava: needs v_leak = 0, r = 1 and one "
                          "tau per layer")
    k = float(dt / tau.flat[0])
    return k, k, float(th.flat[0])


def plan_from_nir(graph: nir.NIRGraph) -> LavaPlan:
    """Read a NIR graph (as :func:`exporters.nir_export.to_nir` writes it) into a Lava plan."""
    meta = graph.metadata or {}
    if "dt" not in meta:
        raise ExportError("the NIR graph has no metadata['dt']")
    dt = float(np.asarray(meta["dt"]))
    preds: dict[str, list[str]] = defaultdict(list)
    for s, d in graph.edges:
        preds[d].append(s)
    nodes = graph.nodes
    inp = next(n for n, v in nodes.items() if isinstance(v, nir.Input))
    out = next(n for n, v in nodes.items() if isinstance(v, nir.Output))
    shapes = _shapes(graph, inp)

    def reaches_input(name: str) -> bool:
        node = nodes[name]
        if name == inp:
            return True
        if isinstance(node, NEURON_NODES):
            return False
        return any(reaches_input(p) for p in preds[name])

    encoder: dict[str, tuple[int, ...]] = {}
    neurons: dict[str, Neuron] = {}
    for name in _topological(nodes, graph.edges):
        node = nodes[name]
        if not isinstance(node, NEURON_NODES):
            continue
        if any(reaches_input(p) for p in preds[name]):
            encoder[name] = shapes[name]
            continue
        decay, gain, th = _neuron_params(name, node, dt)
        n = Neuron(name, shapes[name], decay, gain, th)
        for p in preds[name]:
            n.synapses.append(_synapse(name, p, nodes, preds, shapes))
        neurons[name] = n
    # read-out: Output <- (Linear/Affine) <- neuron
    (src,) = preds[out]
    if isinstance(nodes[src], (nir.Linear, nir.Affine)):
        weight = np.asarray(nodes[src].weight, dtype=np.float64)
        (src,) = preds[src]
    else:
        weight = np.eye(int(np.prod(shapes[src])))
    if src not in neurons:
        raise ExportError(f"NIR node {src!r} feeds the output but is not an on-chip neuron")
    plan = LavaPlan(encoder, neurons, src, weight)
    _balance_depths(plan)
    return plan


def _shapes(graph: nir.NIRGraph, inp: str) -> dict[str, tuple[int, ...]]:
    """Output shape (no batch) of every node, by running the graph's shape rules forward."""
    import torch

    from exporters.nir_run import NIRModule

    mod = NIRModule(graph, dt=float(np.asarray(graph.metadata["dt"])))
    shape = tuple(int(v) for v in np.asarray(graph.nodes[inp].input_type["input"]))
    _, _, values = mod.step(torch.zeros(1, *shape), {})
    return {k: tuple(v.shape[1:]) for k, v in values.items()}


def _topological(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]) -> list[str]:
    from exporters.nir_run import _topological as topo

    return topo(list(nodes), edges)


def _synapse(dst: str, p: str, nodes: dict, preds: dict, shapes: dict) -> Synapse:
    """The synapse on edge ``p -> dst``: p is a neuron (identity), a conv/pool or a linear
    (possibly after a Flatten) fed by a neuron."""
    node = nodes[p]
    if isinstance(node, NEURON_NODES):  # identity shortcut: spikes straight into the sum
        c = shapes[p][0]
        if len(shapes[p]) == 3:
            return Synapse(f"{dst}<-{p}", p, "conv", diagonal_kernel(c, 1, 1.0), None, shapes[p])
        return Synapse(f"{dst}<-{p}", p, "dense", np.eye(c, dtype=np.float32), None, shapes[p])
    (src,) = preds[p]
    if isinstance(node, nir.Conv2d):
        _need_neuron(p, src, nodes)
        stride, pad, dil = (np.asarray(v).reshape(-1) for v in (node.stride, node.padding,
                                                                node.dilation))
        if isinstance(node.padding, str) or len(set(stride)) != 1 or len(set(pad)) != 1 \
                or np.any(dil != 1):
            raise ExportError(f"layer {p!r} cannot run in Lava: needs square stride/padding, "
                              "no dilation")
        b = None if node.bias is None else np.asarray(node.bias, dtype=np.float64)
        return Synapse(p, src, "conv", np.asarray(node.weight, dtype=np.float64), b, shapes[src],
                       int(stride[0]), int(pad[0]), int(np.asarray(node.groups)))
    if isinstance(node, nir.SumPool2d):
        _need_neuron(p, src, nodes)
        k = int(np.asarray(node.kernel_size).reshape(-1)[0])
        c = shapes[src][0]
        return Synapse(p, src, "conv", diagonal_kernel(c, k, 1.0).astype(np.float64), None,
                       shapes[src], k, 0)
    if isinstance(node, (nir.Linear, nir.Affine)):
        if isinstance(nodes[src], nir.Flatten):
            (src,) = preds[src]
        _need_neuron(p, src, nodes)
        b = np.asarray(node.bias, dtype=np.float64) if isinstance(node, nir.Affine) else None
        return Synapse(p, src, "dense", np.asarray(node.weight, dtype=np.float64), b, shapes[src])
    raise ExportError(f"layer {p!r} cannot run in Lava: {type(node).__name__} between neurons")


def _need_neuron(name: str, src: str, nodes: dict) -> None:
    if not isinstance(nodes[src], NEURON_NODES):
        raise ExportError(f"layer {name!r} cannot run in Lava: fed by {type(nodes[src]).__name__}"
                          " (two synapses in a row); only neurons feed synapses")


def _balance_depths(plan: LavaPlan) -> None:
    """Depth = synapse hops from the encoder; delay shallow sources through relays."""
    depth = {n: 0 for n in plan.encoder}
    relays: dict[tuple[str, int], str] = {}
    ordered: dict[str, Neuron] = {}
    for n in plan.neurons.values():
        n.depth = max(depth[s.src] for s in n.synapses) + 1
        for s in n.synapses:
            src = s.src
            for j in range(1, n.depth - 1 - depth[s.src] + 1):
                key = (s.src, j)
                if key not in relays:
                    name = f"{s.src}.relay{j}"
                    shape = plan.encoder.get(s.src) or plan.neurons[s.src].shape
                    kind = "conv" if len(shape) == 3 else "dense"
                    w = (diagonal_kernel(shape[0], 1, 1.0) if kind == "conv"
                         else np.eye(shape[0], dtype=np.float32))
                    r = Neuron(name, shape, 1.0, 1.0, 0.5, relay=True,
                               synapses=[Synapse(f"{name}.syn", src, kind, w, None, shape)])
                    r.depth = depth[s.src] + j
                    depth[name] = r.depth
                    ordered[name] = r
                    relays[key] = name
                src = relays[key]
            s.src = src
        depth[n.name] = n.depth
        ordered[n.name] = n
    plan.neurons = ordered


# -- fixed point --------------------------------------------------------------------------------


def quantise_neuron(n: Neuron) -> dict:
    """Integer parameters of one neuron population and its synapses (module docstring), from
    :func:`autosnn.core.fixed_point.quantise_population`, the arithmetic QAT trains with."""
    if n.fixed is not None:
        return n.fixed
    import torch

    fp = quantise_population([torch.from_numpy(np.asarray(s.weight, dtype=np.float64))
                              for s in n.synapses],
                             [None if s.bias is None
                              else torch.from_numpy(np.asarray(s.bias, dtype=np.float64))
                              for s in n.synapses],
                             n.gain, n.threshold, n.decay, n.shape[0])
    return {"weights": [w.numpy().astype(np.int32) for w in fp.weights],
            "bias_mant": fp.bias_mant.numpy().astype(np.int32), "bias_exp": fp.bias_exp,
            "scale": fp.scale, "dv": fp.dv, "vth": fp.vth}


# -- running in Lava ----------------------------------------------------------------------------


def _xyz(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[::-1])  # CHW -> WHC (Lava's XYZ order)


def _lava_conv_weight(w: np.ndarray) -> np.ndarray:
    """torch (Cout, Cin, kh, kw) cross-correlation -> Lava Conv (Cout, kw, kh, Cin), which Lava
    flips spatially and transposes back before its own correlation."""
    return np.ascontiguousarray(w.transpose(0, 3, 2, 1)[:, ::-1, ::-1])


def _flatten_perm(shape: tuple[int, ...]) -> np.ndarray:
    """For Lava's C-order flatten of a (W, H, C) port: the torch (C, H, W) flat index of each."""
    if len(shape) == 1:
        return np.arange(shape[0])
    c, h, w = shape
    idx = np.arange(c * h * w).reshape(c, h, w)  # torch flat index at (c, h, w)
    return idx.transpose(2, 1, 0).reshape(-1)  # visited in (w, h, c) order


def run_plan(plan: LavaPlan, encoder_spikes: dict[str, np.ndarray], record: bool = True
             ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run the plan in Lava fixed point on the host encoder's spikes ``{name: (T, N, *CHW)}``.

    Returns per-neuron spikes ``{name: (T, N, *shape)}`` (relays left out; only the read-out
    neuron unless ``record``) and the per-step votes ``(T, N, classes)``.
    """
    from exporters import lava_compat

    lava_compat.install()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIFReset

    first = next(iter(encoder_spikes.values()))
    T, N = first.shape[:2]
    max_depth = max((n.depth for n in plan.neurons.values()), default=0)
    steps = N * T + max_depth + 1
    ports = {}
    procs = []
    for name, shape in plan.encoder.items():
        ev = np.asarray(encoder_spikes[name])  # (T, N, C, H, W)
        data = np.zeros((*_xyz(shape), steps), dtype=np.int32)
        frames = ev.transpose(1, 0, *range(2, ev.ndim)).reshape(N * T, *shape)  # (N*T, C, H, W)
        data[..., : N * T] = np.moveaxis(frames.transpose(0, *range(ev.ndim - 2, 0, -1)), 0, -1)
        src = Source(data=data)
        ports[name] = src.s_out
        procs.append(src)
    sinks = {}
    for n in plan.neurons.values():
        q = quantise_neuron(n)
        xyz = _xyz(n.shape)
        lif = LIFReset(shape=xyz, du=DECAY_UNITY - 1, dv=q["dv"], vth=q["vth"],
                       bias_mant=np.broadcast_to(q["bias_mant"], xyz).copy(),  # C is last
                       bias_exp=q["bias_exp"], reset_interval=T,
                       reset_offset=(1 + n.depth) % T, name=n.name)
        for s, w in zip(n.synapses, q["weights"]):
            src_port = ports[s.src]
            if s.kind == "conv":
                syn = Conv(weight=_lava_conv_weight(w), input_shape=_xyz(s.in_shape),
                           padding=(s.padding, s.padding), stride=(s.stride, s.stride),
                           dilation=(1, 1), groups=s.groups, name=s.name)
                src_port.connect(syn.s_in)
            else:
                perm = _flatten_perm(s.in_shape)
                syn = Dense(weights=w[:, perm], name=s.name)
                (src_port.flatten() if len(s.in_shape) > 1 else src_port).connect(syn.s_in)
            syn.a_out.connect(lif.a_in)
            procs.append(syn)
        ports[n.name] = lif.s_out
        procs.append(lif)
        if not n.relay and (record or n.name == plan.readout_src):
            sink = Sink(shape=xyz, buffer=steps)
            lif.s_out.connect(sink.a_in)
            sinks[n.name] = sink
    runner = procs[0]
    try:
        runner.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        raw = {k: s.data.get() for k, s in sinks.items()}
    finally:
        runner.stop()
    spikes = {}
    for name, r in raw.items():
        n = plan.neurons[name]
        per = []
        for i in range(N):
            lo = i * T + n.depth
            w = np.moveaxis(r[..., lo : lo + T], -1, 0)  # (T, *XYZ)
            per.append(w.transpose(0, *range(w.ndim - 1, 0, -1)) if w.ndim > 2 else w)
        spikes[name] = np.stack(per, axis=1).astype(np.float32)  # (T, N, *shape)
    out = spikes[plan.readout_src].reshape(T, N, -1)
    votes = out @ plan.readout_weight.T.astype(np.float32)
    return spikes, votes


def emulate_plan(plan: LavaPlan, encoder_spikes: dict[str, np.ndarray]
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The plan's fixed-point arithmetic in torch, step by step (Lava's ``PyLifModelBitAcc``
    and integer conv/dense), without Lava's per-step process overhead: a quick stand-in to
    check a quantisation before the (slow) Lava run. Relays only delay, so time is aligned
    here. Returns what :func:`run_plan` returns."""
    import torch
    import torch.nn.functional as F

    first = next(iter(encoder_spikes.values()))
    T, N = first.shape[:2]
    spikes: dict[str, list] = {k: [torch.as_tensor(np.asarray(v)[t]).double() for t in range(T)]
                               for k, v in encoder_spikes.items()}
    params = {}
    for n in plan.neurons.values():
        q = quantise_neuron(n)
        bias_int = np.asarray(q["bias_mant"], dtype=np.int64) << int(q["bias_exp"])
        shape = (1, -1, 1, 1) if len(n.shape) == 3 else (1, -1)
        params[n.name] = ([torch.as_tensor(w, dtype=torch.float64) for w in q["weights"]],
                          torch.as_tensor(bias_int, dtype=torch.float64).reshape(shape), q)
    alias: dict[str, str] = {}  # relay neuron -> the neuron whose spikes it forwards
    for n in plan.neurons.values():
        if n.relay:
            (s,) = n.synapses
            alias[n.name] = alias.get(s.src, s.src)
            continue
        weights, bias, q = params[n.name]
        v = torch.zeros(N, *n.shape, dtype=torch.float64)
        out = []
        for t in range(T):
            a = torch.zeros_like(v)
            for s, w in zip(n.synapses, weights):
                x = spikes[alias.get(s.src, s.src)][t]
                if s.kind == "conv":
                    a = a + F.conv2d(x, w, None, s.stride, s.padding, 1, s.groups)
                else:
                    a = a + F.linear(x.reshape(N, -1), w)
            v = fixed_decay(v, q["dv"]) + a * 64 + bias
            s_out = v > q["vth"] * 64
            v = torch.where(s_out, torch.zeros_like(v), v)
            out.append(s_out.double())
        spikes[n.name] = out
    res = {n: torch.stack(spikes[n]).float().numpy() for n, p in plan.neurons.items()
           if not p.relay}
    votes = res[plan.readout_src].reshape(T, N, -1) @ plan.readout_weight.T.astype(np.float32)
    return res, votes
