"""What a chip can run at all (a profile's optional `capabilities:` section), as `Capabilities`.

The per-core figures say how much of a network fits; these say which networks a chip can run at
all, as its vendor toolchain states them (sinabs for Speck, the Corelet rules for TrueNorth):
the neuron models, the pooling kinds, the distinct weights one neuron may receive, bias, strides,
kernels, padding. Each entry is a figure with its provenance, like every other profile figure::

    capabilities:
      neuron_models: {value: [if], source: "sinabs: IAF only, LIF refused"}
      distinct_weights_per_neuron: {value: 4, source: "Merolla 2014: 4 axon types"}
      strides: {value: null, assumed: [1, 2], assumption: "why"}

Every key is optional; one a profile leaves out allows everything (the chip is not known to
refuse it), recorded as `DEFAULT: ...` in `Capabilities.provenance`. A profile without the
section allows every network, as before. A bad entry is one `HwsimInputError` naming the file
and `capabilities.<key>`. `hwsim.capabilities` checks a network against them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hwsim.errors import HwsimInputError

# neuron models a chip may run: "lif" = a membrane that decays (NIR LIF/LI with finite tau),
# "cuba_lif" = a synaptic current state that decays too (NIR CubaLIF/CubaLI), "if" = no leak
# (NIR IF, a LIF with infinite tau, a Threshold), "graded" = a layer whose output is a value, not
# a binary spike (the non-spiking integrators LI, CubaLI, I)
NEURON_MODELS = ("lif", "cuba_lif", "if", "graded")
POOL_KINDS = ("sum", "avg", "max")  # max: a pool read by a Threshold node (max-pool on spikes)


@dataclass(frozen=True)
class Capabilities:
    """What a chip can run; a field left at its default allows everything."""

    neuron_models: tuple[str, ...] = NEURON_MODELS
    pooling: tuple[str, ...] = POOL_KINDS
    pool_square: bool = False  # pool kernel square with stride == kernel (sinabs' rule)
    pool_sizes: tuple[int, ...] | None = None  # allowed pool kernel sides; None: any
    distinct_weights_per_neuron: float = math.inf  # distinct non-zero weights into one neuron
    bias: bool = True  # whether neurons take a bias (a constant input current)
    bias_per_layer: float = math.inf  # biased neurons (channels) one core's bias memory holds
    strides: tuple[int, ...] | None = None  # allowed conv strides per axis; None: any
    max_kernel: float = math.inf  # largest conv kernel side
    square_kernel: bool = False  # conv kernels must be square
    max_padding: float = math.inf  # largest conv padding per side
    # key -> source text, or "ASSUMED: ...", or "DEFAULT: ..." (not in the profile)
    provenance: Mapping[str, str] = field(default_factory=dict, compare=False)

    def table(self) -> dict[str, Any]:
        """The capabilities as plain values (for a report), `inf` as None."""
        out: dict[str, Any] = {}
        for key in KINDS:
            value = getattr(self, key)
            out[key] = None if isinstance(value, float) and math.isinf(value) else value
        return out


ALLOW_ALL = Capabilities(provenance={})
# key -> (kind, unit): the range check of each entry
KINDS: dict[str, tuple[str, str]] = {
    "neuron_models": ("neuron_models", ""),
    "pooling": ("pool_kinds", ""),
    "pool_square": ("bool", ""),
    "pool_sizes": ("sizes", "kernel sides"),
    "distinct_weights_per_neuron": ("limit", "values"),
    "bias": ("bool", ""),
    "bias_per_layer": ("limit", "neurons"),
    "strides": ("sizes", "strides"),
    "max_kernel": ("limit", "kernel side"),
    "square_kernel": ("bool", ""),
    "max_padding": ("limit", "pixels"),
}
EXPECTED = {
    "neuron_models": f"a list of neuron models, each one of {', '.join(NEURON_MODELS)}",
    "pool_kinds": f"a list of pooling kinds, each one of {', '.join(POOL_KINDS)} (may be empty)",
    "sizes": "a list of positive integers (or null: any)",
    "bool": "true or false",
    "limit": "a non-negative number (or .inf for no limit)",
}


def expected(key: str) -> str:
    """What a capabilities entry must be: the error text."""
    kind, unit = KINDS[key]
    return EXPECTED[kind] + (f" ({unit})" if unit else "")


def check_entry(value: Any, kind: str) -> bool:
    """Whether `value` is of a capabilities `kind` (see `EXPECTED`)."""
    if kind in ("neuron_models", "pool_kinds"):
        names = NEURON_MODELS if kind == "neuron_models" else POOL_KINDS
        return (isinstance(value, list) and all(isinstance(v, str) and v in names for v in value)
                and len(set(value)) == len(value) and (kind == "pool_kinds" or len(value) > 0))
    if kind == "sizes":
        return value is None or (
            isinstance(value, list) and len(value) > 0
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        )
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return False
    return value >= 0


def typed_entry(value: Any, kind: str) -> Any:
    if kind in ("neuron_models", "pool_kinds"):
        return tuple(value)
    if kind == "sizes":
        return None if value is None else tuple(value)
    return float(value) if kind == "limit" else value


def parse_capabilities(raw: Any, path: str) -> Capabilities:
    """The `capabilities:` section of a profile; one HwsimInputError per bad entry."""
    from hwsim.chip.schema import only_keys  # schema imports spec, which imports this module

    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, "capabilities", "a mapping of entries: " + ", ".join(KINDS))
    only_keys(raw, list(KINDS), "capabilities", path)
    values: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for key in KINDS:
        if key not in raw:
            provenance[key] = "DEFAULT: not in profile; no such rule known (allowed)"
            continue
        values[key], provenance[key] = _resolve(raw[key], key, path)
    return Capabilities(**values, provenance=provenance)


def _resolve(raw: Any, key: str, path: str) -> tuple[Any, str]:
    """(value, provenance) of one entry: its value checked here against the capabilities kinds,
    its shape (value + source, or null + assumed + assumption) by `resolve_figure`."""
    from hwsim.chip.schema import Figure, resolve_figure

    kind, where = KINDS[key][0], f"capabilities.{key}"
    if not isinstance(raw, Mapping):
        raise HwsimInputError(path, where, "a mapping with keys value and source (or assumed)")
    number = "value" if raw.get("value") is not None else "assumed"
    if number in raw and not check_entry(raw[number], kind):
        raise HwsimInputError(path, f"{where}.{number}", expected(key))
    if "range" in raw:
        raise HwsimInputError(path, f"{where}.range", "not for a capability")
    # the shape check, with a stand-in number in place of the (already checked) value
    stand_in = {**raw, number: 0} if number in raw else dict(raw)
    meta = {"section": "capabilities", "kind": "number", "unit": "", "required": False,
            "fallback": None, "key": key, "most": None}
    _, provenance = resolve_figure(stand_in, Figure(key, meta, None), path)
    return typed_entry(raw[number], kind), provenance
