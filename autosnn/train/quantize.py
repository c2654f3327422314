"""Quantisation-aware training (QAT) for a chip: the forward pass runs the chip's integer
arithmetic, so that the export needs no rounding that training did not see.

``loihi2``: the network is walked with the same lowering the exporters use
(:func:`autosnn.core.lowering.lower_network`), which yields the populations Lava runs (a neuron
and the synapses summed into it: convs with BN folded, sum-pools, identity shortcuts, the head's
linears). :class:`QuantizedNet` then runs that graph in torch with exactly the Lava exporter's
fixed point (:func:`autosnn.core.fixed_point.quantise_population`: one 8-bit weight scale per
population, even weights, the bias mantissa/exponent, ``dv = round(4096 k)``, the integer
threshold and the integer decay) and straight-through gradients:

- BN is folded with its running statistics, as the exporter folds it; in training mode each
  ConvBN first updates those statistics from the batch (a no-grad float conv), so the running
  statistics stay those of the data while the forward pass equals the deployed network's;
- the synaptic input is an integer sum (float64 convs of binary spikes with integer weights,
  exact), the membrane runs Lava's integer update (:class:`_FixedLIF`), and the backward pass is
  the PLIF's (ATan surrogate in membrane units, detached reset, straight-through floors);
- the stem (the host encoder: real pixels -> conv -> PLIF) stays float, as the export runs it on
  the host; max-pools are max-pools (on binary spikes exactly Lava's any-spike population);
- the read-out is the voting matrix on the output spikes, as :func:`exporters.lava_graph.emulate_plan`
  computes it.

So ``QuantizedNet(net)(x)`` gives the spikes of the Lava emulation of ``net``'s export, bit for
bit (``tests/test_quantize.py``), and its gradients train ``net``'s own parameters: the checkpoint
stays a normal float network, exported as usual.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autosnn.core.blocks import ConvBN, FactorizedReduce, safe_conv2d
from autosnn.core.errors import AutosnnError
from autosnn.core.fixed_point import (
    DECAY_UNITY,
    STATE_SHIFT,
    fixed_decay,
    plif_gain,
    quantise_population,
    straight_through,
)
from autosnn.core.lowering import Signal, fold_bn, lower_network
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import ALPHA, PLIF, SpikingLayer, timesteps
from autosnn.core.registry import Registry
from autosnn.data import TensorSplit, batches

ENCODER = "stem.lif"


class QuantizeError(AutosnnError):
    """A network this chip's quantisation-aware training cannot express."""


# -- the lowered graph --------------------------------------------------------------------------


@dataclass
class _Op:
    """A recorded primitive: ``kind`` in conv | pool | flatten | linear | input."""

    kind: str
    src: str | None
    weight: Tensor | None = None  # fixed weights (no source module)
    bias: Tensor | None = None
    stride: int = 1
    padding: int = 0
    groups: int = 1
    source: nn.Module | None = None


@dataclass
class _Population:
    """A neuron (``module``) and the nodes summed into it; ``any_spike`` for a max-pool."""

    name: str
    srcs: list[str]
    shape: tuple[int, ...]
    module: nn.Module | None
    any_spike: bool = False
    kernel: int = 0


@dataclass
class _Graph:
    """The :class:`~autosnn.core.lowering.Lowerer` that records the walk (no weights copied for
    modules: they are read at every forward, so gradients reach them)."""

    ops: dict[str, _Op] = field(default_factory=dict)
    pops: dict[str, _Population] = field(default_factory=dict)
    host: set[str] = field(default_factory=set)  # nodes computed on the host (before a neuron)
    readout: tuple[str, Tensor] | None = None

    def input(self, name: str, shape: tuple[int, ...]) -> Signal:
        self.ops[name] = _Op("input", None)
        self.host.add(name)
        return Signal(name, shape)

    def output(self, name: str, src: Signal) -> None:
        op = self.ops.get(src.node)
        if op is None or op.kind != "linear" or op.source is not None or op.src not in self.pops:
            raise QuantizeError(f"layer {src.node!r}: the output must be the voting read-out of "
                                "a neuron")
        assert op.weight is not None and op.src is not None
        self.readout = (op.src, op.weight.float())

    def _add(self, name: str, op: _Op) -> Signal:
        self.ops[name] = op
        if op.src in self.host:
            self.host.add(name)
        return Signal(name, ())

    def conv(self, name: str, src: Signal, weight: Tensor, bias: Tensor | None, stride: int,
             padding: int, groups: int = 1, source: nn.Module | None = None) -> Signal:
        w = torch.as_tensor(weight).detach().float()
        b = None if bias is None else torch.as_tensor(bias).detach().float()
        self._add(name, _Op("conv", src.node, w, b, stride, padding, groups, source))
        h, wd = src.shape[1:]
        out = (w.shape[0], (h + 2 * padding - w.shape[2]) // stride + 1,
               (wd + 2 * padding - w.shape[3]) // stride + 1)
        return Signal(name, out)

    def sum_pool(self, name: str, src: Signal, k: int) -> Signal:
        self._add(name, _Op("pool", src.node, stride=k))
        c, h, w = src.shape
        return Signal(name, (c, h // k, w // k))

    def neuron(self, name: str, srcs: Sequence[Signal], module: nn.Module) -> Signal:
        if not isinstance(module, PLIF):
            raise QuantizeError(f"layer {name!r}: {type(module).__name__} has no Loihi 2 "
                                "quantisation (only PLIF neurons)")
        shapes = {s.shape for s in srcs}
        if len(shapes) != 1:
            raise QuantizeError(f"layer {name!r}: inputs of different shapes {sorted(shapes)}")
        if any(s.node in self.host for s in srcs) and name != ENCODER:
            raise QuantizeError(f"layer {name!r}: only {ENCODER} may read the input (the host "
                                "encoder)")
        self.pops[name] = _Population(name, [s.node for s in srcs], srcs[0].shape, module)
        return Signal(name, srcs[0].shape)

    def any_spike(self, name: str, src: Signal) -> Signal:
        op = self.ops[src.node]
        if op.kind != "pool" or op.src is None:
            raise QuantizeError(f"layer {name!r}: any-spike must follow a sum pool")
        self.pops[name] = _Population(name, [op.src], src.shape, None, True, op.stride)
        return Signal(name, src.shape)

    def flatten(self, name: str, src: Signal) -> Signal:
        self._add(name, _Op("flatten", src.node))
        return Signal(name, (math.prod(src.shape),))

    def linear(self, name: str, src: Signal, weight: Tensor, bias: Tensor | None,
               source: nn.Module | None = None) -> Signal:
        w = torch.as_tensor(weight).detach().float()
        b = None if bias is None else torch.as_tensor(bias).detach().float()
        self._add(name, _Op("linear", src.node, w, b, source=source))
        return Signal(name, (int(w.shape[0]),))


def lower_for_qat(net: SpikingNet) -> _Graph:
    """Record ``net``'s lowered graph (its active path)."""
    g = _Graph()
    lower_network(g, net)
    if ENCODER not in g.pops or g.readout is None:
        raise QuantizeError(f"the network has no {ENCODER!r} encoder or no voting read-out")
    return g


# -- the integer neuron -------------------------------------------------------------------------


class _FixedLIF(torch.autograd.Function):
    """Lava's integer CUBA neuron with ``du = 4095`` over T steps on an integer input current
    ``cur`` (T, M) (``64 W x + bias`` per step), spike ``v > 64 vth``, reset to 0. Backward: the
    PLIF's ATan surrogate on the membrane in real units (``v / (64 s)``), reset detached, the
    integer decay's floor straight through; ``d`` (the decay, ``dv / 4096``) gets its gradient."""

    @staticmethod
    def forward(ctx, cur: Tensor, d: Tensor, dv: int, vth: int, scale: float,  # noqa: PLR0913
                threshold: float) -> Tensor:
        v = torch.zeros_like(cur[0])
        th = float(vth * STATE_SHIFT)
        pre, prev, spikes = [], [], []
        for t in range(cur.shape[0]):
            prev.append(v)
            h = fixed_decay(v, dv) + cur[t]
            s = h > th
            pre.append(h)
            spikes.append(s)
            v = torch.where(s, torch.zeros_like(h), h)
        ctx.save_for_backward(torch.stack(pre), torch.stack(prev), d)
        ctx.consts = (th, scale, threshold)
        return torch.stack(spikes).to(torch.float32)

    @staticmethod
    def backward(ctx, grad_s: Tensor):  # type: ignore[override]
        pre, prev, d = ctx.saved_tensors
        th, scale, threshold = ctx.consts
        unit = STATE_SHIFT * scale  # integer membrane per unit of the float membrane
        grad_s = grad_s.to(pre.dtype)
        grad_cur = torch.empty_like(pre)
        grad_v = torch.zeros_like(pre[0])
        grad_d = torch.zeros((), dtype=pre.dtype, device=pre.device)
        keep = 1.0 - d.detach().to(pre.dtype)
        for t in range(pre.shape[0] - 1, -1, -1):
            h = pre[t]
            u = h / unit - threshold
            sg = (ALPHA / 2.0) / (1.0 + (math.pi / 2.0 * ALPHA * u) ** 2) / unit
            gh = grad_s[t] * sg + grad_v * (h <= th).to(h.dtype)
            grad_cur[t] = gh
            grad_d = grad_d - (gh * prev[t]).sum()
            grad_v = gh * keep
        return grad_cur, grad_d.to(d.dtype), None, None, None, None


# -- the quantised forward ----------------------------------------------------------------------


def _update_bn_stats(bn: nn.BatchNorm2d, y: Tensor) -> None:
    """What a training-mode BatchNorm does to its running statistics, from the batch ``y``."""
    if not (bn.training and bn.track_running_stats) or bn.running_mean is None \
            or bn.running_var is None or bn.num_batches_tracked is None:
        return
    bn.num_batches_tracked.add_(1)
    m = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    dims = (0, 2, 3)
    n = y.numel() // y.shape[1]
    mean = y.mean(dims)
    var = y.var(dims, unbiased=False) * (n / max(n - 1, 1))
    bn.running_mean.mul_(1 - m).add_(mean.to(bn.running_mean.dtype), alpha=m)
    bn.running_var.mul_(1 - m).add_(var.to(bn.running_var.dtype), alpha=m)


def _raw_conv(source: nn.Module) -> tuple[Tensor, Tensor | None, nn.BatchNorm2d]:
    """The float conv in front of a source's BN: weight, bias, BN (differentiable weights)."""
    if isinstance(source, ConvBN):
        return source.conv.weight, source.conv.bias, source.bn
    if isinstance(source, FactorizedReduce):  # as its lowering: a at (0, 0), b at (1, 1)
        wa = F.pad(source.conv_a.weight, (0, 1, 0, 1))
        wb = F.pad(source.conv_b.weight, (1, 0, 1, 0))
        return torch.cat([wa, wb]), None, source.bn
    raise QuantizeError(f"{type(source).__name__}: no Loihi 2 quantisation for this synapse")


class QuantizedNet(nn.Module):
    """``net`` with Loihi 2's integer arithmetic in its forward pass (module docstring).

    Holds ``net`` (its parameters are the ones trained); input and output as ``net``'s:
    ``(N, C, H, W)`` or ``(T, N, C, H, W)`` -> firing rates ``(N, classes)``."""

    def __init__(self, net: SpikingNet) -> None:
        super().__init__()
        self.net = net
        self._graphs: dict[tuple[str, ...], _Graph] = {}
        self.keep_spikes = False  # keep every population's spikes of the last forward
        self.spikes: dict[str, Tensor] = {}
        self.graph()  # refuse what cannot be quantised before any training

    def graph(self) -> _Graph:
        """The lowered graph of the active path (recorded once per genotype)."""
        key = self.net.genotype
        if key not in self._graphs:
            self._graphs[key] = lower_for_qat(self.net)
        return self._graphs[key]

    def _synapse(self, g: _Graph, node: str, values: dict[str, Tensor],
                 shape: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor | None, _Op | None]:
        """(input spikes, float weight, float bias, conv geometry) of the synapse ``node``."""
        if node in g.pops:  # identity shortcut: spikes straight into the sum
            x = values[node]
            c = shape[0]
            eye = torch.eye(c, dtype=torch.float32, device=x.device)
            w = eye.reshape(c, c, 1, 1) if len(shape) == 3 else eye
            return x, w, None, _Op("conv", node) if len(shape) == 3 else None
        op = g.ops[node]
        src = op.src
        if op.kind == "linear" and src in g.ops and g.ops[src].kind == "flatten":
            src = g.ops[src].src
        if src not in g.pops:
            raise QuantizeError(f"layer {node!r}: cannot run on Loihi 2: only neurons feed "
                                "synapses (two synapses in a row)")
        if op.kind == "pool":
            x = values[src]
            c = x.shape[1]
            w = torch.zeros(c, c, op.stride, op.stride, device=x.device)
            w[range(c), range(c)] = 1.0
            return x, w, None, _Op("conv", src, stride=op.stride)
        if op.kind == "linear":
            x = values[src].flatten(1)
            if op.source is not None:
                fc = op.source
                assert isinstance(fc, nn.Linear)
                return x, fc.weight.float(), None if fc.bias is None else fc.bias.float(), None
            assert op.weight is not None
            return x, op.weight, op.bias, None
        if op.kind == "conv":
            x = values[src]
            if op.source is None:
                assert op.weight is not None
                return x, op.weight, op.bias, op
            raw_w, raw_b, bn = _raw_conv(op.source)
            if bn.training:
                with torch.no_grad():
                    _update_bn_stats(bn, safe_conv2d(x.float(), raw_w.float(), raw_b, op.stride,
                                                     op.padding, op.groups))
            w, b = fold_bn(raw_w, bn, raw_b, differentiable=True)
            return x, w, b, op
        raise QuantizeError(f"layer {node!r}: {op.kind} cannot feed a Loihi 2 neuron")

    def _population(self, g: _Graph, pop: _Population, values: dict[str, Tensor],
                    T: int) -> Tensor:
        if pop.any_spike:  # any spike in the window: exactly max-pool on binary spikes
            return F.max_pool2d(values[pop.srcs[0]], pop.kernel)
        module = pop.module
        assert isinstance(module, PLIF)
        syn = [self._synapse(g, s, values, pop.shape) for s in pop.srcs]
        k = torch.sigmoid(module.w.float())  # the fp32 k PyTorch (and the exporter) use
        gain = plif_gain(float(k.detach()))
        gain_t = straight_through(k.double(), torch.tensor(gain, dtype=torch.float64))
        fp = quantise_population([w.double() for _, w, _, _ in syn],
                                 [None if b is None else b.double() for _, _, b, _ in syn],
                                 gain_t, 1.0, gain, pop.shape[0])
        cur: Tensor | None = None
        for (x, _, _, geo), wq in zip(syn, fp.weights):
            # binary spikes x even integers <= 256 in magnitude, summed over a fan-in far below
            # 2^16: every product and partial sum is an integer below 2^24, exact in float32
            w32 = wq.float()
            if geo is not None:
                a = safe_conv2d(x.float(), w32, None, geo.stride, geo.padding, geo.groups)
            else:
                a = F.linear(x.float().flatten(1), w32)
            cur = a if cur is None else cur + a
        assert cur is not None
        bias = fp.bias_int.reshape(1, -1, *([1] * (cur.dim() - 2)))
        cur = cur.double() * STATE_SHIFT + bias
        d = straight_through(k.double(), torch.tensor(fp.dv / DECAY_UNITY, dtype=torch.float64))
        flat = cur.reshape(T, -1)
        spikes = _FixedLIF.apply(flat, d, fp.dv, fp.vth, fp.scale, 1.0)
        return spikes.reshape(cur.shape)

    def forward(self, x: Tensor) -> Tensor:
        net = self.net
        T = net.timesteps_of(x)
        g = self.graph()
        values: dict[str, Tensor] = {}
        if net.input_recorder is not None:
            net.input_recorder.add(x, T)
        with timesteps(T):
            values[ENCODER] = net.stem.lif(net.stem.current(x, T))  # the host encoder, float
            for name, pop in g.pops.items():
                if name == ENCODER:
                    continue
                out = self._population(g, pop, values, T)
                module = pop.module if pop.module is not None else net.get_submodule(name)
                if isinstance(module, SpikingLayer):
                    module._account(out)
                values[name] = out
        if self.keep_spikes:
            self.spikes = {k: v.detach() for k, v in values.items()}
        assert g.readout is not None
        src, vote = g.readout
        out = values[src].float()
        n = out.shape[0] // T
        votes = out.reshape(T, n, -1) @ vote.to(out.device).T  # (T, N, classes)
        return votes.mean(0)


# -- registry -----------------------------------------------------------------------------------

# Chips with quantisation-aware training, by name: (network) -> its quantised forward.
QUANTIZERS: Registry[Callable[[SpikingNet], nn.Module]] = Registry("quantisation target")
QUANTIZERS.add("loihi2", QuantizedNet)


def _speck(net: SpikingNet) -> nn.Module:
    """sinabs's discretised Speck network (:mod:`autosnn.train.quantize_speck`)."""
    from autosnn.train.quantize_speck import SpeckQuantizedNet

    return SpeckQuantizedNet(net)


QUANTIZERS.add("speck", _speck)
# the space each target's arithmetic applies to (None: any space its quantiser accepts)
QUANTIZE_SPACE: dict[str, str | None] = {"loihi2": None, "speck": "speck"}


def check_quantize(name: str | None) -> None:
    """One line naming the option and the valid targets for an unknown ``--quantize``."""
    if name is not None and name not in QUANTIZERS:
        raise AutosnnError(f"--quantize {name!r}: expected one of "
                           f"{', '.join(QUANTIZERS.names())}")


def check_quantize_space(name: str | None, space: str | None) -> None:
    """One line when ``--quantize name`` cannot apply to a network of ``space`` (None: a zoo
    model): Speck's discretisation is for speck-space networks, Loihi 2's PLIF arithmetic is not
    (the speck space's IF neurons have no Loihi 2 quantisation)."""
    if name is None:
        return
    check_quantize(name)
    want = QUANTIZE_SPACE.get(name)
    if want is not None and space != want:
        raise AutosnnError(f"--quantize {name}: needs a network of the {want} space, got "
                           f"{space or 'a zoo model'!r} (train it with --space {want})")
    if want is None and space == "speck":
        raise AutosnnError(f"--quantize {name}: a speck-space network has IF neurons, not "
                           f"{name}'s; use --quantize speck")


def quantized(net: SpikingNet, name: str) -> nn.Module:
    """``net``'s forward with chip ``name``'s integer arithmetic (same parameters)."""
    check_quantize(name)
    return QUANTIZERS.get(name)(net)


def quantized_accuracy(net: SpikingNet, name: str, split: TensorSplit, batch_size: int) -> float:
    """Accuracy of ``net`` on ``split`` through chip ``name``'s integer forward: what the chip
    runs. A QAT network's float forward (what :func:`autosnn.search.evaluate.evaluate`
    measures) is not the network that is deployed, so its accuracy is reported beside it."""
    device = next(net.parameters()).device
    model = quantized(net, name)
    was_training = net.training
    net.eval()
    correct = seen = 0
    try:
        with torch.inference_mode():
            for x, y in batches(split, batch_size, shuffle=False, device=device, augment=None):
                correct += int((model(x).argmax(1) == y).sum())
                seen += int(y.shape[0])
    finally:
        net.train(was_training)
    return correct / max(seen, 1)
