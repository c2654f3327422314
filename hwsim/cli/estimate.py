"""``hwsim estimate``: map one NIR graph onto one chip and print or plot its cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hwsim.activity import DEFAULT_RATE, DEFAULT_TIMESTEPS, load_activity, uniform_activity
from hwsim.chip import load_chip
from hwsim.cli.common import Engine, Placement, app, fail, jsonable
from hwsim.cli.report import _print_record
from hwsim.errors import HwsimInputError
from hwsim.estimate import estimate
from hwsim.network import read_network


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
        int | None, typer.Option(help="core budget for --placement spread (default: all)")
    ] = None,
    rate: Annotated[
        float, typer.Option(help="spikes/neuron/step where nothing is measured")
    ] = DEFAULT_RATE,
    timesteps: Annotated[
        int | None,
        typer.Option(
            help=f"T without an activity file (default: the graph's, else {DEFAULT_TIMESTEPS})"
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
) -> None:
    """Map NET onto a chip and estimate traffic, congestion, timestep time and energy."""
    try:
        spec = load_chip(chip)
        network = read_network(net)
        act = _activity(network, activity, rate, timesteps)
        if engine is Engine.sanafe:
            return _sanafe_estimate(net, spec, act, placement.value, as_json)
        record = estimate(network, act, spec, placement=placement.value, max_cores=max_cores)
    except HwsimInputError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # bad option values (rate, timesteps)
        raise fail(f"options: {exc}") from None
    checks = None
    if validate and record.feasible:
        from hwsim.validate import validate_drain

        try:
            checks = validate_drain(record, spec)
        except ValueError as exc:
            raise fail(f"--validate: {exc}") from None
    if as_json:
        out = record.to_dict()
        if checks is not None:
            out["validation"] = [c.to_dict() for c in checks]
        typer.echo(json.dumps(jsonable(out), indent=2))
    else:
        _print_record(record)
        if checks is not None:
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
    if plot is not None:
        if not record.feasible:
            typer.echo(f"note: no plot written to {plot}: the network does not fit", err=True)
            return
        from hwsim.plot import plot_mesh  # matplotlib is slow to import; only when asked

        plot_mesh(record, plot)


def _sanafe_estimate(net: Path, spec: Any, act: Any, placement: str, as_json: bool) -> None:
    """`--engine sanafe`: hwsim on SANA-FE's spikes beside SANA-FE (imported only here)."""
    from hwsim.sanafe import SanafeMissingError, compare_file

    try:
        cmp = compare_file(net, spec, act, placement=placement)
    except HwsimInputError as exc:
        raise fail(str(exc)) from None
    except (SanafeMissingError, ValueError) as exc:
        raise fail(f"--engine sanafe: {exc}") from None
    if as_json:
        out = cmp.hwsim.to_dict()
        out["sanafe"] = cmp.to_dict()
        typer.echo(json.dumps(jsonable(out), indent=2))
        return
    _print_record(cmp.hwsim)
    table = Table("per timestep", "hwsim", "SANA-FE", "hwsim / SANA-FE", title=cmp.sanafe.arch)
    for row in cmp.rows():
        table.add_row(*row)
    Console(width=max(Console().width, 150)).print(table)


def _activity(network: Any, activity: Path | None, rate: float, timesteps: int | None) -> Any:
    """The measured activity, else the rate assumption over the graph's T (or --timesteps)."""
    if activity is not None:
        return load_activity(activity, network, rate=rate)
    if timesteps is not None and network.timesteps is not None and timesteps != network.timesteps:
        raise HwsimInputError(
            "--timesteps", str(timesteps), f"the graph's metadata T = {network.timesteps}"
        )
    return uniform_activity(rate, timesteps or network.timesteps or DEFAULT_TIMESTEPS)
