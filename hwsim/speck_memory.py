"""Chips with per-core word memories (Speck): each layer whole on one core, matched to cores.

sinabs (SynSense's toolchain) sizes a layer's kernel and neuron memories by the formulas below
and places one layer per core; a core's two memories differ from core to core, so which layer
goes where is a bipartite matching (Kuhn's algorithm) of layers to cores that can hold them.
A pool runs in the sending core (its weight node after it is what the next core stores), and a
layer fed by several layers merges their spike trains through its one kernel (a residual is
`conv(a + b)`): one kernel's words, and two different kernels into one layer are refused.
"""

from __future__ import annotations

import math

import numpy as np

from hwsim.chip import ChipSpec
from hwsim.network import Layer, Network, Projection
from hwsim.reasons import Reason

_NO_LIMIT = 2**62  # a memory the profile does not bound


def speck_kernel_words(proj: Projection) -> int:
    """sinabs' kernel memory: Cin * 2^(ceil(log2(kh*kw)) + ceil(log2 Cout)).

    A dense layer is the convolution sinabs makes of it: kernel = the source's H x W, Cin = its
    channels (so a Linear after Flatten of (C, H, W) is C * 2^(ceil log2(HW) + ceil log2 N));
    an identity edge is a 1x1 convolution C -> C. A pool composed into the weight node
    (`Projection.pooled_chw`) is the source layer's pooling stage, as sinabs maps it: the kernel
    memory is the weight node's own.
    """
    in_chw = proj.pooled_chw or proj.in_chw  # a pool composed in: the source core's pooling
    if proj.kind == "conv":
        cin = in_chw[0] // proj.groups if proj.pool else in_chw[0]
        kh, kw = proj.own_kernel or proj.kernel
        cout = proj.out_chw[0]
    elif proj.kind == "dense":
        cin, kh, kw = in_chw
        cout = int(np.prod(proj.out_chw))
    else:
        cin, kh, kw, cout = proj.in_chw[0], 1, 1, proj.out_chw[0]
    return cin * 2 ** (math.ceil(math.log2(kh * kw)) + math.ceil(math.log2(cout)))


def speck_neuron_words(layer: Layer) -> int:
    """sinabs' neuron memory: Cout * 2^(ceil(log2 H) + ceil(log2 W))."""
    c, h, w = layer.chw
    return c * 2 ** (math.ceil(math.log2(h)) + math.ceil(math.log2(w)))


def _match(
    need: list[tuple[int, int]], kernel: tuple[int, ...], neuron: tuple[int, ...]
) -> list[int]:
    """Kuhn's bipartite matching of layers (kernel, neuron words) to cores; -1 if unmatched."""
    n_cores = len(kernel)
    owner = [-1] * n_cores
    ok = [[k for k in range(n_cores) if kw <= kernel[k] and nw <= neuron[k]] for kw, nw in need]

    def augment(i: int, seen: set[int]) -> bool:
        for k in ok[i]:
            if k in seen:
                continue
            seen.add(k)
            if owner[k] == -1 or augment(owner[k], seen):
                owner[k] = i
                return True
        return False

    for i in range(len(need)):
        augment(i, set())
    core_of = [-1] * len(need)
    for k, i in enumerate(owner):
        if i >= 0:
            core_of[i] = k
    return core_of


def layer_words(network: Network, layer: Layer) -> tuple[int, int]:
    """(kernel, neuron) words of a spiking layer on its core, as sinabs's memory_summary: the
    kernel of the weight node feeding it (one kernel even when several layers merge into it)."""
    ins = [p for p in network.projections if p.dst == layer.name]
    return max((speck_kernel_words(p) for p in ins), default=0), speck_neuron_words(layer)


def _own_weight(network: Network, proj: Projection) -> np.ndarray | None:
    """The weight node a projection ends in, as the core stores it (a pool composed before it
    runs in the sending core), or None for an identity edge or a graph hwsim did not keep."""
    if not proj.via or network.flat is None:
        return None
    node = network.flat.nodes.get(proj.via.rsplit("+", 1)[-1])
    weight = getattr(node, "weight", None)
    return None if weight is None else np.asarray(weight)


def _merge_refusals(network: Network, layer: Layer, ins: list[Projection]) -> list[Reason]:
    """A layer fed by several layers is a merge of their spike trains on a Speck core: the core
    holds ONE kernel and convolves the merged events with it (sinabs: a residual is `conv(a +
    b)`), so its kernel words are one kernel's, and the incoming weight nodes must be that same
    kernel. Two different kernels summed into one neuron is a network Speck cannot run."""
    if len(ins) < 2:
        return []
    first = _own_weight(network, ins[0])
    for p in ins[1:]:
        other = _own_weight(network, p)
        if first is not None and other is not None:
            same = first.shape == other.shape and bool(np.array_equal(first, other))
        else:  # no weights kept: the kernel geometry the core would store
            same = (p.kind, p.own_kernel or p.kernel) == (ins[0].kind,
                                                        ins[0].own_kernel or ins[0].kernel)
        if not same:
            return [Reason(
                "kernel", layer.name, len(ins), 1,
                f"layer {layer.name}: {ins[0].via or ins[0].src} and {p.via or p.src} are two "
                "different kernels into one layer; a Speck core holds one kernel and merges "
                "its input layers' spikes (a residual must be conv(a + b))",
            )]
    return []


def match_layers(
    network: Network, chip: ChipSpec, owners: list[Layer]
) -> tuple[np.ndarray, list[Reason]]:
    """Core per layer (-1: none) and why the layers do not all find a core."""
    kernel = chip.kernel_memory_words or (_NO_LIMIT,) * chip.n_cores
    neuron = chip.neuron_memory_words or (_NO_LIMIT,) * chip.n_cores
    need = []
    reasons: list[Reason] = []
    for layer in owners:
        need.append(layer_words(network, layer))
        reasons += _merge_refusals(
            network, layer, [p for p in network.projections if p.dst == layer.name])
    core_of = _match(need, kernel[: chip.n_cores], neuron[: chip.n_cores])
    if len(owners) > chip.n_cores:
        reasons.append(Reason(
            "layers_per_chip", None, len(owners), chip.n_cores,
            f"{len(owners)} spiking layers > {chip.n_cores} cores of {chip.name} "
            "(one layer per core): no width fits; the network needs fewer layers",
        ))
    for layer, (kw, nw), core in zip(owners, need, core_of, strict=True):
        fits_somewhere = any(kw <= k and nw <= m for k, m in zip(kernel, neuron, strict=False))
        if core < 0 and (fits_somewhere and len(owners) > chip.n_cores):
            continue  # unmatched only because the cores ran out: said above
        if core < 0:
            # the limit: the most kernel words of a core that holds the layer's neurons
            room = max((k for k, m in zip(kernel, neuron, strict=False) if nw <= m), default=0)
            reasons.append(Reason(
                "core_memory_words", layer.name, kw, room,
                f"layer {layer.name}: needs {kw} kernel words and {nw} neuron words; "
                "no free core has that much (one layer per core)",
            ))
    return np.array(core_of, dtype=np.int64), reasons
