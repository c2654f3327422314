"""Build the SANA-FE network for a NIR graph, each piece on the core hwsim placed it on.

hwsim router (row, col) is SANA-FE tile `col * rows + row` (SANA-FE numbers tiles column-major)
and a router's slot is the tile's core index. The host's input neurons sit on cores nearest to
router 0, where hwsim injects host spikes, one SANA-FE `input` unit each (a unit holds one spike
train).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np

from hwsim.chip import ChipSpec
from hwsim.mapping import Partition
from hwsim.network import Network, Projection
from hwsim.sanafe.arch import ArchBinding, core_position, system_mesh
from hwsim.sanafe.params import bias_of, neuron_params, projection_synapses


@dataclass
class Layout:
    """Where hwsim cores are in SANA-FE's loaded chip, and what each core holds so far."""

    spec: ChipSpec
    binding: ArchBinding
    tiles: Any  # the loaded architecture's tiles
    used: dict[int, int]  # hwsim core -> neurons mapped on it
    units: dict[int, int] = field(default_factory=dict)  # hwsim core -> input units taken

    def core(self, core: int) -> Any:
        """The SANA-FE core object for hwsim core `core`."""
        rows, _ = system_mesh(self.spec)
        row, col, slot = core_position(self.spec, core)
        return self.tiles[col * rows + row].cores[slot]  # SANA-FE: x = id // height


def check_mesh(spec: ChipSpec, binding: ArchBinding) -> None:
    """The profile's system mesh must be the architecture's (tiles and cores per tile)."""
    rows, cols = system_mesh(spec)
    cpt = binding.cores_per_tile
    if (rows, cols, spec.cores_per_router) != (binding.rows, binding.cols, cpt):
        raise ValueError(
            f"{spec.name}'s mesh {rows}x{cols}x{spec.cores_per_router} differs from "
            f"the SANA-FE architecture's {binding.rows}x{binding.cols}x{cpt} (rows x cols x cores)"
        )


def place_pieces(
    net: Network, part: Partition, spec: ChipSpec, core_of_layer: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[int, int]]:
    """(hwsim core per piece, by layer; neurons per core), checked against the partition."""
    used: dict[int, int] = {}
    piece_core: dict[str, np.ndarray] = {}
    for la in net.neuron_layers:
        cores = np.asarray(core_of_layer[la.name], dtype=np.int64)
        bounds = part.bounds(la.name)
        if cores.size != len(bounds) or (cores >= spec.n_cores).any():
            raise ValueError(f"placement of {la.name} does not match the partition / chip")
        piece_core[la.name] = cores
        for core, (a, b) in zip(cores, bounds, strict=True):
            used[int(core)] = used.get(int(core), 0) + int(b - a)
    return piece_core, used


def host_cores(layout: Layout, need: int) -> list[tuple[int, int]]:
    """(hwsim core, input neurons) for an input layer: router 0 first (hwsim's host port), free
    cores before shared ones, then outwards; a core holds `neurons_per_core` neurons and
    `inputs_per_core` input units at most."""
    chip, used, units = layout.spec, layout.used, layout.units

    def distance(core: int) -> int:
        row, col, _ = core_position(chip, core)
        return row + col

    capacity = chip.neurons_per_core
    order = sorted(range(chip.n_cores), key=lambda k: (distance(k), k in used, k))
    out = []
    for k in order:
        if need <= 0:
            break
        free = min(capacity - used.get(k, 0), layout.binding.inputs_per_core - units.get(k, 0))
        if free > 0:
            out.append((k, min(free, need)))
            need -= min(free, need)
    if need > 0:
        raise ValueError("no room left on the chip for the input neurons")
    return out


def add_input(snn: Any, name: str, size: int, raster: np.ndarray, layout: Layout) -> Any:
    """An input layer as a group of SANA-FE input units, each driven by its neuron's spikes."""
    if raster.shape[1] != size:
        raise ValueError(f"input {name}: {size} neurons, raster has {raster.shape}")
    group = snn.create_neuron_group(name, size, log_spikes=True)
    i = 0
    for core, n in host_cores(layout, size):
        start = layout.units.get(core, 0)
        for unit in range(start, start + n):
            # one input unit per neuron: a SANA-FE input unit holds one spike train
            group[i].set_attributes(
                soma_hw_name=layout.binding.input_soma.format(unit),
                model_attributes={"spikes": raster[:, i].tolist()},
            )
            group[i].map_to_core(layout.core(core))
            i += 1
        layout.used[core] = layout.used.get(core, 0) + n
        layout.units[core] = start + n
    return group


def _attributes(
    graph: nir.NIRGraph, name: str, size: int, ins: list[Projection], dt: float
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(attributes shared by the group, per-neuron attributes): Loihi LIF parameters with the
    incoming projections' biases folded in, one group value where every neuron agrees."""
    params = neuron_params(graph.nodes[name], size, dt)
    bias = params.bias.copy()
    for p in ins:
        node = graph.nodes[p.via] if p.via else None
        bias += params.scale * bias_of(p, node, size)
    per_neuron = {
        "threshold": params.threshold,
        "reset": params.reset,
        "leak_decay": params.leak_decay,
        "input_decay": params.input_decay,
        "bias": bias,
    }
    shared: dict[str, Any] = {"reset_mode": "hard"}
    for key in list(per_neuron):
        if np.all(per_neuron[key] == per_neuron[key][0]):
            shared[key] = float(per_neuron.pop(key)[0])
    return shared, per_neuron


def add_neurons(
    snn: Any,
    graph: nir.NIRGraph,
    layer: tuple[str, str, int],
    ins: list[Projection],
    pieces: tuple[np.ndarray, np.ndarray],
    layout: Layout,
    dt: float,
) -> Any:
    """A spiking layer (`layer`: NIR node, group name, size) as a LIF group, piece by piece on
    its cores (`pieces`: neuron bounds and hwsim core of each piece)."""
    node, gname, size = layer
    shared, per_neuron = _attributes(graph, node, size, ins, dt)
    group = snn.create_neuron_group(
        gname,
        size,
        model_attributes=shared,
        log_spikes=True,
        soma_hw_name=layout.binding.soma,
        default_synapse_hw_name=layout.binding.synapse[ins[0].kind if ins else "dense"],
    )
    for (a, b), core in zip(*pieces, strict=True):
        target = layout.core(int(core))
        for j in range(int(a), int(b)):
            if per_neuron:
                group[j].set_attributes(
                    model_attributes={k: float(v[j]) for k, v in per_neuron.items()}
                )
            group[j].map_to_core(target)
    return group


def connect(
    graph: nir.NIRGraph,
    net: Network,
    groups: Mapping[str, Any],
    binding: ArchBinding,
    dt: float,
) -> None:
    """Every projection between SANA-FE groups as synapses with the graph's scaled weights, each
    through the synapse unit of its kind (SANA-FE: a connection takes its target's default)."""
    unit_of: dict[str, str] = {}
    for p in net.projections:
        if p.dst not in unit_of:
            first = next(q for q in net.projections if q.dst == p.dst)
            unit_of[p.dst] = binding.synapse[first.kind]
    for p in net.projections:
        if p.dst not in groups or p.src not in groups:
            continue  # spikes to the host's output: no SANA-FE counterpart (see compare)
        node = graph.nodes[p.via] if p.via else None
        src, dst, w = projection_synapses(p, node)
        w = w * neuron_params(graph.nodes[p.dst], net.layer(p.dst).size, dt).scale[dst]
        synapse_unit = binding.synapse[p.kind]
        if unit_of[p.dst] != synapse_unit:
            for j in range(len(groups[p.dst])):
                groups[p.dst][j].set_attributes(default_synapse_hw_name=synapse_unit)
            unit_of[p.dst] = synapse_unit
        pairs = list(zip(src.tolist(), dst.tolist(), strict=True))
        groups[p.src].connect_neurons_sparse(groups[p.dst], {"w": w.tolist()}, pairs)
