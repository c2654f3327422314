"""Reading chip profiles: the strict YAML reader, the built-in profiles of the `chips` package,
and `parse_chip`, which validates a document against the schema `ChipSpec`'s fields generate
(`hwsim.chip.schema`) into a `ChipSpec`. The YAML format is described in `hwsim.chip`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from hwsim.chip.capability import parse_capabilities
from hwsim.chip.schema import (
    BUDGET_KEYS,
    BUDGET_NO_WHY,
    CHIP_SECTIONS,
    EXPECTED,
    FIGURES,
    OPTIONAL_TOP,
    SEARCH,
    TOP_LEVEL,
    check_value,
    only_keys,
    resolve_figure,
)
from hwsim.chip.spec import MAX_CORES_TOTAL, ChipSpec
from hwsim.errors import HwsimInputError, require_regular_file

MAX_PROFILE_BYTES = 1 << 20  # a profile is a page of YAML; a bigger file is not one


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
    provenance: dict[str, str] = {}
    ranges: dict[str, tuple[float, float]] = {}
    values = _section_figures(data, CHIP_SECTIONS, path, provenance, ranges)
    for name in ("kernel_memory_words", "neuron_memory_words"):
        words = values[name]
        if words is not None and len(words) != values["cores_total"]:
            raise HwsimInputError(
                path, f"core.{name}", f"one entry per core ({values['cores_total']})"
            )
    board_name = ""
    if "board" in data:
        if values["kernel_memory_words"] is not None or values["neuron_memory_words"] is not None:
            raise HwsimInputError(path, "board", "a chip without per-core word memories")
        values.update(_section_figures(data, ("board",), path, provenance, ranges))
        board_name = data["name"]
    if "search" in data:
        budgets, search_prov = _search(data["search"], path)
        values["search_budgets"] = MappingProxyType(budgets)
        provenance.update(search_prov)
    if "capabilities" in data:
        values["capabilities"] = parse_capabilities(data["capabilities"], path)
    _check_sizes(values, path)
    return ChipSpec(
        name=data["name"],
        description=data["description"],
        path=path,
        provenance=MappingProxyType(provenance),
        ranges=MappingProxyType(ranges),
        board_name=board_name,
        **values,
    )


def _keep_range(raw: Mapping[str, Any], fig: Any, values: dict[str, Any],
                ranges: dict[str, tuple[float, float]]) -> None:
    """A fitted or assumed figure's `range` (checked by `resolve_figure`), by field name."""
    if "range" in raw:
        lo, hi = raw["range"]
        ranges[fig.name] = (float(lo), float(hi))


def _section_figures(
    data: Mapping[str, Any], sections: tuple[str, ...], path: str, provenance: dict[str, str],
    ranges: dict[str, tuple[float, float]],
) -> dict[str, Any]:
    """Every figure of `sections`, by `ChipSpec` field name: a required one must be there, an
    optional one takes its default (recorded in `provenance` as `DEFAULT: ...`)."""
    values: dict[str, Any] = {}
    for section in sections:
        raw = data[section]
        figs = [f for f in FIGURES if f.section == section]
        if not isinstance(raw, Mapping):
            keys = ", ".join(f.key for f in figs)
            raise HwsimInputError(path, section, f"a mapping of figures: {keys}")
        only_keys(raw, [f.key for f in figs], section, path)
        for fig in (f for f in figs if f.required):  # required first: defaults refer to them
            if fig.key not in raw:
                raise HwsimInputError(path, fig.where, "missing")
            values[fig.name], provenance[fig.where] = resolve_figure(raw[fig.key], fig, path)
            _keep_range(raw[fig.key], fig, values, ranges)
        for fig in (f for f in figs if not f.required):
            if fig.key in raw:
                values[fig.name], provenance[fig.where] = resolve_figure(raw[fig.key], fig, path)
                _keep_range(raw[fig.key], fig, values, ranges)
            else:
                values[fig.name], why = _default(fig.name, fig.fallback, fig.default, values)
                provenance[fig.where] = f"DEFAULT: not in profile; {why}"
    return values


def _default(name: str, fallback: str | None, default: Any, values: dict[str, Any]) -> tuple[Any, str]:
    """(value, why) of an optional figure a profile leaves out."""
    if name == "step_model":
        model = "tick" if values["timestep_s"] > 0 else "barrier"
        return model, f"{model} (from timestep_s)"
    if name == "latency_barrier_by_tiles_s":
        return None, "the fixed latency_barrier_s used"
    if fallback is not None:
        return values[fallback], f"{fallback} used"
    return default, f"{default} used"


def _check_sizes(values: dict[str, Any], path: str) -> None:
    """The system's cores and routers within what hwsim can hold (each core and router has
    arrays; 10^8 routers is gigabytes), and no router with more core slots than there are
    cores (a `cores_per_router` typo would size the core table by it)."""
    if values["cores_per_router"] > values["cores_total"]:
        raise HwsimInputError(path, "mesh.cores_per_router",
                              f"at most cores_total ({values['cores_total']})")
    n_chips = values.get("board_rows", 1) * values.get("board_cols", 1)
    routers = values["rows"] * values["cols"] * n_chips
    if min(values["cores_total"], routers * values["cores_per_router"]) * n_chips > MAX_CORES_TOTAL:
        raise HwsimInputError(path, "mesh", f"at most {MAX_CORES_TOTAL} cores in the system")
    if routers > MAX_CORES_TOTAL:
        raise HwsimInputError(path, "mesh.rows", f"at most {MAX_CORES_TOTAL} routers in the system")


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
        sectioned = key in CHIP_SECTIONS or key in ("search", "capabilities")  # merged key by key, not replaced
        if sectioned and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _search(raw: Any, path: str) -> tuple[dict[str, float], dict[str, str]]:
    """The `search:` budgets: each a plain number or {value: x, why: "..."} (see `hwsim.chip`)."""
    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, "search", "a mapping of budgets: " + ", ".join(SEARCH))
    budgets: dict[str, float] = {}
    provenance: dict[str, str] = {}
    only_keys(raw, SEARCH, "search", path)
    for key, item in raw.items():
        where, kind, why, value = f"search.{key}", SEARCH[key], BUDGET_NO_WHY, item
        if isinstance(item, Mapping):
            only_keys(item, BUDGET_KEYS, where, path)
            if "value" not in item:
                raise HwsimInputError(path, f"{where}.value", "missing")
            if not isinstance(item.get("why"), str) or not item["why"].strip():
                raise HwsimInputError(
                    path, f"{where}.why", "a non-empty text (or give the budget as a plain number)"
                )
            value, why, where = item["value"], item["why"], f"{where}.value"
        if not check_value(value, kind):
            raise HwsimInputError(path, where, EXPECTED[kind])
        budgets[str(key)] = value if kind == "budget_count" else float(value)
        provenance[f"search.{key}"] = f"BUDGET: {why}"
    return budgets, provenance


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses duplicate keys (YAML silently keeps the last one)."""


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        self.key, self.line = key, line


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


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)
# YAML 1.1 reads 3.44e9 (no dot, no sign) as text; accept it as the number everyone means
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
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
    if len(text) > MAX_PROFILE_BYTES:
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
    """Directory of the packaged profiles (the top-level `chips` package; works installed or
    editable, from any cwd)."""
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
            str(name_or_path), "chip",
            f"a built-in profile ({', '.join(list_chips())}) or a YAML path",
        )
    return parse_chip(_read_yaml(path), str(path))
