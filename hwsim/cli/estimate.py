"""``hwsim estimate``: map one NIR graph onto one chip and print or plot its cost."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hwsim.activity import DEFAULT_RATE, DEFAULT_TIMESTEPS, Activity
from hwsim.chip import ChipSpec, chip_path, load_chip
from hwsim.cli.common import Engine, Placement, app, fail, jsonable
from hwsim.cli.inputs import check_activity_options, check_plot, costed_activity
from hwsim.cli.report import print_record
from hwsim.errors import HwsimInputError
from hwsim.estimate import CostRecord, estimate
from hwsim.network import MAX_TIMESTEPS, read_network
from hwsim.uncertainty import Uncertainty, uncertainty

SANAFE_IGNORES = ("--plot", "--validate", "--max-cores")  # what --engine sanafe does not do


@app.command("estimate")
def estimate_cmd(
    net: Annotated[Path, typer.Argument(help="NIR graph file (from `autosnn export` or any tool)")],
    chip: Annotated[
        str, typer.Option(help="built-in profile name or path to a YAML profile")
    ] = "loihi2",
    activity: Annotated[
        Path | None,
        typer.Option(help="act.npz with per-neuron spike counts (per timestep or summed)"),
    ] = None,
    placement: Annotated[
        Placement,
        typer.Option(help="core placement; spread splits heavy layers to cut time per step"),
    ] = Placement.greedy,
    max_cores: Annotated[
        int | None, typer.Option(min=1, help="core budget for --placement spread (default: all)")
    ] = None,
    rate: Annotated[
        float, typer.Option(help="spikes/neuron/step where nothing is measured")
    ] = DEFAULT_RATE,
    timesteps: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_TIMESTEPS,
            help=f"T without an activity file (default: the graph's, else {DEFAULT_TIMESTEPS})",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the cost record as JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write a mesh heatmap PNG here")] = None,
    validate: Annotated[
        bool,
        typer.Option(help="check the drain time per step against the cycle-level simulator"),
    ] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            help="sanafe: also simulate on SANA-FE (optional GPL-3.0 extra) with hwsim's mapping, "
            "the profile's figures and the same input, and compare per timestep"
        ),
    ] = Engine.analytic,
    with_uncertainty: Annotated[
        bool,
        typer.Option(
            "--uncertainty",
            help="also cost with every fitted/assumed figure that has a range at its low and high "
            "end, and name the figure that moves the result most",
        ),
    ] = False,
) -> None:
    """Map NET onto a chip and estimate traffic, congestion, timestep time and energy."""
    if engine is Engine.sanafe:
        given = (plot is not None, validate, max_cores is not None)
        for option, on in zip(SANAFE_IGNORES, given, strict=True):
            if on:
                raise HwsimInputError(option, "--engine sanafe", "use one or the other")
    check_activity_options(activity, timesteps, rate)
    check_plot(plot, net, [chip], activity)
    spec = load_chip(chip)
    network = read_network(net)
    act = costed_activity(network, net, activity, rate, timesteps)
    if engine is Engine.sanafe:
        return _sanafe_estimate(net, spec, act, placement.value, as_json)
    try:
        record = estimate(network, act, spec, placement=placement.value, max_cores=max_cores)
    except HwsimInputError:
        raise
    except ValueError as exc:  # an option value the model refuses
        raise fail(f"options: {exc}") from None
    checks = _validate(record, spec) if validate and record.feasible else None
    spread = None
    if with_uncertainty and record.feasible:
        spread = uncertainty(lambda c: estimate(network, act, c, placement=placement.value,
                                                max_cores=max_cores), spec)
    _report(record, checks, spread, as_json)
    if plot is not None:
        _plot(record, plot, [net, activity, chip_path(chip)])


def _report(record: CostRecord, checks: list[Any] | None, spread: Uncertainty | None,
            as_json: bool) -> None:
    """The record, the NoC check and the uncertainty, as JSON or as text."""
    if as_json:
        out = record.to_dict()
        if checks is not None:
            out["validation"] = [c.to_dict() for c in checks]
        if spread is not None:
            out["uncertainty"] = asdict(spread)
        typer.echo(json.dumps(jsonable(out), indent=2))
        return
    print_record(record)
    if checks is not None:
        _print_checks(checks)
    if spread is not None:
        typer.echo("uncertainty from the profile's ranges:")
        for line in spread.lines():
            typer.echo(f"  {line}")


def _validate(record: CostRecord, spec: ChipSpec) -> list[Any]:
    """``--validate``: the analytic drain time per step against the cycle-level simulator."""
    from hwsim.validate import validate_drain

    try:
        return list(validate_drain(record, spec))
    except HwsimInputError:
        raise
    except ValueError as exc:
        raise fail(f"--validate: {exc}") from None


def _print_checks(checks: list[Any]) -> None:
    table = Table(
        "step",
        "messages",
        "analytic drain s",
        "simulated drain s",
        "analytic/sim",
        title="drain time per timestep: analytic model vs cycle-level simulation",
    )
    for c in checks:
        table.add_row(
            str(c.timestep),
            str(c.messages),
            f"{c.analytic_s:.4g}",
            f"{c.simulated_s:.4g}",
            f"{c.ratio:.3f}",
        )
    Console(width=max(Console().width, 150)).print(table)


def _plot(record: CostRecord, plot: Path, inputs: list[Path | None]) -> None:
    """The mesh picture(s); an infeasible mapping has no traffic to draw, which is said."""
    if not record.feasible:
        typer.echo(f"note: no plot written to {plot}: the network does not fit", err=True)
        return
    from hwsim.plot import plot_mesh  # matplotlib is slow to import; only when asked

    plot_mesh(record, plot, inputs=inputs)


def _sanafe_estimate(net: Path, spec: ChipSpec, act: Activity, placement: str,
                     as_json: bool) -> None:
    """`--engine sanafe`: hwsim on SANA-FE's spikes beside SANA-FE (imported only here)."""
    from hwsim.sanafe import SanafeMissingError, compare_file

    try:
        cmp = compare_file(net, spec, act, placement=placement)
    except HwsimInputError:
        raise
    except (SanafeMissingError, ValueError) as exc:
        raise fail(f"--engine sanafe: {exc}") from None
    if as_json:
        out = cmp.hwsim.to_dict()
        out["sanafe"] = cmp.to_dict()
        typer.echo(json.dumps(jsonable(out), indent=2))
        return
    print_record(cmp.hwsim)
    table = Table("per timestep", "hwsim", "SANA-FE", "hwsim / SANA-FE", title=cmp.sanafe.arch)
    for row in cmp.rows():
        table.add_row(*row)
    Console(width=max(Console().width, 150)).print(table)
