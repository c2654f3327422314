"""``autosnn export NET.pt --to nir|onnx|lava [-o PATH]``: a checkpoint to another format.

The checkpoint is loaded with ``weights_only=True`` (:func:`autosnn.load`), so a file carrying
pickled code is refused before anything in it runs. Targets come from the exporter registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autosnn.app.cli.app import app
from autosnn.app.cli.common import choices
from exporters import list_exporters

Target = choices("Target", list_exporters())


def export_checkpoint(
    *,
    checkpoint: Path,
    target: str,
    output: Path | None = None,
    compat: str | None = None,
    dt: float | None = None,
    geq_threshold: bool = False,
    verify: bool = False,
    seed: int = 0,
) -> tuple[Path, str]:
    """Load ``checkpoint`` safely and export it; returns (path written, one-line summary)."""
    import autosnn
    from exporters import export, get_exporter

    exp = get_exporter(target)  # unknown targets fail before the checkpoint is read
    net = autosnn.load(checkpoint)
    out = output if output is not None else Path(checkpoint).with_suffix(exp.suffix)
    path = export(net, target, out, compat=compat, dt=dt, geq_threshold=geq_threshold or None)
    summary = f"wrote {path} ({target}"
    if compat:
        summary += f", compat={compat}"
    summary += ")"
    if verify:
        from exporters.verify import random_input

        options = {"compat": compat, "dt": dt, "geq_threshold": geq_threshold}
        summary += "; " + exp.verify(net, path, random_input(net, 2, seed=seed), options)
    return path, summary


@app.command("export")
def export_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="autosnn checkpoint (.pt) to export")],
    to: Annotated[
        Target, typer.Option("--to", help="target format")
    ] = Target("nir"),
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="output file (default: NET with .nir/.onnx/.h5)"),
    ] = None,
    compat: Annotated[
        str | None,
        typer.Option(help="NIR only: restrict to a consumer's primitives: nir, norse, "
                     "spikingjelly, or portable (one file both load)"),
    ] = None,
    dt: Annotated[
        float | None, typer.Option(help="NIR only: Euler step dt in seconds (default 1e-4)")
    ] = None,
    geq_threshold: Annotated[
        bool,
        typer.Option(help="NIR only: v_threshold = float32 just below 1, so strict consumers "
                     "fire exactly at H >= 1 like autosnn (not for spikingjelly)"),
    ] = False,
    verify: Annotated[
        bool, typer.Option(help="compare the export with the PyTorch model on random input")
    ] = False,
    seed: Annotated[int, typer.Option(help="seed of the --verify input")] = 0,
) -> None:
    """Export a trained network to NIR, ONNX (single timestep) or Lava netx HDF5."""
    _, summary = export_checkpoint(
        checkpoint=checkpoint, target=to.value, output=output, compat=compat, dt=dt,
        geq_threshold=geq_threshold, verify=verify, seed=seed,
    )
    typer.echo(summary)
