"""`hwsim` command line: estimate, compare, fit, chips, synthetic. Thin: parse, call the
library, print.

Bad input files become one line `error: <file>: <field>: <expected>` on stderr and exit code 2.
"""

from __future__ import annotations

import itertools
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


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("autosnn")  # hwsim ships in the autosnn distribution
        except PackageNotFoundError:
            v = "unknown (not installed)"
        typer.echo(f"hwsim {v}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Neuromorphic chip cost model for NIR graphs."""


class Placement(StrEnum):
    sequential = "sequential"
    greedy = "greedy"
    locality = "locality"
    spread = "spread"


class Engine(StrEnum):
    analytic = "analytic"
    sanafe = "sanafe"


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


def _fmt(v: float | None, unit: str) -> str:
    return "n/a" if v is None else f"{v:.4g} {unit}".strip()


def _print_record(rec: CostRecord) -> None:
    console = Console(width=max(Console().width, 120))
    state = "feasible" if rec.feasible else "INFEASIBLE"
    system = f"{rec.board} ({rec.chips_used} chip(s) used)" if rec.board else rec.chip
    console.print(
        f"[bold]{system}[/bold] ({rec.placement}): {state}, "
        f"{rec.cores_used}/{rec.cores_available} cores"
        + (f" ({rec.splitter_cores} of splitter neurons)" if rec.splitter_cores else "")
        + f", T={rec.timesteps}, {rec.step_model} timestep model"
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
    fmt = _fmt
    console.print(
        f"spikes {rec.spikes:.4g}, synops {rec.synops:.4g}, "
        f"messages {fmt(rec.messages, '')}, hops {fmt(rec.hops, '')}"
        + (f", chip-to-chip messages {fmt(rec.interchip_messages, '')}" if rec.board else "")
    )
    sat = " [red]TICK OVERRUN[/red]" if rec.saturated else ""
    console.print(
        f"busiest link {fmt(rec.max_link_load_per_step, 'messages/step')}, peak utilisation "
        f"{fmt(rec.max_link_utilisation, '')}"
        + (f" (chip-to-chip {fmt(rec.max_interchip_utilisation, '')})" if rec.board else "")
        + sat
    )
    console.print(
        f"time per timestep {fmt(rec.time_per_timestep_s, 's')} mean, "
        f"{fmt(rec.time_per_timestep_peak_s, 's')} at peak step {rec.peak_timestep} "
        f"(compute {fmt(rec.time_compute_s, 's')}, network drain "
        f"{fmt(rec.time_network_s, 's')}; bound by {rec.bound or 'n/a'})"
    )
    console.print(
        f"energy per inference {fmt(rec.energy_total_j, 'J')} = dynamic "
        f"{fmt(rec.energy_dynamic_j, 'J')} (synops {fmt(rec.energy_synops_j, 'J')}, neurons "
        f"{fmt(rec.energy_neurons_j, 'J')}, spikes {fmt(rec.energy_spikes_j, 'J')}, messages "
        f"{fmt(rec.energy_messages_j, 'J')}, routing {fmt(rec.energy_routing_j, 'J')}"
        + (f", splitters {fmt(rec.energy_splitters_j, 'J')}" if rec.splitter_cores else "")
        + ") + static "
        f"{fmt(rec.energy_static_j, 'J')}"
    )
    if rec.tradeoff:
        trade = Table(
            "cores",
            "chips",
            "s/step",
            "compute",
            "network",
            "energy J",
            "peak rho",
            "bound",
            title="spread: time per step against cores",
        )
        for row in rec.tradeoff:
            trade.add_row(
                str(row["cores"]),
                str(row["chips"]),
                f"{row['time_per_timestep_s']:.3g}",
                f"{row['time_compute_s']:.3g}",
                f"{row['time_network_s']:.3g}",
                f"{row['energy_total_j']:.3g}",
                f"{row['max_link_utilisation']:.3g}",
                row["bound"],
            )
        console.print(trade)
        console.print(f"  {tradeoff_verdict(rec.tradeoff)}")
    for a in rec.assumptions:
        console.print(f"  assumption: {a}")


def tradeoff_verdict(rows: tuple[dict[str, Any], ...]) -> str:
    """Where spreading stops paying: the first budget where doubling the cores gains under
    1.25x (ideal: 2x), or where the network drain becomes what binds the timestep."""
    for prev, row in itertools.pairwise(rows):
        gain = prev["time_per_timestep_s"] / row["time_per_timestep_s"]
        if gain < 1.25 or row["bound"] == "network":
            return (
                f"more cores stop paying at {prev['cores']} cores: {row['cores']} cores give "
                f"{gain:.2f}x ({row['bound']}-bound, network {row['time_network_s']:.3g} s/step)"
            )
    last = rows[-1]
    return (
        f"still gaining at {last['cores']} cores (the budget): {last['bound']}-bound; "
        "allow more cores (--max-cores, a board profile) to find the turn"
    )


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
        raise _fail(str(exc)) from None
    except ValueError as exc:  # bad option values (rate, timesteps)
        raise _fail(f"options: {exc}") from None
    checks = None
    if validate and record.feasible:
        from hwsim.validate import validate_drain

        try:
            checks = validate_drain(record, spec)
        except ValueError as exc:
            raise _fail(f"--validate: {exc}") from None
    if as_json:
        out = record.to_dict()
        if checks is not None:
            out["validation"] = [c.to_dict() for c in checks]
        typer.echo(json.dumps(_jsonable(out), indent=2))
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
    from hwsim.sanafe_engine import SanafeMissingError, compare_file

    try:
        cmp = compare_file(net, spec, act, placement=placement)
    except HwsimInputError as exc:
        raise _fail(str(exc)) from None
    except (SanafeMissingError, ValueError) as exc:
        raise _fail(f"--engine sanafe: {exc}") from None
    if as_json:
        out = cmp.hwsim.to_dict()
        out["sanafe"] = cmp.to_dict()
        typer.echo(json.dumps(_jsonable(out), indent=2))
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
    timesteps: Annotated[int | None, typer.Option(help="T without an activity file")] = None,
    boards: Annotated[
        bool, typer.Option(help="when one chip is too small, try its built-in board profiles")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write a bar-chart PNG here")] = None,
) -> None:
    """Cost NET on several chips side by side (boards where one chip is too small)."""
    try:
        network = read_network(net)
        act = _activity(network, activity, rate, timesteps)
        names = [c.strip() for c in chips.split(",") if c.strip()]
        if not names:
            raise HwsimInputError("--chips", chips, "a comma-separated list of profiles")
        rows = []
        for name in names:
            candidates = _systems(name) if boards else [name]
            rec = None
            for cand in candidates:
                rec = estimate(network, act, load_chip(cand), placement=placement.value)
                if rec.feasible:
                    break
            assert rec is not None
            rows.append(comparison_row(name, rec))
    except HwsimInputError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(f"options: {exc}") from None
    if as_json:
        typer.echo(json.dumps(_jsonable(rows), indent=2))
    else:
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
                _fmt(r["time_per_timestep_s"], ""),
                _fmt(r["energy_total_j"], ""),
                _fmt(r["energy_dynamic_j"], ""),
                _fmt(r["energy_static_j"], ""),
                _fmt(r["max_link_utilisation"], ""),
                r["binding"],
            )
        Console(width=max(Console().width, 160)).print(table)
    if plot is not None:
        from hwsim.compare_plot import plot_comparison

        plot_comparison(rows, plot)


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


@app.command("fit")
def fit_cmd(
    net: Annotated[Path, typer.Argument(help="NIR graph file")],
    chip: Annotated[str, typer.Option(help="built-in profile name or YAML path")] = "speck",
    widths: Annotated[
        str | None, typer.Option(help="comma-separated widths (first layer's channels) to try")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Which widths (channels) and conv kernel sizes of NET would fit the chip, and why not."""
    from hwsim.fit import base_width, fit

    try:
        spec = load_chip(chip)
        network = read_network(net)
        wlist = None
        if widths is not None:
            try:
                wlist = sorted({int(w) for w in widths.split(",")}, reverse=True)
            except ValueError:
                raise HwsimInputError("--widths", widths, "comma-separated integers") from None
            if not wlist or min(wlist) < 1:
                raise HwsimInputError("--widths", widths, "positive integers")
        rows = fit(network, spec, widths=wlist)
        c0 = base_width(network)
    except HwsimInputError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(f"{net}: {exc}") from None
    fits = [r for r in rows if r.feasible]
    if as_json:
        typer.echo(
            json.dumps(_jsonable([vars(r) | {"reasons": list(r.reasons)} for r in rows]), indent=2)
        )
        return
    console = Console(width=max(Console().width, 140))
    table = Table("width", "kernel", "fits", "cores", "first reason it does not fit")
    for r in rows:
        table.add_row(
            str(r.width),
            "as built" if r.kernel is None else f"{r.kernel}x{r.kernel}",
            "yes" if r.feasible else "no",
            str(r.cores),
            r.reasons[0] if r.reasons else "",
        )
    console.print(table)
    if fits:
        best = max(fits, key=lambda r: (r.kernel is None, r.kernel or 0, r.width))
        k = "as built" if best.kernel is None else f"{best.kernel}x{best.kernel} kernels"
        console.print(f"fits {spec.name}: width {best.width} (built {c0}), {k}")
    else:
        console.print(
            f"no width or kernel size tried fits {spec.name}; binding rule at the smallest: "
            f"{rows[-1].reasons[0] if rows and rows[-1].reasons else 'n/a'}"
        )


@app.command("chips")
def chips_cmd() -> None:
    """List the built-in chip profiles and their key figures (* = assumed, not published)."""
    table = Table(
        "chip",
        "chips",
        "mesh",
        "cores",
        "neurons/core",
        "syn mem/core",
        "multicast",
        "E synop",
        "E hop",
        "static",
        "step",
    )
    for name in list_chips():
        c = load_chip(name)

        def mark(key: str, text: str, c: Any = c) -> str:
            return text + ("*" if c.provenance[key].startswith("ASSUMED") else "")

        mem = c.synapse_memory_bits_per_core
        table.add_row(
            name,
            f"{c.board_rows}x{c.board_cols}" if c.board_name else "1",
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
            mark("timing.step_model", c.step_model),
        )
    Console(width=max(Console().width, 150)).print(table)


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
