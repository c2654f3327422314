"""``hwsim synthetic``: analytic load and latency of synthetic traffic (the NoC model check)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from hwsim.cli.common import app, fail, jsonable
from hwsim.synthetic import synthetic as run_synthetic


class Pattern(StrEnum):
    uniform = "uniform"
    transpose = "transpose"
    hotspot = "hotspot"


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
        raise fail(f"--mesh: {mesh}: ROWSxCOLS with positive integers, e.g. 8x8") from None
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
        raise fail(f"options: {exc}") from None
    if as_json:
        typer.echo(json.dumps(jsonable(res.to_dict()), indent=2))
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
