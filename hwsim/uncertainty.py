"""How far a cost estimate may be off because of the figures nobody published.

A profile may give a fitted or assumed figure a `range: [low, high]` (`ChipSpec.ranges`). The
network is costed once with every ranged figure at its low end and once at its high end (energy
and time grow with every energy and latency figure, so these bracket the point estimate), and once
per figure with only that figure moved to each end, to name the assumption that moves the result
most. A figure without a range counts as exact here: the report lists which figures had none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hwsim.chip import FIGURES, ChipSpec
from hwsim.record import CostRecord

# The results an uncertainty is reported for: name -> the record's figure.
METRICS: dict[str, Callable[[CostRecord], float | None]] = {
    "energy_total_j": lambda r: r.energy_total_j,
    "energy_dynamic_j": lambda r: r.energy_dynamic_j,
    "time_per_timestep_s": lambda r: r.time_per_timestep_s,
}


@dataclass(frozen=True)
class Swing:
    """One figure moved alone across its range: the metric at its low and high end."""

    figure: str
    low: float
    high: float

    @property
    def width(self) -> float:
        return abs(self.high - self.low)


@dataclass(frozen=True)
class Uncertainty:
    """Point estimate, joint low/high, and per metric the figures ranked by how much each moves
    it (widest swing first)."""

    point: dict[str, float | None]
    low: dict[str, float | None]
    high: dict[str, float | None]
    swings: dict[str, tuple[Swing, ...]]
    unranged: tuple[str, ...]  # fitted/assumed figures without a range (taken as exact)

    def dominant(self, metric: str) -> Swing | None:
        ranked = self.swings.get(metric, ())
        return ranked[0] if ranked and ranked[0].width > 0 else None

    def lines(self) -> list[str]:
        out = []
        for name in METRICS:
            p, lo, hi = self.point[name], self.low[name], self.high[name]
            if p is None or lo is None or hi is None:
                continue
            top = self.dominant(name)
            moved = (f"; moved most by {top.figure} ({top.low:.4g} .. {top.high:.4g})"
                     if top else "")
            out.append(f"{name}: {p:.4g} (low {min(lo, hi):.4g}, high {max(lo, hi):.4g}){moved}")
        if self.unranged:
            out.append(f"taken as exact (fitted or assumed without a range): "
                       f"{', '.join(self.unranged)}")
        return out


def _values(rec: CostRecord) -> dict[str, float | None]:
    return {name: get(rec) for name, get in METRICS.items()}


def _with(chip: ChipSpec, figures: dict[str, Any]) -> ChipSpec:
    """The chip with some figures moved; a figure the profile left out and took from one of them
    (``energy_synop_conv_j`` from ``energy_synop_j``) moves with it. Counts stay integers."""
    moved = dict(figures)
    for fig in FIGURES:
        if (fig.fallback in figures and fig.name not in figures
                and chip.provenance.get(fig.where, "").startswith("DEFAULT")):
            moved[fig.name] = figures[fig.fallback]
    typed: dict[str, Any] = {f: int(v) if isinstance(getattr(chip, f), int) else v
                             for f, v in moved.items()}
    return replace(chip, **typed)


def joint_ends(cost: Callable[[ChipSpec], CostRecord],
               chip: ChipSpec) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """The metrics with every ranged figure at its low end, and at its high end: two estimates,
    the bracket a search can afford for each of its finalists."""
    low = _values(cost(_with(chip, {f: r[0] for f, r in chip.ranges.items()})))
    high = _values(cost(_with(chip, {f: r[1] for f, r in chip.ranges.items()})))
    return low, high


def uncertainty(cost: Callable[[ChipSpec], CostRecord], chip: ChipSpec) -> Uncertainty:
    """Cost with ``cost(chip)`` (a closure over the network, activity and placement) at the
    point, at the joint ends and one figure at a time: 3 + 2 x (ranged figures) estimates."""
    point = _values(cost(chip))
    low, high = joint_ends(cost, chip)
    per_figure = {f: (_values(cost(_with(chip, {f: lo}))), _values(cost(_with(chip, {f: hi}))))
                  for f, (lo, hi) in chip.ranges.items()}
    swings = {}
    for name in METRICS:
        ranked = []
        for f, (lo_run, hi_run) in per_figure.items():
            lo, hi = lo_run[name], hi_run[name]
            if lo is not None and hi is not None:
                ranked.append(Swing(f, lo, hi))
        swings[name] = tuple(sorted(ranked, key=lambda s: -s.width))
    field_of = {fig.where: fig.name for fig in FIGURES}
    unranged = tuple(sorted(
        where for where, why in chip.provenance.items()
        if why.startswith(("FITTED", "ASSUMED")) and field_of.get(where) not in chip.ranges
    ))
    return Uncertainty(point, low, high, swings, unranged)
