"""Run a NIR graph on SANA-FE with hwsim's mapping, and what SANA-FE reports for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import nir
import numpy as np

from hwsim.chip import ChipSpec, load_chip
from hwsim.mapping import Partition, partition
from hwsim.network import Network, network_from_nir
from hwsim.sanafe.arch import ArchBinding, loaded_arch, resolve_arch
from hwsim.sanafe.extra import import_sanafe, stdout_to_stderr
from hwsim.sanafe.netlist import (
    Layout,
    add_input,
    add_neurons,
    check_mesh,
    connect,
    place_pieces,
)
from hwsim.sanafe.params import graph_dt

_NOT_SCALAR = ("steps", "core_of_layer", "independent")  # left out of the summary keys


@dataclass(frozen=True, eq=False)
class SanafeResult:
    """What SANA-FE reports for one inference (T timesteps), and the spikes it produced."""

    arch: str
    timesteps: int
    energy_total_j: float
    energy_synapse_j: float
    energy_dendrite_j: float
    energy_soma_j: float
    energy_network_j: float
    time_s: float
    packets: int
    synaptic_events: int
    neurons_fired: int
    neurons_updated: int
    steps: dict[str, np.ndarray] = field(repr=False)  # (T, N) spikes per step, by layer (+input)
    core_of_layer: dict[str, np.ndarray] = field(repr=False)  # hwsim core per piece
    independent: bool = False  # SANA-FE's own figures (True) or the profile's translated

    @property
    def counts(self) -> dict[str, np.ndarray]:
        """Per-neuron spikes summed over the T steps, by layer."""
        return {k: v.sum(axis=0) for k, v in self.steps.items()}

    @property
    def energy_per_timestep_j(self) -> float:
        return self.energy_total_j / self.timesteps

    @property
    def time_per_timestep_s(self) -> float:
        return self.time_s / self.timesteps

    def to_dict(self) -> dict[str, Any]:
        keys = [f.name for f in fields(self) if f.name not in _NOT_SCALAR]
        out: dict[str, Any] = {k: getattr(self, k) for k in keys}
        out["figures"] = "SANA-FE's own" if self.independent else "the profile's, translated"
        out["energy_per_timestep_j"] = self.energy_per_timestep_j
        out["time_per_timestep_s"] = self.time_per_timestep_s
        out["spikes"] = {k: float(v.sum()) for k, v in self.counts.items()}
        return out


def _timesteps(inputs: Mapping[str, np.ndarray]) -> int:
    steps = {np.asarray(r).shape[0] for r in inputs.values()}
    if len(steps) != 1:
        raise ValueError("every input raster needs the same number of timesteps")
    return steps.pop()


def _build(
    snn: Any,
    graph: nir.NIRGraph,
    net: Network,
    inputs: Mapping[str, np.ndarray],
    layout: Layout,
    pieces: tuple[Partition, Mapping[str, np.ndarray]],
) -> dict[str, str]:
    """Input groups, then spiking groups, then their synapses; returns layer -> group name.
    `pieces`: hwsim's partition and the hwsim core of each piece, by layer."""
    timesteps = _timesteps(inputs)
    dt = graph_dt(graph)
    part, piece_core = pieces
    gname = {la.name: f"g{i}" for i, la in enumerate(net.layers)}
    groups: dict[str, Any] = {}
    for la in net.layers:
        if la.kind == "input":
            raster = np.asarray(inputs[la.name], dtype=bool).reshape(timesteps, -1)
            groups[la.name] = add_input(snn, gname[la.name], la.size, raster, layout)
    for la in net.neuron_layers:
        ins = [p for p in net.projections if p.dst == la.name]
        placed = (part.bounds(la.name), piece_core[la.name])
        layer = (la.name, gname[la.name], la.size)
        groups[la.name] = add_neurons(snn, graph, layer, ins, placed, layout, dt)
    connect(graph, net, groups, layout.binding, dt)
    return gname


def _result(
    res: Mapping[str, Any],
    binding: ArchBinding,
    net: Network,
    gname: Mapping[str, str],
    piece_core: Mapping[str, np.ndarray],
    timesteps: int,
) -> SanafeResult:
    """SANA-FE's run summary and spike trace as a SanafeResult."""
    index = {v: k for k, v in gname.items()}
    steps = {la.name: np.zeros((timesteps, la.size)) for la in net.layers if la.kind != "output"}
    for t, fired in enumerate(res["spike_trace"]):
        for addr in fired:
            steps[index[addr.group_name]][t, addr.neuron_offset] += 1
    energy = res["energy"]
    return SanafeResult(
        arch=binding.name,
        timesteps=int(res["timesteps_executed"]),
        energy_total_j=float(energy["total"]),
        energy_synapse_j=float(energy["synapse"]),
        energy_dendrite_j=float(energy["dendrite"]),
        energy_soma_j=float(energy["soma"]),
        energy_network_j=float(energy["network"]),
        time_s=float(res["sim_time"]),
        packets=int(res["packets_sent"]),
        synaptic_events=int(res["spikes"]),
        neurons_fired=int(res["neurons_fired"]),
        neurons_updated=int(res["neurons_updated"]),
        steps=steps,
        core_of_layer={k: np.asarray(v) for k, v in piece_core.items()},
        independent=binding.independent,
    )


def run_sanafe(
    graph: nir.NIRGraph,
    chip: ChipSpec | str,
    inputs: Mapping[str, np.ndarray],
    *,
    core_of_layer: Mapping[str, np.ndarray],
    arch: str | ArchBinding | None = None,
) -> SanafeResult:
    """Simulate `graph` on SANA-FE with each piece on the core hwsim placed it on.

    `inputs` maps each input node to a (T, N) spike raster; `core_of_layer` is hwsim's placement
    (`CostRecord.core_of_layer`, one core per piece of `partition(net, chip)`). `arch`: see
    `resolve_arch` (None translates the profile).
    """
    sanafe = import_sanafe()
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    binding = resolve_arch(arch, spec)
    net = network_from_nir(graph)
    part = partition(net, spec)
    if part.reasons:
        raise ValueError("does not fit: " + "; ".join(part.reasons))
    if part.fused:
        raise ValueError("fused pooling (Speck-style profiles) has no SANA-FE counterpart")
    graph_dt(graph)  # a bad metadata.dt is the user's error, named before any work
    timesteps = _timesteps(inputs)
    check_mesh(spec, binding)
    piece_core, used = place_pieces(net, part, spec, core_of_layer)
    with loaded_arch(binding) as loaded:
        snn = sanafe.Network()
        layout = Layout(spec, binding, loaded.tiles, used)
        gname = _build(snn, graph, net, inputs, layout, (part, piece_core))
        hw = sanafe.SpikingChip(loaded)
        hw.load(snn)
        with stdout_to_stderr():  # SANA-FE's C++ progress line would corrupt --json output
            res = hw.sim(timesteps, spike_trace=True, processing_threads=1)
    return _result(res, binding, net, gname, piece_core, timesteps)
