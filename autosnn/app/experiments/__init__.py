"""``autosnn experiment NAME``: the paper's tables rerun, one module per table.

Importing this package registers every experiment in :data:`EXPERIMENTS`.
"""

from __future__ import annotations

from autosnn.app.experiments import table1 as _table1  # noqa: F401
from autosnn.app.experiments import table2 as _table2  # noqa: F401
from autosnn.app.experiments import table3 as _table3  # noqa: F401
from autosnn.app.experiments import table5 as _table5  # noqa: F401
from autosnn.app.experiments import table6 as _table6  # noqa: F401
from autosnn.app.experiments import table7 as _table7  # noqa: F401
from autosnn.app.experiments import table9 as _table9  # noqa: F401  (table9 and table10)
from autosnn.app.experiments.base import ExperimentContext, PaperRow, Settings, check_settings
from autosnn.app.experiments.registry import (
    EXPERIMENTS,
    UNIT_COSTS,
    Experiment,
    get_experiment,
    list_experiments,
)

__all__ = ["EXPERIMENTS", "UNIT_COSTS", "Experiment", "ExperimentContext", "PaperRow", "Settings",
           "get_experiment", "list_experiments", "run_experiment"]


def run_experiment(name: str, settings: Settings, *, command: str | None = None):  # type: ignore[no-untyped-def]
    """Run (or resume) experiment ``name``; returns the path of its markdown report."""
    check_settings(settings)
    exp = get_experiment(name)
    ctx = ExperimentContext(settings, name)
    try:
        return exp.run(ctx, command)
    finally:
        ctx.reporter.close()
