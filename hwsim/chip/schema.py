"""The YAML schema of a chip profile, generated from `ChipSpec`'s fields, and the checks of one
figure against its kind and range. A figure is one of (a measurement beats a datasheet, a
datasheet beats an assumption, and the profile says which):

    {value: 4096, source: "Akopyan 2015, Table 1"}                     published
    {value: null, fitted: 0.8e-9, measurement: "Intel's PilotNet run"}  fitted to a measurement
    {value: null, assumed: 8, assumption: "why", range: [4, 16]}        assumed (range optional)

`range: [low, high]` (numbers, low <= value <= high) may follow a fitted or assumed number: how
far the figure may be off; `hwsim estimate --uncertainty` costs a network at both ends.

Kinds: count = positive integer; limit = positive number, .inf allowed (no limit); number =
non-negative finite number; bool; words = list of positive integers or null; model = a timestep
model; table = {routers in use: seconds}. A figure's `most` (field metadata) caps it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from hwsim.chip.spec import ChipSpec
from hwsim.errors import HwsimInputError

STEP_MODELS = ("barrier", "tick", "async")
FIGURE_KEYS = ("value", "source", "assumed", "assumption", "fitted", "measurement", "range")
EXPECTED = {
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


class Figure:
    """One `ChipSpec` field as the YAML sees it (from the field's metadata)."""

    def __init__(self, name: str, meta: Mapping[str, Any], default: Any) -> None:
        self.name = name  # the ChipSpec field
        self.section: str = meta["section"]
        self.key: str = meta["key"] or name  # the YAML key inside the section
        self.kind: str = meta["kind"]
        self.unit: str = meta["unit"]
        self.required: bool = meta["required"]
        self.fallback: str | None = meta["fallback"]
        self.most: float | None = meta["most"]
        self.default = default

    @property
    def where(self) -> str:
        return f"{self.section}.{self.key}"

    def expected(self) -> str:
        """What a value must be, with the unit and the cap: the error text."""
        text = EXPECTED[self.kind] + (f" ({self.unit})" if self.unit else "")
        if self.most is None:
            return text
        return text + f", at most {int(self.most) if self.most == int(self.most) else self.most}"


FIGURES: tuple[Figure, ...] = tuple(
    Figure(f.name, f.metadata, f.default) for f in fields(ChipSpec) if "section" in f.metadata
)
CHIP_SECTIONS = ("mesh", "core", "routing", "energy", "timing")
# the tables the loader checks a profile against, generated from the fields above:
# required figures {section: {key: kind}}, optional {section: {key: (kind, default)}} (a str
# default names the figure it falls back to), board figures {key: kind}
SCHEMA: dict[str, dict[str, str]] = {
    s: {f.key: f.kind for f in FIGURES if f.section == s and f.required} for s in CHIP_SECTIONS
}
OPTIONAL: dict[str, dict[str, tuple[str, Any]]] = {
    s: {f.key: (f.kind, f.fallback or f.default) for f in FIGURES
        if f.section == s and not f.required}
    for s in CHIP_SECTIONS
}
OPTIONAL = {s: table for s, table in OPTIONAL.items() if table}
BOARD: dict[str, str] = {f.key: f.kind for f in FIGURES if f.section == "board"}
# search budgets (optional `search:` section): name -> kind; see hwsim.chip's docstring
SEARCH: dict[str, str] = {
    "max_cores": "budget_count",  # cores
    "max_latency_s": "budget",  # seconds per timestep
    "max_energy_j": "budget",  # joules per inference
    "max_link_util": "fraction",  # busiest link's utilisation
}
BUDGET_KEYS = ("value", "why")
BUDGET_NO_WHY = "set in the profile"  # provenance of a budget given as a plain number
TOP_LEVEL = ("name", "description", *CHIP_SECTIONS)
OPTIONAL_TOP = ("base", "board", "search", "capabilities")


def check_value(value: Any, kind: str, most: float | None = None) -> bool:
    """Whether `value` is of `kind` (module docstring) and at most `most`."""
    if kind == "table":
        return (
            isinstance(value, Mapping)
            and len(value) > 0
            and all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in value)
            and all(check_value(v, "number") for v in value.values())
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
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return False
    if most is not None and value > most:
        return False
    if kind in ("count", "budget_count"):
        return isinstance(value, int) and value > 0
    if kind == "budget":
        return math.isfinite(value) and value > 0
    if kind == "fraction":
        return 0 < value <= 1
    if kind == "limit":
        return value > 0
    return math.isfinite(value) and value >= 0


def only_keys(raw: Mapping, allowed: Any, where: str, path: str) -> None:
    """A typo'd key is an error naming it, never silently ignored."""
    for key in raw:
        if key not in allowed:
            raise HwsimInputError(
                path, f"{where}.{key}", f"unknown key; allowed: {', '.join(allowed)}"
            )


def resolve_figure(raw: Any, fig: Figure, path: str) -> tuple[Any, str]:
    """(value, provenance) of one figure: the published value and its source, else the
    assumed value and `ASSUMED: <assumption>`; numbers as float, words as a tuple."""
    where = f"{fig.section}.{fig.key}"
    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, where, "a mapping with keys value and source (or assumed)")
    only_keys(raw, FIGURE_KEYS, where, path)
    if "value" not in raw:
        raise HwsimInputError(path, f"{where}.value", "missing (use null if not published)")
    if raw["value"] is not None:
        if not check_value(raw["value"], fig.kind, fig.most):
            raise HwsimInputError(path, f"{where}.value", fig.expected())
        if "range" in raw:
            raise HwsimInputError(path, f"{where}.range", "only for a fitted or assumed figure")
        return _typed(raw["value"], fig.kind), _text(raw, "source", where, path)
    number, why = ("fitted", "measurement") if "fitted" in raw else ("assumed", "assumption")
    for key in (number, why):
        if key not in raw:
            raise HwsimInputError(path, f"{where}.{key}", "missing: value is null, so give it "
                                  "(fitted + measurement, or assumed + assumption)")
    text = _text(raw, why, where, path)
    if not check_value(raw[number], fig.kind, fig.most):
        raise HwsimInputError(path, f"{where}.{number}", fig.expected())
    value = _typed(raw[number], fig.kind)
    if "range" in raw:
        check_range(raw["range"], value, fig, f"{where}.range", path)
    return value, f"{number.upper()}: {text}"


def _text(raw: Mapping, key: str, where: str, path: str) -> str:
    text = raw.get(key)
    if not isinstance(text, str) or not text.strip():
        raise HwsimInputError(path, f"{where}.{key}", "a non-empty text")
    return text


def check_range(raw: Any, value: Any, fig: Figure, where: str, path: str) -> tuple[float, float]:
    """`[low, high]`: finite numbers of the figure's kind with low <= value <= high."""
    ok = (isinstance(raw, list) and len(raw) == 2 and fig.kind in ("number", "limit", "count")
          and all(check_value(v, fig.kind, fig.most) and math.isfinite(v) for v in raw))
    if not ok or not raw[0] <= value <= raw[1]:
        raise HwsimInputError(path, where, f"[low, high] with low <= {value} <= high, each "
                              f"{fig.expected()}")
    return float(raw[0]), float(raw[1])


def _typed(value: Any, kind: str) -> Any:
    if kind == "words":
        return None if value is None else tuple(value)
    if kind == "table":
        return tuple(sorted((int(k), float(v)) for k, v in value.items()))
    return float(value) if kind in ("limit", "number") else value
