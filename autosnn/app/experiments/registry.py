"""The registry of experiments (one per paper table) and their cost estimate per preset.

An experiment is registered by its module with ``EXPERIMENTS.add(name, Experiment(...))``;
``autosnn experiment NAME`` and ``autosnn experiment list`` read this registry, so adding a table
is one module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from autosnn.app.experiments.base import ExperimentContext, PaperRow
from autosnn.core.registry import Registry


@dataclass(frozen=True)
class Work:
    """What an experiment runs, counted in sub-runs: retrainings (each weighted by its width
    relative to the preset's C, squared, as convolution cost grows), super-networks, and
    searched lambdas (one search of one lambda on one super-network)."""

    trains: float = 0.0
    supernets: int = 0
    search_lambdas: int = 0


@dataclass(frozen=True)
class UnitCost:
    """Seconds of one sub-run of each kind for a preset, and where the figures come from."""

    train_s: float
    supernet_s: float
    search_lambda_s: float
    source: str


# Measured with the quick preset on this machine type (docs/nas.md, "Measured: Fashion-MNIST,
# quick preset", 2-core AMD EPYC): super-network 3 min 19 s, search 2 min 14 s for two lambdas,
# retraining 48 s (+ a few seconds of test evaluation).
QUICK_COST = UnitCost(
    train_s=55.0, supernet_s=199.0, search_lambda_s=67.0,
    source="measured, docs/nas.md (quick preset, Fashion-MNIST, 2-core AMD EPYC, unloaded)",
)
# assumption: the quick figures scaled linearly by epochs (600/3), samples (retraining
# 60,000/6,000, super-network 48,000/6,000, search 12,000/400 D_val images), timesteps (8/4) and
# width squared ((16/8)^2). The paper itself reports 6 h 48 min for a super-network and 8 min per
# search on one RTX 2080 Ti (Sec. 5.2).
PAPER_COST = UnitCost(
    train_s=48.0 * 200 * 10 * 2 * 4 + 7.0 * 10 * 2 * 4,
    supernet_s=199.0 * 200 * 8 * 2 * 4,
    search_lambda_s=67.0 * 30 * 2 * 4,
    source="assumption: quick measurement x epochs x samples x T x C^2 (not measured)",
)
UNIT_COSTS: dict[str, UnitCost] = {"quick": QUICK_COST, "paper": PAPER_COST}


@dataclass(frozen=True)
class Experiment:
    """One paper table: how to run it, what it costs, and the paper's published numbers."""

    name: str
    table: str
    title: str
    run: Callable[[ExperimentContext, str | None], Path]
    work: Callable[[str], Work]  # preset name -> sub-runs
    paper: Mapping[str, tuple[PaperRow, ...]]  # Mapping: tables pass fixed-length tuples

    def estimate_s(self, preset: str) -> float:
        """Estimated seconds on this machine (nothing reused)."""
        w, u = self.work(preset), UNIT_COSTS[preset]
        return w.trains * u.train_s + w.supernets * u.supernet_s + w.search_lambdas * u.search_lambda_s


EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def list_experiments() -> list[str]:
    """Registered experiment names, in table order."""
    return EXPERIMENTS.names()


def get_experiment(name: str) -> Experiment:
    """Look an experiment up by name (unknown names list the known ones)."""
    return EXPERIMENTS.get(name)
