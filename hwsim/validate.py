"""`hwsim estimate --validate`: the analytic drain time against the cycle-level simulator, on the
mapped network's own per-timestep traffic (not a synthetic pattern).

Both sides see the same messages: every (spike tree, destination router) of one timestep, with
its per-sample count rounded to whole messages, injected when the step starts. The simulator
(`hwsim.noc_router`) is a router with finite buffers and credit flow control, one flit per channel
per cycle (cycle = 1 / link bandwidth), the profile's router and link latencies in whole cycles
(at least one router cycle). The analytic side is hwsim's drain model on the same counts: busiest
channel's messages + longest zero-load path, which assumes the busiest channel never idles; the
simulator shows where back-pressure and head-of-line blocking break that. Multicast trees are
sent as one copy per destination router on both sides (the simulator has no forking), and boards
are refused (the simulator has one link bandwidth).

No profile publishes its router buffers, so they are an assumption: 4 VCs per input port (gem5
Garnet's default), each deep enough to cover the credit round trip (router + link + credit
cycles, at least 4 flits), so that a lone stream runs at the full link rate as a router designer
would size it; pass `router` to try others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hwsim.chip import ChipSpec
from hwsim.estimate import CostRecord
from hwsim.mesh import Mesh
from hwsim.noc_router import RouterConfig
from hwsim.nocsim import BurstResult, simulate_burst


@dataclass(frozen=True)
class DrainCheck:
    timestep: int
    messages: int
    analytic_s: float
    simulated_s: float

    @property
    def ratio(self) -> float:
        """analytic / simulated (1.0 when both are zero)."""
        if self.simulated_s == 0:
            return 1.0 if self.analytic_s == 0 else float("inf")
        return self.analytic_s / self.simulated_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def chip_router(chip: ChipSpec) -> RouterConfig:
    """The simulated router for a profile: its latencies in whole cycles of 1 / link bandwidth,
    and the assumed buffers of the module docstring."""
    cycle = 1.0 / chip.link_bandwidth_spikes_per_s
    router_cycles = max(1, int(round(chip.latency_router_s / cycle)))
    link_cycles = int(round(chip.latency_link_s / cycle))
    credit_cycles = 1
    return RouterConfig(
        router_cycles=router_cycles,
        link_cycles=link_cycles,
        vcs=4,
        buffer_flits=max(4, router_cycles + link_cycles + credit_cycles),
        credit_cycles=credit_cycles,
    )


def validate_drain(
    record: CostRecord,
    chip: ChipSpec,
    *,
    steps: list[int] | None = None,
    seed: int = 0,
    router: RouterConfig | None = None,
) -> list[DrainCheck]:
    """Analytic vs simulated drain time of each timestep's traffic (all steps by default)."""
    if not record.feasible or "trees" not in record.internals:
        raise ValueError("nothing to validate: the network does not fit the chip")
    if chip.n_chips > 1:
        raise ValueError("validation runs on one chip (the simulator has one link bandwidth)")
    trees = record.internals["trees"]
    core_of = record.internals["core_of"]
    n_r = chip.n_routers
    d_router = np.append(chip.router_of_core(core_of), 0)[trees.deliv_piece]
    pairs = np.unique(trees.deliv_tree * n_r + d_router)
    tree, dst = np.divmod(pairs, n_r)
    src = trees.src_router[tree]
    cycle = 1.0 / chip.link_bandwidth_spikes_per_s
    router = router or chip_router(chip)
    mesh = Mesh(chip.mesh_rows, chip.mesh_cols)
    out = []
    seen: dict[bytes, BurstResult] = {}  # steps with identical traffic (e.g. assumed rates) once
    for t in steps if steps is not None else range(trees.weight_steps.shape[0]):
        count = np.floor(trees.weight_steps[t, tree] + 0.5).astype(np.int64)
        key = count.tobytes()
        if key not in seen:
            seen[key] = simulate_burst(mesh, src, dst, count, router=router, seed=seed)
        res = seen[key]
        out.append(
            DrainCheck(t, res.messages, res.analytic_cycles * cycle, res.drain_cycles * cycle)
        )
    return out
