"""``autosnn summary [NET.pt]``: parameters, spiking neurons and MACs of a network, as a table or
JSON. The network is a checkpoint, a genotype of a space or a zoo model; its input shape, classes
and timesteps come from the checkpoint, else from ``--dataset``, else the paper's CIFAR-10 setting
(3x32x32, 10 classes, T=8), and explicit options override them."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias

import typer
from rich.console import Console
from rich.table import Table

from autosnn.app.cli.app import app
from autosnn.app.cli.common import choices, even_channels, parse_shape
from autosnn.core.build import build, build_model
from autosnn.core.checkpoint import MAX_CHANNELS, MAX_CLASSES, MAX_TIMESTEPS
from autosnn.core.errors import AutosnnError
from autosnn.core.network import ArchConfig
from autosnn.core.spaces import DEFAULT_GENOTYPE, list_spaces
from autosnn.core.summary import summarize
from autosnn.core.zoo import list_zoo

if TYPE_CHECKING:  # for the type checker a StrEnum; at run time its members are the registry's
    SpaceName: TypeAlias = StrEnum
    ZooName: TypeAlias = StrEnum
else:
    SpaceName = choices("SpaceName", list_spaces())
    ZooName = choices("ZooName", list_zoo())


@app.command("summary")
def summary_cmd(
    checkpoint: Annotated[Path | None, typer.Argument(help="An autosnn checkpoint (.pt) to describe instead of a genotype or zoo model.")] = None,
    space: Annotated[SpaceName, typer.Option(help="Search space.")] = SpaceName("snn1"),
    genotype: Annotated[str | None, typer.Option(help="Block per slot, comma-separated, or a registered name (default: the paper's AutoSNN).")] = None,
    model: Annotated[ZooName | None, typer.Option(help="Zoo model instead of a genotype.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Take input shape, classes and T from this data set (see 'autosnn data list'; its files are not needed).")] = None,
    channels: Annotated[int, typer.Option(min=2, max=MAX_CHANNELS, callback=even_channels, help=f"Initial channels C, even, 2-{MAX_CHANNELS}.")] = ArchConfig.channels,
    classes: Annotated[int | None, typer.Option(min=1, max=MAX_CLASSES, help="Number of classes (default: the data set's, else 10).")] = None,
    input: Annotated[str | None, typer.Option(help="Input shape CxHxW (default: the data set's, else 3x32x32).")] = None,
    timesteps: Annotated[int | None, typer.Option(min=1, max=MAX_TIMESTEPS, help=f"Timesteps T, 1-{MAX_TIMESTEPS} (default: the data set's, else 8).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Describe a network: parameters, spiking neurons (paper convention) and MACs per layer."""
    if model is not None and genotype is not None:
        raise AutosnnError("give either --model or --genotype, not both")
    if checkpoint is not None:
        if model is not None or genotype is not None or dataset is not None:
            raise AutosnnError(f"{checkpoint}: a checkpoint fixes the network; drop --model, "
                               "--genotype and --dataset")
        import autosnn

        net = autosnn.load(checkpoint)
        cfg = net.config
        title = f"{checkpoint}: {cfg.kind} {cfg.name}"
        channels, classes_, shape, T = (cfg.channels, cfg.num_classes, cfg.input_shape,
                                        cfg.timesteps)
    else:
        # the paper's tables (CIFAR-10) unless a data set or an option says otherwise
        shape, classes_, T = ArchConfig.input_shape, ArchConfig.num_classes, ArchConfig.timesteps
        if dataset is not None:
            from autosnn.data.registry import get_spec

            info = get_spec(dataset).info
            shape, classes_, T = info.input_shape, info.num_classes, info.timesteps
        shape = parse_shape(input) if input is not None else shape
        classes_ = classes if classes is not None else classes_
        T = timesteps if timesteps is not None else T
        if model is not None:
            net = build_model(model.value, channels, classes_, shape, T)
        else:
            net = build(space.value, genotype or DEFAULT_GENOTYPE, channels, classes_, shape, T)
        title = model.value if model else f"{space.value} {','.join(net.genotype)}"
    s = summarize(net)
    if as_json:
        typer.echo(json.dumps(s.to_dict(), indent=2))
        return
    shape_text = "x".join(map(str, shape))
    table = Table(title=f"{title}  (C={channels}, {classes_} classes, input {shape_text}, T={T})")
    for col in ("layer", "kind", "shape", "neurons", "params", "MACs/step"):
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for layer in s.layers:
        table.add_row(layer.name, layer.kind, "x".join(map(str, layer.shape)),
                      f"{layer.neurons:,}", f"{layer.params:,}", f"{layer.macs:,}")
    table.add_section()
    table.add_row("total", "", "", f"{s.neurons:,}", f"{s.params:,}", f"{s.macs:,}")
    Console(width=max(120, Console().width)).print(table)
