"""Choosing what to deploy from the finalists of a lambda sweep, knowing their accuracies are
measured on a finite D_val.

After the evolutionary rounds, the top candidates of every lambda (deduplicated) are re-measured
on the whole D_val; :func:`choose_finalist` is the one rule that picks among them:

    Among the finalists within every budget, the cheapest on the chip whose D_val accuracy is
    not significantly below the most accurate one's (the 95 % paired interval of their
    difference, on the same images, reaches 0; or, with ``max_acc_drop``, at most that many
    points below it); ties in cost go to the more accurate, then to the lambda closer to 0.

The knee of the accuracy/cost front is reported only where it is defined (at least three
distinct feasible finalists and one strictly above the line from the cheapest to the most
accurate); it never overrides the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import Genotype
from autosnn.core.stats import LEVEL, PairedDifference, paired_difference
from autosnn.search.select import SweepPoint, knee


@dataclass(frozen=True)
class Finalist:
    """One finalist measured on the whole D_val: per-image correctness (``correct[i]``: image
    i classified right), its chip cost (+inf when infeasible) and why it is infeasible (None:
    within every budget), and the lambda whose search ranked it best."""

    genotype: Genotype
    lam: float
    correct: np.ndarray
    cost: float
    binding: str | None = None

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.correct))

    @property
    def feasible(self) -> bool:
        return self.binding is None


@dataclass(frozen=True)
class Decision:
    """The chosen finalist, the most accurate feasible one it was compared with, every feasible
    finalist's paired difference to that one, and the reason in one line."""

    chosen: Finalist
    best: Finalist
    versus_best: dict[Genotype, PairedDifference]
    reason: str
    knee: Genotype | None = None


def top_per_lambda(tops: dict[str, Sequence[Genotype]], k: int) -> dict[Genotype, dict[str, int]]:
    """The first ``k`` of every lambda's ranked top pool, deduplicated: genotype -> {lambda key:
    rank (1 = that lambda's winner)}, in first-seen order."""
    if k < 1:
        raise AutosnnError(f"--finalists {k}: expected at least 1 per lambda")
    out: dict[Genotype, dict[str, int]] = {}
    for key, top in tops.items():
        for rank, g in enumerate(top[:k], start=1):
            out.setdefault(tuple(g), {})[key] = rank
    return out


def choose_finalist(finalists: Sequence[Finalist], *,
                    max_acc_drop: float | None = None) -> Decision:
    """The rule of the module docstring. ``max_acc_drop``: percentage points (None: the paired
    test at :data:`~autosnn.core.stats.LEVEL`)."""
    feasible = [f for f in finalists if f.feasible]
    if not feasible:
        tightest = min(finalists, key=lambda f: f.cost) if finalists else None
        why = tightest.binding if tightest else "no finalist"
        raise AutosnnError(
            f"no finalist is feasible ({why}); give fewer channels (the widths `hwsim fit` "
            "proposes), a board profile, or looser budgets"
        )
    if max_acc_drop is not None and not 0 <= max_acc_drop <= 100:
        raise AutosnnError(f"--max-acc-drop {max_acc_drop}: expected 0-100 percentage points")
    best = max(feasible, key=lambda f: (f.accuracy, -f.cost, f.lam))
    versus = {f.genotype: paired_difference(f.correct, best.correct) for f in feasible}
    if max_acc_drop is None:
        def acceptable(f: Finalist) -> bool:
            return versus[f.genotype].high >= 0
        test = (f"accuracy not significantly below the best ({100 * LEVEL:g} % paired interval "
                "of the difference reaches 0)")
    else:
        def acceptable(f: Finalist) -> bool:
            return 100 * (best.accuracy - f.accuracy) <= max_acc_drop + 1e-9
        test = f"accuracy at most {max_acc_drop:g} pp below the best"
    chosen = min((f for f in feasible if acceptable(f)),
                 key=lambda f: (f.cost, -f.accuracy, -f.lam))
    n_ok = sum(acceptable(f) for f in feasible)
    reason = (f"cheapest of the {n_ok} of {len(feasible)} feasible finalists ({len(finalists)} in "
              f"all) with {test}")
    if chosen is not best:
        d = versus[chosen.genotype]
        reason += (f"; {100 * d.diff:+.2f} pp vs the best [{100 * d.low:+.2f}, "
                   f"{100 * d.high:+.2f}]")
    return Decision(chosen, best, versus, reason, knee_if_defined(feasible))


def knee_if_defined(finalists: Sequence[Finalist]) -> Genotype | None:
    """The knee of the finalists' accuracy/cost trade-off
    (:func:`~autosnn.search.select.knee`), or None where it is not defined: fewer than three
    distinct points, or none strictly above the line from the cheapest to the most accurate
    (``knee`` then falls back to one of those two ends)."""
    points = [SweepPoint(",".join(f.genotype), f.lam, f.accuracy, f.cost) for f in finalists]
    if len({(p.accuracy, p.cost) for p in points}) < 3:
        return None
    ends = {max(points, key=lambda p: (p.accuracy, -p.cost, p.lam)).key,
            min(points, key=lambda p: (p.cost, -p.accuracy, -p.lam)).key}
    k = knee(points)
    return None if k.key in ends else tuple(k.key.split(","))
