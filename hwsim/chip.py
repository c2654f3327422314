"""Chip profiles: YAML validated into an immutable `ChipSpec`.

Every figure in a profile is a small mapping so that its provenance travels with it::

    neurons_per_core: {value: 1024, source: "Davies et al. 2018, IEEE Micro, Sec. 3"}
    link_bandwidth_spikes_per_s: {value: null, assumed: 3.44e9, assumption: "not published; ..."}

`value` is the published figure (then `source` is required); `value: null` means nothing is
published and `assumed` + `assumption` give the number used instead and why. The loader rejects
unknown keys, missing fields and negative or non-numeric values with one `HwsimInputError`
naming the file and the dotted field, so a profile typo never turns into a silent default.

Figures added after the first profiles (per-message energy, activity-dependent neuron costs,
separate dense / conv synaptic figures, the timestep model) are OPTIONAL: a profile without them
keeps its old meaning, and the default used is recorded in `provenance` as `DEFAULT: ...`.

A profile may describe a board (system) of several chips with a `board:` section, and may inherit
every chip figure from a built-in profile with `base: <name>`, overriding only what it lists::

    base: loihi2
    board:
      chip_rows: {value: 2, source: ...}
      chip_cols: {value: 4, source: ...}
      link_bandwidth_spikes_per_s: {value: null, assumed: 1.0e+8, assumption: ...}
      latency_link_s: {...}
      energy_hop_j: {...}

The chips' meshes are tiled into one system mesh (chip-to-chip links join the edge routers of
neighbouring chips, as Loihi's and TrueNorth's meshes tile); the links that cross a chip boundary
take the board's bandwidth, latency and energy.

A profile may also carry an optional `search:` section: the budgets a deployment on this chip
must meet, which a search tool uses as its defaults (its own options override them)::

    search:
      max_cores: 64                                  # cores
      max_latency_s: 5.0e-4                          # seconds per timestep
      max_energy_j: {value: 2.0e-5, why: "battery: 10 k inferences per 0.2 J"}  # J per inference
      max_link_util: 0.5                             # busiest link's utilisation, (0, 1]

Budgets are a user's choice, not a published figure, so they carry no `source:`; each is a plain
number (reads best for a quick limit) or `{value: x, why: "..."}` when the reason should travel
with it (recorded in `provenance` as `BUDGET: <why>`). Every key is optional; an unknown key, a
wrong type, NaN or infinity, a value <= 0, a fractional core count or a link utilisation > 1 is
one `HwsimInputError` naming the file and `search.<key>`. A `base:` profile inherits the base's
`search:` keys and overrides those it lists. hwsim only parses and validates the section (it is
exposed as `ChipSpec.search_budgets`, empty when absent); it never applies it itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from hwsim.errors import HwsimInputError, require_regular_file

# kind of each figure: count = positive integer; limit = positive number, .inf allowed (no limit);
# number = non-negative finite number; bool; words = list of positive integers or null.
SCHEMA: dict[str, dict[str, str]] = {
    "mesh": {
        "rows": "count",
        "cols": "count",
        "cores_per_router": "count",
        "cores_total": "count",
    },
    "core": {
        "neurons_per_core": "count",
        "synapse_memory_bits_per_core": "limit",
        "synapse_weight_bits": "number",
        "shared_weights": "bool",
        "fan_in_axons_per_core": "limit",
        "fan_out_cores_per_neuron": "limit",
        "layers_per_core": "limit",
        "max_destinations_per_layer": "limit",
        "fuse_pooling": "bool",
        "kernel_memory_words": "words",
        "neuron_memory_words": "words",
    },
    "routing": {
        "multicast": "bool",
        "link_bandwidth_spikes_per_s": "limit",
    },
    "energy": {
        "energy_synop_j": "number",
        "energy_neuron_update_j": "number",
        "energy_router_j": "number",
        "energy_hop_j": "number",
        "power_static_w": "number",
    },
    "timing": {
        "latency_synop_s": "number",
        "latency_neuron_update_s": "number",
        "latency_router_s": "number",
        "latency_link_s": "number",
        "latency_barrier_s": "number",
        "timestep_s": "number",
    },
}
# optional figures: name -> (kind, default); a str default names the figure it falls back to
OPTIONAL: dict[str, dict[str, tuple[str, Any]]] = {
    "core": {
        # a neuron whose destinations exceed fan_out_cores_per_neuron is relayed by splitter
        # neurons on extra cores (TrueNorth practice) instead of making the network infeasible
        "splitter_neurons": ("bool", False),
    },
    "energy": {
        "energy_synop_dense_j": ("number", "energy_synop_j"),
        "energy_synop_conv_j": ("number", "energy_synop_j"),
        "energy_neuron_state_update_j": ("number", 0.0),
        "energy_spike_j": ("number", 0.0),
        "energy_message_j": ("number", 0.0),
        "energy_message_in_j": ("number", 0.0),
    },
    "timing": {
        "latency_synop_dense_s": ("number", "latency_synop_s"),
        "latency_synop_conv_s": ("number", "latency_synop_s"),
        "latency_neuron_state_update_s": ("number", 0.0),
        "latency_spike_s": ("number", 0.0),
        "latency_message_s": ("number", 0.0),
        "latency_message_in_s": ("number", 0.0),
        "step_model": ("model", None),  # None: tick when timestep_s > 0, else barrier
        # a core's receive work (messages in, synaptic events) and send work (neuron sweep,
        # updates, spikes, messages out) overlap (time = the longer) instead of adding up
        "core_overlap": ("bool", False),
        # {tiles: seconds}: barrier of the largest key <= routers in use (SANA-FE's table model)
        "latency_barrier_by_tiles_s": ("table", None),
    },
}
BOARD: dict[str, str] = {
    "chip_rows": "count",
    "chip_cols": "count",
    "link_bandwidth_spikes_per_s": "limit",
    "latency_link_s": "number",
    "energy_hop_j": "number",
}
# search budgets (optional `search:` section): name -> kind; see the module docstring
SEARCH: dict[str, str] = {
    "max_cores": "budget_count",  # cores
    "max_latency_s": "budget",  # seconds per timestep
    "max_energy_j": "budget",  # joules per inference
    "max_link_util": "fraction",  # busiest link's utilisation
}
BUDGET_KEYS = ("value", "why")
BUDGET_NO_WHY = "set in the profile"  # provenance of a budget given as a plain number
STEP_MODELS = ("barrier", "tick", "async")
TOP_LEVEL = ("name", "description", *SCHEMA)
OPTIONAL_TOP = ("base", "board", "search")
MAX_CORES_TOTAL = 1 << 18  # 262,144 cores or routers: beyond the boards modelled, within memory
FIGURE_KEYS = ("value", "source", "assumed", "assumption")
_EXPECTED = {
    "count": "a positive integer",
    "limit": "a positive number (or .inf for no limit)",
    "number": "a non-negative number",
    "bool": "true or false",
    "words": "a list of positive integers (or null when not applicable)",
    "model": f"one of {', '.join(STEP_MODELS)}",
    "table": "a mapping {routers in use (positive int): seconds (non-negative)}",
    "budget_count": "a positive integer",
    "budget": "a finite number > 0",
    "fraction": "a number in (0, 1]",
}


@dataclass(frozen=True)
class ChipSpec:
    """Resolved chip figures (published value, else the documented assumption).

    Cores are numbered router-major: core `k` sits on router `k // cores_per_router`, router `r`
    at mesh position (row, col) = divmod(r, cols).
    """

    name: str
    description: str
    path: str
    rows: int
    cols: int
    cores_per_router: int
    cores_total: int
    neurons_per_core: int
    synapse_memory_bits_per_core: float
    synapse_weight_bits: float
    shared_weights: bool
    fan_in_axons_per_core: float
    fan_out_cores_per_neuron: float
    layers_per_core: float
    max_destinations_per_layer: float
    fuse_pooling: bool
    kernel_memory_words: tuple[int, ...] | None
    neuron_memory_words: tuple[int, ...] | None
    multicast: bool
    link_bandwidth_spikes_per_s: float
    energy_synop_j: float
    energy_neuron_update_j: float
    energy_router_j: float
    energy_hop_j: float
    power_static_w: float
    latency_synop_s: float
    latency_neuron_update_s: float
    latency_router_s: float
    latency_link_s: float
    latency_barrier_s: float
    timestep_s: float
    energy_synop_dense_j: float = 0.0
    energy_synop_conv_j: float = 0.0
    energy_neuron_state_update_j: float = 0.0
    energy_spike_j: float = 0.0
    energy_message_j: float = 0.0
    energy_message_in_j: float = 0.0
    latency_synop_dense_s: float = 0.0
    latency_synop_conv_s: float = 0.0
    latency_neuron_state_update_s: float = 0.0
    latency_spike_s: float = 0.0
    latency_message_s: float = 0.0
    latency_message_in_s: float = 0.0
    step_model: str = "barrier"
    core_overlap: bool = False
    latency_barrier_by_tiles_s: tuple[tuple[int, float], ...] | None = None
    splitter_neurons: bool = False
    board_rows: int = 1  # chips on the board, as a grid
    board_cols: int = 1
    chip_link_bandwidth_spikes_per_s: float = math.inf
    chip_latency_link_s: float = 0.0
    chip_energy_hop_j: float = 0.0
    board_name: str = ""  # empty for a single chip
    # the profile's `search:` budgets (max_cores, max_latency_s, max_energy_j, max_link_util):
    # defaults for a search tool, only those the profile gives; empty when it has no section
    search_budgets: Mapping[str, float] = field(default_factory=dict, compare=False)
    # "section.field" -> source text, or "ASSUMED: <assumption>" where nothing is published
    provenance: Mapping[str, str] = field(default_factory=dict, compare=False)

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


def _check_value(value: Any, kind: str) -> bool:
    if kind == "table":
        return (
            isinstance(value, Mapping)
            and len(value) > 0
            and all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in value)
            and all(_check_value(v, "number") for v in value.values())
        )
    if kind == "model":
        return isinstance(value, str) and value in STEP_MODELS
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "words":
        return value is None or (
            isinstance(value, list)
            and len(value) > 0
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if math.isnan(value):
        return False
    if kind == "budget_count":
        return isinstance(value, int) and value > 0
    if kind == "budget":
        return math.isfinite(value) and value > 0
    if kind == "fraction":
        return 0 < value <= 1
    if kind == "count":
        return isinstance(value, int) and value > 0
    if kind == "limit":
        return value > 0
    return math.isfinite(value) and value >= 0


def _only_keys(raw: Mapping, allowed: Any, where: str, path: str) -> None:
    """A typo'd key is an error naming it, never silently ignored."""
    for key in raw:
        if key not in allowed:
            raise HwsimInputError(
                path, f"{where}.{key}", f"unknown key; allowed: {', '.join(allowed)}"
            )


def _resolve_figure(raw: Any, kind: str, where: str, path: str) -> tuple[Any, str]:
    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, where, "a mapping with keys value and source (or assumed)")
    _only_keys(raw, FIGURE_KEYS, where, path)
    if "value" not in raw:
        raise HwsimInputError(path, f"{where}.value", "missing (use null if not published)")
    value = raw["value"]
    if value is not None:
        if not _check_value(value, kind):
            raise HwsimInputError(path, f"{where}.value", _EXPECTED[kind])
        source = raw.get("source")
        if not isinstance(source, str) or not source.strip():
            raise HwsimInputError(path, f"{where}.source", "a non-empty text naming the source")
        return (tuple(value) if kind == "words" else value), source
    for key in ("assumed", "assumption"):
        if key not in raw:
            raise HwsimInputError(path, f"{where}.{key}", "missing: value is null, so give it")
    assumption = raw["assumption"]
    if not isinstance(assumption, str) or not assumption.strip():
        raise HwsimInputError(path, f"{where}.assumption", "a non-empty text")
    assumed = raw["assumed"]
    if not _check_value(assumed, kind):
        raise HwsimInputError(path, f"{where}.assumed", _EXPECTED[kind])
    if kind == "words" and assumed is not None:
        assumed = tuple(assumed)
    return assumed, f"ASSUMED: {assumption}"


def _merge_base(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    """A profile with `base: <built-in>` inherits that profile's figures, section by section."""
    base = data["base"]
    if not isinstance(base, str) or base not in list_chips():
        raise HwsimInputError(path, "base", f"a built-in profile ({', '.join(list_chips())})")
    raw = _read_yaml(builtin_chip_dir() / f"{base}.yaml")
    if not isinstance(raw, Mapping) or "base" in raw:
        raise HwsimInputError(path, "base", "a built-in single-chip profile (no nested base)")
    merged: dict[str, Any] = {k: v for k, v in raw.items() if k != "board"}
    for key, value in data.items():
        if key == "base":
            continue
        sectioned = key in SCHEMA or key == "search"  # merged key by key, not replaced
        if sectioned and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _board(raw: Any, path: str) -> tuple[dict[str, Any], dict[str, str]]:
    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, "board", "a mapping of board figures: " + ", ".join(BOARD))
    for key in raw:
        if key not in BOARD:
            raise HwsimInputError(path, f"board.{key}", f"unknown key; allowed: {', '.join(BOARD)}")
    values: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for name, kind in BOARD.items():
        if name not in raw:
            raise HwsimInputError(path, f"board.{name}", "missing")
        value, source = _resolve_figure(raw[name], kind, f"board.{name}", path)
        values[name] = float(value) if kind in ("limit", "number") else value
        provenance[f"board.{name}"] = source
    return {
        "board_rows": values["chip_rows"],
        "board_cols": values["chip_cols"],
        "chip_link_bandwidth_spikes_per_s": values["link_bandwidth_spikes_per_s"],
        "chip_latency_link_s": values["latency_link_s"],
        "chip_energy_hop_j": values["energy_hop_j"],
    }, provenance


def _search(raw: Any, path: str) -> tuple[dict[str, float], dict[str, str]]:
    """The `search:` budgets: each a plain number or {value: x, why: "..."} (module docstring)."""
    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, "search", "a mapping of budgets: " + ", ".join(SEARCH))
    budgets: dict[str, float] = {}
    provenance: dict[str, str] = {}
    for key, item in raw.items():
        where = f"search.{key}"
        if key not in SEARCH:
            raise HwsimInputError(path, where, f"unknown key; allowed: {', '.join(SEARCH)}")
        kind = SEARCH[key]
        why = BUDGET_NO_WHY
        if isinstance(item, Mapping):
            _only_keys(item, BUDGET_KEYS, where, path)
            if "value" not in item:
                raise HwsimInputError(path, f"{where}.value", "missing")
            if not isinstance(item.get("why"), str) or not item["why"].strip():
                raise HwsimInputError(
                    path, f"{where}.why", "a non-empty text (or give the budget as a plain number)"
                )
            value, why, where = item["value"], item["why"], f"{where}.value"
        else:
            value = item
        if not _check_value(value, kind):
            raise HwsimInputError(path, where, _EXPECTED[kind])
        budgets[str(key)] = value if kind == "budget_count" else float(value)
        provenance[f"search.{key}"] = f"BUDGET: {why}"
    return budgets, provenance


def parse_chip(data: Any, path: str) -> ChipSpec:
    """Validate an already-parsed YAML document; `path` is only used in error messages."""
    if not isinstance(data, Mapping):
        raise HwsimInputError(path, "<top>", "a YAML mapping with keys " + ", ".join(TOP_LEVEL))
    for key in data:
        if key not in TOP_LEVEL and key not in OPTIONAL_TOP:
            allowed = ", ".join((*TOP_LEVEL, *OPTIONAL_TOP))
            raise HwsimInputError(path, str(key), f"unknown key; allowed: {allowed}")
    if "base" in data:
        data = _merge_base(data, path)
    for key in TOP_LEVEL:
        if key not in data:
            raise HwsimInputError(path, key, "missing")
    for key in ("name", "description"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise HwsimInputError(path, key, "a non-empty text")
    values: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for section, fields in SCHEMA.items():
        raw_section = data[section]
        if not isinstance(raw_section, Mapping):
            raise HwsimInputError(path, section, "a mapping of figures")
        optional = OPTIONAL.get(section, {})
        for key in raw_section:
            if key not in fields and key not in optional:
                allowed = ", ".join((*fields, *optional))
                raise HwsimInputError(path, f"{section}.{key}", f"unknown key; allowed: {allowed}")
        for name, kind in fields.items():
            if name not in raw_section:
                raise HwsimInputError(path, f"{section}.{name}", "missing")
            value, source = _resolve_figure(raw_section[name], kind, f"{section}.{name}", path)
            values[name] = float(value) if kind in ("limit", "number") else value
            provenance[f"{section}.{name}"] = source
    for section, optional_fields in OPTIONAL.items():
        for name, (kind, default) in optional_fields.items():
            where = f"{section}.{name}"
            if name in data[section]:
                value, source = _resolve_figure(data[section][name], kind, where, path)
                if kind == "table":
                    value = tuple(sorted((int(k), float(v)) for k, v in value.items()))
                values[name] = float(value) if kind == "number" else value
                provenance[where] = source
            elif name == "step_model":
                values[name] = "tick" if values["timestep_s"] > 0 else "barrier"
                provenance[where] = f"DEFAULT: not in profile; {values[name]} (from timestep_s)"
            elif kind == "table":
                values[name] = None
                provenance[where] = "DEFAULT: not in profile; the fixed latency_barrier_s used"
            elif isinstance(default, str):
                values[name] = values[default]
                provenance[where] = f"DEFAULT: not in profile; {default} used"
            else:
                values[name] = default
                provenance[where] = f"DEFAULT: not in profile; {default} used"
    for name in ("kernel_memory_words", "neuron_memory_words"):
        words = values[name]
        if words is not None and len(words) != values["cores_total"]:
            raise HwsimInputError(
                path, f"core.{name}", f"one entry per core ({values['cores_total']})"
            )
    board_name = ""
    if "board" in data:
        board, board_prov = _board(data["board"], path)
        values.update(board)
        provenance.update(board_prov)
        board_name = data["name"]
        if values["kernel_memory_words"] is not None or values["neuron_memory_words"] is not None:
            raise HwsimInputError(path, "board", "a chip without per-core word memories")
    if "search" in data:
        budgets, search_prov = _search(data["search"], path)
        values["search_budgets"] = MappingProxyType(budgets)
        provenance.update(search_prov)
    n_chips = values.get("board_rows", 1) * values.get("board_cols", 1)
    routers = values["rows"] * values["cols"] * n_chips
    if min(values["cores_total"], routers * values["cores_per_router"]) * n_chips > MAX_CORES_TOTAL:
        raise HwsimInputError(path, "mesh", f"at most {MAX_CORES_TOTAL} cores in the system")
    if routers > MAX_CORES_TOTAL:
        raise HwsimInputError(path, "mesh.rows", f"at most {MAX_CORES_TOTAL} routers in the system")
    return ChipSpec(
        name=data["name"],
        description=data["description"],
        path=path,
        provenance=MappingProxyType(provenance),
        board_name=board_name,
        **values,
    )


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses duplicate keys (YAML silently keeps the last one)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict):
            raise yaml.constructor.ConstructorError(
                None, None, "unhashable key", key_node.start_mark
            )
        if key in seen:
            raise _DuplicateKey(str(key), key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        self.key, self.line = key, line


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)
# YAML 1.1 reads 3.44e9 (no dot, no sign) as text; accept it as the number everyone means
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    __import__("re").compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _read_yaml(path: Path) -> Any:
    """Parse a YAML file strictly; every failure is one HwsimInputError naming the file."""
    require_regular_file(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise HwsimInputError(path, "file", f"a readable YAML file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise HwsimInputError(path, "file", "a UTF-8 text YAML file") from None
    if len(text) > 1 << 20:
        raise HwsimInputError(path, "file", "a chip profile under 1 MiB")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKey as exc:
        raise HwsimInputError(
            path, f"line {exc.line}", f"key {exc.key!r} once (duplicate)"
        ) from None
    except RecursionError:
        raise HwsimInputError(path, "file", "a chip profile, not deeply nested YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "syntax"
        raise HwsimInputError(path, where, "valid YAML") from None


def builtin_chip_dir() -> Path:
    """Directory of the packaged profiles (works installed or editable, from any cwd)."""
    return Path(str(resources.files("chips")))


def list_chips() -> list[str]:
    """Names of the built-in profiles, sorted."""
    return sorted(p.stem for p in builtin_chip_dir().glob("*.yaml"))


def board_profiles(chip: str) -> list[str]:
    """Built-in board profiles whose `base:` is `chip`, fewest cores first."""
    out = []
    for name in list_chips():
        raw = _read_yaml(builtin_chip_dir() / f"{name}.yaml")
        if isinstance(raw, Mapping) and raw.get("base") == chip and "board" in raw:
            out.append(name)
    return sorted(out, key=lambda n: load_chip(n).n_cores)


def chip_path(name_or_path: str | Path) -> Path:
    """The file `load_chip` reads for a profile name (`loihi2`) or path (it may not exist)."""
    candidate = Path(str(name_or_path))
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return builtin_chip_dir() / f"{name_or_path}.yaml"


def load_chip(name_or_path: str | Path) -> ChipSpec:
    """Load a built-in profile by name (`loihi2`) or any YAML file by path."""
    path = chip_path(name_or_path)
    if path.parent == builtin_chip_dir() and not path.is_file():
        raise HwsimInputError(
            str(name_or_path), "chip", f"a built-in profile ({', '.join(list_chips())}) or a YAML path"
        )
    data = _read_yaml(path)
    return parse_chip(data, str(path))
