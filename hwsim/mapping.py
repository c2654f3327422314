"""Mapping: split layers into core-sized pieces within every limit, then place pieces on cores.

Pieces are contiguous flat neuron ranges (channel-major, like NIR's [C, H, W]); pieces of
different layers never share a core (conservative where a chip would allow it). Chips with
per-core word memories (Speck) keep each layer whole on one core, matched to cores by bipartite
matching against the published memory formula.

Placements: `sequential` (core 0, 1, 2, ... chip by chip), `greedy` (each piece next to the pieces
it talks to most; never worse than sequential in hop-weighted traffic), `locality` (greedy, then
pairwise swaps while they cut hop-weighted traffic), and `spread` (the latency-oriented one: heavy
pieces are split over more cores by `split_heavy`, then placed as `locality`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwsim.chip import ChipSpec
from hwsim.connectivity import incoming_events
from hwsim.network import Layer, Network, Projection
from hwsim.reasons import Reason, ReasonKind, messages
from hwsim.speck_memory import match_layers


@dataclass(frozen=True)
class Piece:
    """Neurons [start, stop) of `layer`, placed on one core."""

    layer: str
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True, eq=False)
class Partition:
    """Layers cut into pieces; `fused[L] = S` means layer L runs on S's cores (Speck pooling)."""

    pieces: tuple[Piece, ...]
    layer_pieces: dict[str, np.ndarray]  # layer -> indices into `pieces`
    fused: dict[str, str]
    refusals: tuple[Reason, ...]  # why it does not fit; empty when it does
    fixed_cores: np.ndarray | None = None  # core per piece when the chip dictates it (Speck)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The refusals' one-line texts."""
        return messages(self.refusals)

    def bounds(self, layer: str) -> np.ndarray:
        """(Q, 2) [start, stop) of the layer's pieces."""
        idx = self.layer_pieces[layer]
        return np.array([[self.pieces[i].start, self.pieces[i].stop] for i in idx], dtype=np.int64)


def _fused_layers(network: Network, chip: ChipSpec) -> dict[str, str]:
    """Spiking layers fed only by pooling of one spiking layer run on that layer's cores."""
    if not chip.fuse_pooling:
        return {}
    kinds = {la.name: la.kind for la in network.layers}
    fused: dict[str, str] = {}
    for layer in network.neuron_layers:
        ins = [p for p in network.projections if p.dst == layer.name]
        srcs = {p.src for p in ins}
        if ins and all(p.pool for p in ins) and len(srcs) == 1:
            src = srcs.pop()
            if kinds[src] == "neuron":
                fused[layer.name] = fused.get(src, src)
    return fused


# a per-core limit broken by neurons [a, b): (rule, needed, limit)
Violation = tuple[ReasonKind, float, float]


class _LayerBudget:
    """Cost of putting neurons [a, b) of one layer on one core, against the chip's limits."""

    def __init__(self, layer: Layer, ins: list[Projection], chip: ChipSpec) -> None:
        self.layer, self.ins, self.chip = layer, ins, chip
        c, h, w = layer.chw
        self.hw, self.w = h * w, w
        # per-connection synapse bits per neuron: dense projections at the dense word size (the
        # same as synapse_weight_bits unless the profile says otherwise), the rest at the weight's
        bits = np.zeros(layer.size)
        self.shared_per_channel = 0
        for p in ins:
            fan_in = incoming_events(p, np.ones(int(np.prod(p.in_chw))))
            if chip.shared_weights and p.kind == "conv":
                self.shared_per_channel += p.weights_per_out_channel
            elif p.kind == "dense":
                bits += fan_in * chip.synapse_weight_bits_dense
            else:
                bits += fan_in * chip.synapse_weight_bits
        self.prefix = np.concatenate([[0.0], np.cumsum(bits)])
        self.pooled = math.isfinite(chip.memory_pool_bits_per_core)

    def memory_bits(self, a: int, b: int) -> float:
        channels = (b - 1) // self.hw - a // self.hw + 1
        shared = channels * self.shared_per_channel * self.chip.synapse_weight_bits
        return float(self.prefix[b] - self.prefix[a] + shared)

    def pool_bits(self, a: int, b: int, axons: int) -> float:
        """Bits of the core's one memory pool: neuron state, synapses, input-axon routing."""
        chip = self.chip
        return ((b - a) * chip.neuron_state_bits + self.memory_bits(a, b)
                + axons * chip.axon_bits)

    def _memory_name(self, limit: float) -> str:
        pool = self.pooled and limit == self.chip.memory_pool_bits_per_core
        return "memory pool (neuron state + synapse + axon)" if pool else "synapse"

    def axons(self, a: int, b: int) -> int:
        total = 0
        c0, c1 = a // self.hw, (b - 1) // self.hw
        for p in self.ins:
            if p.kind == "identity":
                total += b - a
            elif p.kind == "dense":
                assert p.mask is not None
                total += int(p.mask[a:b].any(axis=0).sum())
            else:
                cin, hin, win = p.in_chw
                cout, hout, wout = p.out_chw
                per_group = cout // p.groups
                groups = c1 // per_group - c0 // per_group + 1
                if c1 > c0:
                    rows, cols = hout, wout
                else:
                    rows = ((b - 1) % self.hw) // self.w - (a % self.hw) // self.w + 1
                    cols = wout if rows > 1 else b - a
                rows_in = min(hin, (rows - 1) * p.stride[0] + (p.kernel[0] - 1) * p.dilation[0] + 1)
                cols_in = min(win, (cols - 1) * p.stride[1] + (p.kernel[1] - 1) * p.dilation[1] + 1)
                total += groups * (cin // p.groups) * rows_in * cols_in
        return total

    def violation(self, a: int, b: int) -> Violation | None:
        chip = self.chip
        if b - a > chip.neurons_per_core:
            return "neurons_per_core", b - a, chip.neurons_per_core
        bits = self.memory_bits(a, b)
        if bits > chip.synapse_memory_bits_per_core:
            return "synapse_memory", bits, chip.synapse_memory_bits_per_core
        axons = self.axons(a, b)
        if axons > chip.fan_in_axons_per_core:
            return "axons_per_core", axons, chip.fan_in_axons_per_core
        if self.pooled:
            pool = self.pool_bits(a, b, axons)
            if pool > chip.memory_pool_bits_per_core:
                return "synapse_memory", pool, chip.memory_pool_bits_per_core
        return None

    def single_neuron(self, start: int) -> Reason | None:
        """Why neuron `start` alone breaks a per-core limit (no cut can help), or None."""
        v = self.violation(start, start + 1)
        if v is None:
            return None
        kind, needed, limit = v
        what = {
            "neurons_per_core": f"{needed:.0f} neurons > {limit:.0f} per core",
            "synapse_memory": f"{needed:.0f} {self._memory_name(limit)} bits > {limit:.0f} per core",
        }.get(kind, f"{needed:.0f} input axons > {limit:.0f} per core")
        name = self.layer.name
        return Reason(kind, name, needed, limit, f"layer {name}: a single neuron needs {what}")

    def largest_piece(self, start: int) -> int:
        """Largest stop with [start, stop) within every limit (costs grow with stop)."""
        n = self.layer.size
        lo, step = start + 1, 1
        while True:
            probe = min(n, start + 2 * step)
            if probe == lo or self.violation(start, probe) is not None:
                hi = probe
                break
            lo, step = probe, 2 * step
            if lo == n:
                return n
        while hi - lo > 1:  # lo fits, hi does not (or hi == lo)
            mid = (lo + hi) // 2
            if self.violation(start, mid) is None:
                lo = mid
            else:
                hi = mid
        return lo


def _cut(
    owners: list[Layer], budgets: dict[str, _LayerBudget]
) -> tuple[list[Piece], dict[str, np.ndarray], list[Reason]]:
    """Every layer cut greedily into the largest pieces that fit; a layer stops at the first
    neuron that fits no core on its own (its reason)."""
    pieces: list[Piece] = []
    layer_pieces: dict[str, np.ndarray] = {}
    reasons: list[Reason] = []
    for layer in owners:
        first, budget, start = len(pieces), budgets[layer.name], 0
        while start < layer.size:
            why = budget.single_neuron(start)
            if why is not None:
                reasons.append(why)
                break
            stop = budget.largest_piece(start)
            pieces.append(Piece(layer.name, start, stop))
            start = stop
        layer_pieces[layer.name] = np.arange(first, len(pieces))
    return pieces, layer_pieces, reasons


def _destination_refusals(
    network: Network, owners: list[Layer], fused: dict[str, str], chip: ChipSpec
) -> list[Reason]:
    """Layers that send to more layers than the chip's routing tables allow."""
    owner_of = {la.name: fused.get(la.name, la.name) for la in network.layers}
    reasons = []
    for layer in owners:
        dests = {owner_of[p.dst] for p in network.projections if owner_of[p.src] == layer.name}
        dests.discard(layer.name)
        if len(dests) > chip.max_destinations_per_layer:
            reasons.append(Reason(
                "destinations_per_layer", layer.name, len(dests), chip.max_destinations_per_layer,
                f"layer {layer.name}: sends to {len(dests)} layers > "
                f"{chip.max_destinations_per_layer:.0f} destinations per layer",
            ))
    return reasons


def partition(network: Network, chip: ChipSpec, *, quick: bool = False) -> Partition:
    """Cut every spiking layer into pieces that fit a core; collect reasons where none can.

    `quick=True` answers "does it fit?" fast: every layer's first neuron is checked before any
    layer is cut (the per-core limits that no cut can meet show there); when one fails, the
    result carries every such reason (one per layer) and no pieces.
    """
    fused = _fused_layers(network, chip)
    owners = [la for la in network.neuron_layers if la.name not in fused]
    if chip.kernel_memory_words is not None or chip.neuron_memory_words is not None:
        return _partition_whole_layers(network, chip, owners, fused)
    budgets = {
        la.name: _LayerBudget(la, [p for p in network.projections if p.dst == la.name], chip)
        for la in owners
    }
    if quick:
        single = [budgets[la.name].single_neuron(0) for la in owners]
        found = tuple(r for r in single if r is not None)
        if found:
            return Partition((), {}, fused, found, None)
    pieces, layer_pieces, reasons = _cut(owners, budgets)
    for name, src in fused.items():
        layer_pieces[name] = layer_pieces[src]
    reasons += _destination_refusals(network, owners, fused, chip)
    if len(pieces) > chip.n_cores:
        reasons.append(Reason(
            "chip_cores", None, len(pieces), chip.n_cores,
            f"needs {len(pieces)} cores, {chip.name} has {chip.n_cores}",
        ))
    return Partition(tuple(pieces), layer_pieces, fused, tuple(reasons), None)


def _partition_whole_layers(
    network: Network, chip: ChipSpec, owners: list[Layer], fused: dict[str, str]
) -> Partition:
    """One piece per layer on the core the memory matching gives it (Speck)."""
    pieces = tuple(Piece(layer.name, 0, layer.size) for layer in owners)
    layer_pieces = {layer.name: np.array([i]) for i, layer in enumerate(owners)}
    for name, src in fused.items():
        layer_pieces[name] = layer_pieces[src]
    reasons = _destination_refusals(network, owners, fused, chip)
    fixed, memory = match_layers(network, chip, owners)
    return Partition(pieces, layer_pieces, fused, (*reasons, *memory), fixed)


def split_heavy(part: Partition, work: dict[str, np.ndarray], budget: int) -> Partition:
    """Split the piece with the most work in two (at its work median) until `budget` pieces.

    `work[layer]` is the per-neuron cost of a timestep (seconds); splitting only shrinks pieces,
    so every per-core limit that held still holds. Chips that dictate one layer per core (Speck)
    are returned unchanged.
    """
    if part.fixed_cores is not None or part.fused or len(part.pieces) >= budget:
        return part
    import heapq

    prefix = {k: np.concatenate([[0.0], np.cumsum(v)]) for k, v in work.items()}
    items = [(pc.layer, pc.start, pc.stop) for pc in part.pieces]

    def cost(layer: str, a: int, b: int) -> float:
        return float(prefix[layer][b] - prefix[layer][a])

    heap = [(-cost(la, a, b), i) for i, (la, a, b) in enumerate(items)]
    heapq.heapify(heap)
    alive = [True] * len(items)
    n = len(items)
    while n < budget and heap:
        neg, i = heapq.heappop(heap)
        la, a, b = items[i]
        if b - a < 2 or -neg <= 0:
            continue  # cannot split further; try the next heaviest
        half = prefix[la][a] + (prefix[la][b] - prefix[la][a]) / 2
        m = int(np.searchsorted(prefix[la], half, side="left"))
        m = min(max(m, a + 1), b - 1)
        alive[i] = False
        for lo, hi in ((a, m), (m, b)):
            items.append((la, lo, hi))
            alive.append(True)
            heapq.heappush(heap, (-cost(la, lo, hi), len(items) - 1))
        n += 1
    order = {la: k for k, la in enumerate(part.layer_pieces)}
    kept = sorted(
        (it for it, ok in zip(items, alive, strict=True) if ok), key=lambda t: (order[t[0]], t[1])
    )
    pieces = tuple(Piece(*it) for it in kept)
    layer_pieces: dict[str, np.ndarray] = {}
    for i, pc in enumerate(pieces):
        layer_pieces.setdefault(pc.layer, [])  # type: ignore[arg-type]
        layer_pieces[pc.layer].append(i)  # type: ignore[attr-defined]
    layer_pieces = {k: np.asarray(v, dtype=np.int64) for k, v in layer_pieces.items()}
    return Partition(pieces, layer_pieces, dict(part.fused), part.refusals, None)
