"""`hwsim` command line: estimate, chips, synthetic. Thin: parse, call the library, print.

Bad input files become one line `error: <file>: <field>: <expected>` on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hwsim.activity import DEFAULT_RATE, DEFAULT_TIMESTEPS, load_activity, uniform_activity
from hwsim.chip import list_chips, load_chip
from hwsim.errors import HwsimInputError
from hwsim.estimate import CostRecord, estimate
from hwsim.network import read_network
from hwsim.synthetic import synthetic as run_synthetic

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Neuromorphic chip cost model for NIR graphs."
)


class Placement(StrEnum):
    sequential = "sequential"
    greedy = "greedy"


class Pattern(StrEnum):
    uniform = "uniform"
    transpose = "transpose"
    hotspot = "hotspot"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _jsonable(value: Any) -> Any:
    """Strict JSON: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _print_record(rec: CostRecord) -> None:
    console = Console(width=max(Console().width, 120))
    state = "feasible" if rec.feasible else "INFEASIBLE"
    console.print(
        f"[bold]{rec.chip}[/bold] ({rec.placement}): {state}, "
        f"{rec.cores_used}/{rec.cores_available} cores, T={rec.timesteps}"
    )
    for reason in rec.reasons:
        console.print(f"  does not fit: {reason}")
    table = Table("layer", "neurons", "cores", "spikes", "synops in", "messages", "hops")
    for la in rec.layers:
        table.add_row(
            la.name,
            str(la.neurons),
            str(la.cores),
            f"{la.spikes:.4g}",
            f"{la.synops_in:.4g}",
            f"{la.messages:.4g}",
            f"{la.hops:.4g}",
        )
    console.print(table)

    def fmt(v: float | None, unit: str) -> str:
        return "n/a" if v is None else f"{v:.4g} {unit}"

    console.print(
        f"spikes {rec.spikes:.4g}, synops {rec.synops:.4g}, "
        f"messages {fmt(rec.messages, '')}, hops {fmt(rec.hops, '')}"
    )
    sat = " [red]SATURATED[/red]" if rec.saturated else ""
    console.print(
        f"max link load {fmt(rec.max_link_load_per_step, 'spikes/step')}, "
        f"utilisation {fmt(rec.max_link_utilisation, '')}{sat}"
    )
    console.print(
        f"time per timestep {fmt(rec.time_per_timestep_s, 's')} "
        f"(compute {fmt(rec.time_compute_s, 's')}, network {fmt(rec.time_network_s, 's')})"
    )
    console.print(
        f"energy per inference {fmt(rec.energy_total_j, 'J')}: synops "
        f"{fmt(rec.energy_synops_j, 'J')}, neurons {fmt(rec.energy_neurons_j, 'J')}, "
        f"routing {fmt(rec.energy_routing_j, 'J')}, static {fmt(rec.energy_static_j, 'J')}"
    )
    for a in rec.assumptions:
        console.print(f"  assumption: {a}")


@app.command("estimate")
def estimate_cmd(
    net: Annotated[Path, typer.Argument(help="NIR graph file (from `autosnn export` or any tool)")],
    chip: Annotated[
        str, typer.Option(help="built-in profile name or path to a YAML profile")
    ] = "loihi2",
    activity: Annotated[
        Path | None, typer.Option(help="act.npz with per-neuron spike counts")
    ] = None,
    placement: Annotated[Placement, typer.Option(help="core placement")] = Placement.greedy,
    rate: Annotated[
        float, typer.Option(help="spikes/neuron/step where nothing is measured")
    ] = DEFAULT_RATE,
    timesteps: Annotated[
        int, typer.Option(help="T when no activity file is given")
    ] = DEFAULT_TIMESTEPS,
    as_json: Annotated[bool, typer.Option("--json", help="print the cost record as JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write a mesh heatmap PNG here")] = None,
) -> None:
    """Map NET onto a chip and estimate traffic, congestion, timestep time and energy."""
    try:
        spec = load_chip(chip)
        network = read_network(net)
        act = (
            load_activity(activity, network, rate=rate)
            if activity is not None
            else uniform_activity(rate, timesteps)
        )
        record = estimate(network, act, spec, placement=placement.value)
    except HwsimInputError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:  # bad option values (rate, timesteps)
        raise _fail(f"options: {exc}") from None
    if as_json:
        typer.echo(json.dumps(_jsonable(record.to_dict()), indent=2))
    else:
        _print_record(record)
    if plot is not None:
        if not record.feasible:
            typer.echo(f"note: no plot written to {plot}: the network does not fit", err=True)
            return
        from hwsim.plot import plot_mesh  # matplotlib is slow to import; only when asked

        plot_mesh(record, plot)


@app.command("chips")
def chips_cmd() -> None:
    """List the built-in chip profiles and their key figures (* = assumed, not published)."""
    table = Table(
        "chip",
        "mesh",
        "cores",
        "neurons/core",
        "syn mem/core",
        "multicast",
        "E synop",
        "E hop",
        "static",
    )
    for name in list_chips():
        c = load_chip(name)

        def mark(key: str, text: str, c: Any = c) -> str:
            return text + ("*" if c.provenance[key].startswith("ASSUMED") else "")

        mem = c.synapse_memory_bits_per_core
        table.add_row(
            name,
            mark("mesh.rows", f"{c.rows}x{c.cols}x{c.cores_per_router}"),
            mark("mesh.cores_total", str(c.n_cores)),
            mark("core.neurons_per_core", str(c.neurons_per_core)),
            mark(
                "core.synapse_memory_bits_per_core",
                "formula" if not math.isfinite(mem) else f"{mem / 8192:.0f} KiB",
            ),
            mark("routing.multicast", "yes" if c.multicast else "no"),
            mark("energy.energy_synop_j", f"{c.energy_synop_j * 1e12:.3g} pJ"),
            mark("energy.energy_hop_j", f"{c.energy_hop_j * 1e12:.3g} pJ"),
            mark("energy.power_static_w", f"{c.power_static_w * 1e3:.3g} mW"),
        )
    Console(width=max(Console().width, 120)).print(table)


@app.command("synthetic")
def synthetic_cmd(
    mesh: Annotated[str, typer.Option(help="mesh size, e.g. 8x8")] = "8x8",
    pattern: Annotated[Pattern, typer.Option(help="traffic pattern")] = Pattern.uniform,
    rate: Annotated[float, typer.Option(help="injection rate, packets per node per cycle")] = 0.1,
    hotspot_fraction: Annotated[float, typer.Option(help="share of traffic to the hotspot")] = 0.2,
    router_cycles: Annotated[float, typer.Option(help="cycles per router stage")] = 1.0,
    link_cycles: Annotated[float, typer.Option(help="cycles per link traversal")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Analytic load and latency of synthetic traffic under XY routing (NoC model check)."""
    try:
        rows_s, cols_s = mesh.lower().split("x")
        rows, cols = int(rows_s), int(cols_s)
        if rows < 1 or cols < 1:
            raise ValueError
    except ValueError:
        raise _fail(f"--mesh: {mesh}: ROWSxCOLS with positive integers, e.g. 8x8") from None
    try:
        res = run_synthetic(
            rows,
            cols,
            pattern.value,
            rate,
            router_cycles=router_cycles,
            link_cycles=link_cycles,
            hotspot_fraction=hotspot_fraction,
        )
    except ValueError as exc:
        raise _fail(f"options: {exc}") from None
    if as_json:
        typer.echo(json.dumps(_jsonable(res.to_dict()), indent=2))
        return
    lat = (
        "unbounded (saturated)"
        if res.mean_latency_cycles is None
        else (f"{res.mean_latency_cycles:.3f} cycles")
    )
    typer.echo(
        f"{rows}x{cols} {res.pattern} at {rate:g} packets/node/cycle: mean hops "
        f"{res.mean_hops:.3f}, zero-load latency {res.zero_load_latency_cycles:.3f} cycles, "
        f"mean latency {lat}, max link utilisation {res.max_link_utilisation:.3f}, "
        f"saturation at {res.saturation_rate:.4g}"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
