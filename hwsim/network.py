"""NIR graph -> neuron layers and the projections (synapse groups) between them.

Spiking nodes (LIF, IF, CubaLIF, Threshold) are the layers that occupy cores. Weight nodes
(Conv2d, Linear, Affine, SumPool2d, AvgPool2d) are the synapses into the next layer; Flatten,
Scale and Delay pass through; a plain edge between two layers is a one-to-one identity projection;
several edges into one layer sum (residual adds). Input and Output nodes live on the host.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from pathlib import Path

import nir
import numpy as np

from hwsim.errors import HwsimInputError, require_regular_file

NEURON_TYPES = (nir.LIF, nir.IF, nir.CubaLIF, nir.Threshold)
CONV_TYPES = (nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)
DENSE_TYPES = (nir.Linear, nir.Affine)
PASS_TYPES = (nir.Flatten, nir.Scale, nir.Delay)


@dataclass(frozen=True)
class Layer:
    """A population that occupies cores (kind 'neuron') or lives on the host ('input'/'output')."""

    name: str
    kind: str
    shape: tuple[int, ...]

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

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def neuron_layers(self) -> tuple[Layer, ...]:
        return tuple(la for la in self.layers if la.kind == "neuron")


def _pair(value: object, name: str, where: str) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(int).ravel()
    if arr.size == 1:
        return (int(arr[0]), int(arr[0]))
    if arr.size != 2:
        raise HwsimInputError(where, name, "an int or a pair of ints")
    return (int(arr[0]), int(arr[1]))


MAX_NEURONS = 1 << 28  # 268 M per layer: beyond any chip system hwsim models
# 4 M weights (32 MB): a crop selector composed with a stem conv has hundreds; strided convs
# chained without a spiking node between them grow the composite kernel 2x per conv
MAX_COMPOSITE_WEIGHTS = 1 << 22
MAX_TIMESTEPS = 1 << 20  # 1,048,576 steps: beyond any inference hwsim models; bounds T x N


def _checked(shape: tuple[int, ...], name: str, where: str) -> tuple[int, ...]:
    if int(np.prod(shape, dtype=object)) > MAX_NEURONS:
        raise HwsimInputError(where, name, f"at most {MAX_NEURONS} neurons per node (got {shape})")
    return shape


def _node_shape(node: nir.NIRNode, name: str, where: str) -> tuple[int, ...]:
    for attr in ("input_type", "output_type"):
        types = getattr(node, attr, None) or {}
        for value in types.values():
            shape = tuple(int(v) for v in np.atleast_1d(np.asarray(value)).ravel())
            if shape and all(s > 0 for s in shape):
                return _checked(shape, name, where)
    for attr in ("tau", "tau_mem", "r", "threshold", "v_threshold"):
        value = getattr(node, attr, None)
        if value is not None and np.ndim(value) > 0:
            return _checked(tuple(int(s) for s in np.shape(value)), name, where)
    raise HwsimInputError(where, name, "a node with a known neuron shape (input_type or tau)")


def _weight(node: nir.NIRNode, name: str, where: str) -> np.ndarray:
    """A weight node's weights: real and finite (bytes or text would be read as connections,
    a NaN weight is no synapse a chip can store)."""
    weight = np.asarray(node.weight)
    real = np.issubdtype(weight.dtype, np.integer) or np.issubdtype(weight.dtype, np.floating)
    if not (real or weight.dtype == bool) or not np.all(np.isfinite(weight)):
        raise HwsimInputError(where, f"{name}.weight", "a real, finite numeric array")
    return weight


def _channel_diagonal(weight: np.ndarray) -> bool:
    """True when output channel c only reads input channel c (weight[o, i] == 0 for o != i)."""
    c = weight.shape[0]
    off = np.abs(weight).sum(axis=(2, 3))  # (Cout, Cin)
    return bool(np.all(off[~np.eye(c, dtype=bool)] == 0))


def _conv_projection(src: Layer, dst: Layer, via: str, node: nir.NIRNode, where: str) -> Projection:
    in_chw = src.chw
    if isinstance(node, nir.Conv2d):
        weight = _weight(node, via, where)
        if weight.ndim != 4:
            raise HwsimInputError(where, f"{via}.weight", "a 4-D array [Cout, Cin/groups, kh, kw]")
        groups = int(node.groups)
        out_c = int(weight.shape[0])
        kernel = (int(weight.shape[2]), int(weight.shape[3]))
        stride = _pair(node.stride, f"{via}.stride", where)
        dilation = _pair(node.dilation, f"{via}.dilation", where)
        padding = _numeric_padding(node, via, where)
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
        kernel = _pair(node.kernel_size, f"{via}.kernel_size", where)
        stride = _pair(node.stride, f"{via}.stride", where)
        padding = _pair(node.padding, f"{via}.padding", where)
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


def _numeric_padding(node: nir.Conv2d, name: str, where: str) -> tuple[int, int]:
    """A Conv2d's padding as (rows, cols): 'valid', 'same' (from kernel and dilation) or ints."""
    kernel = np.shape(node.weight)[2:]
    if isinstance(node.padding, str):
        if node.padding == "valid":
            return (0, 0)
        if node.padding == "same":
            dil = _pair(node.dilation, f"{name}.dilation", where)
            return (dil[0] * (kernel[0] - 1) // 2, dil[1] * (kernel[1] - 1) // 2)
        raise HwsimInputError(where, f"{name}.padding", "'same', 'valid' or ints")
    return _pair(node.padding, f"{name}.padding", where)


def _compose(first: nir.NIRNode, second: nir.NIRNode, names: tuple[str, str],
             where: str) -> nir.Conv2d | None:
    """Two Conv2d in series with nothing spiking between them, as one Conv2d (None when they
    are not both plain convolutions: groups 1, dilation 1).

    autosnn writes N-MNIST's 34x34 -> 32x32 centre crop as a one-tap "selector" conv before the
    stem conv; a chip runs the pair as one layer of synapses. Composite: stride s1*s2, kernel
    k1 + (k2 - 1)*s1, padding p1 + p2*s1, non-zero pattern of the composed kernels (absolute
    values, so no connection cancels out). At the borders it connects the input the second conv
    would have seen as zero padding: a slight overcount of border synapses, stated here.
    """
    if not (isinstance(first, nir.Conv2d) and isinstance(second, nir.Conv2d)):
        return None
    for node, name in zip((first, second), names, strict=True):
        if int(node.groups) != 1 or _pair(node.dilation, f"{name}.dilation", where) != (1, 1):
            return None
    w1, w2 = np.abs(_weight(first, names[0], where)), np.abs(_weight(second, names[1], where))
    if w1.ndim != 4 or w2.ndim != 4 or w2.shape[1] != w1.shape[0]:
        return None
    s1 = _pair(first.stride, f"{names[0]}.stride", where)
    s2 = _pair(second.stride, f"{names[1]}.stride", where)
    p1 = _numeric_padding(first, names[0], where)
    p2 = _numeric_padding(second, names[1], where)
    (k1h, k1w), (k2h, k2w) = w1.shape[2:], w2.shape[2:]
    kh, kw = k1h + (k2h - 1) * s1[0], k1w + (k2w - 1) * s1[1]
    if w2.shape[0] * w1.shape[1] * kh * kw > MAX_COMPOSITE_WEIGHTS:  # before allocating it
        raise HwsimInputError(
            where, names[1], f"convs in series whose composite kernel has at most "
            f"{MAX_COMPOSITE_WEIGHTS} weights (got {w2.shape[0]}x{w1.shape[1]}x{kh}x{kw})",
        )
    weight = np.zeros((w2.shape[0], w1.shape[1], kh, kw))
    for a in range(k2h):
        for b in range(k2w):
            y, x = a * s1[0], b * s1[1]
            weight[:, :, y:y + k1h, x:x + k1w] += np.einsum("om,miuv->oiuv", w2[:, :, a, b], w1)
    pad = [p1[0] + p2[0] * s1[0], p1[1] + p2[1] * s1[1]]
    # trim all-zero rings (the crop's selector taps leave one), within the padding, so the
    # composite's kernel area is the synapses it really has
    for axis in (0, 1):
        used = np.flatnonzero(weight.any(axis=(0, 1, 3 - axis)))
        if used.size:
            t = min(int(used[0]), weight.shape[2 + axis] - 1 - int(used[-1]), pad[axis])
            if t:
                keep = slice(t, weight.shape[2 + axis] - t)
                weight = weight[:, :, keep] if axis == 0 else weight[:, :, :, keep]
                pad[axis] -= t
    return nir.Conv2d(
        input_shape=first.input_shape,
        weight=weight,
        stride=(s1[0] * s2[0], s1[1] * s2[1]),
        padding=tuple(pad),
        dilation=1,
        groups=1,
        bias=np.zeros(weight.shape[0]),
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
    weight = _weight(node, via, where)
    if weight.ndim != 2 or weight.shape != (dst.size, src.size):
        raise HwsimInputError(
            where, f"{via}.weight", f"shape ({dst.size}, {src.size}) for {src.name} -> {dst.name}"
        )
    return Projection(src.name, dst.name, via, "dense", src.chw, dst.chw, mask=weight != 0)


def network_from_nir(graph: nir.NIRGraph, where: str = "<graph>") -> Network:
    """Reduce a NIR graph to layers and projections (raises HwsimInputError on what it can't)."""
    nodes = dict(graph.nodes)  # plus composite convs (`_compose`); the graph is not changed
    succ: dict[str, list[str]] = {name: [] for name in nodes}
    for a, b in graph.edges:
        if a not in nodes or b not in nodes:
            raise HwsimInputError(where, f"edge {a}->{b}", "both ends to be nodes of the graph")
        succ[a].append(b)
    order = _topological(succ, where)
    layers = _layers(order, nodes, where)
    projections = [
        p for name in order if name in layers and layers[name].kind != "output"
        for p in _projections_from(layers[name], nodes, succ, layers, where)
    ]
    ordered = tuple(layers[n] for n in order if n in layers)
    if not any(la.kind == "neuron" for la in ordered):
        raise HwsimInputError(where, "nodes", "at least one spiking node (LIF, IF, CubaLIF)")
    return Network(ordered, tuple(projections), graph_timesteps(graph, where))


def _topological(succ: dict[str, list[str]], where: str) -> list[str]:
    """Nodes in topological order, ties in the graph's node order (the standard library's
    sorter, which releases nodes first in, first out)."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in succ:
        sorter.add(name)
    for a, bs in succ.items():
        for b in bs:
            sorter.add(b, a)
    try:
        return list(sorter.static_order())
    except graphlib.CycleError:
        raise HwsimInputError(
            where, "edges", "an acyclic graph (recurrent edges not supported)"
        ) from None


def _layers(order: list[str], nodes: dict[str, nir.NIRNode], where: str) -> dict[str, Layer]:
    """The populations: host input/output and the spiking nodes, with their neuron shapes;
    weight and pass-through nodes are not layers, any other node type is an error."""
    layers: dict[str, Layer] = {}
    for name in order:
        node = nodes[name]
        if isinstance(node, nir.NIRGraph):
            raise HwsimInputError(where, name, "a flat graph (nested NIRGraph not supported)")
        if isinstance(node, nir.Input):
            layers[name] = Layer(name, "input", _node_shape(node, name, where))
        elif isinstance(node, nir.Output):
            layers[name] = Layer(name, "output", _node_shape(node, name, where))
        elif isinstance(node, NEURON_TYPES):
            layers[name] = Layer(name, "neuron", _node_shape(node, name, where))
        elif not isinstance(node, CONV_TYPES + DENSE_TYPES + PASS_TYPES):
            raise HwsimInputError(where, name, f"a supported node type (got {type(node).__name__})")
    return layers


def _projections_from(
    src: Layer,
    nodes: dict[str, nir.NIRNode],
    succ: dict[str, list[str]],
    layers: dict[str, Layer],
    where: str,
) -> list[Projection]:
    """The projections out of `src`: walk through pass-through nodes, remembering the (single)
    weight node on the path (two plain Conv2d in series compose into one, added to `nodes`).
    Each (node, weight node) state is visited once, so k parallel pass-through paths cost k
    steps (not 2^k) and reach a layer through one weight node once (not once per path)."""
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
            out.append(_projection(src, layers[node_name], via or "", node, where))
            continue
        node = nodes[node_name]
        if isinstance(node, CONV_TYPES + DENSE_TYPES):
            if via is not None:
                composite = _compose(nodes[via], node, (via, node_name), where)
                if composite is None:
                    raise HwsimInputError(
                        where,
                        node_name,
                        f"one weight node between spiking layers (found {via} -> "
                        f"{node_name}; only two plain Conv2d compose)",
                    )
                nodes[f"{via}+{node_name}"] = composite
                via = f"{via}+{node_name}"
            else:
                via = node_name
        stack.extend((m, via) for m in succ[node_name])
    return out


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
