"""Speck (SynSense DYNAP-CNN): an IF neuron, sum-pool down-sampling, spike-merge residual blocks
and a registered search space ``speck`` whose every architecture fits the chip by construction.

Speck's rules (sinabs 3.1.3's ``DynapcnnNetwork`` and ``get_constraints``, checked offline):

- 9 convolutional cores, one layer each (conv -> IAF neuron -> optional square sum-pooling);
  a layer sends its events to at most 2 destination layers;
- neurons integrate and fire with no leak (sinabs ``IAF``), fire at ``v >= threshold``, reset to
  zero or by subtraction; 8-bit weights and biases, 16-bit state;
- down-sampling only by square sum-pooling fused into the sending core (no max-pool);
- a residual is a *merge of spike trains*: events of two layers routed to one core, i.e. one
  kernel convolving their sum (``conv(a + b)``), never two kernels summed into one neuron;
- per-core memory (words): kernel ``Cin * 2^(ceil log2(k*k) + ceil log2 Cout)`` within
  16K,16K,16K,32K,32K,64K,64K,16K,16K; neurons ``Cout * 2^(ceil log2 H + ceil log2 W)`` within
  64K,64K,64K,32K,32K,16K,16K,16K,16K; bias ``Cout`` within 1K; layers matched to cores by
  bipartite matching.

The space (``autosnn.build("speck", ...)``): stem conv3x3 + IF at 32x32, sum-pool, then three
slots of constant width C, each followed by a 2x2 sum-pool (16x16, 8x8, 4x4 -> 2x2), then the FC
head (a full-size conv on Speck) with its IF neurons. A slot holds ``speck_skip`` (identity, no
core), ``speck_SCB_k{3,5}`` (two conv-IF layers) or ``speck_SRB_k{3,5}`` (conv1-IF, then conv2 over
the spike merge of the block input and conv1's spikes, then IF: a residual Speck routes as two
destinations of the input layer). At most 1 + 3 x 2 + 1 = 8 layers; every layer has at most 2
destinations (a merge adds one destination to the block's input only); the channel count is
refused at build time unless every architecture's layers match onto the cores
(:func:`max_channels`). Constant width because a merge sums spike trains of equal shape (a
channel-changing residual would need two kernels into one neuron, which Speck has not).

In this space the default spiking kind ``plif`` (what every command passes) builds the IF neuron:
the space owns its neuron (:meth:`SpeckSpace.neuron_for`); ``relu`` stays the ANN variant.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from autosnn.core.blocks import BLOCKS, SCB, ConvBN
from autosnn.core.errors import AutosnnError
from autosnn.core.layers import DOWNSAMPLING
from autosnn.core.lowering import (
    Lowerer,
    LoweringError,
    Signal,
    fold_bn,
    lower_convbn,
    register_lowering,
)
from autosnn.core.neuron import ALPHA, NEURONS, V_TH, SpikingLayer, current_timesteps, make_neuron
from autosnn.core.spaces import SPACES, Down, Genotype, Slot, SpaceSpec

if TYPE_CHECKING:
    from autosnn.core.network import ArchConfig

RESETS = ("zero", "subtract")

# -- the neuron ----------------------------------------------------------------------------------


class _Heaviside(torch.autograd.Function):
    """Spike at ``v >= V_TH``; ATan surrogate gradient (alpha 2), the same as the PLIF's."""

    @staticmethod
    def forward(ctx: Any, u: Tensor) -> Tensor:
        ctx.save_for_backward(u)
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (u,) = ctx.saved_tensors
        return grad * (ALPHA / 2.0) / (1.0 + (math.pi / 2.0 * ALPHA * u) ** 2)


def if_multistep(x: Tensor, reset: str = "zero") -> Tensor:
    """Integrate-and-fire over time on ``x`` (T, M): ``v += x``; spike when ``v >= 1``; then
    ``v = 0`` (zero) or ``v -= 1`` (subtract), the reset detached from the gradient. No leak and no
    lower bound: sinabs's ``IAF`` with ``SingleSpike`` (the chip's 16-bit floor is set at export
    where it cannot bind before the weights' 8-bit range does)."""
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        v = v + x[t]
        s = _Heaviside.apply(v - V_TH)
        out.append(s)
        sd = s.detach()
        v = v * (1.0 - sd) if reset == "zero" else v - sd * V_TH
    return torch.stack(out)


class IF(SpikingLayer):
    """Integrate-and-fire neuron layer with no leak (Speck's and sinabs's IAF), threshold 1.

    ``reset`` is ``zero`` (NIR's ``IF`` with ``v_reset = 0``, exact) or ``subtract`` (sinabs's
    default ``MembraneSubtract``; NIR 1.0 has no subtract reset, so its NIR export is refused).
    """

    def __init__(self, reset: str = "zero") -> None:
        super().__init__()
        if reset not in RESETS:
            raise AutosnnError(f"IF reset {reset!r}: expected one of {', '.join(RESETS)}")
        self.reset = reset

    def forward(self, x: Tensor) -> Tensor:  # (T*N, ...) -> (T*N, ...)
        T = current_timesteps()
        shape = x.shape
        dtype = x.dtype if x.dtype == torch.float64 else torch.float32
        out = if_multistep(x.to(dtype).reshape(T, -1), self.reset).reshape(shape)
        self._account(out)
        return out

    def nir_node(self, shape: tuple[int, ...], dt: float, v_threshold: float) -> Any:
        """The NIR node of this layer (``nir.IF``: ``v += dt * r * I`` = ``v += I`` with
        ``r = 1/dt``, reset to 0). A subtract reset has no NIR 1.0 node."""
        import nir
        import numpy as np

        if self.reset != "zero":
            raise LoweringError("IF with subtract reset: NIR 1.0's IF resets to v_reset "
                                "(use the zero-reset neuron 'if' for NIR, hwsim or the search)")
        return nir.IF(r=np.full(shape, 1.0 / dt, dtype=np.float64),
                      v_threshold=np.full(shape, v_threshold, dtype=np.float64),
                      v_reset=np.zeros(shape, dtype=np.float64))

    def extra_repr(self) -> str:
        return f"reset={self.reset}"


def _if_zero() -> SpikingLayer:
    return IF("zero")


def _if_subtract() -> SpikingLayer:
    return IF("subtract")


NEURONS.add("if", _if_zero)
NEURONS.add("if-subtract", _if_subtract)
SPECK_NEURONS = ("if", "if-subtract")

# -- down-sampling and blocks --------------------------------------------------------------------


class SumPool(nn.Module):
    """2x2 sum pooling of spikes (Speck's only pooling; fused into the sending core). Outputs
    spike counts (0..4), which the next layer's kernel convolves; it emits nothing itself."""

    def __init__(self, neuron: str = "if") -> None:
        super().__init__()
        self.kernel = 2

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.avg_pool2d(x, self.kernel) * float(self.kernel * self.kernel)


DOWNSAMPLING.add("sumpool", SumPool)


class SpeckSkip(nn.Module):
    """Identity where shapes allow (no core, no spikes); else a 1x1 conv (stride s)-BN-IF, one
    Speck layer (the speck space itself has constant width and no strides)."""

    def __init__(self, cin: int, cout: int, stride: int, neuron: str) -> None:
        super().__init__()
        self.reduce: ConvBN | None = None
        self.lif: SpikingLayer | None = None
        if cin != cout or stride != 1:
            self.reduce, self.lif = ConvBN(cin, cout, 1, stride), make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        if self.reduce is None or self.lif is None:
            return x
        return self.lif(self.reduce(x))


class SpeckSCB(SCB):
    """autosnn's SCB with IF neurons, conv-BN-IF-conv-BN-IF: two Speck layers (BN folds into each
    conv's weight and bias). Its own class so the Speck exporter and lowering know the block."""


class SpeckSRB(nn.Module):
    """Spike-merge residual: ``h = IF(BN(conv1(x)))``, ``out = IF(BN(conv2(x + h)))``.

    ``x + h`` is a merge of two spike trains (Speck routes the input layer's events to conv2's
    core as well as conv1's), so one kernel convolves both: a residual the chip can run. The
    input layer gets one extra destination (2 in all). A merge sums equal shapes only: with a
    channel change or a stride (never in the speck space) there is no merge (``merge`` False)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, neuron: str) -> None:
        super().__init__()
        self.merge = cin == cout and stride == 1
        self.conv1 = ConvBN(cin, cout, k, stride)
        self.lif1 = make_neuron(neuron)
        self.conv2 = ConvBN(cout, cout, k)
        self.lif2 = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        h = self.lif1(self.conv1(x))
        return self.lif2(self.conv2(x + h if self.merge else h))


BLOCKS.add("speck_skip", SpeckSkip)
for _k in (3, 5):
    def _make_scb(cin: int, cout: int, s: int, n: str, k: int = _k) -> nn.Module:
        return SpeckSCB(cin, cout, k, s, n)

    def _make_srb(cin: int, cout: int, s: int, n: str, k: int = _k) -> nn.Module:
        return SpeckSRB(cin, cout, k, s, n)

    BLOCKS.add(f"speck_SCB_k{_k}", _make_scb)
    BLOCKS.add(f"speck_SRB_k{_k}", _make_srb)

SPECK_CANDIDATES: tuple[str, ...] = (
    "speck_skip", "speck_SCB_k3", "speck_SCB_k5", "speck_SRB_k3", "speck_SRB_k5")

# -- lowerings (NIR, hwsim, summary) -------------------------------------------------------------


@register_lowering(SumPool)
def _sum_pool(b: Lowerer, name: str, m: SumPool, x: Signal) -> Signal:
    return b.sum_pool(name, x, m.kernel)


@register_lowering(SpeckSkip)
def _speck_skip(b: Lowerer, name: str, m: SpeckSkip, x: Signal) -> Signal:
    if m.reduce is None or m.lif is None:
        return x
    return b.neuron(f"{name}.lif", [lower_convbn(b, f"{name}.reduce", x, m.reduce)], m.lif)


@register_lowering(SpeckSCB)
def _speck_scb(b: Lowerer, name: str, m: SpeckSCB, x: Signal) -> Signal:
    h = b.neuron(f"{name}.lif1", [lower_convbn(b, f"{name}.conv1", x, m.conv1)], m.lif1)
    return b.neuron(f"{name}.lif2", [lower_convbn(b, f"{name}.conv2", h, m.conv2)], m.lif2)


@register_lowering(SpeckSRB)
def _speck_srb(b: Lowerer, name: str, m: SpeckSRB, x: Signal) -> Signal:
    """``conv2(x + h) = conv2(h) + conv2(x)``: the merge as two convs with conv2's folded weight
    into ``lif2`` (the bias once), which NIR can state (it has no spike-merge node)."""
    h = b.neuron(f"{name}.lif1", [lower_convbn(b, f"{name}.conv1", x, m.conv1)], m.lif1)
    main = lower_convbn(b, f"{name}.conv2", h, m.conv2)
    if not m.merge:
        return b.neuron(f"{name}.lif2", [main], m.lif2)
    w, _ = fold_bn(m.conv2.conv.weight, m.conv2.bn, m.conv2.conv.bias)
    k = m.conv2.conv.kernel_size[0]
    # source None: the same kernel as conv2 (one module, one kernel on Speck), not counted twice
    merged = b.conv(f"{name}.conv2_merge", x, w, None, 1, k // 2, source=None)
    return b.neuron(f"{name}.lif2", [main, merged], m.lif2)


# -- the chip's memory rules and the space -------------------------------------------------------

# sinabs 3.1.3 ``DynapcnnConfigBuilder.get_constraints`` (words per core, core 0..8).
KERNEL_MEMORY = (16384, 16384, 16384, 32768, 32768, 65536, 65536, 16384, 16384)
NEURON_MEMORY = (65536, 65536, 65536, 32768, 32768, 16384, 16384, 16384, 16384)
BIAS_MEMORY = (1024,) * 9
MAX_DESTINATIONS = 2
INPUT_SIZE = 32


def _pow2ceil_log(n: int) -> int:
    return int(math.ceil(math.log2(n))) if n > 1 else 0


@dataclass(frozen=True)
class CoreNeed:
    """One Speck layer's memory (words) and destinations, by sinabs's formulas."""

    name: str
    kernel: int
    neuron: int
    bias: int
    destinations: int = 1

    def fits(self, core: int) -> bool:
        return (self.kernel <= KERNEL_MEMORY[core] and self.neuron <= NEURON_MEMORY[core]
                and self.bias <= BIAS_MEMORY[core])


def layer_need(name: str, cin: int, cout: int, k: int, h: int, w: int, bias: bool = True,
               destinations: int = 1) -> CoreNeed:
    """sinabs's ``DynapcnnLayer.memory_summary``: kernel ``cin * 2^(ceil log2(k*k) + ceil log2
    cout)``, neurons ``cout * 2^(ceil log2 h + ceil log2 w)``, bias ``cout`` if any."""
    kernel = cin * 2 ** (_pow2ceil_log(k * k) + _pow2ceil_log(cout))
    neuron = cout * 2 ** (_pow2ceil_log(h) + _pow2ceil_log(w))
    return CoreNeed(name, kernel, neuron, cout if bias else 0, destinations)


def match_cores(needs: Sequence[CoreNeed]) -> dict[str, int] | None:
    """A layer -> core assignment where every layer fits its core (bipartite matching, as sinabs
    does), or None when there is none."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for core in range(len(KERNEL_MEMORY)):
            if core in seen or not needs[i].fits(core):
                continue
            seen.add(core)
            if core not in owner or augment(owner[core], seen):
                owner[core] = i
                return True
        return False

    for i in range(len(needs)):
        if not augment(i, set()):
            return None
    return {needs[i].name: core for core, i in owner.items()}


def speck_needs(genotype: Genotype, channels: int, in_channels: int = 1,
                num_classes: int = 10) -> list[CoreNeed]:
    """The Speck layers of an architecture of the ``speck`` space, in order, with their memory
    and destination counts (what :func:`match_cores` and sinabs check)."""
    C = channels
    size = INPUT_SIZE
    needs = [layer_need("stem", in_channels, C, 3, size, size)]
    feeder = 0  # index of the layer whose spikes feed the next block
    size //= 2
    for i, block in enumerate(genotype):
        if block == "speck_skip":
            size //= 2
            continue
        k = int(block.rsplit("_k", 1)[1])
        merge = block.startswith("speck_SRB")
        if merge:  # the block input also goes to conv2's core
            needs[feeder] = CoreNeed(needs[feeder].name, needs[feeder].kernel,
                                     needs[feeder].neuron, needs[feeder].bias,
                                     needs[feeder].destinations + 1)
        needs.append(layer_need(f"slot{i + 1}.conv1", C, C, k, size, size))
        needs.append(layer_need(f"slot{i + 1}.conv2", C, C, k, size, size))
        feeder = len(needs) - 1
        size //= 2
    # the head: Linear over the C x size x size map = a full-size conv, no bias (Head's FC)
    needs.append(layer_need("head", C, 10 * num_classes, size, 1, 1, bias=False))
    return needs


@functools.lru_cache(maxsize=256)
def fits_all(channels: int, in_channels: int = 1, num_classes: int = 10) -> str:
    """'' when every architecture of the space maps onto Speck at this width, else why not."""
    for geno in itertools.product(SPECK_CANDIDATES, repeat=3):
        needs = speck_needs(geno, channels, in_channels, num_classes)
        if len(needs) > len(KERNEL_MEMORY):
            return f"{','.join(geno)}: {len(needs)} layers > {len(KERNEL_MEMORY)} cores"
        busy = [n.name for n in needs if n.destinations > MAX_DESTINATIONS]
        if busy:
            return f"{','.join(geno)}: layer {busy[0]} has > {MAX_DESTINATIONS} destinations"
        if match_cores(needs) is None:
            worst = max(needs, key=lambda n: n.kernel)
            return (f"{','.join(geno)}: its layers do not match Speck's per-core memory "
                    f"(largest kernel: {worst.name} {worst.kernel} words)")
    return ""


def max_channels(in_channels: int = 1, num_classes: int = 10) -> int:
    """The largest even width at which every architecture of the space fits Speck."""
    best = 0
    for c in range(2, 258, 2):
        if fits_all(c, in_channels, num_classes):
            break
        best = c
    return best


@dataclass(frozen=True)
class SpeckSpace(SpaceSpec):
    """The ``speck`` space: owns its neuron (IF) and refuses widths or inputs Speck cannot hold."""

    def neuron_for(self, config: ArchConfig) -> str:
        """The neuron kind the builder uses: the default spiking kind ``plif`` becomes ``if``
        (Speck has no leak); ``relu`` (ANN variant) and the IF kinds stay. Also refuses, with
        the reason, a width or input shape at which some architecture would not fit."""
        cin, h, w = (int(v) for v in config.input_shape)
        if (h, w) != (INPUT_SIZE, INPUT_SIZE) or cin not in (1, 2, 3):
            raise AutosnnError(f"space {self.name}: input shape {cin}x{h}x{w} is not supported; "
                               f"expected Cx{INPUT_SIZE}x{INPUT_SIZE} (C = 1, 2 or 3)")
        why = fits_all(config.channels, cin, config.num_classes)
        if why:
            raise AutosnnError(
                f"space {self.name}: channels {config.channels} do not fit Speck ({why}); "
                f"at most {max_channels(cin, config.num_classes)} for {cin} input channels and "
                f"{config.num_classes} classes")
        if config.neuron == "plif":
            return "if"
        if config.neuron == "relu" or config.neuron in SPECK_NEURONS:
            return config.neuron
        raise AutosnnError(f"space {self.name}: neuron {config.neuron!r}: expected plif (built "
                           f"as if), {', '.join(SPECK_NEURONS)} or relu")

    def parse(self, text: str | Genotype, *, candidates_only: bool = False) -> Genotype:
        """Only the Speck blocks: any other block could break the chip's rules."""
        return super().parse(text, candidates_only=True)


_P = Down("sumpool")
SPECK_SPACE = SpeckSpace(
    "speck",
    (_P, Slot(1, 1), _P, Slot(1, 1), _P, Slot(1, 1), _P),
    candidates=SPECK_CANDIDATES,
    description="Speck (DYNAP-CNN): IF neurons, sum-pool, spike-merge residuals, <= 8 of 9 cores",
)
SPACES.add(SPECK_SPACE.name, SPECK_SPACE)
