"""Cost model: activity -> synaptic ops, spike messages, link loads, timestep time, energy.

Per inference (one sample over T timesteps):
  synops      = sum over projections of events arriving at on-chip neurons (exact geometry)
  messages    = unicast: one per (spike, destination core); multicast: one per spike (a tree)
  hops        = link traversals (unicast: XY distance; multicast: links in the union tree)
  E           = synops*E_syn + neurons*T*E_neu + hops*E_hop + deliveries*E_router + P_static*t*T
Per timestep:
  t_compute   = max over cores (synops_core*t_syn + neurons_core*t_neu)
  rho_link    = load_link / (bandwidth * window), window = max(tick, t_compute + t_barrier + t_net0)
  wait_link   = rho / (2 (1 - rho)) / bandwidth                        (M/D/1 mean wait)
  t_net       = max over routes (t_router + sum_links (t_link + wait_link))
  t_step      = max(tick, t_compute + t_barrier + t_net); saturated when max rho >= 1, and then
                t_net = zero-load path + max_link load / bandwidth (the busiest link drains).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np

from hwsim.activity import Activity, uniform_activity
from hwsim.chip import ChipSpec, load_chip
from hwsim.connectivity import incoming_events, target_pieces
from hwsim.mapping import Partition, partition, place
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


@dataclass(frozen=True, eq=False)
class CostRecord:
    """Everything `estimate` knows about one network on one chip (per inference = per sample).

    Routing, timing and energy totals are None when the network does not fit (`reasons` says
    why); synaptic-op and neuron-update energies are given regardless.
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
    link_load_per_step: np.ndarray | None = field(default=None, repr=False)
    link_utilisation: np.ndarray | None = field(default=None, repr=False)
    core_of_layer: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    mesh: tuple[int, int] = (0, 0)
    cores_per_router: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (arrays left out; None where not computable)."""
        keys = [
            "chip",
            "placement",
            "feasible",
            "reasons",
            "assumptions",
            "timesteps",
            "cores_used",
            "cores_available",
            "neurons",
            "spikes",
            "synops",
            "messages",
            "deliveries",
            "hops",
            "max_link_load_per_step",
            "max_link_utilisation",
            "saturated",
            "time_compute_s",
            "time_network_s",
            "time_per_timestep_s",
            "latency_per_inference_s",
            "energy_synops_j",
            "energy_neurons_j",
            "energy_routing_j",
            "energy_static_j",
            "energy_total_j",
        ]
        out: dict[str, Any] = {}
        for k in keys:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        out["layers"] = [vars(la) for la in self.layers]
        out["mesh"] = {
            "rows": self.mesh[0],
            "cols": self.mesh[1],
            "cores_per_router": self.cores_per_router,
        }
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
                    }
                )
        out["cores_of_layer"] = {k: v.tolist() for k, v in self.core_of_layer.items()}
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
    neuron reaching the same core through two projections still needs one message)."""
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
        keys, spikes = _sum_by_key(src_piece[neuron] * size + target, counts[src][neuron], size**2)
        out.append(Sender(src, counts[src], src_piece, neuron, target, keys, spikes))
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
    destination cores (several may share a router)."""

    src_router: np.ndarray
    weight: np.ndarray
    deliveries: np.ndarray
    layer: np.ndarray  # sender index per tree
    edge_tree: np.ndarray
    edge_router: np.ndarray


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
    cpr = chip.cores_per_router
    size = len(core_of) + 1
    core_ext = np.append(core_of, -1)  # host pseudo-core
    router_ext = np.append(core_of // cpr, 0)  # host port at router 0
    src_r, weight, deliv, layer, e_tree, e_router = [], [], [], [], [], []
    n_trees = 0
    salt = np.random.default_rng(12345).integers(1, 2**63, size, dtype=np.uint64)
    for si, s in enumerate(senders):
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
            uniq, w, first = _group(key, s.counts[senders_idx])
            rep = senders_idx[first]  # one neuron standing for each (piece, target set)
            is_rep = np.zeros(s.counts.size, dtype=bool)
            is_rep[rep] = True
            tree_of_neuron = np.full(s.counts.size, -1, dtype=np.int64)
            tree_of_neuron[rep] = np.arange(uniq.size)
            sel = is_rep[neuron]
            edge_t, edge_target = tree_of_neuron[neuron[sel]], target[sel]
            deliveries = np.bincount(edge_t, minlength=uniq.size).astype(np.float64)
            pair = np.unique(edge_t * chip.n_routers + router_ext[edge_target])
            t_idx, r_idx = np.divmod(pair, chip.n_routers)
            keep = w > 0
            renumber = np.cumsum(keep) - 1
            pick = keep[t_idx]
            e_tree.append(renumber[t_idx[pick]] + n_trees)
            e_router.append(r_idx[pick])
            src_r.append(router_ext[s.src_piece[rep[keep]]])
            weight.append(w[keep])
            deliv.append(deliveries[keep])
        else:
            sp, tq = np.divmod(s.pair_key, size)
            keep = (s.pair_spikes > 0) & (core_ext[sp] != core_ext[tq])  # same core: no message
            sp, tq = sp[keep], tq[keep]
            e_tree.append(np.arange(sp.size) + n_trees)
            e_router.append(router_ext[tq])
            src_r.append(router_ext[sp])
            weight.append(s.pair_spikes[keep])
            deliv.append(np.ones(sp.size))
        layer.append(np.full(weight[-1].size, si))
        n_trees += weight[-1].size

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return Trees(
        cat(src_r, np.int64),
        cat(weight, np.float64),
        cat(deliv, np.float64),
        cat(layer, np.int64),
        cat(e_tree, np.int64),
        cat(e_router, np.int64),
    )


@dataclass(frozen=True)
class Routed:
    link_load: np.ndarray  # (L,) spikes per inference
    tree_links: np.ndarray  # (K,) links per tree
    edge_hops: np.ndarray  # (E,) XY distance of each (tree, destination) route
    edge_k: np.ndarray  # (E_links,) route index of each traversed link
    edge_link: np.ndarray  # (E_links,) link id


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
    return Routed(load, tree_links, edge_hops, k, link)


def _as_network(graph: nir.NIRGraph | Network) -> Network:
    return graph if isinstance(graph, Network) else network_from_nir(graph)


def estimate(
    graph: nir.NIRGraph | Network,
    activity: Activity | None,
    profile: ChipSpec | str,
    *,
    placement: str = "greedy",
) -> CostRecord:
    """Map, route and cost one network on one chip. Fast enough to call per search candidate."""
    chip = profile if isinstance(profile, ChipSpec) else load_chip(profile)
    net = _as_network(graph)
    act = activity if activity is not None else uniform_activity()
    T = act.timesteps
    assumptions = [f"activity: {act.source}"]
    counts: dict[str, np.ndarray] = {}
    for la in net.layers:
        if la.kind == "output":
            continue
        counts[la.name], measured = act.counts_for(la.name, la.size)
        if not measured and act.counts:
            assumptions.append(f"{la.name}: not measured, {act.rate:g} spikes/neuron/step assumed")
    part = partition(net, chip)
    reasons = list(part.reasons)

    # synaptic ops land on the destination neurons' cores; pooling fused into a core is free
    synops_in = {la.name: np.zeros(la.size) for la in net.neuron_layers}
    for p in net.projections:
        if p.dst in synops_in and p.dst not in part.fused:
            synops_in[p.dst] += incoming_events(p, counts[p.src])
    on_chip = [la for la in net.neuron_layers if la.name not in part.fused]
    neurons = sum(la.size for la in on_chip)
    synops = float(sum(v.sum() for v in synops_in.values()))
    spikes = float(sum(counts[la.name].sum() for la in net.neuron_layers))
    e_syn = synops * chip.energy_synop_j
    e_neu = neurons * T * chip.energy_neuron_update_j

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
        placement=placement,
        timesteps=T,
        cores_available=chip.n_cores,
        neurons=neurons,
        spikes=spikes,
        synops=synops,
        energy_synops_j=e_syn,
        energy_neurons_j=e_neu,
        mesh=(chip.rows, chip.cols),
        cores_per_router=chip.cores_per_router,
    )
    senders = spike_senders(net, part, counts) if not reasons else []
    if not reasons:
        for s in senders:
            n_dest = np.bincount(s.neuron, minlength=s.counts.size)
            if s.layer in synops_in and n_dest.max(initial=0) > chip.fan_out_cores_per_neuron:
                reasons.append(
                    f"layer {s.layer}: a neuron targets {int(n_dest.max())} cores > "
                    f"{chip.fan_out_cores_per_neuron:.0f} per neuron (needs splitter neurons)"
                )
    if reasons:
        return CostRecord(
            feasible=False,
            reasons=tuple(reasons),
            assumptions=tuple(assumptions),
            cores_used=len(part.pieces),
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
    mesh = Mesh(chip.rows, chip.cols)
    trees = build_trees(senders, core_of, chip)
    routed = route_trees(trees, mesh)
    names = [s.layer for s in senders]
    msgs_layer = np.bincount(trees.layer, weights=trees.weight, minlength=len(senders))
    hops_layer = np.bincount(
        trees.layer, weights=trees.weight * routed.tree_links, minlength=len(senders)
    )
    messages = float(trees.weight.sum())
    deliveries = float((trees.weight * trees.deliveries).sum())
    hops = float((trees.weight * routed.tree_links).sum())

    # timing
    per_piece_syn = np.zeros(n_pieces)
    for la in on_chip:
        prefix = np.concatenate([[0.0], np.cumsum(synops_in[la.name])])
        b = part.bounds(la.name)
        per_piece_syn[part.layer_pieces[la.name]] = prefix[b[:, 1]] - prefix[b[:, 0]]
    sizes = np.array([pc.size for pc in part.pieces], dtype=np.float64)
    core_time = per_piece_syn / T * chip.latency_synop_s + sizes * chip.latency_neuron_update_s
    t_compute = float(core_time.max(initial=0.0))
    live = trees.weight[trees.edge_tree] > 0
    path0 = chip.latency_router_s + routed.edge_hops * chip.latency_link_s
    t_net0 = float(path0[live].max(initial=0.0))
    window = max(chip.timestep_s, t_compute + chip.latency_barrier_s + t_net0)
    load_step = routed.link_load / T
    capacity = chip.link_bandwidth_spikes_per_s * window
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(load_step > 0, load_step / capacity, 0.0)
    max_rho = float(rho.max(initial=0.0))
    saturated = max_rho >= 1.0 - 1e-9
    if saturated:
        t_net = t_net0 + float(load_step.max()) / chip.link_bandwidth_spikes_per_s
    else:
        wait = rho / (2.0 * (1.0 - rho)) / chip.link_bandwidth_spikes_per_s  # (L,)
        edge_wait = np.bincount(
            routed.edge_k, weights=wait[routed.edge_link], minlength=routed.edge_hops.size
        )
        t_net = float((path0 + edge_wait)[live].max(initial=0.0))
    busy = t_compute + chip.latency_barrier_s + t_net
    t_step = max(chip.timestep_s, busy)
    if chip.timestep_s > 0 and busy > chip.timestep_s:
        assumptions.append(
            f"timestep overrun: {busy:.3g} s of work in a {chip.timestep_s:g} s tick"
        )
    e_route = hops * chip.energy_hop_j + deliveries * chip.energy_router_j
    e_static = chip.power_static_w * t_step * T
    core_of_layer = {la.name: core_of[part.layer_pieces[la.name]] for la in on_chip}
    return CostRecord(
        feasible=True,
        reasons=(),
        assumptions=tuple(assumptions),
        cores_used=n_pieces,
        messages=messages,
        deliveries=deliveries,
        hops=hops,
        layers=layer_costs(msgs_layer, hops_layer, names),
        max_link_load_per_step=float(load_step.max(initial=0.0)),
        max_link_utilisation=max_rho,
        saturated=saturated,
        time_compute_s=t_compute,
        time_network_s=t_net,
        time_per_timestep_s=t_step,
        latency_per_inference_s=t_step * T,
        energy_routing_j=e_route,
        energy_static_j=e_static,
        energy_total_j=e_syn + e_neu + e_route + e_static,
        link_load_per_step=load_step,
        link_utilisation=rho,
        core_of_layer=core_of_layer,
        **base,
    )
