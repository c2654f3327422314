"""Chip profiles: YAML validated into an immutable `ChipSpec`.

Every figure in a profile is a small mapping so that its provenance travels with it::

    neurons_per_core: {value: 1024, source: "Davies et al. 2018, IEEE Micro, Sec. 3"}
    link_bandwidth_spikes_per_s: {value: null, assumed: 3.44e9, assumption: "not published; ..."}

`value` is the published figure (then `source` is required); `value: null` means nothing is
published and `assumed` + `assumption` give the number used instead and why. The loader rejects
unknown keys, missing fields and negative or non-numeric values with one `HwsimInputError`
naming the file and the dotted field, so a profile typo never turns into a silent default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from hwsim.errors import HwsimInputError

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
TOP_LEVEL = ("name", "description", *SCHEMA)
FIGURE_KEYS = ("value", "source", "assumed", "assumption")
_EXPECTED = {
    "count": "a positive integer",
    "limit": "a positive number (or .inf for no limit)",
    "number": "a non-negative number",
    "bool": "true or false",
    "words": "a list of positive integers (or null when not applicable)",
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
    # "section.field" -> source text, or "ASSUMED: <assumption>" where nothing is published
    provenance: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def n_routers(self) -> int:
        return self.rows * self.cols

    @property
    def n_cores(self) -> int:
        """Usable cores: the published total, capped by what the modelled mesh can hold."""
        return min(self.cores_total, self.n_routers * self.cores_per_router)


def _check_value(value: Any, kind: str) -> bool:
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
    if kind == "count":
        return isinstance(value, int) and value > 0
    if kind == "limit":
        return value > 0
    return math.isfinite(value) and value >= 0


def _resolve_figure(raw: Any, kind: str, where: str, path: str) -> tuple[Any, str]:
    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, where, "a mapping with keys value and source (or assumed)")
    for key in raw:
        if key not in FIGURE_KEYS:
            raise HwsimInputError(
                path, f"{where}.{key}", f"unknown key; allowed: {', '.join(FIGURE_KEYS)}"
            )
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


def parse_chip(data: Any, path: str) -> ChipSpec:
    """Validate an already-parsed YAML document; `path` is only used in error messages."""
    if not isinstance(data, Mapping):
        raise HwsimInputError(path, "<top>", "a YAML mapping with keys " + ", ".join(TOP_LEVEL))
    for key in data:
        if key not in TOP_LEVEL:
            raise HwsimInputError(path, str(key), f"unknown key; allowed: {', '.join(TOP_LEVEL)}")
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
        for key in raw_section:
            if key not in fields:
                raise HwsimInputError(
                    path, f"{section}.{key}", f"unknown key; allowed: {', '.join(fields)}"
                )
        for name, kind in fields.items():
            if name not in raw_section:
                raise HwsimInputError(path, f"{section}.{name}", "missing")
            value, source = _resolve_figure(raw_section[name], kind, f"{section}.{name}", path)
            values[name] = float(value) if kind in ("limit", "number") else value
            provenance[f"{section}.{name}"] = source
    for name in ("kernel_memory_words", "neuron_memory_words"):
        words = values[name]
        if words is not None and len(words) != values["cores_total"]:
            raise HwsimInputError(
                path, f"core.{name}", f"one entry per core ({values['cores_total']})"
            )
    return ChipSpec(
        name=data["name"],
        description=data["description"],
        path=path,
        provenance=MappingProxyType(provenance),
        **values,
    )


def builtin_chip_dir() -> Path:
    """Directory of the packaged profiles (works installed or editable, from any cwd)."""
    return Path(str(resources.files("chips")))


def list_chips() -> list[str]:
    """Names of the built-in profiles, sorted."""
    return sorted(p.stem for p in builtin_chip_dir().glob("*.yaml"))


def load_chip(name_or_path: str | Path) -> ChipSpec:
    """Load a built-in profile by name (`loihi2`) or any YAML file by path."""
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        path = candidate
    else:
        path = builtin_chip_dir() / f"{text}.yaml"
        if not path.is_file():
            raise HwsimInputError(
                text, "chip", f"a built-in profile ({', '.join(list_chips())}) or a YAML path"
            )
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise HwsimInputError(path, "file", f"a readable YAML file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise HwsimInputError(path, "file", "a UTF-8 text YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "syntax"
        raise HwsimInputError(path, where, "valid YAML") from None
    return parse_chip(data, str(path))
