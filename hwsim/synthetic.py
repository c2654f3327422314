"""Synthetic traffic on a k x k mesh, to check the NoC model against classic NoC results.

`synthetic` is the analytic model below; `synthetic_report` puts the cycle-level simulation
(`hwsim.nocsim`, finite buffers and back-pressure) beside it, which is what `hwsim synthetic` shows.

Each node injects `rate` single-flit packets per cycle; every link, injection and ejection
channel serves one flit per cycle. Channel utilisation rho is exact for XY routing; latency is
the zero-load pipeline ((hops+1) router stages + hops link stages) plus an M/D/1 wait
rho / (2 (1 - rho)) cycles at every channel on the path. The network saturates when any channel
reaches rho >= 1; for uniform random traffic that is the bisection bound rate = 4/k (k even).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hwsim.mesh import Mesh, xy_links

PATTERNS = ("uniform", "transpose", "hotspot")
MAX_ROUTERS = 1024  # all-pairs traffic is N^2 flows x mean hops link entries: 32x32 is ~20 M


@dataclass(frozen=True)
class SyntheticResult:
    rows: int
    cols: int
    pattern: str
    rate: float
    mean_hops: float
    zero_load_latency_cycles: float
    mean_latency_cycles: float | None  # None when saturated (unbounded queues)
    max_link_utilisation: float
    saturated: bool
    saturation_rate: float  # injection rate at which the busiest channel reaches rho = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The largest offered rate the analytic model takes (flits/node/cycle): every mesh saturates far
# below it, and beyond it the traffic sums overflow.
MAX_RATE = 1000.0


def traffic_matrix(
    mesh: Mesh, pattern: str, rate: float, hotspot_fraction: float = 0.2
) -> np.ndarray:
    """(N, N) packets per cycle from node s to node d (self-traffic included for uniform)."""
    n = mesh.n_routers
    if pattern == "uniform":
        return np.full((n, n), rate / n)
    if pattern == "transpose":
        if mesh.rows != mesh.cols:
            raise ValueError("transpose traffic needs a square mesh")
        r, c = np.divmod(np.arange(n), mesh.cols)
        t = np.zeros((n, n))
        t[np.arange(n), c * mesh.cols + r] = rate
        return t
    if pattern == "hotspot":
        if not 0 <= hotspot_fraction <= 1:
            raise ValueError(f"hotspot fraction must be in [0, 1], got {hotspot_fraction}")
        t = np.full((n, n), rate * (1 - hotspot_fraction) / n)
        hot = (mesh.rows // 2) * mesh.cols + mesh.cols // 2
        t[:, hot] += rate * hotspot_fraction
        return t
    raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")


def synthetic(
    rows: int,
    cols: int,
    pattern: str,
    rate: float,
    *,
    router_cycles: float = 1.0,
    link_cycles: float = 1.0,
    hotspot_fraction: float = 0.2,
    packet_flits: int = 1,
) -> SyntheticResult:
    """Analytic load, latency and saturation of a synthetic pattern under XY routing.

    `rate` is in flits per node per cycle; packets of `packet_flits` flits add their
    serialisation (packet_flits - 1 cycles) to the zero-load latency and serve each channel in
    packet_flits cycles (the M/D/1 wait scales with it)."""
    if not (math.isfinite(rate) and 0 <= rate <= MAX_RATE):
        # far beyond any mesh's capacity (saturated either way); huge values overflow the
        # traffic sums into nan/inf
        raise ValueError(f"rate must be in [0, {MAX_RATE:g}] flits/node/cycle, got {rate}")
    for name, value in (("router_cycles", router_cycles), ("link_cycles", link_cycles)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite, non-negative number, got {value}")
    if not 0 <= hotspot_fraction <= 1:  # also refuses nan
        raise ValueError(f"hotspot fraction must be in [0, 1], got {hotspot_fraction}")
    if isinstance(packet_flits, bool) or not isinstance(packet_flits, int) or packet_flits < 1:
        raise ValueError(f"packet_flits must be an integer >= 1, got {packet_flits!r}")
    if rows * cols > MAX_ROUTERS:
        raise ValueError(f"mesh {rows}x{cols}: at most {MAX_ROUTERS} routers (N^2 flows)")
    mesh = Mesh(rows, cols)
    n = mesh.n_routers
    t = traffic_matrix(mesh, pattern, rate, hotspot_fraction)
    s, d = np.nonzero(t > 0)
    w = t[s, d]
    k, link = xy_links(mesh, s, d)
    hops = np.bincount(k, minlength=w.size)
    # channels: mesh links, then one injection and one ejection channel per node
    load = np.concatenate(
        [
            np.bincount(link, weights=w[k], minlength=mesh.n_links),
            np.bincount(s, weights=w, minlength=n),
            np.bincount(d, weights=w, minlength=n),
        ]
    )
    max_rho = float(load.max(initial=0.0))
    total = float(w.sum())
    mean_hops = float((w * hops).sum() / total) if total > 0 else 0.0
    zero_load = (hops + 1) * router_cycles + hops * link_cycles + (packet_flits - 1)
    zl_mean = float((w * zero_load).sum() / total) if total > 0 else router_cycles + packet_flits - 1
    saturated = max_rho >= 1.0 - 1e-9  # float sums land a hair below 1 at the bound
    mean_latency = None
    if not saturated:
        wait = load * packet_flits / (2.0 * (1.0 - load))
        path_wait = np.bincount(k, weights=wait[link], minlength=w.size).astype(np.float64)
        path_wait += wait[mesh.n_links + s] + wait[mesh.n_links + n + d]
        mean_latency = float((w * (zero_load + path_wait)).sum() / total) if total > 0 else zl_mean
    sat_rate = rate / max_rho if max_rho > 0 else float("inf")
    return SyntheticResult(
        rows, cols, pattern, rate, mean_hops, zl_mean, mean_latency, max_rho, saturated, sat_rate
    )


def uniform_mean_hops(k: int) -> float:
    """Closed form for uniform random traffic (self included) on a k x k mesh: 2(k^2-1)/(3k)."""
    return 2 * (k * k - 1) / (3 * k)


@dataclass(frozen=True)
class SyntheticReport:
    """The analytic figures and, beside them, the cycle-level simulation of the same traffic.

    The verdict (`saturated`, `mean_latency_cycles`) is the simulation's when it ran, because the
    analytic model's unbounded FIFOs only saturate at the channel-load bound (`saturation_rate`),
    later than routers with finite buffers do; the analytic figures stay for comparison.
    """

    analytic: SyntheticResult
    simulated: Any  # hwsim.nocsim.SimResult | None (imported lazily: nocsim imports this module)
    seed: int

    @property
    def saturated(self) -> bool:
        return bool(self.simulated.saturated if self.simulated else self.analytic.saturated)

    @property
    def mean_latency_cycles(self) -> float | None:
        """Simulated mean latency (None when saturated: it grows with the window)."""
        if self.simulated is None:
            return self.analytic.mean_latency_cycles
        return None if self.simulated.saturated else self.simulated.mean_latency_cycles

    def to_dict(self) -> dict[str, Any]:
        a = self.analytic
        sim = self.simulated
        return {
            "rows": a.rows,
            "cols": a.cols,
            "pattern": a.pattern,
            "rate": a.rate,
            "verdict_from": "simulation" if sim else "analytic",
            "saturated": self.saturated,
            "mean_latency_cycles": self.mean_latency_cycles,
            "accepted_rate": sim.accepted_rate if sim else None,
            "mean_hops": a.mean_hops,
            "zero_load_latency_cycles": a.zero_load_latency_cycles,
            "max_link_utilisation": a.max_link_utilisation,
            "saturation_rate": a.saturation_rate,
            "analytic_mean_latency_cycles": a.mean_latency_cycles,
            "analytic_saturated": a.saturated,
            "seed": self.seed,
            "simulated": sim.to_dict() if sim else None,
        }

    def lines(self) -> list[str]:
        """Human-readable summary: the analytic figures, then the simulation's verdict."""
        a, sim = self.analytic, self.simulated
        lat = "unbounded" if a.mean_latency_cycles is None else f"{a.mean_latency_cycles:.2f}"
        out = [
            f"{a.rows}x{a.cols} {a.pattern} at {a.rate:g} flits/node/cycle, XY routing",
            f"  analytic (unbounded FIFOs, M/D/1 per channel): mean hops {a.mean_hops:.3f}, "
            f"zero-load latency {a.zero_load_latency_cycles:.2f} cycles, mean latency {lat} "
            f"cycles, busiest channel load {a.max_link_utilisation:.3f}, "
            f"channel-load bound {a.saturation_rate:.4g} flits/node/cycle",
        ]
        if sim is None:
            out.append("  simulated: not run")
            return out
        r = sim.router
        head = (
            f"  simulated ({r['vcs']} VCs x {r['buffer_flits']} flits per input port, "
            f"{r['packet_flits']}-flit packets, credit flow control, {sim.cycles} cycles, "
            f"seed {self.seed}): offered "
            f"{sim.offered_rate:.4f}, accepted {sim.accepted_rate:.4f}, "
        )
        if sim.mean_latency_cycles is None:
            out.append(head + "no packets measured, not saturated")
        elif sim.saturated:
            out.append(
                head + f"mean latency > {sim.mean_latency_cycles:.1f} cycles and growing: "
                f"SATURATED ({sim.reason})"
            )
        else:
            out.append(head + f"mean latency {sim.mean_latency_cycles:.2f} cycles, not saturated")
        return out


def synthetic_report(
    rows: int,
    cols: int,
    pattern: str,
    rate: float,
    *,
    router_cycles: float = 1.0,
    link_cycles: float = 1.0,
    hotspot_fraction: float = 0.2,
    simulate: bool = True,
    warmup: int = 1000,
    measure: int = 4000,
    vcs: int = 4,
    buffer_flits: int = 4,
    packet_flits: int = 1,
    seed: int = 0,
) -> SyntheticReport:
    """`hwsim synthetic`: the analytic figures, plus the cycle-level simulation when `simulate`.

    A rate above 1 flit/node/cycle cannot be injected (one injection channel per node), so it is
    reported from the analytic side only (saturated at any mesh size).
    """
    analytic = synthetic(
        rows,
        cols,
        pattern,
        rate,
        router_cycles=router_cycles,
        link_cycles=link_cycles,
        hotspot_fraction=hotspot_fraction,
        packet_flits=packet_flits,
    )
    if not simulate or rate > 1:
        return SyntheticReport(analytic, None, seed)
    from hwsim.noc_router import RouterConfig
    from hwsim.nocsim import simulate as run_sim

    for name, value in (("router_cycles", router_cycles), ("link_cycles", link_cycles)):
        if value != int(value):
            raise ValueError(f"{name}: the simulator needs whole cycles, got {value}")
    router = RouterConfig(
        router_cycles=int(router_cycles),
        link_cycles=int(link_cycles),
        vcs=vcs,
        buffer_flits=buffer_flits,
        packet_flits=packet_flits,
    )
    sim = run_sim(
        rows,
        cols,
        pattern,
        rate,
        warmup=warmup,
        measure=measure,
        router=router,
        hotspot_fraction=hotspot_fraction,
        seed=seed,
    )
    return SyntheticReport(analytic, sim, seed)
