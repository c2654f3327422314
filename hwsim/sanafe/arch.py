"""SANA-FE architectures: an hwsim profile translated into one, or SANA-FE's own Loihi file.

The translation (`sanafe_arch`) carries the profile's own per-event figures into SANA-FE, so an
agreement there checks event counting and scheduling, not the figures (they are the same by
construction). `sanafe_loihi_arch` reads the Loihi file SANA-FE ships (calibrated by its authors,
not ours): a profile compared against it is checked on independent figures.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hwsim.chip import ChipSpec
from hwsim.sanafe.extra import SANAFE_LOIHI, import_sanafe

# SANA-FE's loihi.yaml: 4x8 tiles of 4 cores, 1,024 neurons per core (max_neurons_supported)
LOIHI_GEOMETRY = (4, 8, 4, 1024)  # rows, cols, cores per tile, neurons per core (one chip)


@dataclass(frozen=True)
class ArchBinding:
    """A SANA-FE architecture description and the names of the units the engine maps onto."""

    name: str
    description: dict[str, Any] = field(repr=False)
    soma: str
    input_soma: str  # format string with the unit index, e.g. "loihi_inputs[{}]"
    inputs_per_core: int
    synapse: Mapping[str, str]  # projection kind ('dense', 'conv', 'identity') -> synapse unit
    rows: int
    cols: int
    cores_per_tile: int
    # True for SANA-FE's own figures; False when they are the profile's, translated (then energy
    # agreement is by construction and only event counts and scheduling are being checked)
    independent: bool = False


def _figure(chip: ChipSpec, name: str, fallback: str | None = None) -> float:
    """A per-event figure of the profile; `fallback` (or 0) where the profile has no such term."""
    value = getattr(chip, name, None)
    if not value and fallback is not None:
        value = getattr(chip, fallback)
    return float(value or 0.0)


def _sync(chip: ChipSpec) -> dict[str, Any]:
    """SANA-FE's end-of-step sync: the profile's barrier table by tiles in use, else fixed."""
    table = getattr(chip, "latency_barrier_by_tiles_s", None)
    if table:
        return {"sync_model": "table", "latency_sync": {int(k): float(v) for k, v in table}}
    return {"sync_model": "fixed", "latency_sync": chip.latency_barrier_s}


def _unit(name: str, **attributes: Any) -> dict[str, Any]:
    return {"name": name, "attributes": attributes}


def _synapse_units(chip: ChipSpec) -> list[dict[str, Any]]:
    """Dense and conv synapse units: the profile's per-kind synop figures (general as fallback)."""
    return [
        _unit(
            f"{kind}_synapse",
            model="current_based",
            energy_process_spike=_figure(chip, f"energy_synop_{kind}_j", "energy_synop_j"),
            latency_process_spike=_figure(chip, f"latency_synop_{kind}_s", "latency_synop_s"),
        )
        for kind in ("dense", "conv")
    ]


def _soma_units(chip: ChipSpec, inputs: int) -> list[dict[str, Any]]:
    """The LIF soma (access, state update, spike out) and `inputs` zero-cost input units."""
    zero = {
        f"{kind}_{event}": 0.0
        for event in ("access_neuron", "update_neuron", "spike_out")
        for kind in ("energy", "latency")
    }
    lif = _unit(
        "lif",
        model="leaky_integrate_fire",
        energy_access_neuron=chip.energy_neuron_update_j,
        latency_access_neuron=chip.latency_neuron_update_s,
        energy_update_neuron=_figure(chip, "energy_neuron_state_update_j"),
        latency_update_neuron=_figure(chip, "latency_neuron_state_update_s"),
        energy_spike_out=_figure(chip, "energy_spike_j"),
        latency_spike_out=_figure(chip, "latency_spike_s"),
    )
    return [lif, _unit(f"inputs[0..{inputs - 1}]", model="input", **zero)]


def _core(chip: ChipSpec, inputs: int) -> dict[str, Any]:
    """One SANA-FE core: axon in (router + message-in), synapses, dendrite, soma, axon out."""
    axon_in = _unit(
        "axon_in",
        energy_message_in=chip.energy_router_j + _figure(chip, "energy_message_in_j"),
        latency_message_in=_figure(chip, "latency_message_in_s"),
    )
    axon_out = _unit(
        "axon_out",
        energy_message_out=_figure(chip, "energy_message_j"),
        latency_message_out=_figure(chip, "latency_message_s"),
    )
    dendrite = _unit("dendrite", model="accumulator", energy_update=0.0, latency_update=0.0)
    return {
        "name": f"core[0..{chip.cores_per_router - 1}]",
        "attributes": {
            "buffer_position": "soma",
            "buffer_inside_unit": False,
            "max_neurons_supported": chip.neurons_per_core,
        },
        "axon_in": [axon_in],
        "synapse": _synapse_units(chip),
        "dendrite": [dendrite],
        "soma": _soma_units(chip, inputs),
        "axon_out": [axon_out],
    }


def sanafe_arch(chip: ChipSpec) -> ArchBinding:
    """Translate an hwsim profile into a SANA-FE architecture with the same per-event figures.

    hwsim terms become SANA-FE units: dense / conv synaptic op -> the two synapse units'
    `energy_process_spike`; neuron update (every neuron, every step) -> soma `access_neuron`;
    state update -> soma `update_neuron`; spike fired -> soma `spike_out`; message sent ->
    axon-out; delivery (router + message-in) -> axon-in; link hop -> tile hop (all four
    directions); barrier (or its table by tiles) -> `latency_sync`. Static power and hwsim's
    per-route router latency have no SANA-FE counterpart; SANA-FE models no tick (`tick` steps).
    A board's chips tile into one SANA-FE mesh whose chip-to-chip links cost on-chip hops
    (SANA-FE has per-tile hop figures only).
    """
    rows, cols = system_mesh(chip)
    inputs = chip.neurons_per_core
    hop = {}
    for d in ("north", "east", "south", "west"):
        hop[f"energy_{d}_hop"] = chip.energy_hop_j
        hop[f"latency_{d}_hop"] = chip.latency_link_s
    attributes = {"topology": "mesh", "width": cols, "height": rows, "link_buffer_size": 16}
    tile = {"name": f"tile[0..{rows * cols - 1}]", "attributes": hop, "core": [_core(chip, inputs)]}
    description = {
        "architecture": {
            "name": f"hwsim_{chip.name}",
            "attributes": {**attributes, **_sync(chip)},
            "tile": [tile],
        }
    }
    return ArchBinding(
        name=f"{chip.name} translated from {chip.path} (same figures: energy agrees by construction)",
        description=description,
        soma="lif",
        input_soma="inputs[{}]",
        inputs_per_core=inputs,
        synapse={"dense": "dense_synapse", "identity": "dense_synapse", "conv": "conv_synapse"},
        rows=rows,
        cols=cols,
        cores_per_tile=chip.cores_per_router,
    )


def system_mesh(chip: ChipSpec) -> tuple[int, int]:
    """(rows, cols) of routers over the whole system: a board's chips tile into one mesh."""
    return int(getattr(chip, "mesh_rows", chip.rows)), int(getattr(chip, "mesh_cols", chip.cols))


def core_position(chip: ChipSpec, core: int) -> tuple[int, int, int]:
    """(router row, router col, slot at the router) of hwsim core `core` in the system mesh."""
    _, cols = system_mesh(chip)
    if hasattr(chip, "router_of_core"):
        router = int(chip.router_of_core(np.array([core]))[0])
        slot = int(core) % chip.cores_per_chip % chip.cores_per_router
    else:
        router, slot = divmod(int(core), chip.cores_per_router)
    row, col = divmod(router, cols)
    return row, col, slot


def sanafe_loihi_path() -> Path:
    """SANA-FE's own Loihi architecture file inside the installed package (not copied here)."""
    sanafe = import_sanafe()
    return Path(str(resources.files(sanafe.__name__).joinpath("examples", "loihi.yaml")))


def sanafe_loihi_arch(mesh: tuple[int, int] | None = None) -> ArchBinding:
    """SANA-FE's own Loihi architecture file, read from the installed package (not copied).

    `mesh` (rows, cols of tiles) widens it for a board of Loihi chips tiled into one mesh; SANA-FE
    has per-tile hop figures only, so links between chips cost what on-chip hops cost there.
    """
    path = sanafe_loihi_path()
    description = yaml.safe_load(path.read_text())
    attrs = description["architecture"]["attributes"]
    tile = description["architecture"]["tile"][0]
    name = f"SANA-FE Loihi ({path.name}, sanafe package: SANA-FE's own figures)"
    if mesh is not None and mesh != (int(attrs["height"]), int(attrs["width"])):
        attrs["height"], attrs["width"] = mesh
        tile["name"] = f"{tile['name'].split('[')[0]}[0..{mesh[0] * mesh[1] - 1}]"
        name += f", tiled to {mesh[0]}x{mesh[1]} tiles"
    return ArchBinding(
        name=name,
        description=description,
        soma="loihi_lif",
        input_soma="loihi_inputs[{}]",
        inputs_per_core=1024,
        synapse={
            "dense": "loihi_dense_synapse",
            "identity": "loihi_dense_synapse",
            "conv": "loihi_conv_synapse",
        },
        rows=int(attrs["height"]),
        cols=int(attrs["width"]),
        cores_per_tile=len(range(*_name_range(tile["core"][0]["name"]))),
        independent=True,
    )


def _name_range(name: str) -> tuple[int, int]:
    """'core[0..3]' -> (0, 4); a name without a range is one unit."""
    if "[" not in name:
        return (0, 1)
    lo, _, hi = name[name.index("[") + 1 : name.rindex("]")].partition("..")
    return (int(lo), int(hi or lo) + 1)


def has_loihi_geometry(chip: ChipSpec) -> bool:
    """A profile whose chips are Loihi's (4x8 tiles of 4 cores, 1,024 neurons per core): SANA-FE's
    own Loihi file can cost it (a board of them as one wider mesh)."""
    geometry = (chip.rows, chip.cols, chip.cores_per_router, chip.neurons_per_core)
    return geometry == LOIHI_GEOMETRY


def resolve_arch(arch: str | ArchBinding | None, chip: ChipSpec) -> ArchBinding:
    """None or 'profile': translate the hwsim profile; 'sanafe-loihi': SANA-FE's Loihi file;
    'auto': SANA-FE's Loihi file for a profile with Loihi's geometry (independent figures),
    else the translation."""
    if isinstance(arch, ArchBinding):
        return arch
    if arch == "auto":
        arch = SANAFE_LOIHI if has_loihi_geometry(chip) else None
    if arch is None or arch == "profile":
        return sanafe_arch(chip)
    if arch == SANAFE_LOIHI:
        return sanafe_loihi_arch(system_mesh(chip))
    raise ValueError(f"arch must be 'auto', 'profile' or '{SANAFE_LOIHI}', got {arch!r}")


@contextmanager
def loaded_arch(binding: ArchBinding) -> Iterator[Any]:
    """The binding's description loaded into SANA-FE (through a temporary YAML file)."""
    sanafe = import_sanafe()
    with tempfile.TemporaryDirectory(prefix="hwsim-sanafe-") as tmp:
        path = Path(tmp) / "arch.yaml"
        path.write_text(yaml.safe_dump(binding.description, sort_keys=False))
        yield sanafe.load_arch(str(path))
