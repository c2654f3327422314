"""``autosnn export NET.pt --to nir|onnx|lava [-o PATH]``: a checkpoint to another format.

The checkpoint is loaded with ``weights_only=True`` (:func:`autosnn.load`), so a file carrying
pickled code is refused before anything in it runs. Targets come from the exporter registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autosnn.cli.app import app
from autosnn.errors import AutosnnError
from exporters import list_exporters


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
        summary += "; " + _verify(net, target, path, seed, geq_threshold)
    return path, summary


def _verify(net, target: str, path: Path, seed: int, geq_threshold: bool) -> str:
    """Run the export against the PyTorch model on random input; one-line agreement figure."""
    from exporters.verify import compare_nir, random_input

    x = random_input(net, 2, seed=seed)
    if target == "nir":
        check = compare_nir(net, x, geq_threshold=geq_threshold)
        return (f"executor vs PyTorch on random input: spike mismatch rate "
                f"{check.mismatch_rate:.2e} over {check.spikes_compared} spike values")
    if target == "onnx":
        import torch

        from exporters.onnx_export import run_onnx

        with torch.no_grad():
            want = net(x).numpy()
        got, _ = run_onnx(path, x)
        return f"onnxruntime vs PyTorch on random input: max abs diff {abs(got - want).max():.2e}"
    if target == "lava":
        from exporters.lava_compat import lava_available

        if not lava_available():
            return "Lava not installed (pip install -e .[loihi]): not verified"
        from exporters.lava_run import compare_lava

        rep = compare_lava(net, x, path)
        worst = min(r["cosine"] for r in rep["layers"].values())
        return (f"Lava fixed_pt vs PyTorch on random input: class agreement "
                f"{rep['class_agreement']:.2f}, lowest per-layer cosine {worst:.3f}")
    return "no verification for this target"


@app.command("export")
def export_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="autosnn checkpoint (.pt) to export")],
    to: Annotated[
        str, typer.Option("--to", help=f"target format: {', '.join(list_exporters())}")
    ] = "nir",
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
    try:
        _, summary = export_checkpoint(
            checkpoint=checkpoint, target=to, output=output, compat=compat, dt=dt,
            geq_threshold=geq_threshold, verify=verify, seed=seed,
        )
    except AutosnnError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(summary)
