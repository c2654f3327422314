"""Cycle-level NoC simulations: steady synthetic traffic and one timestep's burst of spikes.

Both drive `hwsim.noc_router.NocSim`: input-buffered routers with finite VC buffers and credit
flow control, XY routing, round-robin allocation, unbounded source queues (see that module for the
micro-architecture and its timing). Unlike the analytic model in `hwsim.synthetic`, which assumes
unbounded FIFOs and saturates only when a channel reaches the load bound, the simulator pushes
back when buffers fill, and head-of-line blocking makes it saturate earlier (8x8 uniform: about
0.41-0.42 flits/node/cycle with 4 VCs of 4 flits, against the analytic bound of 0.5), which is
what cycle-accurate simulators report. So comparing the two now measures something.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hwsim.mesh import Mesh, xy_links
from hwsim.noc_router import NocSim, RouterConfig
from hwsim.synthetic import traffic_matrix

SHORTFALL = 0.02  # accepted below offered by more than this share: the network is saturated
GROWTH = 1.5  # last quarter's mean latency over the first quarter's: latency is growing
_CHUNK = 1024  # cycles of Bernoulli draws generated at once (bounds the memory of the draws)
# packets are generated up front (up to one per node-cycle, ~40 bytes each): cap the node-cycles
MAX_NODE_CYCLES = 10_000_000


@dataclass(frozen=True)
class SimResult:
    """Steady-state figures of one synthetic run (rates in flits per node per cycle).

    `mean_latency_cycles` is a packet's birth to its tail flit's ejection, source queueing
    included, over the packets born
    in the measurement window that were delivered (when `saturated`, a lower bound that grows
    with the window). `saturated` says why in `reason`: accepted below offered, latency growing
    over the window, or window packets still undelivered after the drain.
    """

    rate: float
    offered_rate: float  # flits born per node per cycle in the measurement window
    accepted_rate: float  # flits ejected per node per cycle in the measurement window
    mean_latency_cycles: float | None  # None when no packet was measured
    latency_first_quarter_cycles: float | None  # packets born in the window's first quarter
    latency_last_quarter_cycles: float | None  # ... and in its last quarter
    saturated: bool
    reason: str
    measured_packets: int
    undelivered_packets: int  # measured packets still in the network or queued at the end
    cycles: int  # cycles simulated (warm-up + window + drain)
    router: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _packets(
    mesh: Mesh,
    pattern: str,
    rate: float,
    horizon: int,
    hotspot_fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bernoulli(rate) births at every node and cycle < horizon, destinations by the pattern."""
    n = mesh.n_routers
    probs = traffic_matrix(mesh, pattern, 1.0, hotspot_fraction)
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    offset = cum + np.arange(n)[:, None]  # row s spans (s, s + 1]: one searchsorted for all
    births, srcs = [], []
    for start in range(0, horizon, _CHUNK):
        t, s = np.nonzero(rng.random((min(_CHUNK, horizon - start), n)) < rate)
        births.append(t + start)
        srcs.append(s)
    birth = np.concatenate(births).astype(np.int64)
    src = np.concatenate(srcs).astype(np.int64)
    u = rng.random(src.size)
    dst = np.searchsorted(offset.ravel(), src + u, side="right") - src * n
    return src, np.minimum(dst, n - 1), birth


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _check_run(mesh: Mesh, rate: float, warmup: int, measure: int, drain: int) -> None:
    """The run's options, before anything is allocated (packets are generated up front)."""
    if not (0 <= rate <= 1):  # also refuses nan
        raise ValueError(f"rate must be in [0, 1] packets/node/cycle, got {rate}")
    for name, value in (("warmup", warmup), ("measure", measure)):
        if value < (1 if name == "measure" else 0):
            raise ValueError(f"{name} must be a positive number of cycles, got {value}")
    if drain < 0:
        raise ValueError(f"drain must be >= 0 cycles, got {drain}")
    if mesh.n_routers * (warmup + measure + drain) > MAX_NODE_CYCLES:
        raise ValueError(
            f"{mesh.rows}x{mesh.cols} mesh over {warmup + measure + drain} cycles (warm-up, "
            f"window, drain): at most {MAX_NODE_CYCLES:,} node-cycles"
        )


def simulate(
    rows: int,
    cols: int,
    pattern: str,
    rate: float,
    *,
    warmup: int = 1000,
    measure: int = 4000,
    drain: int | None = None,
    router: RouterConfig | None = None,
    hotspot_fraction: float = 0.2,
    seed: int = 0,
) -> SimResult:
    """Bernoulli injection at `rate` flits per node per cycle (a packet of `packet_flits` flits
    with probability rate / packet_flits each cycle) for `warmup` cycles, then a `measure`-cycle
    window.

    Injection goes on after the window while the packets born in it drain, for at most `drain`
    cycles (default `measure`); the run stops early when the window's accepted rate already falls
    short of the offered one. Deterministic for a given seed.
    """
    router = router or RouterConfig()
    drain = measure if drain is None else drain
    mesh = Mesh(rows, cols)
    _check_run(mesh, rate, warmup, measure, drain)
    n = mesh.n_routers
    rng = np.random.default_rng(seed)
    end = warmup + measure
    flits = router.packet_flits
    src, dst, birth = _packets(mesh, pattern, rate / flits, end + drain, hotspot_fraction, rng)
    window = (birth >= warmup) & (birth < end)
    sim = NocSim(mesh, router, src, dst, birth)
    sim.watch(window)
    sim.run(warmup)
    ejected0 = sim.ejected_flits
    sim.run(end)
    offered = float(window.sum()) * flits / (n * measure)
    delivered = sim.delivered
    accepted = float(sim.ejected_flits - ejected0) / (n * measure)
    reasons = []
    if accepted < (1 - SHORTFALL) * offered:
        reasons.append(f"accepted {accepted:.4g} < offered {offered:.4g}")
    else:
        sim.run(end + drain, stop_when_watched=True)
    done = window & (delivered >= 0)
    lat = (delivered - birth)[done]
    quarter = max(measure // 4, 1)
    first = _mean((delivered - birth)[done & (birth < warmup + quarter)])
    last = _mean((delivered - birth)[done & (birth >= end - quarter)])
    undelivered = int(window.sum() - done.sum())
    if not reasons and undelivered:
        reasons.append(f"{undelivered} window packets undelivered after {drain} drain cycles")
    # only on a drained window: cut short, the last quarter keeps just its luckiest packets
    drained = undelivered == 0
    if drained and first is not None and last is not None and last > GROWTH * first:
        reasons.append(f"latency growing over the window ({first:.4g} -> {last:.4g} cycles)")
    return SimResult(
        rate=rate,
        offered_rate=offered,
        accepted_rate=accepted,
        mean_latency_cycles=_mean(lat),
        latency_first_quarter_cycles=first,
        latency_last_quarter_cycles=last,
        saturated=bool(reasons),
        reason="; ".join(reasons),
        measured_packets=int(window.sum()),
        undelivered_packets=undelivered,
        cycles=sim.now,
        router=asdict(router),
    )


@dataclass(frozen=True)
class BurstResult:
    drain_cycles: int  # cycle at which the last message was delivered, plus one
    analytic_cycles: float  # busiest channel's messages + longest zero-load path
    messages: int


def burst_channels(
    mesh: Mesh, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channels of each XY route src[k] -> dst[k]: injection port, links, ejection port.

    Returns (route index, channel id, hops per route); channel ids: links, then n injection
    ports, then n ejection ports (as in hwsim's drain model).
    """
    k, link = xy_links(mesh, src, dst)
    hops = np.bincount(k, minlength=src.size)
    n = mesh.n_routers
    route = np.concatenate([np.arange(src.size), k, np.arange(src.size)])
    chan = np.concatenate([mesh.n_links + src, link, mesh.n_links + n + dst])
    return route, chan, hops


def simulate_burst(
    mesh: Mesh,
    src: np.ndarray,
    dst: np.ndarray,
    count: np.ndarray,
    *,
    router: RouterConfig | None = None,
    seed: int = 0,
) -> BurstResult:
    """Inject `count[k]` single-flit messages src[k] -> dst[k] at cycle 0 (one timestep's
    spikes, all released when the step starts) and simulate until the last is delivered.

    The order inside a source queue is random (cores emit in neuron order, which interleaves
    destinations). The analytic figure beside it is hwsim's drain model on the same traffic:
    busiest channel load + longest zero-load path, which assumes every channel busy from the
    first cycle to its last message; back-pressure and head-of-line blocking make the simulated
    drain longer where many routes share a congested channel.
    """
    router = router or RouterConfig()
    if router.packet_flits != 1:
        raise ValueError("a burst of spike messages is single-flit packets (packet_flits = 1)")
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    keep = count > 0
    src, dst, count = src[keep], dst[keep], count[keep]
    route, chan, hops = burst_channels(mesh, src, dst)
    load = np.bincount(chan, weights=count[route], minlength=mesh.n_links + 2 * mesh.n_routers)
    path0 = (hops + 1) * router.router_cycles + hops * router.link_cycles
    analytic = float(load.max(initial=0.0)) + float(path0.max(initial=0.0))
    total = int(count.sum())
    if total == 0:
        return BurstResult(0, analytic, 0)
    rng = np.random.default_rng(seed)
    which = np.repeat(np.arange(src.size), count)
    rng.shuffle(which)
    sim = NocSim(mesh, router, src[which], dst[which], np.zeros(total, dtype=np.int64))
    sim.watch(np.arange(total))
    # XY routing with credits cannot deadlock; this bound only turns a bug into an error
    limit = (total + 1) * (mesh.rows + mesh.cols + 1) * (
        router.router_cycles + router.link_cycles + router.credit_cycles
    )
    sim.run(limit, stop_when_watched=True)
    if sim.watched_left:
        raise RuntimeError(f"burst of {total} messages not delivered after {limit} cycles")
    return BurstResult(int(sim.delivered.max()) + 1, analytic, total)
