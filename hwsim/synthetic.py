"""Synthetic traffic on a k x k mesh, to check the NoC model against classic NoC results.

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
) -> SyntheticResult:
    """Analytic load, latency and saturation of a synthetic pattern under XY routing."""
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"rate must be a finite, non-negative packets/node/cycle, got {rate}")
    for name, value in (("router_cycles", router_cycles), ("link_cycles", link_cycles)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite, non-negative number, got {value}")
    if not 0 <= hotspot_fraction <= 1:  # also refuses nan
        raise ValueError(f"hotspot fraction must be in [0, 1], got {hotspot_fraction}")
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
    zero_load = (hops + 1) * router_cycles + hops * link_cycles
    zl_mean = float((w * zero_load).sum() / total) if total > 0 else router_cycles
    saturated = max_rho >= 1.0 - 1e-9  # float sums land a hair below 1 at the bound
    mean_latency = None
    if not saturated:
        wait = load / (2.0 * (1.0 - load))
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
