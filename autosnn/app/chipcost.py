"""The thin adapter that lets the spike-aware search optimise for a target chip.

It is the one place (besides the CLI) where autosnn, the exporters and hwsim meet: a candidate
genotype is built, exported to NIR, given the spike activity the search measured for it (spikes
of every spiking layer at every timestep, and the input's, from the same pass that measured its
accuracy), and costed by :func:`hwsim.estimate` on a chip profile. The search core only sees a
cost callable (:func:`autosnn.search.fitness.make_fitness` turns it into a fitness).

Within a layer, the measured spikes of a timestep are spread evenly over the layer's neurons
(the search records per-layer totals, not per-neuron counts); across layers and timesteps the
measurement is kept, so where the spikes are and when reaches the chip model.

A candidate that does not fit the chip, or breaks a budget (:class:`Budgets`), costs +inf: it is
infeasible, recorded with its binding constraint, and never a winner. The budgets used are the
chip profile's ``search:`` defaults, each overridden by the option the user gave
(:meth:`Budgets.with_defaults`); every budget remembers where it came from, so a limit nothing
meets can say "from the profile: override it with --max-energy".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import hwsim
from autosnn.core.build import build
from autosnn.core.errors import AutosnnError
from autosnn.core.registry import Registry
from autosnn.core.spaces import Genotype, SpaceSpec
from autosnn.search.fitness import Evaluation

# What the chip search minimises, from an hwsim cost record (units in the name).
METRICS: Registry[Callable[[Any], float | None]] = Registry("chip metric")
METRICS.add("energy", lambda rec: rec.energy_total_j)  # J per inference
METRICS.add("latency", lambda rec: rec.time_per_timestep_s)  # s per timestep
METRICS.add("link-util", lambda rec: rec.max_link_utilisation)  # busiest link, fraction
UNITS = {"energy": "J/inference", "latency": "s/timestep", "link-util": "link utilisation"}


# budget field -> (CLI option, what it limits with its unit)
OPTIONS = {
    "max_cores": ("--max-cores", "cores"),
    "max_latency_s": ("--max-latency", "latency per timestep (s)"),
    "max_energy_j": ("--max-energy", "energy per inference (J)"),
    "max_link_util": ("--max-link-util", "peak link utilisation"),
}


@dataclass(frozen=True)
class Budgets:
    """Limits a deployable network must meet on the chip (None = no limit).

    ``profile`` names the chip profile file whose ``search:`` section gave the budgets listed in
    ``from_profile``; every other budget that is set was given explicitly (a CLI option).
    """

    max_cores: int | None = None
    max_latency_s: float | None = None  # per timestep
    max_energy_j: float | None = None  # per inference
    max_link_util: float | None = None  # busiest link's utilisation, 0..1
    profile: str | None = None
    from_profile: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if value is not None and not (math.isfinite(value) and value > 0):
                raise AutosnnError(f"{OPTIONS[name][0]}: expected a number > 0, got {value}")
        unknown = self.from_profile - {n for n, v in self.to_dict().items() if v is not None}
        if unknown or (self.from_profile and self.profile is None):
            raise AutosnnError(f"Budgets.from_profile: {sorted(unknown)} not set from a profile")

    def with_defaults(self, profile: Any) -> Budgets:
        """These budgets over a chip profile's ``search:`` defaults: a budget given here (not
        None) wins; one left None takes the profile's value, if it has one."""
        defaults = getattr(profile, "search_budgets", {}) or {}
        values: dict[str, Any] = {}
        taken: set[str] = set()
        for name, given in self.to_dict().items():
            if given is None and defaults.get(name) is not None:
                values[name] = defaults[name]
                taken.add(name)
            else:
                values[name] = given
        if not taken:
            return Budgets(**values)
        return Budgets(**values, profile=str(profile.path), from_profile=frozenset(taken))

    @property
    def active(self) -> bool:
        """Whether any budget is set (from the profile or an option)."""
        return any(v is not None for v in self.to_dict().values())

    def origin(self, name: str) -> str | None:
        """Where budget ``name`` came from: "profile", "cli" (given explicitly), None (unset)."""
        if name in self.from_profile:
            return "profile"
        return None if getattr(self, name) is None else "cli"

    def origins(self) -> dict[str, str | None]:
        """:meth:`origin` of every budget (search.json / sweep.json / report.md record it)."""
        return {name: self.origin(name) for name in OPTIONS}

    def note(self, name: str) -> str:
        """For a budget taken from the profile, where it came from and how to change it (users
        who never typed ``--max-energy`` must learn that it is the option to give)."""
        if name not in self.from_profile:
            return ""
        option = OPTIONS[name][0]
        return f" (default from the search: section of {self.profile}; give {option} to override)"

    def describe(self, name: str) -> str:
        """``--max-energy 2e-05``, plus :meth:`note`."""
        return f"{OPTIONS[name][0]} {getattr(self, name):g}{self.note(name)}"

    def binding(self, rec: Any) -> str | None:
        """The first constraint ``rec`` breaks (chip rules first), or None when it fits."""
        if not rec.feasible:
            why = "does not fit: " + "; ".join(rec.reasons)
            # hwsim names --max-cores when the core budget (not the chip) is what does not fit
            return why + (self.note("max_cores") if "--max-cores" in why else "")
        checks = [
            ("max_cores", rec.cores_used),
            ("max_latency_s", rec.time_per_timestep_s),
            ("max_energy_j", rec.energy_total_j),
            ("max_link_util", rec.max_link_utilisation),
        ]
        for name, value in checks:
            limit = getattr(self, name)
            if limit is not None and value is not None and value > limit:
                return f"{OPTIONS[name][1]} {value:.4g} > {self.describe(name)}"
        return None

    def to_dict(self) -> dict[str, float | None]:
        """The four limits by name (None = no limit), without their origins."""
        return {name: getattr(self, name) for name in OPTIONS}


@dataclass(frozen=True)
class ChipTarget:
    """What the search optimises for: a chip profile (name or YAML path), a metric, budgets."""

    chip: str
    metric: str = "energy"
    placement: str = "greedy"
    budgets: Budgets = Budgets()

    def __post_init__(self) -> None:
        METRICS.get(self.metric)  # unknown metrics list the valid ones


class ChipCost:
    """Cost of the architectures of one space (fixed widths) on one chip, cached per genotype."""

    def __init__(
        self,
        target: ChipTarget,
        *,
        space: SpaceSpec,
        channels: int,
        num_classes: int,
        input_shape: tuple[int, int, int],
        timesteps: int,
    ) -> None:
        self.profile = check_chip(target.chip)
        self.target = target
        # the budgets in force: the options given, over the profile's `search:` defaults
        self.budgets = target.budgets.with_defaults(self.profile)
        self.space = space
        self.timesteps = timesteps
        self.arch = dict(channels=channels, num_classes=num_classes,
                         input_shape=tuple(input_shape), timesteps=timesteps)
        self._records: dict[tuple, Any] = {}
        self._network = functools.lru_cache(maxsize=4096)(self._network_uncached)
        # architectures that cannot map onto the chip, whatever their activity: never evaluated
        self.rejected: dict[Genotype, str] = {}
        self._admitted: set[Genotype] = set()

    def _network_uncached(self, genotype: Genotype) -> Any:
        from exporters.nir_export import to_nir

        net = build(self.space.name, genotype, **self.arch)  # type: ignore[arg-type]
        return hwsim.network_from_nir(to_nir(net), where=",".join(genotype))

    def admissible(self, genotype: Genotype) -> bool:
        """Whether an architecture maps onto the chip at all (per-core limits, cores with the
        --max-cores budget, fan-out): its structure decides, so the search rejects the ones that
        cannot before spending an evaluation on them. Deterministic and cached."""
        g = tuple(genotype)
        if g in self._admitted:
            return True
        if g in self.rejected:
            return False
        reasons = hwsim.fit_reasons(self._network(g), self.profile,
                                    max_cores=self.budgets.max_cores, first=True)
        if reasons:
            self.rejected[g] = "does not fit: " + "; ".join(reasons)
            return False
        self._admitted.add(g)
        return True

    def rejections(self, examples: int = 5) -> dict[str, Any]:
        """JSON-able summary of the architectures rejected before evaluation."""
        items = list(self.rejected.items())[:examples]
        return {"count": len(self.rejected),
                "examples": [{"genotype": ",".join(g), "why": why} for g, why in items]}

    def activity(self, e: Evaluation) -> hwsim.Activity:
        """hwsim activity of a candidate from its measured per-layer, per-timestep spikes."""
        if not e.activity:
            raise AutosnnError(
                f"{','.join(e.genotype)}: no measured activity (an evaluation from an older "
                "search state); rerun the search without --resume"
            )
        network = self._network(tuple(e.genotype))
        sizes = {layer.name: layer.size for layer in network.layers}
        counts = {}
        for name, steps in e.activity.items():
            if name not in sizes:
                raise AutosnnError(f"measured layer {name!r} is not a node of the NIR graph")
            per_step = np.asarray(steps, dtype=np.float64) / sizes[name]  # (T,)
            counts[name] = np.repeat(per_step[:, None], sizes[name], axis=1)
        return hwsim.Activity(counts, timesteps=self.timesteps, samples=1,
                              source="search (measured per layer and timestep)")

    def record(self, e: Evaluation) -> Any:
        """The hwsim cost record of a candidate with its measured activity (cached)."""
        g = tuple(e.genotype)
        key = (g, tuple(sorted((e.activity or {}).items())))
        if key not in self._records:
            self._records[key] = hwsim.estimate(
                self._network(g), self.activity(e), self.profile, placement=self.target.placement,
                max_cores=self.budgets.max_cores,
            )
        return self._records[key]

    def binding(self, e: Evaluation) -> str | None:
        """Why a candidate is infeasible on this chip within the budgets (None: feasible)."""
        return self.budgets.binding(self.record(e))

    def cost(self, e: Evaluation) -> float:
        """The target metric of a candidate; +inf when infeasible."""
        if self.binding(e) is not None:
            return math.inf
        value = METRICS.get(self.target.metric)(self.record(e))
        return math.inf if value is None else float(value)

    def reference_cost(self, evaluations: list[Evaluation]) -> float:
        """Mean cost of the feasible ones among ``evaluations`` (a seeded random sample of the
        space): ``Cost_ref`` of the fitness, so lambda means the same on every chip."""
        costs = [c for c in (self.cost(e) for e in evaluations) if math.isfinite(c)]
        if not costs:
            reasons = sorted({self.binding(e) or "" for e in evaluations})
            raise AutosnnError(
                f"chip {self.profile.name}: none of {len(evaluations)} sampled architectures of "
                f"{self.space.name} is feasible ({reasons[0]}); try fewer channels (see "
                "`hwsim fit`), a board profile, or looser budgets"
            )
        return sum(costs) / len(costs)

    def summary(self, e: Evaluation) -> dict[str, Any]:
        """JSON-able chip figures of one candidate (winner files, report)."""
        rec = self.record(e)
        return {
            "chip": self.profile.name,
            "feasible": self.binding(e) is None,
            "binding": self.binding(e),
            "cores_used": rec.cores_used,
            "chips_used": getattr(rec, "chips_used", 1),
            "energy_per_inference_j": rec.energy_total_j,
            "energy_dynamic_j": getattr(rec, "energy_dynamic_j", None),
            "energy_static_j": rec.energy_static_j,
            "time_per_timestep_s": rec.time_per_timestep_s,
            "latency_per_inference_s": rec.latency_per_inference_s,
            "max_link_utilisation": rec.max_link_utilisation,
            "assumptions": list(rec.assumptions),
        }


def check_chip(chip: str) -> Any:
    """The validated profile of ``chip`` (a built-in name or a YAML path); a bad profile, its
    ``search:`` budgets included, is one :class:`AutosnnError` naming the file and field."""
    try:
        return hwsim.load_chip(chip_path(chip))
    except hwsim.HwsimInputError as exc:
        raise AutosnnError(str(exc)) from None


def chip_path(chip: str) -> str:
    """Accept ``loihi2``, ``loihi2.yaml`` (built-in) or a path to a YAML profile."""
    p = Path(chip)
    if p.suffix in (".yaml", ".yml") and not p.exists() and p.stem in hwsim.list_chips():
        return p.stem
    return chip
