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

PLACEMENTS = ("sequential", "greedy", "locality", "spread")


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
    reasons: tuple[str, ...]  # why it does not fit; empty when it does
    fixed_cores: np.ndarray | None = None  # core per piece when the chip dictates it (Speck)

    def bounds(self, layer: str) -> np.ndarray:
        """(Q, 2) [start, stop) of the layer's pieces."""
        idx = self.layer_pieces[layer]
        return np.array([[self.pieces[i].start, self.pieces[i].stop] for i in idx], dtype=np.int64)


def speck_kernel_words(proj: Projection) -> int:
    """sinabs' kernel memory: Cin * 2^(ceil(log2(kh*kw)) + ceil(log2 Cout)).

    A dense layer is the convolution sinabs makes of it: kernel = the source's H x W, Cin = its
    channels (so a Linear after Flatten of (C, H, W) is C * 2^(ceil log2(HW) + ceil log2 N));
    an identity edge is a 1x1 convolution C -> C.
    """
    if proj.kind == "conv":
        cin = proj.in_chw[0] // proj.groups if proj.pool else proj.in_chw[0]
        kh, kw = proj.kernel
        cout = proj.out_chw[0]
    elif proj.kind == "dense":
        cin, kh, kw = proj.in_chw
        cout = int(np.prod(proj.out_chw))
    else:
        cin, kh, kw, cout = proj.in_chw[0], 1, 1, proj.out_chw[0]
    return cin * 2 ** (math.ceil(math.log2(kh * kw)) + math.ceil(math.log2(cout)))


def speck_neuron_words(layer: Layer) -> int:
    """sinabs' neuron memory: Cout * 2^(ceil(log2 H) + ceil(log2 W))."""
    c, h, w = layer.chw
    return c * 2 ** (math.ceil(math.log2(h)) + math.ceil(math.log2(w)))


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


class _LayerBudget:
    """Cost of putting neurons [a, b) of one layer on one core, against the chip's limits."""

    def __init__(self, layer: Layer, ins: list[Projection], chip: ChipSpec) -> None:
        self.layer, self.ins, self.chip = layer, ins, chip
        c, h, w = layer.chw
        self.hw, self.w = h * w, w
        dense = np.zeros(layer.size)
        self.shared_per_channel = 0
        for p in ins:
            fan_in = incoming_events(p, np.ones(int(np.prod(p.in_chw))))
            if chip.shared_weights and p.kind == "conv":
                self.shared_per_channel += p.weights_per_out_channel
            else:
                dense += fan_in
        self.prefix = np.concatenate([[0.0], np.cumsum(dense)])

    def memory_bits(self, a: int, b: int) -> float:
        channels = (b - 1) // self.hw - a // self.hw + 1
        words = self.prefix[b] - self.prefix[a] + channels * self.shared_per_channel
        return float(words * self.chip.synapse_weight_bits)

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

    def violation(self, a: int, b: int) -> str | None:
        chip = self.chip
        if b - a > chip.neurons_per_core:
            return f"{b - a} neurons > {chip.neurons_per_core} per core"
        bits = self.memory_bits(a, b)
        if bits > chip.synapse_memory_bits_per_core:
            return f"{bits:.0f} synapse bits > {chip.synapse_memory_bits_per_core:.0f} per core"
        axons = self.axons(a, b)
        if axons > chip.fan_in_axons_per_core:
            return f"{axons} input axons > {chip.fan_in_axons_per_core:.0f} per core"
        return None

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


def partition(network: Network, chip: ChipSpec, *, first_reason: bool = False) -> Partition:
    """Cut every spiking layer into pieces that fit a core; collect reasons where none can.

    `first_reason=True` answers only "does it fit?" fast: every layer's first neuron is checked
    before any layer is cut (the per-core limits that no cut can meet show there), and the
    result carries at most one reason and no pieces when it has one.
    """
    fused = _fused_layers(network, chip)
    reasons: list[str] = []
    pieces: list[Piece] = []
    layer_pieces: dict[str, np.ndarray] = {}
    whole_layers = chip.kernel_memory_words is not None or chip.neuron_memory_words is not None
    owners = [la for la in network.neuron_layers if la.name not in fused]
    budgets = {} if whole_layers else {
        la.name: _LayerBudget(la, [p for p in network.projections if p.dst == la.name], chip)
        for la in owners
    }

    def single_neuron(layer: Layer, start: int) -> str | None:
        why = budgets[layer.name].violation(start, start + 1)
        return None if why is None else f"layer {layer.name}: a single neuron needs {why}"

    if first_reason:
        for layer in owners if budgets else ():
            why = single_neuron(layer, 0)
            if why is not None:
                return Partition((), {}, fused, (why,), None)
    for layer in owners:
        first = len(pieces)
        if whole_layers:
            pieces.append(Piece(layer.name, 0, layer.size))
        else:
            budget = budgets[layer.name]
            start = 0
            while start < layer.size:
                why = single_neuron(layer, start)
                if why is not None:
                    reasons.append(why)
                    break
                stop = budget.largest_piece(start)
                pieces.append(Piece(layer.name, start, stop))
                start = stop
        layer_pieces[layer.name] = np.arange(first, len(pieces))
    for name, src in fused.items():
        layer_pieces[name] = layer_pieces[src]

    owner_of = {la.name: fused.get(la.name, la.name) for la in network.layers}
    for layer in owners:
        dests = {owner_of[p.dst] for p in network.projections if owner_of[p.src] == layer.name}
        dests.discard(layer.name)
        if len(dests) > chip.max_destinations_per_layer:
            reasons.append(
                f"layer {layer.name}: sends to {len(dests)} layers > "
                f"{chip.max_destinations_per_layer:.0f} destinations per layer"
            )

    fixed = None
    if whole_layers:
        kernel = chip.kernel_memory_words or (2**62,) * chip.n_cores
        neuron = chip.neuron_memory_words or (2**62,) * chip.n_cores
        need = []
        for layer in owners:
            ins = [p for p in network.projections if p.dst == layer.name]
            need.append((sum(speck_kernel_words(p) for p in ins), speck_neuron_words(layer)))
        core_of = _match(need, kernel[: chip.n_cores], neuron[: chip.n_cores])
        if len(owners) > chip.n_cores:
            reasons.append(
                f"{len(owners)} spiking layers > {chip.n_cores} cores of {chip.name} "
                "(one layer per core): no width fits; the network needs fewer layers"
            )
        for layer, (kw, nw), core in zip(owners, need, core_of, strict=True):
            fits_somewhere = any(kw <= k and nw <= m for k, m in zip(kernel, neuron, strict=False))
            if core < 0 and (fits_somewhere and len(owners) > chip.n_cores):
                continue  # unmatched only because the cores ran out: said above
            if core < 0:
                reasons.append(
                    f"layer {layer.name}: needs {kw} kernel words and {nw} neuron words; "
                    "no free core has that much (one layer per core)"
                )
        fixed = np.array(core_of, dtype=np.int64)
    if len(pieces) > chip.n_cores and not whole_layers:
        reasons.append(f"needs {len(pieces)} cores, {chip.name} has {chip.n_cores}")
    return Partition(tuple(pieces), layer_pieces, fused, tuple(reasons), fixed)


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
    return Partition(pieces, layer_pieces, dict(part.fused), part.reasons, None)


def router_positions(chip: ChipSpec) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of every system router, router-major numbering."""
    idx = np.arange(chip.n_routers)
    return idx // chip.mesh_cols, idx % chip.mesh_cols


def weighted_hops(core_of_piece: np.ndarray, traffic: np.ndarray, chip: ChipSpec) -> float:
    """Sum of traffic x Manhattan distance; traffic is (P+1, P+1), index P the host (router 0)."""
    routers = np.append(chip.router_of_core(core_of_piece), 0)
    rows, cols = routers // chip.mesh_cols, routers % chip.mesh_cols
    dist = np.abs(rows[:, None] - rows[None, :]) + np.abs(cols[:, None] - cols[None, :])
    return float((traffic * dist).sum())


def place(part: Partition, traffic: np.ndarray, chip: ChipSpec, method: str) -> np.ndarray:
    """Core index per piece. `greedy` returns whichever of greedy/sequential has fewer
    traffic-weighted hops, so asking for the optimised placement never makes things worse;
    `locality` and `spread` refine that by pairwise swaps."""
    if method not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {method!r}")
    n = len(part.pieces)
    if part.fixed_cores is not None:
        return part.fixed_cores.copy()
    if n > chip.n_cores:
        raise ValueError(f"{n} pieces do not fit {chip.n_cores} cores")
    sequential = np.arange(n, dtype=np.int64)
    if method == "sequential" or n == 0:
        return sequential
    greedy = _greedy(traffic, chip, n)
    best = sequential
    if weighted_hops(greedy, traffic, chip) <= weighted_hops(sequential, traffic, chip):
        best = greedy
    if method in ("locality", "spread"):
        refined = _swap_refine(best, traffic, chip)
        if weighted_hops(refined, traffic, chip) < weighted_hops(best, traffic, chip):
            best = refined
    return best


def _swap_refine(core_of: np.ndarray, traffic: np.ndarray, chip: ChipSpec) -> np.ndarray:
    """Pairwise swaps of placed pieces while they cut traffic-weighted hops (a few passes).

    For pieces p, q at routers rp, rq, C = W @ Dist gives every piece's cost at every other
    piece's router, so all swap gains of one pass are one matrix product; disjoint best swaps
    are applied together.
    """
    n = core_of.size
    if n < 2 or n > 2048:
        return core_of
    core_of = core_of.copy()
    w = traffic + traffic.T  # (n+1, n+1), host last
    for _ in range(8):
        routers = np.append(chip.router_of_core(core_of), 0)
        r, c = np.divmod(routers, chip.mesh_cols)
        dist = (np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])).astype(float)
        cmat = w[:n] @ dist[:, :n]  # (n, n): cost of piece p at piece q's router
        diag = np.diag(cmat)
        gain = cmat + cmat.T - diag[:, None] - diag[None, :] + 2 * w[:n, :n] * dist[:n, :n]
        np.fill_diagonal(gain, 0.0)
        p_idx, q_idx = np.nonzero(np.triu(gain < -1e-9 * max(1.0, float(w.max()))))
        if p_idx.size == 0:
            break
        order = np.argsort(gain[p_idx, q_idx])
        before = weighted_hops(core_of, traffic, chip)
        trial = core_of.copy()
        used = np.zeros(n, dtype=bool)
        for k in order[: 4 * n]:
            p, q = int(p_idx[k]), int(q_idx[k])
            if used[p] or used[q]:
                continue
            used[p] = used[q] = True
            trial[p], trial[q] = trial[q], trial[p]
        if weighted_hops(trial, traffic, chip) >= before:
            # swaps that touch each other's neighbours need not add up: take only the best
            p, q = int(p_idx[order[0]]), int(q_idx[order[0]])
            trial = core_of.copy()
            trial[p], trial[q] = trial[q], trial[p]
            if weighted_hops(trial, traffic, chip) >= before:
                break
        core_of = trial
    return core_of


def _greedy(traffic: np.ndarray, chip: ChipSpec, n: int) -> np.ndarray:
    """Place the piece most attached to those already placed on the free router that
    minimises its traffic-weighted distance to them (host pinned at router 0).

    Candidates are the routers of the fewest chips that hold the pieces (nearest the host's chip
    first), and of those the ones nearest the host, twice as many as needed: a board of many
    chips costs no more than the cores in use, and no chip boundary is crossed needlessly.
    """
    w = traffic + traffic.T  # (n+1, n+1)
    table = chip.router_cores()  # (R, cpr)
    free_all = (table >= 0).sum(axis=1)
    rows_all, cols_all = router_positions(chip)
    d_host = rows_all + cols_all
    # whole chips first (chip-to-chip links are the slow ones), nearest the host's chip first
    chip_of = chip.chip_of_router(np.arange(chip.n_routers))
    cr, cc = np.divmod(np.arange(chip.n_chips), chip.board_cols)
    chips_needed = -(-n // chip.cores_per_chip)
    chip_rank = np.argsort(np.argsort(cr + cc, kind="stable"), kind="stable")  # per chip
    in_chips = chip_rank[chip_of] < chips_needed
    order = np.lexsort((np.arange(chip.n_routers), d_host))
    order = order[(free_all[order] > 0) & in_chips[order]]
    need = np.searchsorted(np.cumsum(free_all[order]), n) + 1
    cand = np.sort(order[: max(2 * need, need + 16)])
    table, free = table[cand], free_all[cand]
    rows, cols = rows_all[cand], cols_all[cand]
    used = np.zeros(cand.size, dtype=np.int64)

    def dist_from(row: int, col: int) -> np.ndarray:
        return (np.abs(rows - row) + np.abs(cols - col)).astype(np.float64)

    centre = np.abs(rows - (chip.rows - 1) / 2) + np.abs(cols - (chip.cols - 1) / 2)
    tie = centre * 1e-9 * max(float(w.max()), 1.0)
    cost = w[:n, n][:, None] * dist_from(0, 0)[None, :]  # (n, candidates)
    attract = w[:n, n].astype(np.float64).copy()
    placed = np.zeros(n, dtype=bool)
    core_of = np.empty(n, dtype=np.int64)
    for _ in range(n):
        p = int(np.argmax(np.where(placed, -1.0, attract)))
        c = cost[p] + tie
        c[used >= free] = np.inf
        r = int(np.argmin(c))
        core_of[p] = table[r, used[r]]
        used[r] += 1
        placed[p] = True
        nb = np.nonzero((w[p, :n] > 0) & ~placed)[0]
        if nb.size:
            cost[nb] += w[p, nb][:, None] * dist_from(int(rows[r]), int(cols[r]))[None, :]
            attract[nb] += w[p, nb]
    return core_of
