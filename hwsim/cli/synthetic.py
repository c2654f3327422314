"""``hwsim synthetic``: synthetic traffic on a mesh, analytic model beside the cycle-level
simulation (finite buffers, credit back-pressure), which gives the saturation verdict."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from hwsim.cli.common import app, fail, jsonable
from hwsim.synthetic import synthetic_report


class Pattern(StrEnum):
    uniform = "uniform"
    transpose = "transpose"
    hotspot = "hotspot"


@app.command("synthetic")
def synthetic_cmd(
    mesh: Annotated[str, typer.Option(help="mesh size, e.g. 8x8")] = "8x8",
    pattern: Annotated[Pattern, typer.Option(help="traffic pattern")] = Pattern.uniform,
    rate: Annotated[float, typer.Option(help="injection rate, flits per node per cycle")] = 0.1,
    hotspot_fraction: Annotated[float, typer.Option(help="share of traffic to the hotspot")] = 0.2,
    router_cycles: Annotated[float, typer.Option(help="cycles per router stage")] = 1.0,
    link_cycles: Annotated[float, typer.Option(help="cycles per link traversal")] = 1.0,
    sim: Annotated[
        bool, typer.Option("--sim/--no-sim", help="run the cycle-level simulation too")
    ] = True,
    warmup: Annotated[int, typer.Option(help="simulated warm-up cycles")] = 1000,
    cycles: Annotated[int, typer.Option(help="simulated measurement window, cycles")] = 4000,
    vcs: Annotated[int, typer.Option(help="virtual channels per input port")] = 4,
    buffer_flits: Annotated[int, typer.Option(help="flits of buffer per virtual channel")] = 4,
    packet_flits: Annotated[int, typer.Option(help="flits per packet (wormhole when > 1)")] = 1,
    seed: Annotated[int, typer.Option(help="seed of the simulated traffic")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Latency and saturation of synthetic traffic under XY routing: analytic and simulated."""
    try:
        rows_s, cols_s = mesh.lower().split("x")
        rows, cols = int(rows_s), int(cols_s)
        if rows < 1 or cols < 1:
            raise ValueError
    except ValueError:
        raise fail(f"--mesh: {mesh}: ROWSxCOLS with positive integers, e.g. 8x8") from None
    try:
        rep = synthetic_report(
            rows,
            cols,
            pattern.value,
            rate,
            router_cycles=router_cycles,
            link_cycles=link_cycles,
            hotspot_fraction=hotspot_fraction,
            simulate=sim,
            warmup=warmup,
            measure=cycles,
            vcs=vcs,
            buffer_flits=buffer_flits,
            packet_flits=packet_flits,
            seed=seed,
        )
    except ValueError as exc:
        raise fail(f"options: {exc}") from None
    if as_json:
        typer.echo(json.dumps(jsonable(rep.to_dict()), indent=2))
        return
    typer.echo("\n".join(rep.lines()))
