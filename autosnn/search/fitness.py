"""Fitness functions: pluggable callables from an :class:`Evaluation` to a number (higher wins).

- :func:`power_fitness` (Eq. 3): ``F = Acc * (Spikes / Spikes_avg) ** lambda``, lambda <= 0.
- :func:`linear_fitness`: its first-order version ``F = Acc * (1 + lambda * (Spikes/Spikes_avg - 1))``
  (the paper's "linear discounting").
- :func:`accuracy_fitness`: ``F = Acc`` (lambda = 0, and the ANN variant, which has no spikes).

A chip-cost model plugs in the same way: any ``Callable[[Evaluation], float]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from autosnn.core.errors import AutosnnError
from autosnn.core.registry import Registry
from autosnn.core.spaces import Genotype


@dataclass(frozen=True)
class Evaluation:
    """An architecture evaluated with inherited weights: accuracy on D_val (fraction) and mean
    spikes per image (summed over T and every spiking layer)."""

    genotype: Genotype
    accuracy: float
    spikes: float


Fitness = Callable[[Evaluation], float]


def accuracy_fitness() -> Fitness:
    """Accuracy only."""
    return lambda e: e.accuracy


def power_fitness(lam: float, spikes_avg: float) -> Fitness:
    """Eq. 3: ``Acc * (Spikes / Spikes_avg) ** lam``. An architecture without spikes gets Acc
    for lam = 0 and +inf-discount-free Acc otherwise (0 ** negative is undefined)."""
    _check(lam, spikes_avg)
    if lam == 0:
        return accuracy_fitness()

    def f(e: Evaluation) -> float:
        if e.spikes <= 0:
            return e.accuracy
        return e.accuracy * math.pow(e.spikes / spikes_avg, lam)

    return f


def linear_fitness(lam: float, spikes_avg: float) -> Fitness:
    """Linear discounting: ``Acc * (1 + lam * (Spikes / Spikes_avg - 1))``."""
    _check(lam, spikes_avg)
    if lam == 0:
        return accuracy_fitness()
    return lambda e: e.accuracy * (1.0 + lam * (e.spikes / spikes_avg - 1.0))


# Fitness forms by name: (lambda, Spikes_avg or a reference cost) -> fitness.
FITNESS_FORMS: Registry[Callable[[float, float], Fitness]] = Registry("fitness form")
FITNESS_FORMS.add("power", power_fitness)
FITNESS_FORMS.add("linear", linear_fitness)


def make_fitness(kind: str, lam: float, spikes_avg: float) -> Fitness:
    """Fitness by name (``power`` = Eq. 3, ``linear``)."""
    return FITNESS_FORMS.get(kind)(lam, spikes_avg)


def _check(lam: float, spikes_avg: float) -> None:
    if lam > 0:
        raise AutosnnError(f"--lambda must be <= 0 (penalise spikes), got {lam}")
    if lam != 0 and not spikes_avg > 0:
        raise AutosnnError(
            f"a spike-aware fitness (lambda {lam}) needs Spikes_avg > 0, got {spikes_avg} "
            "(the ANN variant has no spikes: use lambda 0)"
        )


def lambda_key(lam: float) -> str:
    """Canonical text of a lambda in file names and JSON keys: ``0``, ``-0.24``."""
    return f"{lam:g}"
