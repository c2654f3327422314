"""The record `estimate` returns: one network on one chip, per inference (the JSON schema).

`RECORD_KEYS`, the flat keys of `CostRecord.to_dict`, are derived from the dataclass's fields
(every field shown in its repr, less the nested ones written out on their own), so a new field
reaches the JSON without a second list to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from hwsim.mesh import Mesh
from hwsim.reasons import Reason, messages


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

    Routing, timing and energy totals are None when the network does not fit (`refusals` says
    why, `reasons` in words); synaptic-op and neuron energies are given regardless. Times are the mean over the T
    timesteps; `*_peak_*` and `peak_timestep` are the busiest step's; `step_times_s` has all.
    """

    chip: str
    placement: str
    feasible: bool
    refusals: tuple[Reason, ...]
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
    # the board's idle draw over the inference: beside energy_total_j (the chip's), not in it
    energy_board_idle_j: float | None = None
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
    # what makes up the mean timestep: the critical (busiest) core's terms, then the network
    # drain, barrier and tick (seconds; see hwsim.timing.critical_terms); empty when infeasible
    time_terms_s: dict[str, float] = field(default_factory=dict)
    critical_layer: str | None = None  # layer of the busiest core in most timesteps

    @property
    def reasons(self) -> tuple[str, ...]:
        """The refusals' one-line texts (what a person reads; programs read `refusals`)."""
        return messages(self.refusals)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (big arrays left out; None where not computable)."""
        out: dict[str, Any] = {}
        for k in RECORD_KEYS:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        out["reasons"] = list(self.reasons)
        out["refusals"] = [r.to_dict() for r in self.refusals]
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


# fields written out by `to_dict` in their own shape (not as one flat value)
_NESTED = frozenset({"refusals", "layers", "mesh", "chip_mesh", "cores_per_router", "tradeoff"})
RECORD_KEYS: tuple[str, ...] = tuple(
    f.name for f in fields(CostRecord) if f.repr and f.name not in _NESTED
)
