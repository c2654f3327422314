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

BEST = "best"  # compare each chip at its best placement, not at one placement for all


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
    placement: Annotated[
        str,
        typer.Option(help="core placement: best (each chip's lowest energy x time per step of "
                     "greedy and spread, the one used is shown), or one of "
                     + ", ".join(p.value for p in Placement)),
    ] = BEST,
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
    if placement != BEST and placement not in {p.value for p in Placement}:
        raise HwsimInputError("--placement", placement,
                              f"{BEST} or one of {', '.join(p.value for p in Placement)}")
    check_activity_options(activity, timesteps, rate)
    check_plot(plot, net, names, activity)
    network = read_network(net)
    act = costed_activity(network, net, activity, rate, timesteps)
    rows, notes = [], []
    if activity is None:
        notes.append(f"no --activity: every neuron assumed to fire {rate:g} spikes per timestep "
                     "(measure it with `autosnn eval --activity`)")
    for name in names:
        candidates = _systems(name) if boards else [name]
        first_why = ""
        for cand in candidates:
            rec = _best(network, act, cand, placement)
            if rec.feasible:
                break
            first_why = first_why or (rec.reasons[0] if rec.reasons else "does not fit")
        if cand != name and rec.feasible:
            notes.append(f"{name}: one chip is too small ({first_why}); costed on the board "
                         f"profile {cand}")
        rows.append(comparison_row(name, rec))
    if as_json:
        typer.echo(json.dumps(jsonable({"rows": rows, "notes": notes}), indent=2))
    else:
        _print_rows(rows)
        for note in notes:
            typer.echo(f"note: {note}")
    if plot is not None:
        from hwsim.compare_plot import plot_comparison

        plot_comparison(rows, plot)


def _best(network: Any, act: Any, profile: str, placement: str) -> CostRecord:
    """One system's record: with ``best``, greedy and spread both costed and the feasible one
    with the lower energy x time per step kept (greedy when neither is feasible)."""
    tried = []
    for how in (["greedy", "spread"] if placement == BEST else [placement]):
        try:
            tried.append(estimate(network, act, load_chip(profile), placement=how))
        except HwsimInputError:
            raise
        except ValueError as exc:  # an option value the model refuses
            raise fail(f"options: {exc}") from None
    ok = [r for r in tried if r.feasible and r.energy_total_j is not None
          and r.time_per_timestep_s is not None]
    if not ok:
        return tried[0]
    return min(ok, key=lambda r: (r.energy_total_j or 0.0) * (r.time_per_timestep_s or 0.0))


def _print_rows(rows: list[dict[str, Any]]) -> None:
    table = Table(
        "chip",
        "system",
        "placement",
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
            r["placement"],
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
        "placement": rec.placement,
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
