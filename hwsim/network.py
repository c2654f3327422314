"""NIR graph -> neuron layers and the projections (synapse groups) between them.

Spiking nodes (LIF, IF, CubaLIF, Threshold) and non-spiking integrators (LI, CubaLI, I) are the
layers that occupy cores. Weight nodes (Conv2d, Conv1d, Linear, Affine, SumPool2d, AvgPool2d)
are the synapses into the next layer; Flatten, Scale, Delay and Identity pass through; a plain
edge between two layers is a one-to-one identity projection; several edges into one layer sum
(residual adds). Input and Output nodes live on the host. Graphs other tools export are first
normalised (`hwsim.nir_normalise`: nested graphs inlined, batch dimension dropped, shapes
inferred) and weight nodes in series composed (`hwsim.nir_compose`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nir
import numpy as np

from hwsim.errors import HwsimInputError, require_regular_file
from hwsim.nir_compose import POOL_TYPES, compose
from hwsim.nir_fields import MAX_COMPOSITE_WEIGHTS, numeric_padding, pair, weight_of
from hwsim.nir_normalise import (
    CONV_TYPES,
    DENSE_TYPES,
    MAX_NEURONS,
    NEURON_TYPES,
    PASS_TYPES,
    FlatGraph,
    normalise,
)

__all__ = [
    "CONV_TYPES", "DENSE_TYPES", "MAX_COMPOSITE_WEIGHTS", "MAX_NEURONS", "MAX_TIMESTEPS",
    "NEURON_TYPES", "PASS_TYPES", "Layer", "Network", "Projection", "graph_timesteps",
    "network_from_nir", "read_network",
]

@dataclass(frozen=True)
class Layer:
    """A population that occupies cores (kind 'neuron') or lives on the host ('input'/'output')."""

    name: str
    kind: str
    shape: tuple[int, ...]
    # the NIR node type of a neuron layer ("LIF", "CubaLIF", "IF", "LI", "Threshold", ...): what
    # a chip's capability rules check (Speck and TrueNorth have no leak); "" when unknown
    model: str = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def chw(self) -> tuple[int, int, int]:
        """(C, H, W) view used for partitioning: flat layers are C neurons of 1x1."""
        if len(self.shape) == 3:
            return self.shape
        if len(self.shape) == 1:
            return (self.shape[0], 1, 1)
        return (self.shape[0], int(np.prod(self.shape[1:])), 1)


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from `src` to `dst` through weight node `via` ('' for an identity edge).

    kind 'conv': 2D convolution geometry (pooling is a depthwise all-ones conv, `pool=True`);
    kind 'dense': `mask[j, i]` is True where weight (dst j, src i) is non-zero;
    kind 'identity': neuron i -> neuron i.
    """

    src: str
    dst: str
    via: str
    kind: str
    in_chw: tuple[int, int, int]
    out_chw: tuple[int, int, int]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    pool: bool = False
    mask: np.ndarray | None = None  # (N_dst, N_src) bool, dense only
    # a pool composed into this weight node (`hwsim.nir_compose`): the (C, H, W) the weight
    # node itself reads after the pool, and its own kernel (None: dense). Chips that pool in
    # the source core (Speck, as sinabs maps it) store the weight node, not the composite.
    pooled_chw: tuple[int, int, int] | None = None
    own_kernel: tuple[int, int] | None = None

    @property
    def weights_per_out_channel(self) -> int:
        """Stored weights for one output channel when a conv kernel is shared."""
        if self.kind == "conv":
            return (self.in_chw[0] // self.groups) * self.kernel[0] * self.kernel[1]
        return 0


@dataclass(frozen=True)
class Network:
    """Layers in topological order and the projections between them."""

    layers: tuple[Layer, ...]
    projections: tuple[Projection, ...]
    timesteps: int | None = None  # T from the graph's metadata, when the producer stored it
    # the normalised NIR graph it was read from (weights, biases, neuron parameters), so the
    # chips' capability rules see what the layers and projections do not keep
    flat: FlatGraph | None = field(default=None, compare=False, repr=False)
    where: str = field(default="<graph>", compare=False)  # the file it came from, for errors

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def neuron_layers(self) -> tuple[Layer, ...]:
        return tuple(la for la in self.layers if la.kind == "neuron")


MAX_TIMESTEPS = 1 << 20  # 1,048,576 steps: beyond any inference hwsim models; bounds T x N


def _channel_diagonal(weight: np.ndarray) -> bool:
    """True when output channel c only reads input channel c (weight[o, i] == 0 for o != i)."""
    c = weight.shape[0]
    off = np.abs(weight).sum(axis=(2, 3))  # (Cout, Cin)
    return bool(np.all(off[~np.eye(c, dtype=bool)] == 0))


def _conv_projection(src: Layer, dst: Layer, via: str, node: nir.NIRNode, where: str) -> Projection:
    in_chw = src.chw
    if isinstance(node, nir.Conv2d):
        weight = weight_of(node, via, where)
        if weight.ndim != 4:
            raise HwsimInputError(where, f"{via}.weight", "a 4-D array [Cout, Cin/groups, kh, kw]")
        groups = int(node.groups)
        out_c = int(weight.shape[0])
        kernel = (int(weight.shape[2]), int(weight.shape[3]))
        stride = pair(node.stride, f"{via}.stride", where)
        dilation = pair(node.dilation, f"{via}.dilation", where)
        padding = numeric_padding(node, via, where)
        if weight.shape[1] * groups != in_chw[0]:
            raise HwsimInputError(
                where, f"{via}.weight", f"Cin/groups*groups = {in_chw[0]} (from {src.name})"
            )
        pool = False
        if groups == 1 and out_c == in_chw[0] > 1 and _channel_diagonal(weight):
            # a depthwise conv (or a sum pool) written as a dense one with zero cross-channel
            # kernels, as portable NIR files do: cost it as what it is, not Cin-fold the synapses
            groups = out_c
            k0 = weight[0, 0]
            pool = (
                stride == kernel
                and padding == (0, 0)
                and dilation == (1, 1)
                and bool(np.all(k0 == k0.flat[0]))
                and k0.flat[0] > 0
                and all(np.array_equal(weight[c, c], k0) for c in range(out_c))
            )
    else:
        kernel = pair(node.kernel_size, f"{via}.kernel_size", where)
        stride = pair(node.stride, f"{via}.stride", where)
        padding = pair(node.padding, f"{via}.padding", where)
        dilation = (1, 1)
        groups = out_c = in_chw[0]
        pool = True
    out_h = (in_chw[1] + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    out_w = (in_chw[2] + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    out_chw = (out_c, out_h, out_w)
    if int(np.prod(out_chw)) != dst.size:
        raise HwsimInputError(
            where, via, f"output {out_chw} of {src.name} -> {dst.name} to match {dst.shape}"
        )
    return Projection(
        src.name,
        dst.name,
        via,
        "conv",
        in_chw,
        out_chw,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        pool=pool,
    )


def _projection(
    src: Layer, dst: Layer, via: str, node: nir.NIRNode | None, where: str
) -> Projection:
    if node is None:
        if src.size != dst.size:
            raise HwsimInputError(where, f"{src.name}->{dst.name}", "equal sizes for a plain edge")
        return Projection(src.name, dst.name, "", "identity", src.chw, dst.chw)
    if isinstance(node, CONV_TYPES):
        return _conv_projection(src, dst, via, node, where)
    weight = weight_of(node, via, where)
    if weight.ndim != 2 or weight.shape != (dst.size, src.size):
        raise HwsimInputError(
            where, f"{via}.weight", f"shape ({dst.size}, {src.size}) for {src.name} -> {dst.name}"
        )
    return Projection(src.name, dst.name, via, "dense", src.chw, dst.chw, mask=weight != 0)


def network_from_nir(graph: nir.NIRGraph, where: str = "<graph>") -> Network:
    """Reduce a NIR graph to layers and projections (raises HwsimInputError on what it can't)."""
    flat = normalise(graph, where)  # a flat, typed copy; the graph is not changed
    layers = _layers(flat)
    projections = [
        p for name in flat.order if name in layers and layers[name].kind != "output"
        for p in _projections_from(layers[name], flat, layers, where)
    ]
    ordered = tuple(layers[n] for n in flat.order if n in layers)
    if not any(la.kind == "neuron" for la in ordered):
        raise HwsimInputError(where, "nodes", "at least one spiking node (LIF, IF, CubaLIF)")
    return Network(ordered, tuple(projections), graph_timesteps(graph, where), flat, where)


def _layers(flat: FlatGraph) -> dict[str, Layer]:
    """The populations: host input/output and the neuron nodes, with their inferred shapes;
    weight and pass-through nodes are not layers (`normalise` refused any other type)."""
    layers: dict[str, Layer] = {}
    for name in flat.order:
        node = flat.nodes[name]
        if isinstance(node, nir.Input):
            layers[name] = Layer(name, "input", flat.shapes[name])
        elif isinstance(node, nir.Output):
            layers[name] = Layer(name, "output", flat.shapes[name])
        elif isinstance(node, NEURON_TYPES):
            layers[name] = Layer(name, "neuron", flat.shapes[name], type(node).__name__)
    return layers


def _projections_from(
    src: Layer, flat: FlatGraph, layers: dict[str, Layer], where: str
) -> list[Projection]:
    """The projections out of `src`: walk through pass-through nodes, remembering the (single)
    weight node on the path (weight nodes in series compose into one, `hwsim.nir_compose`,
    added to the flat graph's nodes).
    Each (node, weight node) state is visited once, so k parallel pass-through paths cost k
    steps (not 2^k) and reach a layer through one weight node once (not once per path)."""
    nodes, succ = flat.nodes, flat.succ
    pooled: dict[str, dict[str, Any]] = {}  # composite name -> the pool's Projection fields
    out: list[Projection] = []
    stack: list[tuple[str, str | None]] = [(m, None) for m in succ[src.name]]
    seen: set[tuple[str, str | None]] = set()
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        node_name, via = state
        if node_name in layers:
            node = nodes[via] if via is not None else None
            proj = _projection(src, layers[node_name], via or "", node, where)
            out.append(replace(proj, **pooled[via]) if via in pooled else proj)
            continue
        node = nodes[node_name]
        if isinstance(node, CONV_TYPES + DENSE_TYPES):
            if via is not None:
                first_in = flat.in_shapes[via]
                composite = compose(nodes[via], node, (via, node_name), first_in, where)
                if composite is None:
                    raise HwsimInputError(
                        where,
                        node_name,
                        f"one weight node between spiking layers (found {via} -> "
                        f"{node_name}; only plain Conv2d in series, or a pool before a "
                        "Conv2d/Linear/Affine, compose)",
                    )
                nodes[f"{via}+{node_name}"] = composite
                flat.in_shapes[f"{via}+{node_name}"] = first_in
                flat.shapes[f"{via}+{node_name}"] = flat.shapes[node_name]  # chained pools
                if isinstance(nodes[via], POOL_TYPES) and len(flat.shapes[via]) == 3:
                    pooled[f"{via}+{node_name}"] = _pooled(flat.shapes[via], node)
                via = f"{via}+{node_name}"
            else:
                via = node_name
        stack.extend((m, via) for m in succ[node_name])
    return out


def _pooled(chw: tuple[int, ...], node: nir.NIRNode) -> dict[str, Any]:
    """Projection fields of a pool composed into `node`: what `node` itself reads and stores."""
    kernel = None
    if isinstance(node, nir.Conv2d):
        kernel = (int(np.shape(node.weight)[2]), int(np.shape(node.weight)[3]))
    return {"pooled_chw": (int(chw[0]), int(chw[1]), int(chw[2])), "own_kernel": kernel}


def graph_timesteps(graph: nir.NIRGraph, where: str = "<graph>") -> int | None:
    """T stored in the graph's metadata (key `T` or `timesteps`), or None when absent.

    NIR has no standard field for it; autosnn's exporter writes `T`. A present but unusable value
    is an error, not a silent fallback to a default T.
    """
    meta = getattr(graph, "metadata", None) or {}
    for key in ("T", "timesteps"):
        if key in meta:
            value = np.asarray(meta[key])
            ok = value.size == 1 and np.issubdtype(value.dtype, np.number)
            if ok and np.isfinite(value.item()) and 1 <= value.item() <= MAX_TIMESTEPS:
                if float(value.item()) == int(value.item()):
                    return int(value.item())
            got = repr(value.item()) if value.size == 1 else f"{value.size} values"
            raise HwsimInputError(
                where, f"metadata.{key}",
                f"a positive integer number of timesteps, at most {MAX_TIMESTEPS} (got {got})",
            )
    return None


def read_network(path: str | Path) -> Network:
    """Read a NIR file; any read failure becomes one HwsimInputError naming the file."""
    require_regular_file(path)
    try:
        graph = nir.read(str(path))
    except Exception as exc:  # h5py and nir raise many types; all mean "unreadable"
        reason = type(exc).__name__
        raise HwsimInputError(path, "file", f"a readable NIR (HDF5) graph ({reason})") from None
    return network_from_nir(graph, str(path))
