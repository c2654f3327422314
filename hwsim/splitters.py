"""Splitter neurons: how a chip whose neurons reach one core still runs a convolutional network.

A TrueNorth neuron sends each spike to one axon on one core (Merolla et al. 2014). A convolution's
neuron feeds every core that holds one of its neighbouring outputs, so its spikes are relayed: the
neuron targets one axon of a splitter core, where ceil(k / F) splitter neurons (one crossbar column
each, threshold one spike) re-emit the spike to the k destination cores, F at a time (F = the
chip's fan_out_cores_per_neuron). This is the splitter of IBM's Corelet library (Amir et al. 2013,
IJCNN). Profiles opt in with ``core.splitter_neurons: true``; without it, a neuron that reaches
more cores than F makes the network infeasible, as before.

What a relay costs, as modelled here (each point is an assumption the cost record states):
- cores: splitter neurons are packed per source layer, greedily, at most ``neurons_per_core``
  splitter neurons and ``fan_in_axons_per_core`` relayed neurons per core; those cores count
  against the chip's cores;
- energy: per relayed spike, one message into the splitter core (one hop: the splitter core is
  assumed to sit beside its source) and, per copy, one synaptic event and one spike; per
  timestep, every splitter neuron's update;
- time: a splitter neuron fires in the timestep after it receives, so every relay stage on the
  longest path adds one timestep to the inference (paths through fewer relays are re-aligned by
  axon delays, 1-15 ticks on TrueNorth); the work per timestep is unchanged.
The copies themselves are routed as before, from the source's position (its splitter core sits
beside it), so one mesh model still routes every spike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hwsim.chip import ChipSpec
from hwsim.network import Network
from hwsim.reasons import Reason


class _Sender(Protocol):
    """What `plan` reads of a sender; read-only, so estimate's frozen `Sender` matches."""

    @property
    def layer(self) -> str: ...
    @property
    def counts(self) -> np.ndarray: ...  # (N,) spikes per inference
    @property
    def neuron(self) -> np.ndarray: ...  # (E,) source neuron of each (neuron, dest. core) pair


@dataclass(frozen=True)
class Relays:
    """Splitter neurons a network needs on one chip (all zero when none are needed)."""

    layers: tuple[str, ...]  # source layers whose neurons are relayed
    neurons: int  # splitter neurons
    cores: int  # splitter cores
    relayed_spikes: float  # spikes per inference sent into splitter cores (one message each)
    copies: float  # spikes per inference re-emitted by splitter neurons
    stages: int  # relay stages on the longest input-to-output path
    refusals: tuple[Reason, ...]  # why relaying cannot work; empty when it can

    def energy_j(self, chip: ChipSpec, timesteps: int) -> float:
        """Dynamic energy of the relays per inference (see the module docstring)."""
        per_message = (
            chip.energy_hop_j + chip.energy_router_j + chip.energy_message_j
            + chip.energy_message_in_j
        )
        per_copy = chip.energy_synop_dense_j + chip.energy_spike_j
        per_copy += chip.energy_neuron_state_update_j
        return (
            self.relayed_spikes * per_message
            + self.copies * per_copy
            + self.neurons * timesteps * chip.energy_neuron_update_j
        )


NO_RELAYS = Relays((), 0, 0, 0.0, 0.0, 0, ())


def _pack(copies: np.ndarray, neurons_per_core: int, axons_per_core: float) -> int:
    """Cores for relayed neurons needing `copies` splitter neurons each (first fit, in order)."""
    cores, used_n, used_a = 0, neurons_per_core, axons_per_core  # "full": the first opens a core
    for c in copies.tolist():
        if used_n + c > neurons_per_core or used_a + 1 > axons_per_core:
            cores, used_n, used_a = cores + 1, 0, 0
        used_n += c
        used_a += 1
    return cores


def _stages(net: Network, relayed: set[str]) -> int:
    """Most relayed layers on any path through the (acyclic) graph."""
    depth = {la.name: 0 for la in net.layers}
    for _ in range(len(net.layers)):
        changed = False
        for p in net.projections:
            d = depth[p.src] + (1 if p.src in relayed else 0)
            if d > depth[p.dst]:
                depth[p.dst], changed = d, True
        if not changed:
            break
    return max(depth.values(), default=0)


def plan(net: Network, senders: Sequence[_Sender], chip: ChipSpec) -> Relays:
    """The splitter neurons and cores that relay every neuron reaching more cores than allowed.

    Only spiking layers are relayed: the host injects input spikes to any number of cores.
    """
    fan_out = chip.fan_out_cores_per_neuron
    spiking = {la.name for la in net.neuron_layers}
    layers: list[str] = []
    reasons: list[Reason] = []
    neurons = cores = 0
    relayed = copies_total = 0.0
    for s in senders:
        if s.layer not in spiking:
            continue
        n_dest = np.bincount(s.neuron, minlength=s.counts.size)
        split = np.flatnonzero(n_dest > fan_out)
        if split.size == 0:
            continue
        layers.append(s.layer)
        copies = np.ceil(n_dest[split] / fan_out).astype(np.int64)
        if int(copies.max()) > chip.neurons_per_core:
            reasons.append(Reason(
                "splitter_neurons_per_core", s.layer, int(copies.max()), chip.neurons_per_core,
                f"layer {s.layer}: a neuron needs {int(copies.max())} splitter neurons > "
                f"{chip.neurons_per_core} per core (two relay stages are not modelled)",
            ))
            continue
        neurons += int(copies.sum())
        cores += _pack(copies, chip.neurons_per_core, chip.fan_in_axons_per_core)
        spikes = s.counts[split]
        relayed += float(spikes.sum())
        copies_total += float((spikes * copies).sum())
    return Relays(
        tuple(layers), neurons, cores, relayed, copies_total, _stages(net, set(layers)),
        tuple(reasons),
    )


def assumption(relays: Relays, chip: ChipSpec) -> str:
    """One line for the cost record: what was relayed and what it cost."""
    fan = "one core" if chip.fan_out_cores_per_neuron == 1 else (
        f"{chip.fan_out_cores_per_neuron:.0f} cores"
    )
    return (
        f"splitter neurons: a neuron reaches {fan}, so {len(relays.layers)} layers are relayed by "
        f"{relays.neurons:,} splitter neurons on {relays.cores:,} extra cores (beside their "
        f"sources, one hop), adding {relays.stages} timestep(s) of latency per inference"
    )


def no_splitters_reason(layer: str, n_dest: int, chip: ChipSpec) -> Reason:
    """Why a neuron reaching too many cores makes the network infeasible without splitters
    (only asked when the limit is finite: no count exceeds an infinite one)."""
    return Reason(
        "fan_out", layer, n_dest, chip.fan_out_cores_per_neuron,
        f"layer {layer}: a neuron targets {n_dest} cores > "
        f"{chip.fan_out_cores_per_neuron:.0f} per neuron "
        "(needs splitter neurons; the profile does not allow them)",
    )
