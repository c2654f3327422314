"""``autosnn experiment NAME | list``: rerun one of the paper's tables, or list them with costs.

Thin layer: options -> :class:`~autosnn.app.experiments.Settings` ->
:func:`~autosnn.app.experiments.run_experiment`.
"""

from __future__ import annotations

import shlex
import sys
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias

import typer

from autosnn.app.cli.app import app
from autosnn.app.cli.common import (
    MAX_EPOCHS,
    MAX_LIMIT,
    MAX_POOL,
    choices,
    even_channels,
    seed_option,
)
from autosnn.app.experiments import (
    UNIT_COSTS,
    Settings,
    get_experiment,
    list_experiments,
    run_experiment,
)
from autosnn.core.checkpoint import MAX_CHANNELS, MAX_TIMESTEPS
from autosnn.core.config import PRESETS
from autosnn.core.errors import AutosnnError
from autosnn.search.evolution import MAX_ROUNDS
from autosnn.train.distributed import env_info
from safeio import out_lock

if TYPE_CHECKING:  # for the type checker a StrEnum; at run time its members are the registry's
    ExperimentName: TypeAlias = StrEnum
    PresetName: TypeAlias = StrEnum
else:
    ExperimentName = choices("ExperimentName", ["list", *list_experiments()])
    PresetName = choices("ExperimentPreset", PRESETS.names())


def _hours(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:,.1f} h"


def _list() -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="experiments (estimated time on this machine, nothing reused)")
    for col in ("name", "paper", "what", *(f"{p}" for p in UNIT_COSTS)):
        table.add_column(col)
    for name in list_experiments():
        exp = get_experiment(name)
        table.add_row(name, exp.table, exp.title,
                      *(_hours(exp.estimate_s(p)) for p in UNIT_COSTS))
    console = Console()
    console.print(table)
    for p, u in UNIT_COSTS.items():
        console.print(f"{p}: {u.source}")


@app.command("experiment")
def experiment_cmd(
    name: Annotated[ExperimentName, typer.Argument(help="A paper table (table1 ...) or 'list'.")],
    dataset: Annotated[str | None, typer.Option("--dataset", help="Dataset name (default fashion-mnist).")] = None,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Folder with the dataset's files.")] = None,
    preset: Annotated[PresetName, typer.Option("--preset", help="quick (minutes to hours on a CPU) or paper.")] = PresetName("quick"),
    out: Annotated[Path, typer.Option("--out", help="Root folder: sub-runs in OUT/runs (shared by all experiments, reused when finished), the report in OUT/NAME.")] = Path("runs/experiments"),
    seed: Annotated[int, seed_option()] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, max=MAX_EPOCHS, help="Override the preset's epochs (both training stages).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=MAX_LIMIT, help="Use at most N samples per split.")] = None,
    channels: Annotated[int | None, typer.Option("--channels", min=2, max=MAX_CHANNELS, callback=even_channels, help="Override the preset's C (even).")] = None,
    timesteps: Annotated[int | None, typer.Option("--timesteps", min=1, max=MAX_TIMESTEPS, help="Override the preset's T.")] = None,
    rounds: Annotated[int | None, typer.Option("--rounds", min=1, max=MAX_ROUNDS, help="Override the search rounds.")] = None,
    pool: Annotated[int | None, typer.Option("--pool", min=2, max=MAX_POOL, help="Override the evaluation pool (mutations, crossovers, top-k: half of it).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Rerun a paper table: sub-runs (reused when finished), then OUT/NAME/NAME.md and a PNG."""
    if name.value == "list":
        given = {"--dataset": dataset, "--data-dir": data_dir, "--epochs": epochs,
                 "--limit": limit, "--channels": channels, "--timesteps": timesteps,
                 "--rounds": rounds, "--pool": pool}
        ignored = [opt for opt, value in given.items() if value is not None]
        if ignored:
            raise AutosnnError(f"experiment list takes no {', '.join(ignored)} (it only lists "
                               "the experiments)")
        _list()
        return
    settings = Settings(root=out, dataset=dataset, data_dir=data_dir, preset=preset.value,
                        seed=seed, device=device, epochs=epochs, limit=limit, channels=channels,
                        timesteps=timesteps, rounds=rounds, pool=pool, quiet=quiet)
    command = "autosnn " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    # one writer per --out (sub-runs are shared by every experiment under it); rank 0 holds it
    lock = out_lock(out, f"autosnn experiment {name.value}") if env_info().is_main else nullcontext()
    with lock:
        path = run_experiment(name.value, settings, command=command)
    if env_info().is_main:  # under torchrun rank 0 wrote it
        typer.echo(f"wrote {path}")
