"""Cost model: activity -> synaptic ops, spike messages, link loads, timestep time, energy.

Everything is computed per timestep t (from per-timestep activity, or sums spread evenly), per
inference = one sample over T steps:
  synops[t]     = events arriving at on-chip neurons (exact geometry), conv and dense apart
  messages[t]   = unicast: one per (spike, destination core); multicast: one per spike (a tree)
  load_c[t]     = messages crossing channel c (each directed link, and each router's injection
                  and ejection port) in step t
  core[t]       = synops_conv*t_conv + synops_dense*t_dense + neurons*t_access
                  + state_updates*t_update + spikes*t_spike + msgs_out*t_msg + msgs_in*t_msg_in
                  (a core's pipeline is serial: SANA-FE's conv step is spikes x 35 ns)
  drain[t]      = max over channels (load_c[t] / bandwidth_c) + longest zero-load path
  t_step[t]     = barrier: max core[t] + drain[t] + t_barrier        (Loihi, Loihi 2)
                  tick:    max(tick, max core[t] + drain[t] + t_barrier)  (TrueNorth, SpiNNaker)
                  async:   max(max core[t], drain[t])   (pipelined event flow, no barrier: Speck)
  rho_c[t]      = load_c[t] / (bandwidth_c * t_step[t])
  E_dynamic     = synops_conv*E_conv + synops_dense*E_dense + neurons*T*E_access
                  + state_updates*E_update + spikes*E_spike + messages*E_msg
                  + deliveries*(E_router + E_msg_in) + hops_on_chip*E_hop + hops_chip*E_chip_hop
  E_static      = P_static * chips in use * sum_t t_step[t]   (P_static is what each profile's source measured:
                  a board's idle power for Loihi, chip leakage for TrueNorth; see docs/hwsim.md)
The report gives the mean and the peak timestep. A drain time is deterministic (the busiest
channel serialises its messages); `hwsim estimate --validate` checks it against the cycle-level
simulator on the mapped network's own traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import nir
import numpy as np

from hwsim import splitters
from hwsim.activity import DEFAULT_TIMESTEPS, Activity, uniform_activity
from hwsim.chip import ChipSpec, load_chip
from hwsim.connectivity import incoming_events, target_pieces
from hwsim.errors import HwsimInputError
from hwsim.mapping import Partition, partition, place, split_heavy
from hwsim.mesh import Mesh, xy_links
from hwsim.network import Network, Projection, network_from_nir


@dataclass(frozen=True)
class LayerCost:
    """Per-inference figures of one spiking (or input) layer; messages/hops are what it sends."""

    name: str
    neurons: int
    cores: int
    spikes: float
    synops_in: float
    messages: float
    hops: float


RECORD_KEYS = (
    "chip",
    "board",
    "placement",
    "feasible",
    "reasons",
    "assumptions",
    "step_model",
    "timesteps",
    "chips_used",
    "cores_used",
    "cores_available",
    "neurons",
    "spikes",
    "synops",
    "messages",
    "deliveries",
    "hops",
    "interchip_messages",
    "interchip_hops",
    "max_link_load_per_step",
    "max_link_utilisation",
    "max_interchip_utilisation",
    "saturated",
    "bound",
    "peak_timestep",
    "time_compute_s",
    "time_network_s",
    "time_per_timestep_s",
    "time_per_timestep_peak_s",
    "latency_per_inference_s",
    "energy_synops_j",
    "energy_neurons_j",
    "energy_spikes_j",
    "energy_messages_j",
    "energy_routing_j",
    "energy_interchip_j",
    "energy_dynamic_j",
    "energy_static_j",
    "energy_total_j",
)


@dataclass(frozen=True, eq=False)
class CostRecord:
    """Everything `estimate` knows about one network on one chip (per inference = per sample).

    Routing, timing and energy totals are None when the network does not fit (`reasons` says
    why); synaptic-op and neuron energies are given regardless. Times are the mean over the T
    timesteps; `*_peak_*` and `peak_timestep` are the busiest step's; `step_times_s` has all.
    """

    chip: str
    placement: str
    feasible: bool
    reasons: tuple[str, ...]
    assumptions: tuple[str, ...]
    timesteps: int
    cores_used: int
    cores_available: int
    neurons: int
    spikes: float
    synops: float
    messages: float | None
    deliveries: float | None
    hops: float | None
    layers: tuple[LayerCost, ...]
    max_link_load_per_step: float | None
    max_link_utilisation: float | None
    saturated: bool | None
    time_compute_s: float | None
    time_network_s: float | None
    time_per_timestep_s: float | None
    latency_per_inference_s: float | None
    energy_synops_j: float
    energy_neurons_j: float
    energy_routing_j: float | None
    energy_static_j: float | None
    energy_total_j: float | None
    board: str = ""
    step_model: str = "barrier"
    chips_used: int = 1
    interchip_messages: float | None = None
    interchip_hops: float | None = None
    max_interchip_utilisation: float | None = None
    bound: str | None = None  # what sets the mean timestep: compute, network, barrier or tick
    peak_timestep: int | None = None
    time_per_timestep_peak_s: float | None = None
    energy_spikes_j: float = 0.0
    energy_messages_j: float | None = None
    energy_interchip_j: float | None = None
    energy_dynamic_j: float | None = None
    step_times_s: np.ndarray | None = field(default=None, repr=False)
    step_compute_s: np.ndarray | None = field(default=None, repr=False)
    step_drain_s: np.ndarray | None = field(default=None, repr=False)
    link_load_per_step: np.ndarray | None = field(default=None, repr=False)  # mean over steps
    link_load_peak: np.ndarray | None = field(default=None, repr=False)  # at the peak step
    link_utilisation: np.ndarray | None = field(default=None, repr=False)  # max over steps
    link_interchip: np.ndarray | None = field(default=None, repr=False)  # bool per link
    core_of_layer: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    mesh: tuple[int, int] = (0, 0)  # system mesh (rows, cols)
    chip_mesh: tuple[int, int] = (0, 0)  # one chip's mesh
    cores_per_router: int = 1
    cores_per_chip: int = 0
    tradeoff: tuple[dict[str, Any], ...] = ()  # spread placement: one row per core budget
    splitter_cores: int = 0  # of cores_used: cores of splitter neurons (hwsim.splitters)
    splitter_neurons: int = 0
    energy_splitters_j: float = 0.0  # included in energy_dynamic_j
    internals: dict[str, Any] = field(default_factory=dict, repr=False)  # core_of, trees

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (big arrays left out; None where not computable)."""
        out: dict[str, Any] = {}
        for k in RECORD_KEYS:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        out["layers"] = [vars(la) for la in self.layers]
        out["mesh"] = {
            "rows": self.mesh[0],
            "cols": self.mesh[1],
            "chip_rows": self.chip_mesh[0],
            "chip_cols": self.chip_mesh[1],
            "cores_per_router": self.cores_per_router,
        }
        for key in ("step_times_s", "step_compute_s", "step_drain_s"):
            arr = getattr(self, key)
            out[key] = None if arr is None else [float(x) for x in arr]
        out["links"] = []  # loaded links only: (from router, to router), spikes/step, rho
        if self.link_load_per_step is not None and self.link_utilisation is not None:
            a, b = Mesh(*self.mesh).link_ends()
            for i in np.flatnonzero(self.link_load_per_step > 0):
                out["links"].append(
                    {
                        "from_router": int(a[i]),
                        "to_router": int(b[i]),
                        "load_per_step": float(self.link_load_per_step[i]),
                        "utilisation": float(self.link_utilisation[i]),
                        "interchip": bool(
                            self.link_interchip is not None and self.link_interchip[i]
                        ),
                    }
                )
        out["cores_of_layer"] = {k: v.tolist() for k, v in self.core_of_layer.items()}
        out["tradeoff"] = list(self.tradeoff)
        return out


@dataclass(frozen=True, eq=False)
class Sender:
    """A layer whose spikes travel: source piece per neuron and, sparsely, its target pieces.

    (`neuron[j]`, `target[j]`) lists every neuron -> destination piece pair once (in no
    particular order); a target of P is the host.
    """

    layer: str
    counts: np.ndarray  # (N,) spikes per inference
    src_piece: np.ndarray  # (N,) global piece index, or P for the host
    neuron: np.ndarray  # (E,) source neuron of each pair
    target: np.ndarray  # (E,) global destination piece of each pair
    pair_key: np.ndarray  # (K,) src_piece * (P+1) + target for every piece pair that occurs
    pair_spikes: np.ndarray  # (K,) spikes per inference sent over that piece pair
    steps: np.ndarray | None = None  # (T, N) spikes per timestep (None: counts spread over 1)
    pair_steps: np.ndarray | None = None  # (T, K) spikes per timestep over each piece pair


def _src_piece_of(layer: str, net: Network, part: Partition, host: int) -> np.ndarray:
    la = net.layer(layer)
    if la.kind == "input":
        return np.full(la.size, host, dtype=np.int64)
    owner = part.fused.get(layer)
    idx = np.arange(la.size)
    if owner is not None:  # pooled layer on its source's cores: map (c, y, x) back through pool
        pool = next(p for p in net.projections if p.dst == layer and p.src == owner)
        c, h, w = la.chw
        cc, yy, xx = idx // (h * w), (idx // w) % h, idx % w
        _, hs, ws = pool.in_chw
        idx = (cc * hs + np.minimum(yy * pool.stride[0], hs - 1)) * ws + np.minimum(
            xx * pool.stride[1], ws - 1
        )
        layer = owner
    bounds = part.bounds(layer)
    local = np.searchsorted(bounds[:, 1], idx, side="right")
    return part.layer_pieces[layer][local].astype(np.int64)


def spike_senders(net: Network, part: Partition, counts: dict[str, np.ndarray]) -> list[Sender]:
    """Who sends spikes where: one Sender per source layer, all its projections merged (a
    neuron reaching the same core through two projections still needs one message).

    `counts[layer]` is (N,) spikes per inference or (T, N) spikes per timestep.
    """
    host = len(part.pieces)
    by_src: dict[str, list[Projection]] = {}
    for p in net.projections:
        if p.dst in part.fused:  # pooling inside the source core: no traffic
            continue
        by_src.setdefault(p.src, []).append(p)
    out = []
    for src, projs in by_src.items():
        neurons, targets = [], []
        for p in projs:
            dst = net.layer(p.dst)
            if dst.kind == "output":
                i, _ = target_pieces(p, np.array([[0, dst.size]]))
                neurons.append(i)
                targets.append(np.full(i.size, host, dtype=np.int64))
                continue
            owner = part.fused.get(p.dst, p.dst)
            i, q = target_pieces(p, part.bounds(owner))
            neurons.append(i)
            targets.append(part.layer_pieces[owner][q].astype(np.int64))
        neuron, target = np.concatenate(neurons), np.concatenate(targets)
        reached = [np.bincount(t, minlength=host + 1) > 0 for t in targets]
        if (np.sum(reached, axis=0) > 1).any():
            # two projections reach the same piece: keep each (neuron, piece) pair once
            neuron, target = np.divmod(np.unique(neuron * (host + 1) + target), host + 1)
        src_piece = _src_piece_of(src, net, part, host)
        size = host + 1
        steps = np.atleast_2d(np.asarray(counts[src], dtype=np.float64))
        total = steps.sum(axis=0)
        entry_key = src_piece[neuron] * size + target
        keys, spikes = _sum_by_key(entry_key, total[neuron], size**2)
        inv = np.searchsorted(keys, entry_key)
        pair_steps = np.stack(
            [np.bincount(inv, weights=row[neuron], minlength=keys.size) for row in steps]
        )
        out.append(Sender(src, total, src_piece, neuron, target, keys, spikes, steps, pair_steps))
    return out


def _piece_traffic(senders: list[Sender], n_pieces: int) -> np.ndarray:
    """(P+1, P+1) unicast-equivalent spike messages between pieces (index P = host)."""
    size = n_pieces + 1
    t = np.zeros(size * size)
    for s in senders:
        np.add.at(t, s.pair_key, s.pair_spikes)
    return t.reshape(size, size)


@dataclass(frozen=True)
class Trees:
    """Spike messages as routing trees: tree k leaves `src_router[k]` `weight[k]` times per
    inference; (edge_tree, edge_router) lists its destination routers; `deliveries[k]` counts
    destination cores (several may share a router); (deliv_tree, deliv_piece) lists them."""

    src_router: np.ndarray
    weight: np.ndarray
    deliveries: np.ndarray
    layer: np.ndarray  # sender index per tree
    edge_tree: np.ndarray
    edge_router: np.ndarray
    src_piece: np.ndarray | None = None  # (K,) sending piece (P = host)
    weight_steps: np.ndarray | None = None  # (T, K) messages per timestep
    deliv_tree: np.ndarray | None = None  # (D,) tree of each delivery
    deliv_piece: np.ndarray | None = None  # (D,) receiving piece of each delivery


def _sum_by_key(
    keys: np.ndarray, weights: np.ndarray, n_keys: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keys that occur and their summed weights; a dense bincount when the key space is small
    (much faster than sorting millions of pairs), else a sort."""
    if n_keys <= 1 << 22:
        total = np.bincount(keys, weights=weights, minlength=n_keys)
        present = np.bincount(keys, minlength=n_keys) > 0
        uniq = np.flatnonzero(present)
        return uniq, total[uniq]
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq, np.bincount(inverse.ravel(), weights=weights, minlength=uniq.size)


def _group(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys, summed weights per key, and the first input row of every key."""
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weight = np.bincount(inverse.ravel(), weights=weights, minlength=uniq.size)
    return uniq, weight, first


def build_trees(senders: list[Sender], core_of: np.ndarray, chip: ChipSpec) -> Trees:
    """Messages from each sender under the chip's rule: one tree per (neuron, target set) when
    multicast, else one single-destination message per (source core, destination core)."""
    size = len(core_of) + 1
    core_ext = np.append(core_of, -1)  # host pseudo-core
    router_ext = np.append(chip.router_of_core(core_of), 0)  # host port at router 0
    src_r, weight, deliv, layer, e_tree, e_router = [], [], [], [], [], []
    src_p, w_steps, d_tree, d_piece = [], [], [], []
    n_trees = 0
    n_routers = chip.n_routers
    salt = np.random.default_rng(12345).integers(1, 2**63, size, dtype=np.uint64)
    for si, s in enumerate(senders):
        steps = s.steps if s.steps is not None else s.counts[None, :]
        if chip.multicast:
            src_piece = s.src_piece[s.neuron]
            remote = core_ext[s.target] != core_ext[src_piece]  # same core: no message
            neuron, target = s.neuron[remote], s.target[remote]
            # one tree per (source piece, target set): hash each neuron's target set
            set_hash = np.zeros(s.counts.size, dtype=np.uint64)
            np.add.at(set_hash, neuron, salt[target])
            has_any = np.zeros(s.counts.size, dtype=bool)
            has_any[neuron] = True
            senders_idx = np.flatnonzero(has_any)
            key = (
                s.src_piece[senders_idx].astype(np.uint64) * np.uint64(2**40)
                ^ set_hash[senders_idx]
            )
            uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
            w = np.bincount(inverse, weights=s.counts[senders_idx], minlength=uniq.size)
            ws = np.stack(
                [
                    np.bincount(inverse, weights=row[senders_idx], minlength=uniq.size)
                    for row in steps
                ]
            )
            rep = senders_idx[first]  # one neuron standing for each (piece, target set)
            is_rep = np.zeros(s.counts.size, dtype=bool)
            is_rep[rep] = True
            tree_of_neuron = np.full(s.counts.size, -1, dtype=np.int64)
            tree_of_neuron[rep] = np.arange(uniq.size)
            sel = is_rep[neuron]
            edge_t, edge_target = tree_of_neuron[neuron[sel]], target[sel]
            deliveries = np.bincount(edge_t, minlength=uniq.size).astype(np.float64)
            pair = np.unique(edge_t * n_routers + router_ext[edge_target])
            t_idx, r_idx = np.divmod(pair, n_routers)
            keep = w > 0
            renumber = np.cumsum(keep) - 1
            pick = keep[t_idx]
            e_tree.append(renumber[t_idx[pick]] + n_trees)
            e_router.append(r_idx[pick])
            dpick = keep[edge_t]
            d_tree.append(renumber[edge_t[dpick]] + n_trees)
            d_piece.append(edge_target[dpick])
            src_r.append(router_ext[s.src_piece[rep[keep]]])
            src_p.append(s.src_piece[rep[keep]])
            weight.append(w[keep])
            w_steps.append(ws[:, keep])
            deliv.append(deliveries[keep])
        else:
            pair_steps = s.pair_steps if s.pair_steps is not None else s.pair_spikes[None, :]
            sp, tq = np.divmod(s.pair_key, size)
            keep = (s.pair_spikes > 0) & (core_ext[sp] != core_ext[tq])  # same core: no message
            sp, tq = sp[keep], tq[keep]
            ids = np.arange(sp.size) + n_trees
            e_tree.append(ids)
            e_router.append(router_ext[tq])
            d_tree.append(ids)
            d_piece.append(tq)
            src_r.append(router_ext[sp])
            src_p.append(sp)
            weight.append(s.pair_spikes[keep])
            w_steps.append(pair_steps[:, keep])
            deliv.append(np.ones(sp.size))
        layer.append(np.full(weight[-1].size, si))
        n_trees += weight[-1].size

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    n_steps = w_steps[0].shape[0] if w_steps else 1
    return Trees(
        cat(src_r, np.int64),
        cat(weight, np.float64),
        cat(deliv, np.float64),
        cat(layer, np.int64),
        cat(e_tree, np.int64),
        cat(e_router, np.int64),
        cat(src_p, np.int64),
        np.concatenate(w_steps, axis=1) if w_steps else np.zeros((n_steps, 0)),
        cat(d_tree, np.int64),
        cat(d_piece, np.int64),
    )


@dataclass(frozen=True)
class Routed:
    link_load: np.ndarray  # (L,) spikes per inference
    tree_links: np.ndarray  # (K,) links per tree
    edge_hops: np.ndarray  # (E,) XY distance of each (tree, destination) route
    edge_k: np.ndarray  # (E_links,) route index of each traversed link
    edge_link: np.ndarray  # (E_links,) link id
    use_tree: np.ndarray | None = None  # (U,) tree of each (tree, link) use, each once
    use_link: np.ndarray | None = None  # (U,) link of each use


def route_trees(trees: Trees, mesh: Mesh) -> Routed:
    """XY-route every tree edge; a multicast tree uses each of its links once."""
    src = trees.src_router[trees.edge_tree]
    k, link = xy_links(mesh, src, trees.edge_router)
    n_edges = trees.edge_tree.size
    edge_hops = np.bincount(k, minlength=n_edges)
    tree_of = trees.edge_tree[k]
    uniq = np.unique(tree_of * mesh.n_links + link)
    u_tree, u_link = np.divmod(uniq, mesh.n_links)
    load = np.bincount(u_link, weights=trees.weight[u_tree], minlength=mesh.n_links)
    tree_links = np.bincount(u_tree, minlength=trees.weight.size)
    return Routed(load, tree_links, edge_hops, k, link, u_tree, u_link)


def _as_network(graph: nir.NIRGraph | Network) -> Network:
    return graph if isinstance(graph, Network) else network_from_nir(graph)


def _piece_sum(part: Partition, layer: str, per_neuron: np.ndarray) -> np.ndarray:
    """(T, Q) sums of a (T, N) per-neuron array over the layer's pieces."""
    prefix = np.concatenate([np.zeros((per_neuron.shape[0], 1)), np.cumsum(per_neuron, 1)], 1)
    b = part.bounds(layer)
    return prefix[:, b[:, 1]] - prefix[:, b[:, 0]]


@dataclass(frozen=True)
class _Work:
    """Per-timestep work of every on-chip neuron, by kind (each (T, N) per layer)."""

    syn_conv: dict[str, np.ndarray]
    syn_dense: dict[str, np.ndarray]
    updates: dict[str, np.ndarray]  # 1 where the neuron received input (its state changed)


def _work(net: Network, steps: dict[str, np.ndarray], fused: dict[str, str]) -> _Work:
    conv: dict[str, np.ndarray] = {}
    dense: dict[str, np.ndarray] = {}
    for la in net.neuron_layers:
        T = steps[la.name].shape[0]
        conv[la.name] = np.zeros((T, la.size))
        dense[la.name] = np.zeros((T, la.size))
    for p in net.projections:
        if p.dst in conv and p.dst not in fused:
            target = conv if p.kind == "conv" else dense
            target[p.dst] += incoming_events(p, steps[p.src])
    updates = {k: ((conv[k] + dense[k]) > 0).astype(np.float64) for k in conv}
    return _Work(conv, dense, updates)


def neuron_time(
    chip: ChipSpec, work: _Work, steps: dict[str, np.ndarray], name: str, part: str = "all"
) -> np.ndarray:
    """(T, N) seconds of core time each neuron costs per step.

    `part="receive"`: synaptic events arriving; `"send"`: the neuron sweep, state updates and
    spikes fired; `"all"`: both (a serial core pipeline).
    """
    receive = (
        work.syn_conv[name] * chip.latency_synop_conv_s
        + work.syn_dense[name] * chip.latency_synop_dense_s
    )
    if part == "receive":
        return receive
    send = (
        chip.latency_neuron_update_s
        + work.updates[name] * chip.latency_neuron_state_update_s
        + steps[name] * chip.latency_spike_s
    )
    return send if part == "send" else receive + send


def estimate(
    graph: nir.NIRGraph | Network,
    activity: Activity | None,
    profile: ChipSpec | str,
    *,
    placement: str = "greedy",
    max_cores: int | None = None,
) -> CostRecord:
    """Map, route and cost one network on one chip. Fast enough to call per search candidate.

    `placement="spread"` splits the heaviest pieces over more cores (up to `max_cores`, or all
    the chip or board has) at a few budgets and keeps the fastest; the record's `tradeoff` lists
    every budget tried (cores, time per step, energy, peak link utilisation).
    """
    chip = profile if isinstance(profile, ChipSpec) else load_chip(profile)
    net = _as_network(graph)
    if not net.neuron_layers:
        raise HwsimInputError("<graph>", "nodes", "at least one spiking node (LIF, IF, CubaLIF)")
    if activity is None:
        activity = uniform_activity(timesteps=net.timesteps or DEFAULT_TIMESTEPS)
    act = activity
    if net.timesteps is not None and act.timesteps != net.timesteps:
        raise HwsimInputError(
            act.source, "T", f"{net.timesteps}, the T in the graph's metadata (got {act.timesteps})"
        )
    if max_cores is not None and max_cores < 1:
        raise ValueError(f"max_cores must be a positive integer, got {max_cores}")
    assumptions = [f"activity: {act.source}"]
    steps: dict[str, np.ndarray] = {}
    for la in net.layers:
        if la.kind == "output":
            continue
        steps[la.name], measured = act.steps_for(la.name, la.size)
        if not measured and act.counts:
            assumptions.append(f"{la.name}: not measured, {act.rate:g} spikes/neuron/step assumed")
    defaults = [
        k for k, v in chip.provenance.items()
        if v.startswith("DEFAULT") and k.startswith(("energy.", "timing."))
    ]
    if defaults:
        assumptions.append("profile lacks " + ", ".join(defaults) + " (0 or the general figure)")
    part = partition(net, chip)
    if max_cores is not None and len(part.pieces) > max_cores:
        why = _over_max_cores(len(part.pieces), max_cores)
        part = replace(part, reasons=(*part.reasons, why))
    work = _work(net, steps, part.fused)
    if placement != "spread" or part.reasons:
        return _estimate_mapped(net, steps, work, chip, part, placement, assumptions)
    per_neuron = {
        la.name: neuron_time(chip, work, steps, la.name).sum(axis=0)
        for la in net.neuron_layers
        if la.name not in part.fused
    }
    budget = min(chip.n_cores, max_cores or chip.n_cores)
    n0 = len(part.pieces)
    budgets = sorted({n0, budget, *(b for b in (n0 * 2**k for k in range(1, 16)) if b < budget)})
    best: CostRecord | None = None
    best_t = math.inf  # best's time per timestep
    rows: list[dict[str, Any]] = []
    for b in budgets:
        if b < n0:
            continue
        split = split_heavy(part, per_neuron, b)
        rec = _estimate_mapped(net, steps, work, chip, split, "spread", assumptions)
        if not rec.feasible:
            return rec
        t = rec.time_per_timestep_s
        assert t is not None  # a feasible record has its times
        rows.append(
            {
                "cores": rec.cores_used,
                "chips": rec.chips_used,
                "time_per_timestep_s": rec.time_per_timestep_s,
                "time_compute_s": rec.time_compute_s,
                "time_network_s": rec.time_network_s,
                "energy_total_j": rec.energy_total_j,
                "max_link_utilisation": rec.max_link_utilisation,
                "bound": rec.bound,
            }
        )
        if best is None or t < best_t * (1 - 1e-9):
            best, best_t = rec, t
    assert best is not None
    return replace(best, tradeoff=tuple(rows))


def _over_max_cores(cores: int, max_cores: int) -> str:
    """The reason a core budget breaks (autosnn's Budgets recognise it by "--max-cores")."""
    return f"needs {cores} cores > the --max-cores budget of {max_cores}"


def _fan_out(
    net: Network, part: Partition, senders: list[Sender], chip: ChipSpec, reasons: list[str]
) -> splitters.Relays:
    """Neurons reaching more cores than the chip allows: relayed by splitter neurons where the
    profile allows them (their cores count against the chip), else a reason in `reasons`."""
    if chip.splitter_neurons:
        relays = splitters.plan(net, senders, chip)
        reasons.extend(relays.reasons)
        if relays.cores and len(part.pieces) + relays.cores > chip.n_cores:
            reasons.append(
                f"needs {len(part.pieces) + relays.cores} cores ({len(part.pieces)} + "
                f"{relays.cores} splitter cores), {chip.name} has {chip.n_cores}"
            )
        return relays
    spiking = {la.name for la in net.neuron_layers}
    for s in senders:
        n_dest = np.bincount(s.neuron, minlength=s.counts.size)
        if s.layer in spiking and n_dest.max(initial=0) > chip.fan_out_cores_per_neuron:
            reasons.append(splitters.no_splitters_reason(s.layer, int(n_dest.max()), chip))
    return splitters.NO_RELAYS


def fit_reasons(
    graph: nir.NIRGraph | Network,
    profile: ChipSpec | str,
    *,
    max_cores: int | None = None,
    first: bool = False,
) -> tuple[str, ...]:
    """Why a network cannot be mapped on the chip, from its structure alone; empty when it can.

    The per-core limits, the number of cores (splitter cores included) and the fan-out rule do
    not depend on the activity, so this answers what `estimate(...).reasons` would, without
    routing anything: a search uses it to reject a candidate before spending an evaluation.
    `first=True` stops at the first reason found (same verdict, faster when it does not fit).
    """
    chip = profile if isinstance(profile, ChipSpec) else load_chip(profile)
    net = _as_network(graph)
    part = partition(net, chip, first_reason=first)
    reasons = list(part.reasons)
    relays = splitters.NO_RELAYS
    if not reasons and math.isfinite(chip.fan_out_cores_per_neuron):
        ones = {la.name: np.ones(la.size) for la in net.layers if la.kind != "output"}
        relays = _fan_out(net, part, spike_senders(net, part, ones), chip, reasons)
    cores = len(part.pieces) + relays.cores
    if max_cores is not None and cores > max_cores:
        reasons.append(_over_max_cores(cores, max_cores))
    return tuple(reasons[:1]) if first else tuple(reasons)


def _estimate_mapped(
    net: Network,
    steps: dict[str, np.ndarray],
    work: _Work,
    chip: ChipSpec,
    part: Partition,
    placement: str,
    assumptions_in: list[str],
) -> CostRecord:
    """Cost one partition on the chip (placing it with `placement`)."""
    assumptions = list(assumptions_in)
    T = next(iter(steps.values())).shape[0]
    counts = {k: v.sum(axis=0) for k, v in steps.items()}
    reasons = list(part.reasons)
    on_chip = [la for la in net.neuron_layers if la.name not in part.fused]
    synops_in = {
        la.name: (work.syn_conv[la.name] + work.syn_dense[la.name]).sum(axis=0)
        for la in net.neuron_layers
    }
    neurons = sum(la.size for la in on_chip)
    syn_conv = float(sum(work.syn_conv[la.name].sum() for la in on_chip))
    syn_dense = float(sum(work.syn_dense[la.name].sum() for la in on_chip))
    synops = syn_conv + syn_dense
    updates = float(sum(work.updates[la.name].sum() for la in on_chip))
    spikes = float(sum(counts[la.name].sum() for la in net.neuron_layers))
    e_syn = syn_conv * chip.energy_synop_conv_j + syn_dense * chip.energy_synop_dense_j
    e_neu = neurons * T * chip.energy_neuron_update_j + updates * chip.energy_neuron_state_update_j
    e_spk = spikes * chip.energy_spike_j

    def layer_costs(
        msgs: np.ndarray | None, hops: np.ndarray | None, names: list[str]
    ) -> tuple[LayerCost, ...]:
        out = []
        for la in net.layers:
            if la.kind == "output":
                continue
            i = names.index(la.name) if la.name in names else -1
            out.append(
                LayerCost(
                    la.name,
                    la.size,
                    0
                    if la.kind == "input" or la.name in part.fused
                    else int(part.layer_pieces[la.name].size),
                    float(counts[la.name].sum()),
                    float(synops_in[la.name].sum()) if la.name in synops_in else 0.0,
                    float(msgs[i]) if msgs is not None and i >= 0 else 0.0,
                    float(hops[i]) if hops is not None and i >= 0 else 0.0,
                )
            )
        return tuple(out)

    base = dict(
        chip=chip.name,
        board=chip.board_name,
        step_model=chip.step_model,
        placement=placement,
        timesteps=T,
        cores_available=chip.n_cores,
        neurons=neurons,
        spikes=spikes,
        synops=synops,
        energy_synops_j=e_syn,
        energy_neurons_j=e_neu,
        energy_spikes_j=e_spk,
        mesh=(chip.mesh_rows, chip.mesh_cols),
        chip_mesh=(chip.rows, chip.cols),
        cores_per_router=chip.cores_per_router,
        cores_per_chip=chip.cores_per_chip,
    )
    senders = spike_senders(net, part, steps) if not reasons else []
    relays = _fan_out(net, part, senders, chip, reasons) if not reasons else splitters.NO_RELAYS
    if reasons:
        n_chips = min(chip.n_chips, -(-len(part.pieces) // chip.cores_per_chip))
        return CostRecord(
            feasible=False,
            reasons=tuple(reasons),
            assumptions=tuple(assumptions),
            cores_used=len(part.pieces),
            chips_used=n_chips,
            messages=None,
            deliveries=None,
            hops=None,
            layers=layer_costs(None, None, []),
            max_link_load_per_step=None,
            max_link_utilisation=None,
            saturated=None,
            time_compute_s=None,
            time_network_s=None,
            time_per_timestep_s=None,
            latency_per_inference_s=None,
            energy_routing_j=None,
            energy_static_j=None,
            energy_total_j=None,
            **base,
        )

    n_pieces = len(part.pieces)
    traffic = _piece_traffic(senders, n_pieces)
    core_of = place(part, traffic, chip, placement)
    mesh = Mesh(chip.mesh_rows, chip.mesh_cols)
    trees = build_trees(senders, core_of, chip)
    routed = route_trees(trees, mesh)
    # build_trees and route_trees fill every optional field
    assert trees.weight_steps is not None and routed.use_tree is not None
    assert routed.use_link is not None and trees.src_piece is not None
    assert trees.deliv_tree is not None and trees.deliv_piece is not None
    names = [s.layer for s in senders]
    msgs_layer = np.bincount(trees.layer, weights=trees.weight, minlength=len(senders))
    hops_layer = np.bincount(
        trees.layer, weights=trees.weight * routed.tree_links, minlength=len(senders)
    )
    messages = float(trees.weight.sum())
    deliveries = float((trees.weight * trees.deliveries).sum())
    hops = float((trees.weight * routed.tree_links).sum())

    # links: on-chip or chip-to-chip, with their own bandwidth, latency and energy
    la_, lb_ = mesh.link_ends()
    inter = chip.chip_of_router(la_) != chip.chip_of_router(lb_)
    bw = np.where(inter, chip.chip_link_bandwidth_spikes_per_s, chip.link_bandwidth_spikes_per_s)
    lat = np.where(inter, chip.chip_latency_link_s, chip.latency_link_s)
    inter_use = inter[routed.use_link]
    inter_hops = float((trees.weight[routed.use_tree] * inter_use).sum())
    inter_msgs = float(trees.weight[np.unique(routed.use_tree[inter_use])].sum())

    # per-timestep channel loads: links, then each router's injection and ejection port
    ws = trees.weight_steps  # (T, K)
    n_links, n_r = mesh.n_links, chip.n_routers
    d_router = np.append(chip.router_of_core(core_of), 0)[trees.deliv_piece]
    d_pairs = np.unique(trees.deliv_tree * n_r + d_router)  # (tree, router) ejections
    ej_tree, ej_router = np.divmod(d_pairs, n_r)
    chan = np.concatenate([routed.use_link, n_links + trees.src_router, n_links + n_r + ej_router])
    chan_tree = np.concatenate([routed.use_tree, np.arange(ws.shape[1]), ej_tree])
    n_chan = n_links + 2 * n_r
    load = np.stack([np.bincount(chan, weights=w[chan_tree], minlength=n_chan) for w in ws])
    bw_chan = np.concatenate([bw, np.full(2 * n_r, chip.link_bandwidth_spikes_per_s)])
    drain_busy = (load / bw_chan).max(axis=1, initial=0.0)  # (T,)
    live = trees.weight[trees.edge_tree] > 0
    path_lat = np.bincount(routed.edge_k, weights=lat[routed.edge_link], minlength=live.size)
    path0 = chip.latency_router_s * (routed.edge_hops + 1) + path_lat
    live_steps = ws[:, trees.edge_tree] > 0  # (T, E)
    t_path = np.where(live_steps, path0[None, :], 0.0).max(axis=1, initial=0.0)
    drain = np.where(drain_busy > 0, drain_busy + t_path, 0.0)

    # per-timestep core work: receive side (messages in, synaptic events) and send side (neuron
    # sweep, state updates, spikes, messages out); serial cores add them, overlapped ones
    # (SANA-FE's Loihi: buffer at the soma) run them on two timelines and take the longer
    recv_time = np.zeros((T, n_pieces))
    send_time = np.zeros((T, n_pieces))
    for la in on_chip:
        idx = part.layer_pieces[la.name]
        recv_time[:, idx] += _piece_sum(
            part, la.name, neuron_time(chip, work, steps, la.name, "receive")
        )
        send_time[:, idx] += _piece_sum(
            part, la.name, neuron_time(chip, work, steps, la.name, "send")
        )
    if chip.latency_message_s > 0 or chip.latency_message_in_s > 0:
        src_ok = trees.src_piece < n_pieces
        d_ok = trees.deliv_piece < n_pieces
        for t in range(T):
            send_time[t] += chip.latency_message_s * np.bincount(
                trees.src_piece[src_ok], weights=ws[t, src_ok], minlength=n_pieces
            )
            recv_time[t] += chip.latency_message_in_s * np.bincount(
                trees.deliv_piece[d_ok], weights=ws[t, trees.deliv_tree[d_ok]], minlength=n_pieces
            )
    if chip.core_overlap:
        core_time = np.maximum(recv_time, send_time)
    else:
        core_time = recv_time + send_time
    compute = core_time.max(axis=1, initial=0.0)  # (T,)
    barrier = chip.barrier_s(int(np.unique(chip.router_of_core(core_of)).size))
    if chip.step_model == "async":
        busy = np.maximum(compute, drain)
    else:
        busy = compute + drain + barrier
    step = np.maximum(chip.timestep_s, busy) if chip.step_model == "tick" else busy
    with np.errstate(divide="ignore", invalid="ignore"):
        rho_steps = np.where(load > 0, load / (bw_chan * step[:, None]), 0.0)
    rho_link = rho_steps[:, :n_links].max(axis=0, initial=0.0)
    peak = int(np.argmax(step))
    saturated = bool(chip.step_model == "tick" and (busy > chip.timestep_s).any())
    if saturated:
        over = int((busy > chip.timestep_s).sum())
        assumptions.append(
            f"timestep overrun in {over}/{T} steps: up to {busy.max():.3g} s of work in a "
            f"{chip.timestep_s:g} s tick"
        )
    t_mean = float(step.mean())
    parts = {
        "compute": float(compute.mean()),
        "network": float(drain.mean()),
        "barrier": barrier if chip.step_model != "async" else 0.0,
    }
    bound = max(parts, key=lambda k: parts[k])
    if chip.step_model == "tick" and chip.timestep_s >= float(busy.mean()):
        bound = "tick"
    e_hop = (hops - inter_hops) * chip.energy_hop_j + inter_hops * chip.chip_energy_hop_j
    e_route = e_hop + deliveries * chip.energy_router_j
    e_msg = messages * chip.energy_message_j + deliveries * chip.energy_message_in_j
    e_relay = relays.energy_j(chip, T)
    e_dyn = e_syn + e_neu + e_spk + e_msg + e_route + e_relay
    if relays.layers:
        assumptions.append(splitters.assumption(relays, chip))
    latency = float(step.sum()) + relays.stages * t_mean
    chips_used = int(np.unique(chip.chip_of_router(chip.router_of_core(core_of))).size)
    # the profile's static figure is one chip's (or one single-chip system's): a board pays it
    # for every chip in use (idle chips are assumed power-gated)
    e_static = chip.power_static_w * chips_used * latency
    if chip.n_chips > 1:
        assumptions.append(
            f"static power {chip.power_static_w:g} W per chip x {chips_used} chips in use"
        )
    core_of_layer = {la.name: core_of[part.layer_pieces[la.name]] for la in on_chip}
    load_links = load[:, :n_links]
    return CostRecord(
        feasible=True,
        reasons=(),
        assumptions=tuple(assumptions),
        cores_used=n_pieces + relays.cores,
        splitter_cores=relays.cores,
        splitter_neurons=relays.neurons,
        energy_splitters_j=e_relay,
        chips_used=chips_used,
        messages=messages,
        deliveries=deliveries,
        hops=hops,
        interchip_messages=inter_msgs,
        interchip_hops=inter_hops,
        layers=layer_costs(msgs_layer, hops_layer, names),
        max_link_load_per_step=float(load_links.max(initial=0.0)),
        max_link_utilisation=float(rho_link.max(initial=0.0)),
        max_interchip_utilisation=float(rho_link[inter].max(initial=0.0)),
        saturated=saturated,
        bound=bound,
        peak_timestep=peak,
        time_compute_s=float(compute.mean()),
        time_network_s=float(drain.mean()),
        time_per_timestep_s=t_mean,
        time_per_timestep_peak_s=float(step[peak]),
        latency_per_inference_s=latency,
        energy_routing_j=e_route,
        energy_messages_j=e_msg,
        energy_interchip_j=inter_hops * chip.chip_energy_hop_j,
        energy_dynamic_j=e_dyn,
        energy_static_j=e_static,
        energy_total_j=e_dyn + e_static,
        step_times_s=step,
        step_compute_s=compute,
        step_drain_s=drain,
        link_load_per_step=load_links.mean(axis=0),
        link_load_peak=load_links[peak],
        link_utilisation=rho_link,
        link_interchip=inter,
        core_of_layer=core_of_layer,
        internals={"core_of": core_of, "trees": trees},
        **base,
    )
