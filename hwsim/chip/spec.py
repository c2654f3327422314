"""`ChipSpec`: a chip (or board) profile's resolved figures, and the one description of its YAML.

Each figure is a dataclass field whose metadata (from :func:`figure`) says where it lives in the
YAML (`section`, and `key` where the YAML name differs), its `kind` (the range check: see
`hwsim.chip.schema.EXPECTED`), its `unit`, an upper bound `most` where an absurd value would
exhaust memory, and whether a profile must give it (`required`) or what stands in when it does
not (`default`, or `fallback`: the figure it falls back to). The YAML validation tables
(`hwsim.chip.schema.SCHEMA`, `OPTIONAL`, `BOARD`) are generated from these fields, so a figure
is added in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from typing import Any

import numpy as np

from hwsim.chip.capability import ALLOW_ALL, Capabilities

MAX_CORES_TOTAL = 1 << 18  # 262,144 cores or routers: beyond the boards modelled, within memory


def figure(
    section: str,
    kind: str,
    unit: str,
    *,
    required: bool = True,
    default: Any = MISSING,
    fallback: str | None = None,
    key: str | None = None,
    most: float | None = None,
) -> Any:
    """A `ChipSpec` field read from `section.key` of a profile (see the module docstring).

    `required` figures have no dataclass default unless `default` is given (board figures:
    required in a `board:` section, 1 chip or no link cost without one)."""
    meta = {"section": section, "kind": kind, "unit": unit, "required": required,
            "fallback": fallback, "key": key, "most": most}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def _opt(section: str, kind: str, unit: str, default: Any = 0.0, **kw: Any) -> Any:
    """An optional figure: absent from older profiles, which keep their meaning."""
    return figure(section, kind, unit, required=False, default=default, **kw)


@dataclass(frozen=True)
class ChipSpec:
    """Resolved chip figures (published value, else the documented assumption).

    Cores are numbered router-major: core `k` sits on router `k // cores_per_router`, router `r`
    at mesh position (row, col) = divmod(r, cols).
    """

    name: str
    description: str
    path: str
    rows: int = figure("mesh", "count", "routers", most=MAX_CORES_TOTAL)
    cols: int = figure("mesh", "count", "routers", most=MAX_CORES_TOTAL)
    # a router with more core slots than a chip system can have is a typo (and its core table
    # would take gigabytes): assumption, 1,024 (Loihi 4, SpiNNaker 2's QPE 4, TrueNorth 1)
    cores_per_router: int = figure("mesh", "count", "cores", most=1024)
    cores_total: int = figure("mesh", "count", "cores", most=MAX_CORES_TOTAL)
    # assumption: 2^24 = 16.8 M neurons per core, 256x Speck's 65,536 and 2,048x Loihi 2's
    neurons_per_core: int = figure("core", "count", "neurons", most=1 << 24)
    synapse_memory_bits_per_core: float = figure("core", "limit", "bits")
    synapse_weight_bits: float = figure("core", "number", "bits", most=64)
    shared_weights: bool = figure("core", "bool", "")
    fan_in_axons_per_core: float = figure("core", "limit", "axons")
    fan_out_cores_per_neuron: float = figure("core", "limit", "cores")
    layers_per_core: float = figure("core", "limit", "layers")
    max_destinations_per_layer: float = figure("core", "limit", "destinations")
    fuse_pooling: bool = figure("core", "bool", "")
    kernel_memory_words: tuple[int, ...] | None = figure("core", "words", "words per core")
    neuron_memory_words: tuple[int, ...] | None = figure("core", "words", "words per core")
    multicast: bool = figure("routing", "bool", "")
    link_bandwidth_spikes_per_s: float = figure("routing", "limit", "spikes/s")
    energy_synop_j: float = figure("energy", "number", "J")
    energy_neuron_update_j: float = figure("energy", "number", "J")
    energy_router_j: float = figure("energy", "number", "J")
    energy_hop_j: float = figure("energy", "number", "J")
    power_static_w: float = figure("energy", "number", "W")
    latency_synop_s: float = figure("timing", "number", "s")
    latency_neuron_update_s: float = figure("timing", "number", "s")
    latency_router_s: float = figure("timing", "number", "s")
    latency_link_s: float = figure("timing", "number", "s")
    latency_barrier_s: float = figure("timing", "number", "s")
    timestep_s: float = figure("timing", "number", "s")
    # optional figures, added after the first profiles
    energy_synop_dense_j: float = _opt("energy", "number", "J", fallback="energy_synop_j")
    energy_synop_conv_j: float = _opt("energy", "number", "J", fallback="energy_synop_j")
    # the idle draw of the board or system around the chip (clocks, interfaces, regulators):
    # reported beside the chip's energy, never added to it (0 where no figure is published)
    power_board_idle_w: float = _opt("energy", "number", "W")
    energy_neuron_state_update_j: float = _opt("energy", "number", "J")
    energy_spike_j: float = _opt("energy", "number", "J")
    energy_message_j: float = _opt("energy", "number", "J")
    energy_message_in_j: float = _opt("energy", "number", "J")
    latency_synop_dense_s: float = _opt("timing", "number", "s", fallback="latency_synop_s")
    latency_synop_conv_s: float = _opt("timing", "number", "s", fallback="latency_synop_s")
    latency_neuron_state_update_s: float = _opt("timing", "number", "s")
    latency_spike_s: float = _opt("timing", "number", "s")
    latency_message_s: float = _opt("timing", "number", "s")
    latency_message_in_s: float = _opt("timing", "number", "s")
    # absent: tick when timestep_s > 0, else barrier
    step_model: str = _opt("timing", "model", "", default="barrier")
    # a core's receive work (messages in, synaptic events) and send work (neuron sweep,
    # updates, spikes, messages out) overlap (time = the longer) instead of adding up
    core_overlap: bool = _opt("timing", "bool", "", default=False)
    # {tiles: seconds}: barrier of the largest key <= routers in use (SANA-FE's table model)
    latency_barrier_by_tiles_s: tuple[tuple[int, float], ...] | None = _opt(
        "timing", "table", "s", default=None
    )
    # a neuron whose destinations exceed fan_out_cores_per_neuron is relayed by splitter
    # neurons on extra cores (TrueNorth practice) instead of making the network infeasible
    splitter_neurons: bool = _opt("core", "bool", "", default=False)
    # one memory pool per core shared by neuron state, synapses and input-axon routing (Loihi 2):
    # a piece fits when neurons x neuron_state_bits + synapse bits (dense connections at
    # synapse_weight_bits_dense, shared conv kernels and the rest at synapse_weight_bits) + input
    # axons x axon_bits <= the pool, besides the limits above; absent (.inf): no pool, as before
    memory_pool_bits_per_core: float = _opt("core", "limit", "bits", default=math.inf)
    neuron_state_bits: float = _opt("core", "number", "bits")
    axon_bits: float = _opt("core", "number", "bits")
    synapse_weight_bits_dense: float = _opt(
        "core", "number", "bits", fallback="synapse_weight_bits", most=4096
    )
    # a board's chips as a grid, and the links that cross a chip boundary (`board:` section)
    board_rows: int = figure("board", "count", "chips", default=1, key="chip_rows", most=4096)
    board_cols: int = figure("board", "count", "chips", default=1, key="chip_cols", most=4096)
    chip_link_bandwidth_spikes_per_s: float = figure(
        "board", "limit", "spikes/s", default=math.inf, key="link_bandwidth_spikes_per_s"
    )
    chip_latency_link_s: float = figure("board", "number", "s", default=0.0, key="latency_link_s")
    chip_energy_hop_j: float = figure("board", "number", "J", default=0.0, key="energy_hop_j")
    board_name: str = ""  # empty for a single chip
    # the profile's `search:` budgets (max_cores, max_latency_s, max_energy_j, max_link_util):
    # defaults for a search tool, only those the profile gives; empty when it has no section
    search_budgets: Mapping[str, float] = field(default_factory=dict, compare=False)
    # "section.field" -> source text, or "FITTED: <measurement>" / "ASSUMED: <assumption>"
    provenance: Mapping[str, str] = field(default_factory=dict, compare=False)
    # what the chip can run at all (the profile's `capabilities:` section; allows everything
    # when absent): checked by hwsim.capabilities before any cost
    capabilities: Capabilities = field(default=ALLOW_ALL, compare=False)
    # field name -> (low, high): how far a fitted or assumed figure may be off (`range:`)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict, compare=False)

    @property
    def n_chips(self) -> int:
        return self.board_rows * self.board_cols

    @property
    def mesh_rows(self) -> int:
        """Rows of the system mesh (the chips' meshes tiled over the board)."""
        return self.rows * self.board_rows

    @property
    def mesh_cols(self) -> int:
        return self.cols * self.board_cols

    @property
    def n_routers(self) -> int:
        """Routers of the whole system mesh."""
        return self.mesh_rows * self.mesh_cols

    @property
    def cores_per_chip(self) -> int:
        """Usable cores of one chip: the published total, capped by what its mesh can hold."""
        return min(self.cores_total, self.rows * self.cols * self.cores_per_router)

    @property
    def n_cores(self) -> int:
        return self.cores_per_chip * self.n_chips

    def router_of_core(self, core: np.ndarray) -> np.ndarray:
        """System router of each core: cores are numbered chip by chip (so a mapping spills onto
        the next chip only when one is full), router-major inside a chip."""
        core = np.asarray(core, dtype=np.int64)
        chip, local = np.divmod(core, self.cores_per_chip)
        r, c = np.divmod(local // self.cores_per_router, self.cols)
        cr, cc = np.divmod(chip, self.board_cols)
        return (cr * self.rows + r) * self.mesh_cols + cc * self.cols + c

    def chip_of_router(self, router: np.ndarray) -> np.ndarray:
        """Chip index of each system router."""
        r, c = np.divmod(np.asarray(router, dtype=np.int64), self.mesh_cols)
        return (r // self.rows) * self.board_cols + c // self.cols

    def barrier_s(self, routers_used: int) -> float:
        """Barrier time for a mapping that occupies `routers_used` routers (tiles)."""
        table = self.latency_barrier_by_tiles_s
        if not table:
            return self.latency_barrier_s
        value = table[0][1]
        for tiles, seconds in table:
            if tiles <= routers_used:
                value = seconds
        return value

    def router_cores(self) -> np.ndarray:
        """(routers, cores_per_router) core ids at every system router, -1 where none."""
        table = np.full((self.n_routers, self.cores_per_router), -1, dtype=np.int64)
        cores = np.arange(self.n_cores)
        routers = self.router_of_core(cores)
        slot = cores % self.cores_per_chip % self.cores_per_router
        table[routers, slot] = cores
        return table
