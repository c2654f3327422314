"""A NIR graph as other tools export it, normalised to what hwsim's network reader needs.

Measured with the exporters installed here (nir 1.0.8, snntorch 1.0.0, norse 1.1.0,
spikingjelly 2.0.0, sinabs 3.1.3), what arrives differs from tool to tool:

- snntorch and norse give neurons with scalar parameters (shape `()`, so no neuron shape),
  Conv2d and pools with no types, and keep the batch dimension in Input and Output
  (`[1, 2, 34, 34]`); nir 1.0.8's own `NIRGraph.infer_types()` raises on snntorch's graph
  (IndexError in `calculate_conv_output`) and cannot type element-wise nodes with scalar
  parameters at all, so hwsim propagates shapes itself, with nir's own per-node formulas
  (`nir.ir.utils.calc_flatten_output`) and PyTorch's conv/pool arithmetic;
- snntorch's recurrent layers (RLeaky, RSynaptic) are nested NIRGraphs with a cycle;
- norse writes `None` for a module it does not convert (torch.nn.Flatten);
- spikingjelly and sinabs type every node.

`normalise` inlines nested graphs (their Input/Output become identities), refuses `None`
nodes, unknown node types and cycles with one line naming the node, strips a leading batch
dimension of 1 where the consumer shows it is one, infers every node's output shape from the
Input nodes, and rewrites Conv1d as the Conv2d of width 1 it is.
"""

from __future__ import annotations

import graphlib
import math
from dataclasses import dataclass

import nir
import numpy as np
from nir.ir.utils import calc_flatten_output

from hwsim.errors import HwsimInputError
from hwsim.nir_fields import conv_out_hw, integer, numeric_padding, pair, weight_of

# LI, CubaLI and I integrate without spiking (graded output, e.g. norse's LIBoxCell readout):
# they still hold state on cores, so they are layers like the spiking ones.
NEURON_TYPES = (nir.LIF, nir.IF, nir.CubaLIF, nir.Threshold, nir.LI, nir.CubaLI, nir.I)
CONV_TYPES = (nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)
DENSE_TYPES = (nir.Linear, nir.Affine)
# nir.ir.graph.Identity (not exported at nir's top level in 1.0.8) passes through too
PASS_TYPES = (nir.Flatten, nir.Scale, nir.Delay, getattr(nir.ir.graph, "Identity", nir.Scale))
HOST_TYPES = (nir.Input, nir.Output)
SUPPORTED = NEURON_TYPES + CONV_TYPES + DENSE_TYPES + PASS_TYPES + HOST_TYPES + (nir.Conv1d,)
MAX_NEURONS = 1 << 28  # 268 M per layer: beyond any chip system hwsim models
MAX_DEPTH = 8  # nested subgraphs
_PARAMS = ("tau", "tau_mem", "tau_syn", "r", "v_threshold", "v_leak", "v_reset", "w_in",
           "threshold", "scale", "delay")


@dataclass(frozen=True)
class FlatGraph:
    """A flat, typed graph: nodes in topological order, successors, every node's output shape
    and the shape entering it."""

    nodes: dict[str, nir.NIRNode]
    succ: dict[str, list[str]]
    order: list[str]
    shapes: dict[str, tuple[int, ...]]
    in_shapes: dict[str, tuple[int, ...]]


def normalise(graph: nir.NIRGraph, where: str = "<graph>") -> FlatGraph:
    """Flatten, check and type a NIR graph (one HwsimInputError on what hwsim cannot read)."""
    nodes, edges = _inline(graph, where, "", 0)
    for name, node in nodes.items():
        if node is None:
            raise HwsimInputError(where, name, "a NIR node (got None: the exporter wrote no node "
                                  "for this module, as norse does for torch.nn.Flatten)")
        if not isinstance(node, SUPPORTED):
            raise HwsimInputError(where, name, f"a supported node type (got {type(node).__name__})")
    succ: dict[str, list[str]] = {name: [] for name in nodes}
    for a, b in edges:
        if a not in nodes or b not in nodes:
            raise HwsimInputError(where, f"edge {a}->{b}", "both ends to be nodes of the graph")
        succ[a].append(b)
    order = topological(succ, where)
    shapes, in_shapes = _infer(nodes, succ, order, where)
    for name, node in nodes.items():
        if isinstance(node, nir.Conv1d):
            nodes[name] = _conv1d_as_conv2d(name, node, where)
    return FlatGraph(nodes, succ, order, shapes, in_shapes)


def _inline(graph: nir.NIRGraph, where: str, prefix: str,
            depth: int) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """Nested NIRGraphs spliced into their parent: node `sub` of subgraph `g` becomes `g.sub`,
    an edge into `g` enters its Input node, an edge out of `g` leaves its Output node (both now
    identities, `_identity`)."""
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            nodes[name] = node
            continue
        if depth >= MAX_DEPTH:
            raise HwsimInputError(where, prefix + name, f"at most {MAX_DEPTH} nested subgraphs")
        ins = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
        outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
        if len(ins) != 1 or len(outs) != 1:
            raise HwsimInputError(where, prefix + name,
                                  "a subgraph with one Input and one Output node")
        sub_nodes, sub_edges = _inline(node, where, f"{prefix}{name}.", depth + 1)
        for key, sub in sub_nodes.items():
            full = f"{name}.{key}"
            if full in graph.nodes:
                raise HwsimInputError(where, prefix + full, "a node name not used twice")
            nodes[full] = _identity() if key in ins + outs else sub
        edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in sub_edges]
        entry[name], exit_[name] = f"{name}.{ins[0]}", f"{name}.{outs[0]}"
    edges += [(exit_.get(str(a), str(a)), entry.get(str(b), str(b))) for a, b in graph.edges]
    return nodes, edges


def _identity() -> nir.Scale:
    """An identity node (a Scale by a 0-d 1: no declared shape, no parameter shape)."""
    return nir.Scale(scale=np.ones(()))


def topological(succ: dict[str, list[str]], where: str) -> list[str]:
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
    except graphlib.CycleError as exc:
        cycle = " -> ".join(str(n) for n in exc.args[1]) if len(exc.args) > 1 else "?"
        raise HwsimInputError(
            where, "edges", f"an acyclic graph (recurrent edges not supported: {cycle})"
        ) from None


def _checked(shape: tuple[int, ...], name: str, where: str) -> tuple[int, ...]:
    if not shape or any(s < 1 for s in shape):
        raise HwsimInputError(where, name, f"a shape of positive sizes (got {shape})")
    if math.prod(shape) > MAX_NEURONS:
        raise HwsimInputError(where, name, f"at most {MAX_NEURONS} neurons per node (got {shape})")
    return shape


def _declared(node: nir.NIRNode, attr: str) -> tuple[int, ...] | None:
    """A node's declared input or output type as a shape (None when absent or empty)."""
    types = getattr(node, attr, None)
    if not isinstance(types, dict):
        return None
    for value in types.values():
        if value is None:
            continue
        try:
            shape = tuple(int(v) for v in np.atleast_1d(np.asarray(value)).ravel())
        except (TypeError, ValueError):
            return None
        if shape and all(s > 0 for s in shape):
            return shape
    return None


def _param_shape(node: nir.NIRNode) -> tuple[int, ...] | None:
    """The shape of a neuron's (or Scale's) non-scalar parameters, None when all are scalar."""
    for attr in _PARAMS:
        value = getattr(node, attr, None)
        if value is None:
            continue
        try:
            arr = np.asarray(value)  # torch tensors too (norse, sinabs)
        except (TypeError, ValueError, RuntimeError):
            continue
        if arr.ndim > 0 and arr.size > 1:
            return tuple(int(s) for s in arr.shape)
    return None


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _infer(nodes: dict[str, nir.NIRNode], succ: dict[str, list[str]], order: list[str],
           where: str) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Every node's output shape, propagated from the roots (summed inputs must agree)."""
    preds: dict[str, list[str]] = {name: [] for name in nodes}
    for a, bs in succ.items():
        for b in bs:
            preds[b].append(a)
    shapes: dict[str, tuple[int, ...]] = {}
    in_shapes: dict[str, tuple[int, ...]] = {}
    for name in order:
        node = nodes[name]
        if preds[name]:
            ins = [shapes[p] for p in preds[name]]
            if len({_size(s) for s in ins}) > 1:
                got = ", ".join(f"{p} {s}" for p, s in zip(preds[name], ins))
                raise HwsimInputError(where, name, f"inputs of one size to sum (got {got})")
            in_shape = ins[0]
        else:
            in_shape = _root_shape(name, node, nodes, succ, where)
        in_shapes[name] = in_shape
        shapes[name] = _checked(_out_shape(name, node, in_shape, where), name, where)
    return shapes, in_shapes


def _root_shape(name: str, node: nir.NIRNode, nodes: dict[str, nir.NIRNode],
                succ: dict[str, list[str]], where: str) -> tuple[int, ...]:
    """The shape entering a node nothing feeds: its declared type (an Input's, usually), less
    a batch dimension of 1, else its parameters' shape."""
    shape = _declared(node, "input_type") or _declared(node, "output_type") or _param_shape(node)
    if shape is None:
        raise HwsimInputError(where, name, "a known input shape (an Input node with input_type)")
    return _checked(_strip_batch(shape, name, nodes, succ), name, where)


def _first_consumer(name: str, nodes: dict[str, nir.NIRNode],
                    succ: dict[str, list[str]]) -> nir.NIRNode | None:
    """The first node after `name` that fixes a shape (weight node, Flatten or neuron with
    shaped parameters), walking through identities, scales and delays."""
    stack, seen = list(succ[name]), set()
    while stack:
        cur = stack.pop()
        if cur in seen:
            continue
        seen.add(cur)
        node = nodes[cur]
        shaped = isinstance(node, NEURON_TYPES) and _param_shape(node) is not None
        if isinstance(node, CONV_TYPES + DENSE_TYPES + (nir.Conv1d, nir.Flatten)) or shaped:
            return node
        stack.extend(succ[cur])
    return None


def _strip_batch(shape: tuple[int, ...], name: str, nodes: dict[str, nir.NIRNode],
                 succ: dict[str, list[str]]) -> tuple[int, ...]:
    """Drop a leading 1 that is a batch dimension (snntorch, norse: Input [1, 2, 34, 34]).

    Decided by the consumer: a Conv2d or 2D pool reads (C, H, W), a Conv1d (C, L), a neuron
    with shaped parameters its parameter shape; a dense layer reads the size only. Otherwise
    only the unambiguous (1, F) and (1, C, H, W) lose it."""
    if len(shape) < 2 or shape[0] != 1:
        return shape
    consumer = _first_consumer(name, nodes, succ)
    if isinstance(consumer, CONV_TYPES):
        return shape[1:] if len(shape) == 4 else shape
    if isinstance(consumer, nir.Conv1d):
        return shape[1:] if len(shape) == 3 else shape
    if isinstance(consumer, DENSE_TYPES):
        return shape[1:]
    if consumer is not None and isinstance(consumer, NEURON_TYPES):
        return shape[1:] if shape[1:] == _param_shape(consumer) else shape
    return shape[1:] if len(shape) in (2, 4) else shape


def _out_shape(name: str, node: nir.NIRNode, in_shape: tuple[int, ...],
               where: str) -> tuple[int, ...]:
    """One node's output shape from the shape entering it."""
    if isinstance(node, nir.Conv2d):
        return _conv2d_shape(name, node, in_shape, where)
    if isinstance(node, nir.Conv1d):
        return _conv1d_shape(name, node, in_shape, where)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        if len(in_shape) != 3:
            raise HwsimInputError(where, name, f"a (C, H, W) input to pool (got {in_shape})")
        hw = conv_out_hw(in_shape[1:], pair(node.kernel_size, f"{name}.kernel_size", where, 1),
                         pair(node.stride, f"{name}.stride", where, 1),
                         pair(node.padding, f"{name}.padding", where, 0), (1, 1))
        return (in_shape[0], *hw)
    if isinstance(node, nir.Flatten):
        return _flatten_shape(name, node, in_shape, where)
    if isinstance(node, DENSE_TYPES):
        weight = np.shape(node.weight)  # its values are checked where the projection is read
        if len(weight) != 2 or weight[1] != _size(in_shape):
            raise HwsimInputError(where, f"{name}.weight",
                                  f"shape (N, {_size(in_shape)}) to read the {in_shape} reaching it")
        return (int(weight[0]),)
    return _elementwise_shape(name, node, in_shape, where)


def _elementwise_shape(name: str, node: nir.NIRNode, in_shape: tuple[int, ...],
                       where: str) -> tuple[int, ...]:
    """Neurons, Scale, Delay, identities, Input and Output keep their input's shape; a
    declared type or parameter shape of the same size (less a batch 1) is kept as the
    producer's layout, one of another size is an error."""
    params = _param_shape(node)
    if params is not None and _size(params) != _size(in_shape):
        raise HwsimInputError(where, name, f"parameters of {_size(in_shape)} values, the "
                              f"{in_shape} reaching it (got shape {params})")
    for declared in (_declared(node, "output_type"), _declared(node, "input_type"), params):
        if declared is None or isinstance(node, nir.Input):
            continue
        if declared[0] == 1 and declared[1:] == in_shape:
            continue  # a batch dimension
        if _size(declared) == _size(in_shape):
            return declared
        if not isinstance(node, nir.Output):  # outputs: the host takes what arrives
            raise HwsimInputError(where, name, f"a type of {_size(in_shape)} values, the "
                                  f"{in_shape} reaching it (got {declared})")
    return in_shape


def _flatten_shape(name: str, node: nir.Flatten, in_shape: tuple[int, ...],
                  where: str) -> tuple[int, ...]:
    """nir's own flatten formula; a start/end dim beyond the (batch-free) shape flattens all."""
    n = len(in_shape)
    start = integer(node.start_dim, f"{name}.start_dim", where)
    end = integer(node.end_dim, f"{name}.end_dim", where)
    start, end = start + n if start < 0 else start, end + n if end < 0 else end
    if not 0 <= start <= end < n:
        return (_size(in_shape),)
    out = calc_flatten_output(list(in_shape), start, end if end < n - 1 else -1)
    return tuple(int(v) for v in np.atleast_1d(out))


def _conv2d_shape(name: str, node: nir.Conv2d, in_shape: tuple[int, ...],
                  where: str) -> tuple[int, ...]:
    weight = np.shape(node.weight)  # its values are checked where the projection is read
    if len(weight) != 4:
        raise HwsimInputError(where, f"{name}.weight", "a 4-D array [Cout, Cin/groups, kh, kw]")
    groups = integer(node.groups, f"{name}.groups", where)
    if groups < 1 or weight[0] % groups:
        raise HwsimInputError(where, f"{name}.groups", f"a divisor of Cout = {weight[0]}")
    cin = int(weight[1]) * groups
    if len(in_shape) == 2:
        in_shape = (*in_shape, 1)  # (C, L) from a Conv1d: width 1
    declared = getattr(node, "input_shape", None)
    if len(in_shape) != 3 and declared is not None and np.size(declared) == 2:
        hw = tuple(int(v) for v in np.ravel(declared))
        if cin * hw[0] * hw[1] == _size(in_shape):
            in_shape = (cin, hw[0], hw[1])  # a flat layer read as an image
    if len(in_shape) != 3 or in_shape[0] != cin:
        raise HwsimInputError(where, f"{name}.weight",
                              f"Cin/groups*groups = {in_shape[0]} for the {in_shape} reaching it")
    hw = conv_out_hw(in_shape[1:], (int(weight[2]), int(weight[3])),
                     pair(node.stride, f"{name}.stride", where, 1),
                     numeric_padding(node, name, where),
                     pair(node.dilation, f"{name}.dilation", where, 1))
    return (int(weight[0]), *hw)


def _conv1d_shape(name: str, node: nir.Conv1d, in_shape: tuple[int, ...],
                  where: str) -> tuple[int, ...]:
    conv = _conv1d_as_conv2d(name, node, where)
    if len(in_shape) != 2:
        raise HwsimInputError(where, name, f"a (C, L) input to Conv1d (got {in_shape})")
    out = _conv2d_shape(name, conv, (*in_shape, 1), where)
    return out[:2]


def _conv1d_as_conv2d(name: str, node: nir.Conv1d, where: str) -> nir.Conv2d:
    """Conv1d over (C, L) as Conv2d over (C, L, 1): kernel (k, 1), stride (s, 1)..."""
    weight = weight_of(node, name, where)
    if weight.ndim != 3:
        raise HwsimInputError(where, f"{name}.weight", "a 3-D array [Cout, Cin/groups, k]")
    if isinstance(node.padding, str) and node.padding not in ("same", "valid"):
        raise HwsimInputError(where, f"{name}.padding", "'same', 'valid' or an int")
    pad: str | tuple[int, int] = node.padding if isinstance(node.padding, str) else (
        pair(node.padding, f"{name}.padding", where, 0)[0], 0)
    return nir.Conv2d(
        input_shape=None, weight=weight[..., None],
        stride=(pair(node.stride, f"{name}.stride", where, 1)[0], 1), padding=pad,
        dilation=(pair(node.dilation, f"{name}.dilation", where, 1)[0], 1),
        groups=integer(node.groups, f"{name}.groups", where), bias=np.zeros(weight.shape[0]),
    )
