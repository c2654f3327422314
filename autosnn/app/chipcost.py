"""The thin adapter that lets the spike-aware search optimise for a target chip.

It is the one place (besides the CLI) where autosnn, the exporters and hwsim meet: a candidate
genotype is built, exported to NIR, given the spike activity the search measured, and costed by
:func:`hwsim.estimate` on a chip profile. The search core only ever sees a fitness callable.

Fitness on a chip mirrors Eq. 3 with the chip's cost in place of the spike count::

    F(A) = Acc(A) * (Cost(A) / Cost_ref) ** lambda        (lambda <= 0; 0 if A does not fit)

where Cost is energy per inference (or latency per inference) and ``Cost_ref`` the mean cost of
a fixed, seeded sample of architectures of the space firing at the super-network's Spikes_avg,
so lambda has the same meaning on every chip. The search measures total spikes per candidate;
they are spread over the candidate's neurons at one uniform rate (stated in every record).
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from pathlib import Path

import hwsim
from autosnn.core.build import build
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import Genotype, get_space
from autosnn.core.summary import summarize
from autosnn.search.fitness import Evaluation, Fitness

METRICS = ("energy", "latency")


@dataclass(frozen=True)
class ChipTarget:
    """What the search optimises for: a chip profile (name or YAML path) and a cost metric."""

    chip: str
    metric: str = "energy"
    placement: str = "greedy"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise AutosnnError(f"--chip-metric {self.metric!r}: expected one of {METRICS}")


class ChipCost:
    """Cost of an architecture of one space (fixed widths) on one chip, cached per genotype."""

    def __init__(
        self,
        target: ChipTarget,
        *,
        space: str,
        channels: int,
        num_classes: int,
        input_shape: tuple[int, int, int],
        timesteps: int,
        candidates: tuple[str, ...] | None = None,
    ) -> None:
        try:
            self.profile = hwsim.load_chip(target.chip)
        except hwsim.HwsimInputError as exc:
            raise AutosnnError(str(exc)) from None
        self.target = target
        self.space = get_space(space)
        if candidates:
            self.space = self.space.with_candidates(tuple(candidates))
        self._costs: dict[tuple[Genotype, float], float] = {}
        self.arch = dict(channels=channels, num_classes=num_classes,
                         input_shape=tuple(input_shape), timesteps=timesteps)
        self._graph = functools.lru_cache(maxsize=4096)(self._graph_uncached)

    def _graph_uncached(self, genotype: Genotype):  # type: ignore[no-untyped-def]
        from exporters.nir_export import to_nir

        net = build(self.space.name, genotype, **self.arch)  # type: ignore[arg-type]
        neurons = summarize(net).neurons
        return hwsim.network_from_nir(to_nir(net), where=",".join(genotype)), neurons

    def record(self, genotype: Genotype, spikes: float) -> hwsim.CostRecord:
        """The full hwsim cost record of ``genotype`` firing ``spikes`` per image in total."""
        network, neurons = self._graph(tuple(genotype))
        T = int(self.arch["timesteps"])  # type: ignore[call-overload]
        rate = min(1.0, max(0.0, spikes / max(1, neurons * T)))
        activity = hwsim.uniform_activity(rate=rate, timesteps=T)
        return hwsim.estimate(network, activity, self.profile, placement=self.target.placement)

    def cost(self, genotype: Genotype, spikes: float) -> float:
        """Energy (J) or latency (s) per inference; +inf when the network does not fit."""
        key = (tuple(genotype), float(spikes))
        if key not in self._costs:
            self._costs[key] = self._cost(*key)
        return self._costs[key]

    def _cost(self, genotype: Genotype, spikes: float) -> float:
        rec = self.record(genotype, spikes)
        value = (rec.energy_total_j if self.target.metric == "energy"
                 else rec.latency_per_inference_s)
        if not rec.feasible or value is None:
            return math.inf
        return float(value)

    def reference_cost(self, spikes_avg: float, *, samples: int = 8, seed: int = 0) -> float:
        """Mean cost of ``samples`` seeded random architectures firing ``spikes_avg`` per image
        (infeasible ones skipped); the normaliser of :func:`chip_fitness`."""
        rng = random.Random(seed)
        costs = [self.cost(self.space.sample(rng), spikes_avg) for _ in range(samples)]
        finite = [c for c in costs if math.isfinite(c)]
        if not finite:
            raise AutosnnError(
                f"chip {self.profile.name}: none of {samples} sampled architectures of "
                f"{self.space.name} fits (try fewer channels or another chip)"
            )
        return sum(finite) / len(finite)


def chip_fitness(lam: float, model: ChipCost, cost_ref: float) -> Fitness:
    """``Acc * (Cost / Cost_ref) ** lam``; architectures that do not fit score 0."""
    if lam > 0:
        raise AutosnnError(f"--lambda must be <= 0 (penalise cost), got {lam}")
    if not cost_ref > 0:
        raise AutosnnError(f"reference chip cost must be > 0, got {cost_ref}")

    def f(e: Evaluation) -> float:
        cost = model.cost(e.genotype, e.spikes)
        if not math.isfinite(cost):
            return 0.0
        if lam == 0:
            return e.accuracy
        return e.accuracy * math.pow(cost / cost_ref, lam)

    return f


def chip_summary(model: ChipCost, genotype: Genotype, spikes: float) -> dict:
    """JSON-able chip figures of one architecture (for winner files)."""
    rec = model.record(genotype, spikes)
    return {
        "chip": model.profile.name,
        "feasible": rec.feasible,
        "cores_used": rec.cores_used,
        "energy_per_inference_j": rec.energy_total_j,
        "latency_per_inference_s": rec.latency_per_inference_s,
        "max_link_utilisation": rec.max_link_utilisation,
        "assumptions": list(rec.assumptions),
    }


def chip_path(chip: str) -> str:
    """Accept ``loihi2``, ``loihi2.yaml`` (built-in) or a path to a YAML profile."""
    p = Path(chip)
    if p.suffix in (".yaml", ".yml") and not p.exists() and p.stem in hwsim.list_chips():
        return p.stem
    return chip
