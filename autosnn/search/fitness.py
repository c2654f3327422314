"""Fitness: a cost combined with a form, built in one place (:func:`make_fitness`), higher wins.

- forms (:data:`FITNESS_FORMS`): ``power`` (Eq. 3) ``F = Acc * (Cost / Cost_ref) ** lambda``, and
  ``linear``, its first-order version ``F = Acc * (1 + lambda * (Cost / Cost_ref - 1))`` (the
  paper's "linear discounting"); lambda in [LAMBDA_MIN, 0] (:func:`check_lambda`, the one rule
  the CLI and the library share), and lambda = 0 is accuracy alone.
- costs: any ``Callable[[Evaluation], float]``; :func:`spike_cost` (the paper's: spikes per
  image, ``Cost_ref`` = Spikes_avg of the super-network) is the default. A chip model supplies
  energy, latency or link-utilisation costs the same way (``autosnn.app.chipcost``); a cost of
  +inf marks an architecture that does not fit (infeasible): it scores -inf, never a winner.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from autosnn.core.errors import AutosnnError
from autosnn.core.registry import Registry
from autosnn.core.spaces import Genotype


@dataclass(frozen=True)
class Evaluation:
    """An architecture evaluated with inherited weights: accuracy on D_val (fraction), mean
    spikes per image (summed over T and every spiking layer) and, when measured, the spikes per
    image of each spiking layer per timestep (``activity``: NIR node name -> T values; ``input``
    is the input's events), from the same pass."""

    genotype: Genotype
    accuracy: float
    spikes: float
    activity: dict[str, tuple[float, ...]] | None = field(default=None, compare=False)


Fitness = Callable[[Evaluation], float]
Cost = Callable[[Evaluation], float]

# The most negative lambda accepted: beyond it (Cost / Cost_ref) ** lambda over- or underflows
# for ordinary cost ratios, and no useful trade-off lies there (the paper uses -0.24).
LAMBDA_MIN = -10.0

# Fitness forms by name: (lambda, Cost / Cost_ref) -> the factor applied to the accuracy.
FITNESS_FORMS: Registry[Callable[[float, float], float]] = Registry("fitness form")
FITNESS_FORMS.add("power", lambda lam, ratio: math.pow(ratio, lam))
FITNESS_FORMS.add("linear", lambda lam, ratio: 1.0 + lam * (ratio - 1.0))


def spike_cost(e: Evaluation) -> float:
    """The paper's cost: spikes per image."""
    return e.spikes


def make_fitness(form: str, lam: float, cost_ref: float, cost: Cost = spike_cost) -> Fitness:
    """``Acc * form(lambda, cost / cost_ref)``; infeasible (cost +inf) scores -inf.

    An architecture with zero cost keeps its accuracy (``0 ** negative`` is undefined).
    """
    discount = FITNESS_FORMS.get(form)
    _check(lam, cost_ref)

    def f(e: Evaluation) -> float:
        c = cost(e)
        if not math.isfinite(c):
            return -math.inf
        if lam == 0 or c <= 0:
            return e.accuracy
        return e.accuracy * discount(lam, c / cost_ref)

    return f


@dataclass(frozen=True)
class FitnessSpec:
    """Everything a search's fitness depends on but lambda: the form, the cost and its
    reference, and whether the network has a cost at all (the ANN variant has no spikes and is
    ranked on accuracy). One run builds one spec; every fitness of that run (per lambda, in
    search.json, in the report) comes from :meth:`at`."""

    form: str
    cost_ref: float
    cost: Cost = spike_cost
    cost_name: str = "spikes per image"
    accuracy_only: bool = False

    def at(self, lam: float) -> Fitness:
        """The fitness for one lambda."""
        if self.accuracy_only:
            return accuracy_fitness()
        return make_fitness(self.form, lam, self.cost_ref, self.cost)

    @property
    def form_name(self) -> str:
        """The form recorded in search.json ("accuracy" for the ANN variant)."""
        return "accuracy" if self.accuracy_only else self.form


def accuracy_fitness() -> Fitness:
    """Accuracy only (lambda = 0, and the ANN variant, which has no spikes)."""
    return lambda e: e.accuracy


def power_fitness(lam: float, spikes_avg: float) -> Fitness:
    """Eq. 3 on spikes: ``Acc * (Spikes / Spikes_avg) ** lam``."""
    return make_fitness("power", lam, spikes_avg)


def linear_fitness(lam: float, spikes_avg: float) -> Fitness:
    """Linear discounting on spikes: ``Acc * (1 + lam * (Spikes / Spikes_avg - 1))``."""
    return make_fitness("linear", lam, spikes_avg)


def check_lambda(lam: float) -> float:
    """``lam`` if it is a finite number in [:data:`LAMBDA_MIN`, 0] (lambda penalises cost, never
    rewards it); else one :class:`AutosnnError` line. The CLI and :func:`make_fitness` both call
    this, so the option and the library accept exactly the same values."""
    if not (math.isfinite(lam) and LAMBDA_MIN <= lam <= 0):
        raise AutosnnError(f"--lambda {lam:g}: expected a finite number, {LAMBDA_MIN:g} <= lambda <= 0 "
                           "(lambda penalises cost)")
    return lam


def _check(lam: float, cost_ref: float) -> None:
    check_lambda(lam)
    if lam != 0 and not (math.isfinite(cost_ref) and cost_ref > 0):
        raise AutosnnError(
            f"a cost-aware fitness (lambda {lam}) needs a finite reference cost > 0, got "
            f"{cost_ref} (the ANN variant has no spikes: use lambda 0)"
        )


def lambda_key(lam: float) -> str:
    """Canonical text of a lambda in file names and JSON keys: ``0``, ``-0.24``."""
    return f"{lam:g}"
