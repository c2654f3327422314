"""``autosnn data ...``: inspect the datasets autosnn can read (nothing is ever downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autosnn.app.cli.app import app
from autosnn.core.checkpoint import MAX_TIMESTEPS

data_app = typer.Typer(
    help="Inspect datasets: sizes per split, input shape, classes (files are never downloaded).",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


@data_app.command("info")
def info(
    name: Annotated[
        str | None,
        typer.Argument(help="Dataset name (see 'autosnn data list'); default fashion-mnist."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder holding the official files (default: $AUTOSNN_DATA; Fashion-MNIST "
            "also falls back to /usr/share/datasets/fashion-mnist).",
        ),
    ] = None,
    timesteps: Annotated[
        int | None, typer.Option("--timesteps",
                                 help=f"Event frames per sample, 1-{MAX_TIMESTEPS} (default 20).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Report sizes as cut by --limit N, N >= 1.")
    ] = None,
) -> None:
    """Print sizes per split (D_train / D_val 8:2 from the training set; test), shape, classes."""
    from autosnn.data import dataset_info  # lazy: keep 'autosnn --help' fast

    info_, sizes = dataset_info(name, data_dir, limit=limit, timesteps=timesteps)
    c, h, w = info_.input_shape
    rows = [
        ("dataset", info_.name + ("  [SYNTHETIC: not a real dataset]" if info_.synthetic else "")),
        ("title", info_.title),
        ("source", info_.source),
        ("train", str(sizes["train"])),
        ("val", str(sizes["val"])),
        ("test", str(sizes["test"])),
        ("input shape", f"{c}x{h}x{w}" + (f" per timestep, T={info_.timesteps}"
                                          if info_.is_event else "")),
        ("classes", str(info_.num_classes)),
        ("event data", "yes" if info_.is_event else "no"),
        ("flip ok", "yes" if info_.flip_ok else "no"),
    ]
    for key, value in rows:
        typer.echo(f"{key:<12} {value}")


@data_app.command("list")
def list_() -> None:
    """List the dataset names autosnn can read (the registry)."""
    from autosnn.data import get_spec, list_datasets

    for name in list_datasets():
        typer.echo(f"{name:<18} {get_spec(name).info.title}")
