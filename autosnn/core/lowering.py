"""One walk from a network to a graph of neuromorphic primitives, and the per-module lowerings.

Every exporter (NIR, and through NIR: ONNX and Lava) starts from this walk, so a new block needs one
lowering, registered by its class, and no exporter edit:

>>> @register_lowering(MyBlock)
... def _lower_my_block(b: Lowerer, name: str, m: MyBlock, x: Signal) -> Signal:
...     h = b.neuron(f"{name}.lif1", [lower_convbn(b, f"{name}.conv1", x, m.conv1)], m.lif1)
...     return h

A lowering receives a :class:`Lowerer` (the target's graph builder) and emits primitives:
``conv`` (weights already BN-folded), ``sum_pool``, ``neuron`` (a PLIF; several sources sum at the
neuron: residual adds), ``any_spike`` (max-pool on spikes: "at least one spike in the window"),
``flatten`` and ``linear`` (``source``: the module a conv / linear comes from, for targets that
describe modules, such as the summary's layer table; None for fixed ones). The node names are the module names, so the spiking nodes carry the
names of the spiking modules (activity files and per-layer comparisons rely on it); the graph's
input node is ``input`` and its output ``output``.

The registry is keyed by module class and looked up along the class's MRO, so a subclass inherits
its parent's lowering unless it registers its own. Core never imports an exporter: the targets
implement :class:`Lowerer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

import torch
from torch import Tensor, nn

from autosnn.core.blocks import SCB, SIB, SRB, ConvBN, FactorizedReduce, Skip
from autosnn.core.errors import AutosnnError
from autosnn.core.layers import (
    AvgPoolNeuron,
    Cell,
    ConvNeuron,
    GAPNeuron,
    Head,
    SpikeMaxPool,
    Stem,
)
from autosnn.core.registry import Registry

if TYPE_CHECKING:
    from autosnn.core.network import SpikingNet

INPUT = "input"
OUTPUT = "output"


class LoweringError(AutosnnError):
    """A module has no lowering, or its lowering cannot express it."""


@dataclass(frozen=True)
class Signal:
    """A value flowing through the lowered graph: the node producing it, its shape (no batch)."""

    node: str
    shape: tuple[int, ...]


class Lowerer(Protocol):
    """What a target's graph builder offers a lowering (all shapes exclude the batch)."""

    def input(self, name: str, shape: tuple[int, ...]) -> Signal: ...

    def output(self, name: str, src: Signal) -> None: ...

    def conv(self, name: str, src: Signal, weight: Tensor, bias: Tensor | None, stride: int,
             padding: int, groups: int = 1, source: nn.Module | None = None) -> Signal: ...

    def sum_pool(self, name: str, src: Signal, k: int) -> Signal: ...

    def neuron(self, name: str, srcs: Sequence[Signal], module: nn.Module) -> Signal: ...

    def any_spike(self, name: str, src: Signal) -> Signal: ...

    def flatten(self, name: str, src: Signal) -> Signal: ...

    def linear(self, name: str, src: Signal, weight: Tensor, bias: Tensor | None,
               source: nn.Module | None = None) -> Signal: ...


Lowering = Callable[[Lowerer, str, nn.Module, Signal], Signal]
# Lowerings by module class (key: "module.QualName"); looked up along the MRO.
LOWERINGS: Registry[Lowering] = Registry("lowering")


def class_key(cls: type) -> str:
    """Registry key of a module class."""
    return f"{cls.__module__}.{cls.__qualname__}"


M = TypeVar("M", bound=nn.Module)
# A lowering of one module class (``M``): what :func:`register_lowering` decorates.
LoweringOf = Callable[[Lowerer, str, M, Signal], Signal]


def register_lowering(cls: type[M]) -> Callable[[LoweringOf[M]], LoweringOf[M]]:
    """Decorator: ``fn(b, name, module, x) -> Signal`` lowers instances of ``cls``."""

    def deco(fn: LoweringOf[M]) -> LoweringOf[M]:
        # Stored as a Lowering of any module: :func:`lower` only calls it with instances of
        # ``cls`` (or its subclasses), which the registry's single value type cannot express.
        LOWERINGS.add(class_key(cls), cast(Lowering, fn))
        return fn

    return deco


def unregister_lowering(cls: type) -> None:
    """Remove the lowering of ``cls`` (tests that register toy blocks clean up with this)."""
    LOWERINGS.remove(class_key(cls))


def lower(b: Lowerer, name: str, m: nn.Module, x: Signal) -> Signal:
    """Lower module ``m`` (named ``name``) fed by ``x``, with the lowering of its class."""
    for cls in type(m).__mro__:
        key = class_key(cls)
        if key in LOWERINGS:
            return LOWERINGS.get(key)(b, name, m, x)
    raise LoweringError(
        f"layer {name!r}: no lowering registered for {type(m).__name__} "
        "(register one with autosnn.core.lowering.register_lowering)"
    )


def lower_network(b: Lowerer, net: SpikingNet) -> Signal:
    """The one walk: input -> stem -> body -> head -> output; returns the head's signal."""
    shape = tuple(int(v) for v in net.config.input_shape)
    x = b.input(INPUT, shape)
    x = lower(b, "stem", net.stem, x)
    for i, layer in enumerate(net.body):
        x = lower(b, f"body.{i}", layer, x)
    out = lower(b, "head", net.head, x)
    b.output(OUTPUT, out)
    return out


# -- helpers shared by lowerings ---------------------------------------------------------------


def fold_bn(
    weight: Tensor, bn: nn.BatchNorm2d | None, bias: Tensor | None = None, *,
    differentiable: bool = False,
) -> tuple[Tensor, Tensor]:
    """Fold an eval-mode BatchNorm into the preceding conv/linear ``weight`` (Cout, ...).

    ``bn(conv(x)) = conv(x) * a + (beta - mean * a)`` with ``a = gamma / sqrt(var + eps)``: the
    folded weight is ``weight * a``, the folded bias ``beta - mean * a (+ bias * a)``. Computed in
    float64, returned in float32 (BN has no node in NIR, Lava or a step function).
    ``differentiable`` keeps the gradient to weight, gamma and beta (quantisation-aware training
    folds with this same arithmetic, so it trains on the weights the exporters write).
    """
    def d(t: Tensor) -> Tensor:
        return t.double() if differentiable else t.detach().double()

    w = d(weight)
    b = d(bias) if bias is not None else torch.zeros(w.shape[0], dtype=w.dtype,
                                                      device=w.device)
    if bn is not None:
        if bn.running_mean is None or bn.running_var is None:
            raise LoweringError("BatchNorm without running statistics cannot be folded")
        a = bn.running_var.detach().double().add(bn.eps).rsqrt()
        if bn.weight is not None:
            a = a * d(bn.weight)
        shift = -bn.running_mean.detach().double() * a
        if bn.bias is not None:
            shift = shift + d(bn.bias)
        w = w * a.reshape(-1, *([1] * (w.dim() - 1)))
        b = b * a + shift
    return w.float(), b.float()


def lower_convbn(b: Lowerer, name: str, x: Signal, m: ConvBN) -> Signal:
    """A ConvBN as one conv with the BN folded in."""
    w, bias = fold_bn(m.conv.weight, m.bn, m.conv.bias)
    padding = cast(tuple[int, ...], m.conv.padding)  # ConvBN pads by k // 2: never a string
    return b.conv(name, x, w, bias, m.conv.stride[0], padding[0], m.conv.groups, source=m)


def _kernel(pool: nn.MaxPool2d | nn.AvgPool2d) -> int:
    k = pool.kernel_size
    return int(k if isinstance(k, int) else k[0])


# -- lowerings of autosnn's own modules ----------------------------------------------------------


@register_lowering(SCB)
def _scb(b: Lowerer, name: str, m: SCB, x: Signal) -> Signal:
    h = b.neuron(f"{name}.lif1", [lower_convbn(b, f"{name}.conv1", x, m.conv1)], m.lif1)
    return b.neuron(f"{name}.lif2", [lower_convbn(b, f"{name}.conv2", h, m.conv2)], m.lif2)


@register_lowering(SRB)
def _srb(b: Lowerer, name: str, m: SRB, x: Signal) -> Signal:
    """The residual add is two sources summed at ``lif2`` (identity: the input itself)."""
    h = b.neuron(f"{name}.lif1", [lower_convbn(b, f"{name}.conv1", x, m.conv1)], m.lif1)
    main = lower_convbn(b, f"{name}.conv2", h, m.conv2)
    if isinstance(m.shortcut, nn.Identity):
        short = x
    elif isinstance(m.shortcut, ConvBN):
        short = lower_convbn(b, f"{name}.shortcut", x, m.shortcut)
    else:
        raise LoweringError(f"layer {name}.shortcut: unknown shortcut {type(m.shortcut).__name__}")
    return b.neuron(f"{name}.lif2", [main, short], m.lif2)


@register_lowering(SIB)
def _sib(b: Lowerer, name: str, m: SIB, x: Signal) -> Signal:
    h = b.neuron(f"{name}.lif1", [lower_convbn(b, f"{name}.expand", x, m.expand)], m.lif1)
    h = b.neuron(f"{name}.lif2", [lower_convbn(b, f"{name}.depthwise", h, m.depthwise)], m.lif2)
    return b.neuron(f"{name}.lif3", [lower_convbn(b, f"{name}.project", h, m.project)], m.lif3)


@register_lowering(Skip)
def _skip(b: Lowerer, name: str, m: Skip, x: Signal) -> Signal:
    if m.reduce is None or m.lif is None:
        return x  # identity: an edge, no node, no spikes
    cur = lower(b, f"{name}.reduce", m.reduce, x)
    return b.neuron(f"{name}.lif", [cur], m.lif)


@register_lowering(ConvBN)
def _convbn(b: Lowerer, name: str, m: ConvBN, x: Signal) -> Signal:
    return lower_convbn(b, name, x, m)


@register_lowering(FactorizedReduce)
def _factorized_reduce(b: Lowerer, name: str, m: FactorizedReduce, x: Signal) -> Signal:
    """``cat(conv_a(x), conv_b(shift(x)))`` then BN, as one 2x2 stride-2 conv: branch a's 1x1
    weight at kernel position (0, 0) into the first half of the channels, the shifted branch's at
    (1, 1) into the second half. One node (not two parallel ones) because norse's ``from_nir``
    mis-orders two branches into one node."""
    cin = x.shape[0]
    half = m.conv_a.out_channels
    w = torch.zeros(2 * half, cin, 2, 2)
    w[:half, :, 0, 0] = m.conv_a.weight.detach()[:, :, 0, 0]
    w[half:, :, 1, 1] = m.conv_b.weight.detach()[:, :, 0, 0]
    wf, bias = fold_bn(w, m.bn)
    return b.conv(name, x, wf, bias, 2, 0, source=m)


@register_lowering(Cell)
def _cell(b: Lowerer, name: str, m: Cell, x: Signal) -> Signal:
    return lower(b, f"{name}.ops.{m.active}", m.ops[m.active], x)


@register_lowering(nn.Sequential)
def _sequential(b: Lowerer, name: str, m: nn.Sequential, x: Signal) -> Signal:
    for i, sub in enumerate(m):
        x = lower(b, f"{name}.{i}", sub, x)
    return x


@register_lowering(SpikeMaxPool)
def _max_pool(b: Lowerer, name: str, m: SpikeMaxPool, x: Signal) -> Signal:
    """Max of binary spikes = at least one spike in the window: a sum pool into ``any_spike``."""
    return b.any_spike(name, b.sum_pool(f"{name}.sum", x, _kernel(m.pool)))


@register_lowering(AvgPoolNeuron)
def _avg_pool(b: Lowerer, name: str, m: AvgPoolNeuron, x: Signal) -> Signal:
    """The neuron receives the window's spike count (see AvgPoolNeuron): a sum pool."""
    return b.neuron(f"{name}.lif", [b.sum_pool(f"{name}.pool", x, _kernel(m.pool))], m.lif)


@register_lowering(GAPNeuron)
def _gap(b: Lowerer, name: str, m: GAPNeuron, x: Signal) -> Signal:
    _, h, w = x.shape
    if h != w:
        raise LoweringError(f"layer {name!r}: global pooling of a non-square map {h}x{w}")
    return b.neuron(f"{name}.lif", [b.sum_pool(f"{name}.pool", x, h)], m.lif)


@register_lowering(ConvNeuron)
def _conv_neuron(b: Lowerer, name: str, m: ConvNeuron, x: Signal) -> Signal:
    return b.neuron(f"{name}.lif", [lower_convbn(b, f"{name}.conv", x, m.conv)], m.lif)


@register_lowering(Stem)
def _stem(b: Lowerer, name: str, m: Stem, x: Signal) -> Signal:
    """The input presents the image (or event frame) every step, so the stem neuron receives the
    same real-valued current as in PyTorch. The N-MNIST centre crop is a fixed conv picking the
    centre pixel of a (2 crop + 1)^2 window."""
    if m.crop:
        c = x.shape[0]
        k = 2 * m.crop + 1
        w = torch.zeros(c, c, k, k)
        for ch in range(c):
            w[ch, ch, m.crop, m.crop] = 1.0
        x = b.conv(f"{name}.crop", x, w, torch.zeros(c), 1, 0)
    h = b.neuron(f"{name}.lif", [lower_convbn(b, f"{name}.conv", x, m.conv)], m.lif)
    return lower(b, f"{name}.extra", m.extra, h)


@register_lowering(Head)
def _head(b: Lowerer, name: str, m: Head, x: Signal) -> Signal:
    """Flatten, FC + neuron per layer, then voting as a fixed linear map (0.1 per group of 10):
    the per-step votes averaged over T are the network's firing rates."""
    h = b.flatten(f"{name}.flatten", x)
    for i, (module, lif) in enumerate(zip(m.fcs, m.lifs)):
        fc = cast(nn.Linear, module)  # Head.fcs holds only Linear layers (an nn.ModuleList)
        cur = b.linear(f"{name}.fcs.{i}", h, fc.weight.detach().float(),
                       None if fc.bias is None else fc.bias.detach().float(), source=fc)
        h = b.neuron(f"{name}.lifs.{i}", [cur], lif)
    classes = m.num_classes
    vote = torch.zeros(classes, 10 * classes)
    for c in range(classes):
        vote[c, 10 * c : 10 * (c + 1)] = 0.1
    return b.linear(f"{name}.vote", h, vote, None)
