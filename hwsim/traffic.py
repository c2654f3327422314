"""Spike traffic: who sends to which cores, as messages (multicast trees or unicasts), routed.

`spike_senders` lists, per source layer, every (neuron, destination piece) pair and the spikes
sent over every piece pair; `build_trees` turns them into the messages the chip's rule sends
(one tree per neuron and target set when it multicasts, else one message per destination core);
`route_trees` XY-routes them on the mesh (a tree uses each of its links once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.chip import ChipSpec
from hwsim.connectivity import target_pieces
from hwsim.mapping import Partition
from hwsim.mesh import Mesh, xy_links
from hwsim.network import Network, Projection


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


@dataclass(frozen=True)
class _Part:
    """One sender's trees, numbered from 0 (build_trees offsets them)."""

    src_router: np.ndarray
    src_piece: np.ndarray
    weight: np.ndarray
    weight_steps: np.ndarray  # (T, k)
    deliveries: np.ndarray
    edge_tree: np.ndarray
    edge_router: np.ndarray
    deliv_tree: np.ndarray
    deliv_piece: np.ndarray


def _multicast(
    s: Sender, core_ext: np.ndarray, router_ext: np.ndarray, salt: np.ndarray, n_routers: int
) -> _Part:
    """One tree per (source piece, target set): each neuron's target set is hashed."""
    steps = s.steps if s.steps is not None else s.counts[None, :]
    src_piece = s.src_piece[s.neuron]
    remote = core_ext[s.target] != core_ext[src_piece]  # same core: no message
    neuron, target = s.neuron[remote], s.target[remote]
    set_hash = np.zeros(s.counts.size, dtype=np.uint64)
    np.add.at(set_hash, neuron, salt[target])
    has_any = np.zeros(s.counts.size, dtype=bool)
    has_any[neuron] = True
    senders_idx = np.flatnonzero(has_any)
    key = s.src_piece[senders_idx].astype(np.uint64) * np.uint64(2**40) ^ set_hash[senders_idx]
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    w = np.bincount(inverse, weights=s.counts[senders_idx], minlength=uniq.size)
    ws = np.stack(
        [np.bincount(inverse, weights=row[senders_idx], minlength=uniq.size) for row in steps]
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
    pick, dpick = keep[t_idx], keep[edge_t]
    return _Part(
        router_ext[s.src_piece[rep[keep]]], s.src_piece[rep[keep]], w[keep], ws[:, keep],
        deliveries[keep], renumber[t_idx[pick]], r_idx[pick], renumber[edge_t[dpick]],
        edge_target[dpick],
    )


def _unicast(s: Sender, core_ext: np.ndarray, router_ext: np.ndarray, size: int) -> _Part:
    """One single-destination message per (source piece, destination piece) pair."""
    pair_steps = s.pair_steps if s.pair_steps is not None else s.pair_spikes[None, :]
    sp, tq = np.divmod(s.pair_key, size)
    keep = (s.pair_spikes > 0) & (core_ext[sp] != core_ext[tq])  # same core: no message
    sp, tq = sp[keep], tq[keep]
    ids = np.arange(sp.size)
    return _Part(
        router_ext[sp], sp, s.pair_spikes[keep], pair_steps[:, keep], np.ones(sp.size), ids,
        router_ext[tq], ids, tq,
    )


def build_trees(senders: list[Sender], core_of: np.ndarray, chip: ChipSpec) -> Trees:
    """Messages from each sender under the chip's rule: one tree per (neuron, target set) when
    multicast, else one single-destination message per (source core, destination core)."""
    size = len(core_of) + 1
    core_ext = np.append(core_of, -1)  # host pseudo-core
    router_ext = np.append(chip.router_of_core(core_of), 0)  # host port at router 0
    salt = np.random.default_rng(12345).integers(1, 2**63, size, dtype=np.uint64)
    parts, offsets, layer = [], [], []
    n_trees = 0
    for si, s in enumerate(senders):
        if chip.multicast:
            part = _multicast(s, core_ext, router_ext, salt, chip.n_routers)
        else:
            part = _unicast(s, core_ext, router_ext, size)
        parts.append(part)
        offsets.append(n_trees)
        layer.append(np.full(part.weight.size, si))
        n_trees += part.weight.size

    def cat(name: str, dtype: type, offset: bool = False) -> np.ndarray:
        arrays = [getattr(p, name) + (o if offset else 0) for p, o in zip(parts, offsets, strict=True)]
        return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)

    n_steps = parts[0].weight_steps.shape[0] if parts else 1
    return Trees(
        cat("src_router", np.int64),
        cat("weight", np.float64),
        cat("deliveries", np.float64),
        np.concatenate(layer).astype(np.int64) if layer else np.zeros(0, np.int64),
        cat("edge_tree", np.int64, offset=True),
        cat("edge_router", np.int64),
        cat("src_piece", np.int64),
        np.concatenate([p.weight_steps for p in parts], axis=1) if parts
        else np.zeros((n_steps, 0)),
        cat("deliv_tree", np.int64, offset=True),
        cat("deliv_piece", np.int64),
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
