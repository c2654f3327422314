"""Choosing lambda for a chip: one winner per lambda of a sweep, then one lambda.

Rule (stated in the README): with budgets, the lambda whose winner has the best D_val accuracy
among the winners that meet every budget (ties: the lower cost, then the lambda closer to 0);
without budgets, the knee of the winners' accuracy/cost front: accuracies and costs are scaled to
[0, 1] over the feasible winners, and the knee is the winner farthest above the straight line
from the cheapest winner to the most accurate one (if none lies above it, the most accurate).
"""

from __future__ import annotations

from dataclasses import dataclass

from autosnn.core.errors import AutosnnError


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


def choose_lambda(points: list[SweepPoint], *, budgets: bool) -> tuple[SweepPoint, str]:
    """The chosen sweep point and a one-line reason."""
    feasible = [p for p in points if p.feasible]
    if not feasible:
        tightest = min(points, key=lambda p: p.cost) if points else None
        why = tightest.binding if tightest else "no lambda searched"
        raise AutosnnError(
            f"no lambda gives a feasible winner ({why}); give fewer channels (the widths "
            "`hwsim fit` proposes), a board profile, or looser budgets"
        )
    if budgets:
        best = max(feasible, key=lambda p: (p.accuracy, -p.cost, p.lam))
        return best, (f"best D_val accuracy ({100 * best.accuracy:.2f}%) among the "
                      f"{len(feasible)} of {len(points)} winners within the budgets")
    best = knee(feasible)
    return best, (f"knee of the accuracy/cost front of the {len(feasible)} feasible winners "
                  "(farthest above the line from the cheapest to the most accurate)")


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
