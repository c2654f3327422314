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
infeasible, recorded with its binding constraint (an :class:`hwsim.Reason`: which rule, which
layer, needed and limit; the text is only for people), and never a winner. The budgets used are the
chip profile's ``search:`` defaults, each overridden by the option the user gave
(:meth:`Budgets.with_defaults`); every budget remembers where it came from, so a limit nothing
meets can say "from the profile: override it with --max-energy".
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import hwsim
from autosnn.app.chipfloor import infeasible_message
from autosnn.core.build import build
from autosnn.core.errors import AutosnnError
from autosnn.core.registry import Registry
from autosnn.core.spaces import Genotype, SpaceSpec
from autosnn.search.fitness import Evaluation

# What the chip search minimises, from an hwsim cost record (units in the name).
METRICS: Registry[Callable[[hwsim.CostRecord], float | None]] = Registry("chip metric")
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
# budget field -> the hwsim.Reason kind a breach of it is
KIND: dict[str, hwsim.ReasonKind] = {
    "max_cores": "max_cores", "max_latency_s": "max_latency", "max_energy_j": "max_energy",
    "max_link_util": "max_link_util",
}
# budget field -> the record's figure it limits
FIGURE: dict[str, Callable[[hwsim.CostRecord], float | None]] = {
    "max_cores": lambda rec: rec.cores_used,
    "max_latency_s": lambda rec: rec.time_per_timestep_s,
    "max_energy_j": lambda rec: rec.energy_total_j,
    "max_link_util": lambda rec: rec.max_link_utilisation,
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

    def with_defaults(self, profile: hwsim.ChipSpec) -> Budgets:
        """These budgets over a chip profile's ``search:`` defaults: a budget given here (not
        None) wins; one left None takes the profile's value, if it has one."""
        defaults = profile.search_budgets
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

    def breach(self, rec: hwsim.CostRecord) -> tuple[hwsim.Reason, ...]:
        """What ``rec`` breaks: the chip's refusals (the --max-cores budget among them), else
        the first budget it exceeds; empty when it fits within every budget."""
        if not rec.feasible:
            return rec.refusals
        for name in OPTIONS:
            limit, value = getattr(self, name), FIGURE[name](rec)
            if limit is not None and value is not None and value > limit:
                text = f"{OPTIONS[name][1]} {value:.4g} > {self.describe(name)}"
                return (hwsim.Reason(KIND[name], None, value, limit, text),)
        return ()

    def binding(self, rec: hwsim.CostRecord) -> str | None:
        """The constraint ``rec`` breaks as one line (chip rules first), or None when it fits."""
        return self.explain(self.breach(rec))

    def explain(self, reasons: tuple[hwsim.Reason, ...]) -> str | None:
        """One line for :meth:`breach`'s reasons (None when there are none); a core budget taken
        from the profile says how to override it."""
        if not reasons:
            return None
        if reasons[0].kind in KIND.values() and reasons[0].kind != "max_cores":
            return reasons[0].message  # a search budget: the line names its option
        why = "does not fit: " + "; ".join(r.message for r in reasons)
        return why + (self.note("max_cores") if any(r.kind == "max_cores" for r in reasons) else "")

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
        object.__setattr__(self, "chip", chip_path(self.chip))  # the one normalisation


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
        self.profile: hwsim.ChipSpec = check_chip(target.chip)
        self.target = target
        # the budgets in force: the options given, over the profile's `search:` defaults
        self.budgets = target.budgets.with_defaults(self.profile)
        self.space = space
        self.timesteps = timesteps
        self.arch = dict(channels=channels, num_classes=num_classes,
                         input_shape=tuple(input_shape), timesteps=timesteps)
        self._records: dict[tuple[Genotype, tuple[Any, ...]], hwsim.CostRecord] = {}
        self._ranges: dict[tuple[Genotype, tuple[Any, ...]], dict[str, list[float] | None]] = {}
        self._network = functools.lru_cache(maxsize=4096)(self._network_uncached)
        # architectures that cannot map onto the chip, whatever their activity: never evaluated;
        # every rule each one breaks (when single neurons break some, those), and how many
        # architectures each rule (kind, layer) refuses
        self.refusals: dict[Genotype, tuple[hwsim.Reason, ...]] = {}
        self._rule_count: Counter[tuple[str, str | None]] = Counter()
        self._admitted: set[Genotype] = set()

    def _network_uncached(self, genotype: Genotype) -> hwsim.Network:
        from exporters.nir_export import to_nir

        net = build(self.space.name, genotype, **self.arch)  # type: ignore[arg-type]
        with _hwsim_refusal(genotype, self.profile.name):
            return hwsim.network_from_nir(to_nir(net), where=",".join(genotype))

    def admissible(self, genotype: Genotype) -> bool:
        """Whether an architecture maps onto the chip at all (per-core limits, cores with the
        --max-cores budget, fan-out): its structure decides, so the search rejects the ones that
        cannot before spending an evaluation on them. Deterministic and cached."""
        g = tuple(genotype)
        if g in self._admitted:
            return True
        if g in self.refusals:
            return False
        with _hwsim_refusal(g, self.profile.name):
            reasons = hwsim.fit_reasons(self._network(g), self.profile,
                                        max_cores=self.budgets.max_cores, quick=True)
        if reasons:
            self.refusals[g] = reasons
            self._rule_count.update({r.rule for r in reasons})
            return False
        self._admitted.add(g)
        return True

    def binding_rule(self) -> tuple[hwsim.Reason, int] | None:
        """The rule that refuses the most rejected architectures (an example of it) and how
        many it refuses; None when none was rejected. Not the first rule found in layer order:
        a rule every architecture breaks (e.g. the head on TrueNorth at C = 8) is the one a
        user must change, even where an earlier layer also breaks a rule."""
        if not self._rule_count:
            return None
        rule, count = self._rule_count.most_common(1)[0]
        example = next(r for rs in self.refusals.values() for r in rs if r.rule == rule)
        return example, count

    def unmappable(self, drawn: int) -> str:
        """One line for a search none of whose ``drawn`` architectures maps onto the chip: the
        rule that refuses the most of them and what would admit them (a per-core limit that a
        single neuron breaks is not lifted by a board of more chips)."""
        top = self.binding_rule()
        if top is None:
            return f"chip {self.profile.name}: none of {drawn} architectures drawn maps onto it"
        why, count = top
        per_core = why.kind in ("axons_per_core", "synapse_memory", "neurons_per_core",
                                "core_memory_words", "layers_per_chip")
        fix = {
            "chip_cores": "a board profile (more chips) or fewer channels",
            "fan_out": "a profile that allows splitter neurons, or fewer channels",
            "max_cores": "a looser --max-cores budget",
        }.get(why.kind, "fewer channels (`hwsim fit` lists the widths that fit)"
              + ("; a board profile does not help: the limit is per core" if per_core else ""))
        return (f"chip {self.profile.name}: none of {drawn} architectures drawn maps onto it; "
                f"the rule that refuses {count} of them: {why.message}"
                f"{self.budgets.note('max_cores') if why.kind == 'max_cores' else ''}; try {fix}")

    def _attributed(self, reasons: tuple[hwsim.Reason, ...]) -> hwsim.Reason:
        """Of one architecture's refusals, the rule that refuses the most architectures."""
        return max(reasons, key=lambda r: self._rule_count[r.rule])

    @property
    def rejected(self) -> dict[Genotype, str]:
        """Each rejected architecture with its binding rule in words: of the rules it breaks,
        the one that refuses the most architectures (so counting these lines names that rule)."""
        return {g: self.budgets.explain((self._attributed(rs),)) or ""
                for g, rs in self.refusals.items()}

    def rejections(self, examples: int = 5) -> dict[str, Any]:
        """JSON-able summary of the architectures rejected before evaluation."""
        items = list(self.rejected.items())[:examples]
        top = self.binding_rule()
        return {"count": len(self.refusals),
                "binding_rule": None if top is None else {**top[0].to_dict(), "count": top[1]},
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

    def record(self, e: Evaluation, placement: str | None = None) -> hwsim.CostRecord:
        """The hwsim cost record of a candidate with its measured activity (cached), placed by
        the target's placement unless ``placement`` says otherwise."""
        g = tuple(e.genotype)
        placement = placement or self.target.placement
        key = self._key(e, placement)
        if key not in self._records:
            with _hwsim_refusal(g, self.profile.name):
                self._records[key] = hwsim.estimate(
                    self._network(g), self.activity(e), self.profile, placement=placement,
                    max_cores=self.budgets.max_cores,
                )
        return self._records[key]

    @staticmethod
    def _key(e: Evaluation, placement: str) -> tuple[Genotype, tuple[Any, ...]]:
        """A candidate's cache key: its architecture, placement and measured activity."""
        return (tuple(e.genotype), (placement, *sorted((e.activity or {}).items())))

    def ranges(self, e: Evaluation) -> dict[str, list[float] | None]:
        """Energy per inference (J) and time per timestep (s) of a candidate with every figure
        the profile gives a ``range`` at its low end and at its high end (hwsim's joint
        bracket of the point estimate; [point, point] when the profile ranges nothing).
        Cached like :meth:`record`: a finalist and the winner made of it are costed once."""
        key = self._key(e, self.target.placement)
        if key not in self._ranges:
            self._ranges[key] = self._ranges_uncached(e)
        return self._ranges[key]

    def _ranges_uncached(self, e: Evaluation) -> dict[str, list[float] | None]:
        from hwsim.uncertainty import joint_ends

        if not self.record(e).feasible:
            return {"energy_per_inference_j": None, "time_per_timestep_s": None}
        g = tuple(e.genotype)
        network, activity = self._network(g), self.activity(e)
        with _hwsim_refusal(g, self.profile.name):
            low, high = joint_ends(lambda c: hwsim.estimate(
                network, activity, c, placement=self.target.placement,
                max_cores=self.budgets.max_cores), self.profile)
        out: dict[str, list[float] | None] = {}
        for name, key in (("energy_per_inference_j", "energy_total_j"),
                          ("time_per_timestep_s", "time_per_timestep_s")):
            lo, hi = low[key], high[key]
            out[name] = None if lo is None or hi is None else [min(lo, hi), max(lo, hi)]
        return out

    def breach(self, e: Evaluation) -> tuple[hwsim.Reason, ...]:
        """What a candidate breaks on this chip within the budgets (empty: feasible)."""
        return self.budgets.breach(self.record(e))

    def binding(self, e: Evaluation) -> str | None:
        """Why a candidate is infeasible on this chip within the budgets (None: feasible)."""
        return self.budgets.explain(self.breach(e))

    def cost(self, e: Evaluation) -> float:
        """The target metric of a candidate; +inf when infeasible."""
        if self.breach(e):
            return math.inf
        value = METRICS.get(self.target.metric)(self.record(e))
        return math.inf if value is None else float(value)

    def reference_cost(self, evaluations: list[Evaluation]) -> float:
        """Mean cost of the feasible ones among ``evaluations`` (a seeded random sample of the
        space): ``Cost_ref`` of the fitness, so lambda means the same on every chip."""
        costs = [c for c in (self.cost(e) for e in evaluations) if math.isfinite(c)]
        if not costs:
            why = infeasible_message(self, evaluations)
            raise AutosnnError(
                f"chip {self.profile.name}: none of {len(evaluations)} sampled architectures of "
                f"{self.space.name} is feasible ({why}); try fewer channels (see "
                "`hwsim fit`), a board profile, or looser budgets"
            )
        return sum(costs) / len(costs)

    def deploy_target(self) -> dict[str, Any]:
        """What a winner file carries so that the retrained network can be held to the same
        chip and budgets (:mod:`autosnn.app.deployed`): the profile as given (a YAML path
        reloads), placement, metric, the budgets in force and where each came from."""
        return {"profile": self.target.chip, "placement": self.target.placement,
                "metric": self.target.metric, "budgets": self.budgets.to_dict(),
                "budget_origins": self.budgets.origins()}

    def summary(self, e: Evaluation) -> dict[str, Any]:
        """JSON-able chip figures of one candidate (winner files, report), with the low/high
        bracket of its energy and latency from the profile's ranged figures (:meth:`ranges`)."""
        rec = self.record(e)
        breach = self.breach(e)
        span = self.ranges(e)
        return {
            "chip": self.profile.name,
            "feasible": not breach,
            "binding": self.budgets.explain(breach),
            "binding_reason": breach[0].to_dict() if breach else None,
            "cores_used": rec.cores_used,
            "chips_used": rec.chips_used,
            "energy_per_inference_j": rec.energy_total_j,
            "energy_dynamic_j": rec.energy_dynamic_j,
            "energy_static_j": rec.energy_static_j,
            "time_per_timestep_s": rec.time_per_timestep_s,
            "latency_per_inference_s": rec.latency_per_inference_s,
            "max_link_utilisation": rec.max_link_utilisation,
            "energy_per_inference_range_j": span["energy_per_inference_j"],
            "time_per_timestep_range_s": span["time_per_timestep_s"],
            "assumptions": list(rec.assumptions),
        }


@contextmanager
def _hwsim_refusal(genotype: Genotype, chip: str) -> Iterator[None]:
    """hwsim refusing to read or cost one of our own architectures is one line naming it and
    the chip (the search cannot go on without costing it), never a traceback."""
    try:
        yield
    except hwsim.HwsimInputError as exc:
        raise AutosnnError(f"hwsim cannot cost architecture {','.join(genotype)} on {chip}: "
                           f"{exc}") from None


def check_chip(chip: str) -> hwsim.ChipSpec:
    """The validated profile of ``chip`` (a built-in name or a YAML path); a bad profile, its
    ``search:`` budgets included, is one :class:`AutosnnError` naming the file and field.
    A profile is parsed once per process (and again only if its file changes)."""
    name = chip_path(chip)
    p = Path(name)
    stamp = (p.stat().st_mtime_ns, p.stat().st_size) if p.is_file() else None
    try:
        return _load_chip(name, stamp)
    except hwsim.HwsimInputError as exc:
        raise AutosnnError(str(exc)) from None


@functools.lru_cache(maxsize=16)
def _load_chip(name: str, stamp: tuple[int, int] | None) -> hwsim.ChipSpec:
    """``hwsim.load_chip`` cached by name and the file's (mtime, size) stamp."""
    return hwsim.load_chip(name)


def chip_path(chip: str) -> str:
    """Accept ``loihi2``, ``loihi2.yaml`` (built-in) or a path to a YAML profile."""
    p = Path(chip)
    if p.suffix in (".yaml", ".yml") and not p.exists() and p.stem in hwsim.list_chips():
        return p.stem
    return chip
