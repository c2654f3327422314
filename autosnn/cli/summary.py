"""``autosnn summary``: parameters, spiking neurons and MACs of a network, as a table or JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from autosnn.build import build, build_model
from autosnn.cli.app import app
from autosnn.cli.common import parse_shape
from autosnn.errors import AutosnnError
from autosnn.summary import summarize


@app.command("summary")
def summary_cmd(
    space: Annotated[str, typer.Option(help="Search space (snn1, snn2, snn3, snn4, snn1-8).")] = "snn1",
    genotype: Annotated[str | None, typer.Option(help="Block per slot, comma-separated.")] = None,
    model: Annotated[str | None, typer.Option(help="Zoo model instead of a genotype.")] = None,
    channels: Annotated[int, typer.Option(help="Initial channels C.")] = 16,
    classes: Annotated[int, typer.Option(help="Number of classes.")] = 10,
    input: Annotated[str, typer.Option(help="Input shape CxHxW.")] = "3x32x32",
    timesteps: Annotated[int, typer.Option(help="Timesteps T.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Describe a network: parameters, spiking neurons (paper convention) and MACs per layer."""
    shape = parse_shape(input)
    if model is not None and genotype is not None:
        raise AutosnnError("give either --model or --genotype, not both")
    if model is not None:
        net = build_model(model, channels, classes, shape, timesteps)
    else:
        net = build(space, genotype or "SRB_k5,SRB_k5,skip,SRB_k3,SRB_k5", channels, classes,
                    shape, timesteps)
    s = summarize(net)
    if as_json:
        typer.echo(json.dumps(s.to_dict(), indent=2))
        return
    title = model or f"{space} {','.join(net.genotype)}"
    table = Table(title=f"{title}  (C={channels}, {classes} classes, input {input}, T={timesteps})")
    for col in ("layer", "kind", "shape", "neurons", "params", "MACs/step"):
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for layer in s.layers:
        table.add_row(layer.name, layer.kind, "x".join(map(str, layer.shape)),
                      f"{layer.neurons:,}", f"{layer.params:,}", f"{layer.macs:,}")
    table.add_section()
    table.add_row("total", "", "", f"{s.neurons:,}", f"{s.params:,}", f"{s.macs:,}")
    Console(width=max(120, Console().width)).print(table)
