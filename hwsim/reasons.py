"""Why a network cannot run on a chip, as data: one :class:`Reason` per broken rule.

A refusal used to be a sentence, and callers (the chip search) recognised a budget by matching
words in it. A `Reason` carries what a program needs (which rule, which layer, the number needed
and the limit) beside the sentence a person reads, so the wording can change without breaking
anyone, and a search can count which rule refuses most architectures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, get_args

# The closed set of rules a network can break. Chip rules come from the profile; budget rules
# from the caller's limits (hwsim checks only max_cores; the others are the search's budgets).
ReasonKind = Literal[
    "neurons_per_core",  # one neuron's piece already exceeds the neurons of a core
    "synapse_memory",  # synapse bits of a single neuron > the core's synapse memory
    "axons_per_core",  # input axons of a single neuron > the core's fan-in
    "core_memory_words",  # Speck: a layer's kernel/neuron words fit no free core
    "layers_per_chip",  # Speck: more spiking layers than cores (one layer per core)
    "destinations_per_layer",  # a layer sends to more layers than the chip allows
    "chip_cores",  # the pieces (and splitter cores) need more cores than the chip/board has
    "fan_out",  # a neuron reaches more cores than allowed and the profile has no splitters
    "splitter_neurons_per_core",  # a relayed neuron needs more splitters than a core holds
    # capability rules (the chip's `capabilities:`): what it can run at all, checked first
    "neuron_model",  # a neuron model the chip cannot run (e.g. a leaky LIF on Speck)
    "pooling",  # a pooling kind or window the chip cannot do (max-pool on Speck)
    "distinct_weights",  # more distinct weights into one neuron than allowed (TrueNorth: 4)
    "bias",  # a bias the chip cannot hold (none at all, or more than its bias memory)
    "stride",  # a conv stride the chip does not support
    "kernel",  # a conv kernel too large (or not square where it must be)
    "padding",  # a conv padding too large
    "max_cores",  # budget: cores > the caller's max_cores (--max-cores)
    "max_latency",  # budget: time per timestep > --max-latency
    "max_energy",  # budget: energy per inference > --max-energy
    "max_link_util",  # budget: busiest link's utilisation > --max-link-util
]
KINDS: frozenset[str] = frozenset(get_args(ReasonKind))
BUDGET_KINDS: frozenset[str] = frozenset({"max_cores", "max_latency", "max_energy", "max_link_util"})
# the rules of what a chip can run at all (no partition or budget changes them)
CAPABILITY_KINDS: frozenset[str] = frozenset(
    {"neuron_model", "pooling", "distinct_weights", "bias", "stride", "kernel", "padding"}
)


@dataclass(frozen=True)
class Reason:
    """One broken rule: `kind` (see `ReasonKind`), the `layer` it concerns (None: the whole
    network), what the network `needed` and the `limit`, and `message`, the one-line text."""

    kind: ReasonKind
    layer: str | None
    needed: float
    limit: float
    message: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Reason.kind: expected one of {sorted(KINDS)}, got {self.kind!r}")

    @property
    def is_budget(self) -> bool:
        """Whether a caller's budget (not the chip) refuses: a looser budget would admit it."""
        return self.kind in BUDGET_KINDS

    @property
    def is_capability(self) -> bool:
        """Whether the chip cannot run this kind of network at all (model, pooling, weights,
        bias, conv geometry): no mapping or budget admits it."""
        return self.kind in CAPABILITY_KINDS

    @property
    def rule(self) -> tuple[str, str | None]:
        """(kind, layer): the same rule across architectures whose numbers differ."""
        return self.kind, self.layer

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields (infinite limits, e.g. no fan-out limit, stay floats)."""
        return asdict(self)


def messages(reasons: tuple[Reason, ...]) -> tuple[str, ...]:
    """The one-line texts of `reasons`, in order (what a person reads)."""
    return tuple(r.message for r in reasons)
