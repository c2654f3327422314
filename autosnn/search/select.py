"""The knee of an accuracy/cost front, reported beside the finalist rule's choice
(:mod:`autosnn.search.finalists`, which decides): accuracies and costs are scaled to [0, 1] over
the feasible points, and the knee is the point farthest above the straight line from the
cheapest to the most accurate one (if none lies above it, the most accurate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SweepPoint:
    """The winner of one lambda: its D_val accuracy, cost, and why it is infeasible (or None)."""

    key: str
    lam: float
    accuracy: float
    cost: float
    binding: str | None = None

    @property
    def feasible(self) -> bool:
        return self.binding is None


def knee(points: list[SweepPoint]) -> SweepPoint:
    """The knee of the accuracy/cost trade-off (see the module docstring)."""
    most_accurate = max(points, key=lambda p: (p.accuracy, -p.cost, p.lam))
    cheapest = min(points, key=lambda p: (p.cost, -p.accuracy, -p.lam))
    c_lo, c_hi = cheapest.cost, max(p.cost for p in points)
    a_lo, a_hi = min(p.accuracy for p in points), most_accurate.accuracy
    if c_hi <= c_lo or a_hi <= a_lo:
        return most_accurate

    def scaled(p: SweepPoint) -> tuple[float, float]:
        return (p.cost - c_lo) / (c_hi - c_lo), (p.accuracy - a_lo) / (a_hi - a_lo)

    (x0, y0), (x1, y1) = scaled(cheapest), scaled(most_accurate)

    def above(p: SweepPoint) -> float:  # signed distance above the line (up to a constant)
        x, y = scaled(p)
        return (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)

    best = max(points, key=lambda p: (above(p), p.accuracy))
    return best if above(best) > 1e-12 else most_accurate
