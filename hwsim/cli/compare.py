"""``hwsim compare``: one NIR graph costed on several chips side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hwsim.activity import DEFAULT_RATE
from hwsim.chip import load_chip
from hwsim.cli.common import Placement, app, fail, fmt, jsonable
from hwsim.cli.inputs import check_activity_options, check_plot, costed_activity
from hwsim.errors import HwsimInputError
from hwsim.estimate import CostRecord, estimate
from hwsim.network import MAX_TIMESTEPS, read_network


def _systems(name: str) -> list[str]:
    """`name` and the built-in board profiles built from it, smallest first."""
    from hwsim.chip import board_profiles

    return [name, *board_profiles(name)]


@app.command("compare")
def compare_cmd(
    net: Annotated[Path, typer.Argument(help="NIR graph file")],
    chips: Annotated[
        str, typer.Option(help="comma-separated profiles")
    ] = "loihi,loihi2,spinnaker2,truenorth,speck",
    activity: Annotated[Path | None, typer.Option(help="act.npz (per timestep or summed)")] = None,
    placement: Annotated[Placement, typer.Option(help="core placement")] = Placement.greedy,
    rate: Annotated[float, typer.Option(help="spikes/neuron/step where unmeasured")] = DEFAULT_RATE,
    timesteps: Annotated[
        int | None, typer.Option(min=1, max=MAX_TIMESTEPS, help="T without an activity file")
    ] = None,
    boards: Annotated[
        bool, typer.Option(help="when one chip is too small, try its built-in board profiles")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write a bar-chart PNG here")] = None,
) -> None:
    """Cost NET on several chips side by side (boards where one chip is too small)."""
    names = [c.strip() for c in chips.split(",") if c.strip()]
    if not names:
        raise HwsimInputError("--chips", chips, "a comma-separated list of profiles")
    check_activity_options(activity, timesteps, rate)
    check_plot(plot, net, names, activity)
    network = read_network(net)
    act = costed_activity(network, net, activity, rate, timesteps)
    rows = []
    for name in names:
        candidates = _systems(name) if boards else [name]
        rec = None
        for cand in candidates:
            try:
                rec = estimate(network, act, load_chip(cand), placement=placement.value)
            except HwsimInputError:
                raise
            except ValueError as exc:  # an option value the model refuses
                raise fail(f"options: {exc}") from None
            if rec.feasible:
                break
        assert rec is not None
        rows.append(comparison_row(name, rec))
    if as_json:
        typer.echo(json.dumps(jsonable(rows), indent=2))
    else:
        _print_rows(rows)
    if plot is not None:
        from hwsim.compare_plot import plot_comparison

        plot_comparison(rows, plot)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    table = Table(
        "chip",
        "system",
        "feasible",
        "chips",
        "cores",
        "s/step",
        "J/inference",
        "dynamic J",
        "static J",
        "peak rho",
        "binding constraint",
    )
    for r in rows:
        table.add_row(
            r["chip"],
            r["system"],
            "yes" if r["feasible"] else "no",
            str(r["chips_used"]),
            str(r["cores_used"]),
            fmt(r["time_per_timestep_s"], ""),
            fmt(r["energy_total_j"], ""),
            fmt(r["energy_dynamic_j"], ""),
            fmt(r["energy_static_j"], ""),
            fmt(r["max_link_utilisation"], ""),
            r["binding"],
        )
    Console(width=max(Console().width, 160)).print(table)


def comparison_row(name: str, rec: CostRecord) -> dict[str, Any]:
    """One chip's line of `hwsim compare`: the figures and what binds."""
    if rec.feasible:
        binding = f"time: {rec.bound}-bound"
        if rec.saturated:
            binding = "tick overrun (network or compute exceeds the tick)"
    else:
        binding = rec.reasons[0] if rec.reasons else "does not fit"
    return {
        "chip": name,
        "system": rec.board or rec.chip,
        "feasible": rec.feasible,
        "chips_used": rec.chips_used,
        "cores_used": rec.cores_used,
        "cores_available": rec.cores_available,
        "time_per_timestep_s": rec.time_per_timestep_s,
        "latency_per_inference_s": rec.latency_per_inference_s,
        "energy_total_j": rec.energy_total_j,
        "energy_dynamic_j": rec.energy_dynamic_j,
        "energy_static_j": rec.energy_static_j,
        "energy_breakdown_j": {
            "synops": rec.energy_synops_j,
            "neurons": rec.energy_neurons_j,
            "spikes": rec.energy_spikes_j,
            "messages": rec.energy_messages_j,
            "routing": rec.energy_routing_j,
            "static": rec.energy_static_j,
        },
        "max_link_utilisation": rec.max_link_utilisation,
        "binding": binding,
        "reasons": list(rec.reasons),
    }
