"""``autosnn summary``: parameters, spiking neurons and MACs of a network, as a table or JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from autosnn.app.cli.app import app
from autosnn.app.cli.common import choices, parse_shape
from autosnn.core.build import build, build_model
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import DEFAULT_GENOTYPE, list_spaces
from autosnn.core.summary import summarize
from autosnn.core.zoo import list_zoo

SpaceName = choices("SpaceName", list_spaces())
ZooName = choices("ZooName", list_zoo())


@app.command("summary")
def summary_cmd(
    space: Annotated[SpaceName, typer.Option(help="Search space.")] = SpaceName("snn1"),
    genotype: Annotated[str | None, typer.Option(help="Block per slot, comma-separated, or a registered name (default: the paper's AutoSNN).")] = None,
    model: Annotated[ZooName | None, typer.Option(help="Zoo model instead of a genotype.")] = None,
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
        net = build_model(model.value, channels, classes, shape, timesteps)
    else:
        net = build(space.value, genotype or DEFAULT_GENOTYPE, channels, classes, shape, timesteps)
    s = summarize(net)
    if as_json:
        typer.echo(json.dumps(s.to_dict(), indent=2))
        return
    title = model.value if model else f"{space.value} {','.join(net.genotype)}"
    table = Table(title=f"{title}  (C={channels}, {classes} classes, input {input}, T={timesteps})")
    for col in ("layer", "kind", "shape", "neurons", "params", "MACs/step"):
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for layer in s.layers:
        table.add_row(layer.name, layer.kind, "x".join(map(str, layer.shape)),
                      f"{layer.neurons:,}", f"{layer.params:,}", f"{layer.macs:,}")
    table.add_section()
    table.add_row("total", "", "", f"{s.neurons:,}", f"{s.params:,}", f"{s.macs:,}")
    Console(width=max(120, Console().width)).print(table)
