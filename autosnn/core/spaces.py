"""Search spaces as data: the macro backbone (slots and down-sampling) and the candidate blocks.

A space is a frozen :class:`SpaceSpec`; an architecture is a tuple of block names, one per slot,
that serialises to the genotype text (``SRB_k3,skip,...``). Sampling, mutation and
crossover (in :mod:`autosnn.search.evolution`) are functions over these tuples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from autosnn.core.blocks import list_blocks
from autosnn.core.errors import AutosnnError
from autosnn.core.registry import Registry

DEFAULT_CANDIDATES: tuple[str, ...] = ("skip", "SCB_k3", "SCB_k5", "SRB_k3", "SRB_k5")

Genotype = tuple[str, ...]


@dataclass(frozen=True)
class Slot:
    """A TBD (to-be-decided) slot: channel multipliers of C in and out, and stride."""

    cin: int
    cout: int
    stride: int = 1


@dataclass(frozen=True)
class Down:
    """A fixed down-sampling layer between slots: ``maxpool`` (on spikes) or ``avgpool`` + PLIF."""

    kind: str


@dataclass(frozen=True)
class SpaceSpec:
    """A macro backbone: ordered slots and down-sampling layers, optional GAP before the FC."""

    name: str
    layout: tuple[Slot | Down, ...]
    gap: bool = False
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES
    description: str = ""
    slots: tuple[Slot, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "slots", tuple(x for x in self.layout if isinstance(x, Slot)))

    @property
    def final_mult(self) -> int:
        """Channel multiplier of the last feature map (feeds the FC layer)."""
        return self.slots[-1].cout

    @property
    def size(self) -> int:
        """Number of architectures in the space."""
        return len(self.candidates) ** len(self.slots)

    def parse(self, text: str | Genotype, *, candidates_only: bool = False) -> Genotype:
        """Parse genotype text; errors name the slot, the bad name and the allowed names."""
        text = resolve_genotype(self.name, text)
        names = tuple(s.strip() for s in text.split(",")) if isinstance(text, str) else tuple(text)
        if len(names) != len(self.slots):
            raise AutosnnError(
                f"genotype {','.join(names)!r} has {len(names)} slots; space {self.name} "
                f"needs {len(self.slots)} (one block name per slot, comma-separated)"
            )
        allowed = self.candidates if candidates_only else tuple(list_blocks())
        for i, name in enumerate(names, start=1):
            if name not in allowed:
                raise AutosnnError(
                    f"genotype slot {i}: unknown block {name!r}; allowed: {', '.join(allowed)}"
                )
        return names

    def sample(self, rng: random.Random) -> Genotype:
        """One architecture drawn uniformly from the candidates."""
        return tuple(rng.choice(self.candidates) for _ in self.slots)

    def with_candidates(self, candidates: tuple[str, ...]) -> SpaceSpec:
        """The same backbone with another candidate set (validated)."""
        known = set(list_blocks())
        bad = [c for c in candidates if c not in known]
        if bad or not candidates:
            raise AutosnnError(
                f"candidate set {candidates!r}: unknown {bad}; allowed: {', '.join(sorted(known))}"
            )
        return SpaceSpec(self.name, self.layout, self.gap, tuple(candidates), self.description)


def genotype_text(genotype: Genotype) -> str:
    """Canonical text of a genotype."""
    return ",".join(genotype)


_M = Down("maxpool")
_A = Down("avgpool")

# The registered macro backbones; a new space is one ``SPACES.add(name, SpaceSpec(...))``.
SPACES: Registry[SpaceSpec] = Registry("search space")
for _spec in (
        SpaceSpec(
            "snn1",
            (Slot(1, 1), _M, Slot(1, 2), Slot(2, 2), _M, Slot(2, 4), Slot(4, 4), _M),
            description="AutoSNN space: 5 slots, max-pool down-sampling (paper default)",
        ),
        SpaceSpec(
            "snn2",
            (Slot(1, 1), _M, Slot(1, 2), Slot(2, 2), _M, Slot(2, 4), Slot(4, 4), _M),
            gap=True,
            description="SNN_1 + global average pooling and PLIF before the FC layer",
        ),
        SpaceSpec(
            "snn3",
            (
                Slot(1, 1),
                Slot(1, 2, 2),
                Slot(2, 2),
                Slot(2, 2),
                Slot(2, 4, 2),
                Slot(4, 4),
                Slot(4, 4),
                Slot(4, 4, 2),
            ),
            description="stride-2 TBD slots instead of max-pool (8 slots)",
        ),
        SpaceSpec(
            "snn4",
            (Slot(1, 1), _A, Slot(1, 2), Slot(2, 2), _A, Slot(2, 4), Slot(4, 4), _A),
            description="SNN_1 with 2x2 average pooling + PLIF down-sampling",
        ),
        SpaceSpec(
            "snn1-8",
            (
                Slot(1, 1),
                Slot(1, 1),
                _M,
                Slot(1, 2),
                Slot(2, 2),
                Slot(2, 2),
                _M,
                Slot(2, 4),
                Slot(4, 4),
                Slot(4, 4),
                _M,
            ),
            description="SNN_1 with an extra slot before each max-pool (8 slots, Table 6)",
        ),
):
    SPACES.add(_spec.name, _spec)


def get_space(name: str) -> SpaceSpec:
    """Look up a space by name; unknown names list the known ones."""
    return SPACES.get(name)


def list_spaces() -> list[str]:
    """Names of the registered search spaces."""
    return SPACES.names()


# The paper's searched architectures (Table 2, snn1, CIFAR-10), by name: ``build`` and
# ``--genotype`` accept these names wherever a genotype text is expected.
GENOTYPES: Registry[tuple[str, Genotype]] = Registry("searched genotype")
for _lam, _text in (
    ("0", "SRB_k5,SRB_k5,SRB_k5,SCB_k5,SRB_k5"),
    ("0.08", "SRB_k5,SRB_k5,skip,SRB_k3,SRB_k5"),
    ("0.16", "SRB_k5,SRB_k5,skip,SRB_k5,SRB_k5"),
    ("0.24", "skip,SRB_k5,skip,SCB_k5,SRB_k5"),
):
    GENOTYPES.add(f"autosnn-lam{_lam}", ("snn1", tuple(_text.split(","))))
# "AutoSNN" in the paper's tables is the lambda = -0.08 winner.
DEFAULT_GENOTYPE = "autosnn-lam0.08"


def resolve_genotype(space: str, text: str | Genotype) -> str | Genotype:
    """A registered genotype name -> its block names (checked to belong to ``space``)."""
    if isinstance(text, str) and text in GENOTYPES:
        home, geno = GENOTYPES.get(text)
        if home != space:
            raise AutosnnError(f"genotype {text!r} is an architecture of {home}, not {space}")
        return geno
    return text
