"""What a search decided, as types: :class:`SearchOutcome` is built once by the search steps
(:mod:`autosnn.app.nas_search`) and read by every writer (``search.json`` through
:meth:`SearchOutcome.to_json`, ``sweep.json`` and ``report.md`` through :mod:`autosnn.app.report`),
so no writer reads another's dictionary back by string keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from autosnn.core.spaces import Genotype, genotype_text
from autosnn.core.stats import LEVEL, PairedDifference
from autosnn.search.fitness import Evaluation


def finite(x: float) -> float | None:
    """JSON has no infinities: an infeasible fitness or cost is written as null."""
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class ChipFigures:
    """A candidate's cost on the chip (:meth:`autosnn.app.chipcost.ChipCost.summary`, kept as
    the adapter returns it) and the fitness cost the search used (None: infeasible)."""

    cost: float | None
    summary: dict[str, Any]

    @property
    def feasible(self) -> bool:
        return bool(self.summary["feasible"])

    @property
    def binding(self) -> str | None:
        return self.summary["binding"]


@dataclass(frozen=True)
class Candidate:
    """One evaluated architecture: its evaluation on the search's D_val, the round it was first
    evaluated in (and per lambda), its fitness per lambda, its chip figures (chip searches)."""

    evaluation: Evaluation
    round: int
    rounds: dict[str, int]
    fitness: dict[str, float | None]
    chip: ChipFigures | None = None

    def to_json(self) -> dict[str, Any]:
        e = self.evaluation
        d: dict[str, Any] = {"genotype": genotype_text(e.genotype), "accuracy": e.accuracy,
                             "spikes": e.spikes, "round": self.round, "rounds": self.rounds,
                             "fitness": self.fitness}
        if self.chip is not None:
            d.update(cost=self.chip.cost, feasible=self.chip.feasible, binding=self.chip.binding)
        return d


@dataclass(frozen=True)
class Arch:
    """The fixed architecture settings every candidate shares (from the super-network)."""

    space: str
    channels: int
    timesteps: int


@dataclass(frozen=True)
class Winner:
    """The best architecture of one lambda's search (by that lambda's fitness)."""

    key: str
    lam: float
    evaluation: Evaluation
    fitness: float | None
    arch: Arch
    chip: ChipFigures | None = None
    file: str | None = None  # checkpoint name when not ``winner-<lambda>.pt`` (the chosen one)

    @property
    def genotype(self) -> Genotype:
        return self.evaluation.genotype

    @property
    def checkpoint(self) -> str:
        return self.file or f"winner-{self.key}.pt"

    def to_json(self) -> dict[str, Any]:
        """``winner-<lambda>.json`` (what ``autosnn train --winner`` reads)."""
        e = self.evaluation
        d: dict[str, Any] = {
            "lambda": self.lam, "genotype": genotype_text(e.genotype), "accuracy": e.accuracy,
            "spikes": e.spikes, "fitness": self.fitness, "space": self.arch.space,
            "channels": self.arch.channels, "timesteps": self.arch.timesteps,
            "neuron": "plif", "checkpoint": self.checkpoint,
        }
        if self.chip is not None:
            d["chip"] = self.chip.summary
        return d


@dataclass(frozen=True)
class Choice:
    """What was chosen for the chip (the architecture, and the lambda whose search ranked it
    best) and why, in one line."""

    lam: float
    key: str
    reason: str
    genotype: Genotype

    def to_json(self) -> dict[str, Any]:
        return {"lambda": self.lam, "key": self.key, "reason": self.reason,
                "genotype": genotype_text(self.genotype)}


def _pp(x: float) -> float:
    """A fraction as percentage points, rounded for JSON (4 decimals: 0.0001 pp)."""
    return round(100 * x, 4)


@dataclass(frozen=True)
class FinalistRecord:
    """One finalist: which lambdas ranked it (lambda key -> rank, 1 = winner), its evaluation on
    the search's D_val and on the whole D_val, the 95 % Wilson interval of the latter, its
    paired difference to the most accurate feasible finalist (None: infeasible), and its chip
    figures with the activity measured on the whole D_val."""

    genotype: Genotype
    ranks: dict[str, int]
    search: Evaluation
    full: Evaluation
    samples: int
    interval: tuple[float, float]
    versus_best: PairedDifference | None
    chip: ChipFigures

    def to_json(self) -> dict[str, Any]:
        d = self.versus_best
        return {
            "genotype": genotype_text(self.genotype), "ranks": self.ranks,
            "search_accuracy": self.search.accuracy, "search_spikes": self.search.spikes,
            "accuracy": self.full.accuracy, "spikes": self.full.spikes,
            "samples": self.samples, "interval_95": list(self.interval),
            "versus_best_pp": None if d is None else {
                "diff": _pp(d.diff), "low": _pp(d.low), "high": _pp(d.high),
                "only_this": d.a_only, "only_best": d.b_only},
            "cost": self.chip.cost, **self.chip.summary,
        }


@dataclass(frozen=True)
class Finalists:
    """The finalist step: the top ``per_lambda`` of every lambda re-measured on ``samples``
    D_val images (the search used ``search_samples``), the rule, and what it chose."""

    per_lambda: int
    samples: int
    search_samples: int
    max_acc_drop: float | None
    rule: str
    records: list[FinalistRecord]
    best: Genotype
    chosen: Genotype
    knee: Genotype | None

    def record(self, g: Genotype) -> FinalistRecord:
        return next(r for r in self.records if r.genotype == g)

    def to_json(self) -> dict[str, Any]:
        return {
            "per_lambda": self.per_lambda, "samples": self.samples,
            "search_samples": self.search_samples, "level": LEVEL,
            "max_acc_drop_pp": self.max_acc_drop, "rule": self.rule,
            "best": genotype_text(self.best), "chosen": genotype_text(self.chosen),
            "knee": None if self.knee is None else genotype_text(self.knee),
            "entries": [r.to_json() for r in self.records],
        }


@dataclass(frozen=True)
class ChipRun:
    """What a chip search recorded about the chip: profile, metric, budgets and their origins,
    the reference cost and its sample, the architectures rejected before evaluation."""

    profile: str
    metric: str
    reference_cost: float
    budgets: dict[str, float | None]
    budget_origins: dict[str, str | None]
    budget_profile: str | None
    rejected: dict[str, Any]
    reference_sample: int


@dataclass(frozen=True)
class SearchOutcome:
    """Everything ``search.json`` records: settings, every candidate, the winners, the choice."""

    space: str
    block_candidates: tuple[str, ...]
    supernet_config: dict[str, Any]
    spikes_avg: float
    data: dict[str, Any]
    dataset: str | None
    search: dict[str, Any]
    fitness_form: str
    cost_name: str
    cost_ref: float
    ann: bool
    seed: int
    lambdas: tuple[float, ...]
    precision: str
    candidates: list[Candidate]
    winners: dict[str, Winner]
    chip: ChipRun | None = None
    chosen: Choice | None = None
    finalists: Finalists | None = None
    deploy: Winner | None = None  # the chosen finalist (winner.json / winner.pt)

    @property
    def arch(self) -> Arch:
        c = self.supernet_config
        return Arch(self.space, int(c["channels"]), int(c["timesteps"]))

    def to_json(self) -> dict[str, Any]:
        """The ``search.json`` document."""
        chip = self.chip
        return {
            "space": self.space, "candidates": list(self.block_candidates),
            "supernet": {"config": self.supernet_config, "spikes_avg": self.spikes_avg},
            "data": self.data, "dataset": self.dataset, "search": self.search,
            "fitness": {"form": self.fitness_form, "cost": self.cost_name,
                        "cost_ref": self.cost_ref},
            "ann_variant": self.ann, "seed": self.seed, "lambdas": list(self.lambdas),
            "evaluated": len(self.candidates), "precision": self.precision,
            "candidates_evaluated": [c.to_json() for c in self.candidates],
            "winners": {k: w.to_json() for k, w in self.winners.items()},
            "chip": None if chip is None else {
                "profile": chip.profile, "metric": chip.metric,
                "reference_cost": chip.reference_cost, "budgets": chip.budgets,
                # where each budget came from: "profile" (its search: section), "cli", None
                "budget_origins": chip.budget_origins, "budget_profile": chip.budget_profile,
                "chosen": None if self.chosen is None else self.chosen.to_json(),
                "rejected_before_evaluation": chip.rejected,
                "reference_sample": chip.reference_sample,
                "finalists": None if self.finalists is None else self.finalists.to_json(),
            },
        }
