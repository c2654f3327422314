"""Can the chip run this kind of network at all? The capability rules, checked before any cost.

A chip's per-core figures say how much fits; its `capabilities:` (`hwsim.chip.capability`) say
what it can run at all: Speck runs only non-leaky integrate-and-fire neurons, square sum-pooling
and strides 1/2/4/8; a TrueNorth neuron weighs its inputs through 4 axon types, so at most 4
distinct non-zero weights reach one neuron. A network that breaks one is refused with the rule
named (a `Reason` of kind neuron_model, pooling, distinct_weights, bias, stride, kernel or
padding) by `estimate` and `fit_reasons` before anything is partitioned, routed or costed.

What the rules read, from a NIR graph (every rule):
- a neuron's model: NIR LIF is leaky when any element of `tau` is finite (its membrane decays by
  dt/tau per step of any dt); an infinite `tau` has no leak and is integrate-and-fire, as are IF
  and Threshold. CubaLIF/CubaLI have a decaying synaptic current ("cuba_lif"); LI, CubaLI and I
  emit a value, not a spike ("graded"; LI and CubaLI leak too);
- a pool (SumPool2d "sum", AvgPool2d "avg") read by a Threshold node is a max-pool on spikes
  (NIR has no max-pool; "at least one spike in the window" is how it is written);
- a weight node's distinct non-zero weights per output neuron (a conv's output channel, a
  Linear/Affine row), its biases (non-zero), strides, kernel and padding.
From hwsim's `Network` (what `read_network` gives) only the structure is left: the node type of a
neuron layer (`Layer.model`, a LIF counted as leaky: its tau is not kept), pools (a max-pool when
read by a Threshold layer; sum and avg look alike) and conv geometry; weight values and biases are
not kept, so the distinct-weight and bias rules need the graph.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import nir
import numpy as np

from hwsim.chip import ChipSpec, load_chip
from hwsim.chip.capability import Capabilities
from hwsim.errors import HwsimInputError
from hwsim.network import Network
from hwsim.nir_fields import numeric_padding, pair
from hwsim.nir_normalise import PASS_TYPES, FlatGraph, normalise
from hwsim.reasons import Reason, ReasonKind

MODEL_NAMES = {"lif": "LIF", "cuba_lif": "CUBA-LIF", "if": "IF", "graded": "graded"}
MODEL_WORDS = {
    "lif": "a leaky (LIF) neuron",
    "cuba_lif": "a current-based (CUBA) neuron",
    "if": "an integrate-and-fire neuron",
    "graded": "a graded (non-spiking) output",
}


def capability_reasons(
    graph: nir.NIRGraph | Network, profile: ChipSpec | str, where: str = "<graph>"
) -> tuple[Reason, ...]:
    """Every capability rule of the chip the network breaks (empty: it can run this kind of
    network), one reason per node and rule, in graph order. Read the module docstring for what a
    `Network` (rather than its NIR graph) lets it check."""
    chip = profile if isinstance(profile, ChipSpec) else load_chip(profile)
    caps = chip.capabilities
    if isinstance(graph, Network):
        if graph.flat is not None:  # read from a NIR graph: every rule can be checked
            return tuple(_graph_reasons(graph.flat, caps, chip.name, graph.where))
        return tuple(_network_reasons(graph, caps, chip.name))
    return tuple(_graph_reasons(normalise(graph, where), caps, chip.name, where))


def _why(caps: Capabilities, key: str) -> str:
    """The rule's provenance as the message quotes it: its first sentence (the profile has it
    all, `hwsim chips` shows it)."""
    text = caps.provenance.get(key, "profile")
    return re.split(r"(?<!\bal)\.\s", text, maxsplit=1)[0]


def _reason(kind: ReasonKind, layer: str, needed: float, limit: float, text: str) -> Reason:
    return Reason(kind, layer, float(needed), float(limit), f"{layer}: {text}")


def neuron_needs(node: nir.NIRNode) -> tuple[str, ...]:
    """The neuron models (`NEURON_MODELS`) a NIR neuron node needs, by its parameters."""
    if isinstance(node, nir.LIF):
        return ("lif",) if _finite(node.tau) else ("if",)
    if isinstance(node, nir.CubaLIF):
        return ("cuba_lif",)
    if isinstance(node, nir.CubaLI):
        return ("graded", "cuba_lif")
    if isinstance(node, nir.LI):
        return ("graded", "lif") if _finite(node.tau) else ("graded",)
    if isinstance(node, nir.I):
        return ("graded",)
    return ("if",)  # IF, Threshold


def _finite(tau: object) -> bool:
    arr = np.asarray(tau, dtype=np.float64)
    return bool(np.isfinite(arr).any())


def _model_reason(name: str, needs: tuple[str, ...], caps: Capabilities, chip: str,
                  what: str) -> Iterator[Reason]:
    missing = [m for m in needs if m not in caps.neuron_models]
    if missing:
        yield _reason(
            "neuron_model", name, len(missing), 0,
            f"{MODEL_WORDS[missing[0]]} ({what}); {chip} runs only "
            f"{', '.join(MODEL_NAMES[m] for m in caps.neuron_models)} neurons "
            f"({_why(caps, 'neuron_models')})",
        )


def _numbers(value: object, field: str, where: str) -> np.ndarray:
    """A weight or bias as finite float64 numbers (one HwsimInputError naming the field)."""
    arr = np.asarray(value)
    if (arr.ndim == 0 and field.endswith(".weight")) or not (
        np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise HwsimInputError(where, field, "an array of real numbers")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise HwsimInputError(where, field, "finite numbers (no NaN or infinity)")
    return arr


def _bias(node: nir.NIRNode, name: str, where: str) -> np.ndarray | None:
    bias = getattr(node, "bias", None)
    return None if bias is None else _numbers(bias, f"{name}.bias", where).ravel()


def _graph_reasons(flat: FlatGraph, caps: Capabilities, chip: str,
                   where: str) -> Iterator[Reason]:
    for name in flat.order:
        node = flat.nodes[name]
        if isinstance(node, nir.LIF | nir.IF | nir.CubaLIF | nir.Threshold | nir.LI | nir.CubaLI
                      | nir.I):
            what = type(node).__name__
            if isinstance(node, nir.LIF | nir.LI):
                what += " with finite tau" if _finite(node.tau) else " with infinite tau"
            yield from _model_reason(name, neuron_needs(node), caps, chip, what)
        elif isinstance(node, nir.SumPool2d | nir.AvgPool2d):
            kind = "max" if _read_by_threshold(flat, name) else (
                "sum" if isinstance(node, nir.SumPool2d) else "avg")
            kernel = pair(node.kernel_size, f"{name}.kernel_size", where)
            stride = pair(node.stride, f"{name}.stride", where)
            yield from _pool_reasons(name, kind, kernel, stride, caps, chip)
        elif isinstance(node, nir.Conv2d):
            weight = _numbers(node.weight, f"{name}.weight", where)
            yield from _geometry_reasons(
                name, (int(weight.shape[2]), int(weight.shape[3])),
                pair(node.stride, f"{name}.stride", where),
                numeric_padding(node, name, where), caps, chip,
            )
            yield from _value_reasons(name, weight.reshape(weight.shape[0], -1),
                                      _bias(node, name, where), caps, chip)
        elif isinstance(node, nir.Linear | nir.Affine):
            weight = _numbers(node.weight, f"{name}.weight", where)
            yield from _value_reasons(name, weight.reshape(weight.shape[0], -1),
                                      _bias(node, name, where), caps, chip)


def _read_by_threshold(flat: FlatGraph, name: str) -> bool:
    """Whether a Threshold node reads the pool (through pass-through nodes): a max-pool."""
    todo, seen = list(flat.succ[name]), set()
    while todo:
        nxt = todo.pop()
        if nxt in seen:
            continue
        seen.add(nxt)
        node = flat.nodes[nxt]
        if isinstance(node, nir.Threshold):
            return True
        if isinstance(node, PASS_TYPES):
            todo.extend(flat.succ[nxt])
    return False


def _pool_reasons(name: str, kind: str, kernel: tuple[int, int], stride: tuple[int, int],
                  caps: Capabilities, chip: str) -> Iterator[Reason]:
    if kind not in caps.pooling:
        runs = ", ".join(caps.pooling) or "no pooling"
        yield _reason("pooling", name, 1, 0,
                      f"{kind}-pooling; {chip} pools only {runs} ({_why(caps, 'pooling')})")
        return
    if caps.pool_square and (kernel[0] != kernel[1] or stride != kernel):
        yield _reason("pooling", name, max(kernel), min(kernel),
                      f"pool kernel {kernel} with stride {stride}; {chip} pools only square "
                      f"windows with stride = kernel ({_why(caps, 'pool_square')})")
    elif caps.pool_sizes is not None and kernel[0] not in caps.pool_sizes:
        yield _reason("pooling", name, kernel[0], max(caps.pool_sizes),
                      f"pool kernel {kernel[0]}; {chip} pools by {caps.pool_sizes} "
                      f"({_why(caps, 'pool_sizes')})")


def _geometry_reasons(name: str, kernel: tuple[int, int], stride: tuple[int, int],
                      padding: tuple[int, int], caps: Capabilities, chip: str) -> Iterator[Reason]:
    if caps.strides is not None and any(s not in caps.strides for s in stride):
        bad = max(s for s in stride if s not in caps.strides)
        yield _reason("stride", name, bad, max(caps.strides),
                      f"conv stride {stride}; {chip} allows strides {caps.strides} per axis "
                      f"({_why(caps, 'strides')})")
    if max(kernel) > caps.max_kernel:
        yield _reason("kernel", name, max(kernel), caps.max_kernel,
                      f"conv kernel {kernel[0]}x{kernel[1]} > {caps.max_kernel:g} per side on "
                      f"{chip} ({_why(caps, 'max_kernel')})")
    elif caps.square_kernel and kernel[0] != kernel[1]:
        yield _reason("kernel", name, max(kernel), min(kernel),
                      f"conv kernel {kernel[0]}x{kernel[1]} is not square; {chip} needs square "
                      f"kernels ({_why(caps, 'square_kernel')})")
    if max(padding) > caps.max_padding:
        yield _reason("padding", name, max(padding), caps.max_padding,
                      f"conv padding {padding} > {caps.max_padding:g} on {chip} "
                      f"({_why(caps, 'max_padding')})")


def distinct_per_row(weight: np.ndarray) -> np.ndarray:
    """Distinct non-zero values in each row of a 2-D weight array (a neuron's incoming weights:
    zero is no synapse, not a weight)."""
    if weight.size == 0:
        return np.zeros(weight.shape[0], dtype=np.int64)
    s = np.sort(weight, axis=1)
    distinct = 1 + (np.diff(s, axis=1) != 0).sum(axis=1)
    return distinct - (s == 0).any(axis=1)


def _value_reasons(name: str, weight: np.ndarray, bias: np.ndarray | None, caps: Capabilities,
                   chip: str) -> Iterator[Reason]:
    if math.isfinite(caps.distinct_weights_per_neuron) and weight.size:
        counts = distinct_per_row(weight)
        worst = int(counts.argmax())
        if counts[worst] > caps.distinct_weights_per_neuron:
            yield _reason(
                "distinct_weights", name, counts[worst], caps.distinct_weights_per_neuron,
                f"output neuron {worst} receives {counts[worst]} distinct weight values > "
                f"{caps.distinct_weights_per_neuron:g} on {chip} "
                f"({_why(caps, 'distinct_weights_per_neuron')})",
            )
    if bias is None:
        return
    b = bias
    if not (b != 0).any():
        return
    if not caps.bias:
        yield _reason("bias", name, int((b != 0).sum()), 0,
                      f"non-zero bias; {chip} neurons take no bias ({_why(caps, 'bias')})")
    elif b.size > caps.bias_per_layer:
        yield _reason("bias", name, b.size, caps.bias_per_layer,
                      f"{b.size} biased neurons > {caps.bias_per_layer:g} bias entries per core "
                      f"on {chip} ({_why(caps, 'bias_per_layer')})")


NETWORK_MODELS = {"LIF": ("lif",), "IF": ("if",), "Threshold": ("if",), "CubaLIF": ("cuba_lif",),
                  "LI": ("graded", "lif"), "CubaLI": ("graded", "cuba_lif"), "I": ("graded",)}


def _network_reasons(net: Network, caps: Capabilities, chip: str) -> Iterator[Reason]:
    """The structural rules on hwsim's Network (no weights, no neuron parameters kept)."""
    models = {la.name: la.model for la in net.neuron_layers}
    for name, model in models.items():
        needs = NETWORK_MODELS.get(model, ())
        what = f"{model}; its tau is not kept in hwsim's network" if model == "LIF" else model
        yield from _model_reason(name, needs, caps, chip, what)
    for p in net.projections:
        if p.kind != "conv":
            continue
        if p.pool:
            kind = "max" if models.get(p.dst) == "Threshold" else "sum"
            yield from _pool_reasons(p.via or p.dst, kind, p.kernel, p.stride, caps, chip)
        elif p.pooled_chw is None:
            yield from _geometry_reasons(p.via or p.dst, p.kernel, p.stride, p.padding, caps,
                                         chip)
