"""A small cycle-level reference NoC simulator, to check the analytic model in `synthetic`.

Same abstraction as the analytic model, but simulated instead of averaged: Bernoulli injection,
single-flit packets, XY routing, one FIFO per channel (injection, every directed link, ejection)
serving one flit per cycle, `router_cycles` per router stage and `link_cycles` per link. What it
adds over the analytic model is real queue interaction (bursts, correlated arrivals along a
route), the effect the per-hop M/D/1 independence assumption ignores. It has no virtual channels
or credit flow control, so unlike BookSim it saturates at the channel-load bound, not before.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from hwsim.mesh import Mesh, xy_links
from hwsim.synthetic import traffic_matrix


@dataclass(frozen=True)
class SimResult:
    rate: float
    mean_latency_cycles: float | None  # None when saturated
    accepted_rate: float  # delivered packets per node per cycle in the measurement window
    saturated: bool


def simulate(
    rows: int,
    cols: int,
    pattern: str,
    rate: float,
    *,
    warmup: int = 500,
    measure: int = 2000,
    router_cycles: int = 1,
    link_cycles: int = 1,
    hotspot_fraction: float = 0.2,
    seed: int = 0,
) -> SimResult:
    """Simulate `warmup + measure` cycles, then drain the packets born while measuring."""
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1] packets/node/cycle, got {rate}")
    mesh = Mesh(rows, cols)
    n = mesh.n_routers
    probs = traffic_matrix(mesh, pattern, 1.0, hotspot_fraction)  # row s: destination weights
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    src_all, dst_all = np.divmod(np.arange(n * n), n)
    k, link = xy_links(mesh, src_all, dst_all)
    order = np.argsort(k, kind="stable")
    k, link = k[order], link[order]
    bounds = np.searchsorted(k, np.arange(n * n + 1))
    inj0, ej0 = mesh.n_links, mesh.n_links + n
    routes = [
        (inj0 + s, *link[bounds[i] : bounds[i + 1]].tolist(), ej0 + d)
        for i, (s, d) in enumerate(zip(src_all.tolist(), dst_all.tolist(), strict=True))
    ]
    rng = np.random.default_rng(seed)
    queues: dict[int, deque] = {}
    # packet: [route, position, birth, measured]
    delivered_lat: list[int] = []
    delivered_in_window = 0
    pending_measured = 0
    total = warmup + measure
    zero_load = 2 * router_cycles + link_cycles + 1
    cap = 20 * (rate * n * zero_load * (rows + cols)) + 4 * n  # in-flight bound before giving up
    in_flight = 0
    now = 0
    while True:
        if now < total:
            born = np.nonzero(rng.random(n) < rate)[0]
            if born.size:
                dst = (rng.random(born.size)[:, None] > cum[born]).sum(axis=1)
                for s, d in zip(born.tolist(), dst.tolist(), strict=True):
                    measured = now >= warmup
                    pending_measured += measured
                    in_flight += 1
                    route = routes[s * n + d]
                    queues.setdefault(route[0], deque()).append([route, 0, now, measured, now])
        elif pending_measured == 0:
            break
        if in_flight > cap:
            return SimResult(rate, None, float("nan"), True)
        moved = []
        for ch in list(queues):
            q = queues[ch]
            if q and q[0][4] <= now:
                moved.append(q.popleft())
            if not q:
                del queues[ch]
        for pkt in moved:
            route, pos = pkt[0], pkt[1]
            if pos == len(route) - 1:  # served by the ejection channel: delivered
                in_flight -= 1
                if warmup <= now < total:
                    delivered_in_window += 1
                if pkt[3]:
                    delivered_lat.append(now - pkt[2])
                    pending_measured -= 1
                continue
            pkt[1] = pos + 1
            pkt[4] = now + (router_cycles if pos == 0 else link_cycles + router_cycles)
            queues.setdefault(route[pos + 1], deque()).append(pkt)
        now += 1
        if now > total + 50 * measure:  # drain never finished: unstable
            return SimResult(rate, None, delivered_in_window / (n * measure), True)
    accepted = delivered_in_window / (n * measure)
    # below saturation the network delivers what is offered (Bernoulli noise is ~1%)
    saturated = accepted < 0.97 * rate
    latency = float(np.mean(delivered_lat)) if delivered_lat and not saturated else None
    return SimResult(rate, latency, accepted, saturated)


@dataclass(frozen=True)
class BurstResult:
    drain_cycles: int  # cycle at which the last message was delivered
    analytic_cycles: float  # busiest channel's messages + longest zero-load path
    messages: int


def burst_channels(
    mesh: Mesh, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channels of each XY route src[k] -> dst[k]: injection port, links, ejection port.

    Returns (route index, channel id, hops per route); channel ids: links, then n injection
    ports, then n ejection ports (as in `simulate` and in hwsim's drain model).
    """
    k, link = xy_links(mesh, src, dst)
    hops = np.bincount(k, minlength=src.size)
    n = mesh.n_routers
    route = np.concatenate([np.arange(src.size), k, np.arange(src.size)])
    chan = np.concatenate([mesh.n_links + src, link, mesh.n_links + n + dst])
    step = np.concatenate([np.zeros(src.size), 1 + _pos_in_route(k), 1 + hops])
    order = np.lexsort((step, route))
    return route[order], chan[order], hops


def _pos_in_route(k: np.ndarray) -> np.ndarray:
    """Position of each entry within its route, for entries grouped by route in order."""
    if k.size == 0:
        return np.zeros(0)
    starts = np.r_[0, np.flatnonzero(np.diff(k)) + 1]
    lengths = np.diff(np.r_[starts, k.size])
    return (np.arange(k.size) - np.repeat(starts, lengths)).astype(float)


def simulate_burst(
    mesh: Mesh,
    src: np.ndarray,
    dst: np.ndarray,
    count: np.ndarray,
    *,
    router_cycles: int = 1,
    link_cycles: int = 1,
    seed: int = 0,
) -> BurstResult:
    """Inject `count[k]` single-flit messages src[k] -> dst[k] at cycle 0 (one timestep's
    spikes, all released when the step starts) and simulate until the last is delivered.

    Channels serve one flit per cycle in FIFO order; the injection order inside a port is random
    (cores emit in neuron order, which interleaves destinations). The analytic figure beside it
    is hwsim's drain model on the same traffic: busiest channel load + longest zero-load path.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    keep = count > 0
    src, dst, count = src[keep], dst[keep], count[keep]
    route, chan, hops = burst_channels(mesh, src, dst)
    bounds = np.searchsorted(route, np.arange(src.size + 1))
    routes = [tuple(chan[bounds[i] : bounds[i + 1]].tolist()) for i in range(src.size)]
    load = np.bincount(chan, weights=count[route], minlength=mesh.n_links + 2 * mesh.n_routers)
    path0 = (hops + 1) * router_cycles + hops * link_cycles
    analytic = float(load.max(initial=0.0)) + float(path0.max(initial=0.0))
    rng = np.random.default_rng(seed)
    births = np.repeat(np.arange(src.size), count)
    rng.shuffle(births)
    queues: dict[int, deque] = {}
    for r in births.tolist():
        queues.setdefault(routes[r][0], deque()).append([routes[r], 0, 0])  # route, pos, ready
    remaining = int(count.sum())
    now = 0
    last = 0
    while remaining:
        moved = []
        for ch in list(queues):
            q = queues[ch]
            if q and q[0][2] <= now:
                moved.append(q.popleft())
            if not q:
                del queues[ch]
        for pkt in moved:
            rt, pos = pkt[0], pkt[1]
            if pos == len(rt) - 1:
                remaining -= 1
                last = now
                continue
            pkt[1] = pos + 1
            pkt[2] = now + (router_cycles if pos == 0 else link_cycles + router_cycles)
            queues.setdefault(rt[pos + 1], deque()).append(pkt)
        now += 1
    return BurstResult(last + 1 if count.sum() else 0, analytic, int(count.sum()))
